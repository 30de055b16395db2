//! Progress of long work: bytes and pages done, rate and ETA, redrawn in place on a terminal
//! and logged as plain lines otherwise. Quiet for the first seconds, so short runs print nothing.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Counters;

/// Nothing is shown before this: a short replay only prints its summary.
const QUIET_FOR: Duration = Duration::from_secs(3);
/// How often a terminal line is redrawn.
const TERMINAL_EVERY: Duration = Duration::from_secs(1);
/// How often a plain line is logged when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// One progress line: `done` of `total` bytes (when known) after `elapsed`.
pub fn progress_line(done: u64, total: Option<u64>, pages: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = done as f64 / secs;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let mut line = match total {
        Some(total) if total > 0 => {
            let percent = (100.0 * done as f64 / total as f64).min(100.0);
            format!("{:.1} of {:.1} MB ({percent:.0} %)", mb(done), mb(total))
        }
        _ => format!("{:.1} MB", mb(done)),
    };
    line.push_str(&format!(", {pages} pages, {:.1} MB/s", rate / 1e6));
    if let Some(total) = total.filter(|&t| t > done && rate > 0.0) {
        let eta = Duration::from_secs_f64((total - done) as f64 / rate);
        line.push_str(&format!(", about {} left", human(eta)));
    }
    line
}

fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Reports the progress of `counters` (input bytes decoded, pages) against `total_bytes` until
/// `done` fires; then clears the terminal line it drew.
pub async fn report(counters: Arc<Counters>, total_bytes: Option<u64>, done: CancellationToken) {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let every = if terminal { TERMINAL_EVERY } else { LOG_EVERY };
    let mut drawn = false;
    tokio::select! {
        () = done.cancelled() => return,
        () = tokio::time::sleep(QUIET_FOR) => {}
    }
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = done.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let bytes = Counters::get(&counters.input_bytes);
        let line = progress_line(bytes, total_bytes, Counters::get(&counters.pages), started.elapsed());
        if terminal {
            // \r and clear-to-end-of-line redraw the one line in place.
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            drawn = true;
        } else {
            tracing::info!("progress: {line}");
        }
    }
    if drawn {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_how_far_how_fast_and_how_long_is_left() {
        let line = progress_line(50_000_000, Some(200_000_000), 120, Duration::from_secs(10));
        assert_eq!(line, "50.0 of 200.0 MB (25 %), 120 pages, 5.0 MB/s, about 30 s left");
        let line = progress_line(50_000_000, None, 120, Duration::from_secs(10));
        assert_eq!(line, "50.0 MB, 120 pages, 5.0 MB/s");
        let line = progress_line(10_000_000, Some(100_000_000_000), 1, Duration::from_secs(10));
        assert!(line.ends_with("about 27 h 46 min left"), "{line}");
    }
}
