//! Helpers the end-to-end tests share: running the built binary, waiting on what a run did, and
//! reading the lake back with the Parquet reader (not tunestream's writer).
#![allow(dead_code, reason = "each test file uses its own subset")]

pub mod proxy;
pub mod s3;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio_util::sync::CancellationToken;
use tunestream::simulator::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, Simulator};
use tunestream::source::spotify::{self, Endpoints, JobConfig, LiveConfig, RetryPolicy};

pub const BIN: &str = env!("CARGO_BIN_EXE_tunestream");

/// The built binary, serving HTTP on a free port when it runs: tests run side by side, and
/// would all want the default port.
pub fn bin() -> Command {
    let mut command = Command::new(BIN);
    command.env("TUNESTREAM__SERVE__LISTEN", "127.0.0.1:0");
    command
}

/// What `scripts/test` provides and plain `cargo test` may lack.
#[derive(Debug, Clone, Copy)]
pub enum Needs {
    /// The loopback S3, Firehose and Kinesis server (moto), at `TUNESTREAM_TEST_S3`.
    S3,
    /// The virtualenv of Python test tools (DuckDB, boto3, fakesnow, …), at `TUNESTREAM_TEST_PYTHON`.
    Python,
    /// Debian's chromium and chromedriver, driven by selenium from that virtualenv.
    Chromium,
}

