//! Fault injection for tests: named points in the code where a test makes the process crash or
//! a step fail, armed by the `TUNESTREAM_FAULT` variable as `NAME` or `NAME@N` (the Nth time
//! the point is reached; the first when `@N` is left out). Unarmed, a point costs one load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable that arms one fault point.
pub const FAULT_VAR: &str = "TUNESTREAM_FAULT";
/// The exit status of a process stopped at a crash point.
pub const CRASH_EXIT_CODE: i32 = 86;

struct Armed {
    name: String,
    at: u64,
    reached: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(FAULT_VAR).ok().filter(|v| !v.is_empty())?;
            let (name, at) = match value.split_once('@') {
                Some((name, n)) => (name.to_owned(), n.parse().unwrap_or(1)),
                None => (value, 1),
            };
            Some(Armed { name, at, reached: AtomicU64::new(0) })
        })
        .as_ref()
}

/// Whether the armed fault is `name` and this is the time it fires.
pub fn fires(name: &str) -> bool {
    armed().is_some_and(|a| a.name == name && a.reached.fetch_add(1, Ordering::Relaxed) + 1 == a.at)
}

/// Ends the process at once, as a power cut or SIGKILL would (no destructor, no flush of
/// anything not already written), when the armed fault is `name`.
pub fn crash_point(name: &str) {
    if fires(name) {
        eprintln!("{FAULT_VAR}: crashing at {name}");
        std::process::exit(CRASH_EXIT_CODE);
    }
}