/// Whether a test may go on with what it `needs`. When something is missing it prints one line
/// saying what and returns false, so plain `cargo test` passes the layers it can run; under
/// `scripts/test`, which provides everything and sets `TUNESTREAM_TEST_ALL`, a lack fails instead.
pub fn has(needs: &[Needs]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .filter_map(|need| match need {
            Needs::S3 if std::env::var_os("TUNESTREAM_TEST_S3").is_none() => {
                Some("the S3 test server (TUNESTREAM_TEST_S3)")
            }
            Needs::Python if std::env::var_os("TUNESTREAM_TEST_PYTHON").is_none() => {
                Some("the Python test tools (TUNESTREAM_TEST_PYTHON)")
            }
            Needs::Chromium
                if !Path::new("/usr/bin/chromium").exists() || !Path::new("/usr/bin/chromedriver").exists() =>
            {
                Some("chromium and chromedriver in /usr/bin")
            }
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(" and ");
    assert!(std::env::var_os("TUNESTREAM_TEST_ALL").is_none(), "scripts/test must provide {what}");
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Straight to the stream: the harness captures `eprintln!` of tests that pass.
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test} needs {what}; scripts/test provides it");
    false
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tunestream --config CONFIG run` with the repository's queries, output captured.
pub fn run(config: &Path) -> Command {
    let mut command = bin();
    command
        .arg("--config")
        .arg(config)
        .arg("run")
        .arg("--queries")
        .arg(repo().join("queries"))
        .env("RUST_LOG", "warn")
        .env_remove(tunestream::fault::FAULT_VAR)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Logs `users` in to the simulator, as `tunestream auth login` would, into `dir/state`.
pub async fn log_in(sim: &Simulator, dir: &Path, users: &[&str]) {
    let config = LiveConfig {
        endpoints: Endpoints { api: sim.base_url(), accounts: sim.base_url() },
        client_id: SIM_CLIENT_ID.into(),
        client_secret: Some(SIM_CLIENT_SECRET.into()),
        policy: RetryPolicy {
            max_retries: 2,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(1),
            quota_min_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        },
        requests_per_second: 100.0,
        daily_budget: 1000,
        state_dir: dir.join("state"),
        jobs: Vec::new(),
        auto_login: true,
    };
    let client = spotify::connect(&config, Default::default(), CancellationToken::new()).unwrap();
    let jobs: Vec<JobConfig> =
        users.iter().map(|u| JobConfig::RecentlyPlayed { user: (*u).into(), every_secs: 1 }).collect();
    spotify::log_in_simulated_users(&client, &jobs).await.unwrap();
}

/// Requests the runs sharing `dir/state` have sent, from the persisted budget.
pub fn requests_sent(dir: &Path) -> u64 {
    let Ok(bytes) = std::fs::read(dir.join("state/account.json")) else { return 0 };
    let account: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    account["requests_by_hour"].as_object().map_or(0, |hours| hours.values().filter_map(|n| n.as_u64()).sum())
}

/// Waits (up to 60 s) until `done`, so the tests depend on what a run did, not on how fast a
/// loaded machine gets there. Blocks in place, so an in-process simulator keeps serving.
pub fn wait_until(what: &str, done: impl Fn() -> bool) {
    let wait = || {
        for _ in 0..600 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{what} did not happen within 60 s");
    };
    match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::block_in_place(wait),
        Err(_) => wait(),
    }
}

/// Stops a run with SIGINT, as Ctrl-C does, and returns what it printed.
/// Sends `command`'s stderr to the file `path`, so a test can wait for a line while it runs.
pub fn stderr_to<'a>(command: &'a mut Command, path: &Path) -> &'a mut Command {
    command.stderr(std::fs::File::create(path).unwrap())
}

/// How many times `needle` occurs in the file at `path` so far.
pub fn count_in(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path).unwrap_or_default().matches(needle).count()
}

pub fn interrupt(child: std::process::Child) -> std::process::Output {
    signal(&child, "-INT");
    child.wait_with_output().unwrap()
}

pub fn signal(child: &std::process::Child, signal: &str) {
    let kill = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
}

/// Every committed Parquet file of `table`, as paths relative to `lake`, sorted.
pub fn parquet_files(lake: &Path, table: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![lake.join(table)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every record batch of `table` in the lake.
pub fn read_table(lake: &Path, table: &str) -> Vec<RecordBatch> {
    parquet_files(lake, table)
        .iter()
        .flat_map(|file| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap();
            reader.build().unwrap().map(Result::unwrap).collect::<Vec<_>>()
        })
        .collect()
}

/// Every row of every table in the lake as text, sorted per table: equal maps mean the same
/// rows, each as many times.
pub fn lake_rows(lake: &Path) -> BTreeMap<String, Vec<String>> {
    let mut tables = BTreeMap::new();
    for entry in std::fs::read_dir(lake).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with(['.', '_']) {
            continue;
        }
        let mut rows = Vec::new();
        for batch in read_table(lake, &name) {
            let options = FormatOptions::default().with_null("∅");
            let columns: Vec<ArrayFormatter> =
                batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
            for row in 0..batch.num_rows() {
                rows.push(columns.iter().map(|c| c.value(row).to_string()).collect::<Vec<_>>().join("|"));
            }
        }
        rows.sort();
        tables.insert(name, rows);
    }
    tables
}

/// Every visible file below `dir` (hidden ones, such as staged objects and the lock, left out),
/// relative and sorted.
pub fn visible_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if !path.file_name().unwrap().to_string_lossy().starts_with('.') {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Whether a staged (uncommitted) object is left anywhere below `dir`.
pub fn has_staged_objects(dir: &Path) -> bool {
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().unwrap().to_string_lossy().starts_with(".inflight-") {
                return true;
            }
        }
    }
    false
}

/// (user, played_at ms) of every play row in the lake, duplicates kept.
pub fn lake_plays(lake: &Path) -> Vec<(String, i64)> {
    let mut plays = Vec::new();
    for batch in read_table(lake, "plays") {
        let users = batch.column_by_name("user_id").unwrap().as_string::<i32>().clone();
        let times = batch.column_by_name("played_at").unwrap().as_primitive::<TimestampMicrosecondType>().clone();
        for i in 0..batch.num_rows() {
            assert!(users.is_valid(i) && times.is_valid(i));
            plays.push((users.value(i).to_owned(), times.value(i) / 1000));
        }
    }
    plays
}

/// Every play in the lake once, and every play of the truth between a user's first and last
/// play in the lake there.
pub fn assert_plays_exactly_once(lake: &Path, sim: &Simulator) {
    let plays = lake_plays(lake);
    let unique: BTreeSet<(String, i64)> = plays.iter().cloned().collect();
    assert_eq!(unique.len(), plays.len(), "a play is in the lake twice");
    let mut by_user: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (user, at) in unique {
        by_user.entry(user).or_default().push(at);
    }
    assert_eq!(by_user.keys().collect::<Vec<_>>(), ["alice", "bob"]);
    let truth = sim.truth().plays();
    for (user, lake) in by_user {
        let (first, last) = (lake[0], lake[lake.len() - 1]);
        let expected: Vec<i64> = truth
            .iter()
            .filter(|p| p.user_id == user && p.played_at_ms >= first && p.played_at_ms <= last)
            .map(|p| p.played_at_ms)
            .collect();
        assert_eq!(lake, expected, "plays of {user} missing or extra against the simulator's truth");
    }
}

/// A run config over `sim` (lake and state in `dir`, files aging for 2 s) pulling alice's and
/// bob's plays every second, then `extra_jobs` (more TOML: `[[jobs]]`, or other sections).
pub fn config_with_jobs(sim: &Simulator, dir: &Path, budget: u32, extra_jobs: &str) -> PathBuf {
    let text = format!(
        r#"state_dir = "{state}"
[spotify]
api_url = "{url}"
accounts_url = "{url}"
client_id = "{SIM_CLIENT_ID}"
client_secret = "{SIM_CLIENT_SECRET}"
daily_budget = {budget}
requests_per_second = 100
[lake]
path = "{lake}"
max_file_age_secs = 2
[[jobs]]
type = "recently_played"
user = "alice"
every_secs = 1
[[jobs]]
type = "recently_played"
user = "bob"
every_secs = 1
{extra_jobs}
"#,
        state = dir.join("state").display(),
        lake = dir.join("lake").display(),
        url = sim.base_url(),
    );
    let path = dir.join("tunestream.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every record the jsonl sink committed for `table` below `dir`, as parsed JSON.
pub fn jsonl_records(dir: &Path, table: &str) -> Vec<serde_json::Value> {
    visible_files(&dir.join(table))
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(dir.join(table).join(file)).unwrap();
            text.lines().map(|line| serde_json::from_str(line).unwrap()).collect::<Vec<_>>()
        })
        .collect()
}

/// Every entry of every playlist (unchanged during the test) in the lake once, at its position.
pub fn assert_playlist_entries_exactly_once(lake: &Path, sim: &Simulator) {
    let mut entries: BTreeMap<(String, String), Vec<(i64, String)>> = BTreeMap::new();
    for batch in read_table(lake, "playlist_tracks") {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let (ids, snapshots, positions, uris) =
            (column("playlist_id"), column("snapshot_id"), column("position"), column("track_uri"));
        for i in 0..batch.num_rows() {
            let key = (ids.as_string::<i32>().value(i).to_owned(), snapshots.as_string::<i32>().value(i).to_owned());
            let position = positions.as_primitive::<arrow::datatypes::Int64Type>().value(i);
            entries.entry(key).or_default().push((position, uris.as_string::<i32>().value(i).to_owned()));
        }
    }
    // A playlist with no entry (or only null ones) has no rows.
    let truth: Vec<_> = sim.truth().playlists().into_iter().filter(|p| p.uris.iter().any(Option::is_some)).collect();
    assert_eq!(entries.len(), truth.len(), "every playlist is in the lake at its one snapshot");
    for playlist in truth {
        let mut lake = entries.remove(&(playlist.playlist_id.clone(), playlist.snapshot_id.clone())).unwrap();
        lake.sort();
        let expected: Vec<(i64, String)> =
            playlist.uris.iter().enumerate().filter_map(|(i, uri)| Some((i as i64, uri.clone()?))).collect();
        assert_eq!(lake, expected, "entries of playlist {} missing, extra or misplaced", playlist.playlist_id);
    }
}

/// Every record of every file in `<lake>/_rejected/`, parsed.
pub fn rejected_records(lake: &Path) -> Vec<serde_json::Value> {
    let dir = lake.join("_rejected");
    visible_files(&dir)
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}
