//! Exactly once under every interruption, each case checked against ground truth: a replay
//! interrupted any way and run again holds exactly the rows (and files) of an uninterrupted
//! run; a live run stopped between any two steps of a commit and restarted holds every play and
//! playlist entry once, as the simulator's truth has them; two processes never share a lake.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{has_staged_objects, lake_plays, lake_rows, repo, visible_files, wait_until};
use tunestream::fault::{CRASH_EXIT_CODE, FAULT_VAR};
use tunestream::simulator::{SimConfig, Simulator};
use tunestream::source::synthetic::{EntryShape, playlist_pages};

/// The fetch time of the bare pages: their files' modification time, fixed so that the
/// intact file put back after a corrupt one gives the same rows.
fn fetched_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn write_page_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options().write(true).open(path).unwrap().set_modified(fetched_at()).unwrap();
}

/// Three page files, the last two gzip, with a line that is not JSON in the first.
fn write_input(dir: &Path) -> PathBuf {
    let input = dir.join("input");
    std::fs::create_dir_all(&input).unwrap();
    let mut plain: Vec<String> = playlist_pages(60, 1, EntryShape::Item).lines().map(str::to_owned).collect();
    plain.insert(30, "<html>502 Bad Gateway</html>".into());
    write_page_file(&input.join("a.ndjson"), plain.join("\n").as_bytes());
    write_page_file(&input.join("b.ndjson.gz"), &gzip(&playlist_pages(60, 2, EntryShape::LegacyTrack)));
    write_page_file(&input.join("c.ndjson.gz"), &gzip(&playlist_pages(60, 3, EntryShape::Item)));
    input
}

/// `tunestream replay INPUT --lake LAKE` with small micro-batches and files, so a run commits
/// many files before it ends.
fn replay(input: &Path, lake: &Path) -> Command {
    let mut command = common::bin();
    command
        .arg("replay")
        .arg(input)
        .arg("--lake")
        .arg(lake)
        .arg("--jsonl")
        .arg(format!("{}:playlist_tracks,artists", jsonl_dir(lake).display()))
        .arg("--queries")
        .arg(repo().join("queries"))
        .env("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "3")
        .env("TUNESTREAM__LAKE__MAX_FILE_ROWS", "700")
        .env("RUST_LOG", "warn")
        .env_remove(FAULT_VAR)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn succeeded(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the replay of `lake` writes its JSON lines: a second sink under the same barrier.
fn jsonl_dir(lake: &Path) -> PathBuf {
    lake.with_extension("jsonl")
}

/// The lake of an uninterrupted replay of `input`, and how long that replay took.
fn uninterrupted(dir: &Path, input: &Path) -> (PathBuf, Duration) {
    let lake = dir.join("reference");
    let started = Instant::now();
    succeeded(replay(input, &lake).output().unwrap());
    (lake, started.elapsed())
}

/// The lake of an interrupted run, after running the same input again, holds what the
/// uninterrupted run holds: the same files, the same rows, nothing staged left behind.
fn assert_same_lake(lake: &Path, reference: &Path) {
    assert!(!has_staged_objects(lake), "a staged object was left in {}", lake.display());
    let (files, expected_files) = (visible_files(lake), visible_files(reference));
    let extra: Vec<_> = files.iter().filter(|f| !expected_files.contains(f)).collect();
    let missing: Vec<_> = expected_files.iter().filter(|f| !files.contains(f)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "files beyond an uninterrupted run's: {extra:?}; missing: {missing:?}"
    );
    let (json, expected_json) = (jsonl_dir(lake), jsonl_dir(reference));
    assert_eq!(visible_files(&json), visible_files(&expected_json), "the jsonl sink's files differ");
    for table in ["playlist_tracks", "artists"] {
        let sorted = |dir: &Path| {
            let mut lines: Vec<String> = common::jsonl_records(dir, table).iter().map(|r| r.to_string()).collect();
            lines.sort();
            lines
        };
        let (found, expected) = (sorted(&json), sorted(&expected_json));
        assert!(
            found == expected,
            "jsonl {table}: {} records, an uninterrupted run has {}",
            found.len(),
            expected.len()
        );
    }
    let (rows, expected) = (lake_rows(lake), lake_rows(reference));
    assert!(expected["playlist_tracks"].len() > 10_000, "the input is big enough to roll files");
    for (table, expected) in &expected {
        let found = rows.get(table).cloned().unwrap_or_default();
        let extra: Vec<&String> = found.iter().filter(|r| !expected.contains(r)).take(3).collect();
        let missing: Vec<&String> = expected.iter().filter(|r| !found.contains(r)).take(3).collect();
        assert!(
            &found == expected,
            "{table}: {} rows, an uninterrupted run has {}; extra {extra:?}, missing {missing:?}",
            found.len(),
            expected.len()
        );
    }
}

#[test]
fn a_replay_interrupted_by_sigint_and_run_again_holds_exactly_the_rows_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let (reference, _) = uninterrupted(dir.path(), &input);
    let lake = dir.path().join("lake");
    let child = replay(&input, &lake).spawn().unwrap();
    wait_until("a first committed file", || !common::parquet_files(&lake, "playlist_tracks").is_empty());
    let summary = succeeded(common::interrupt(child));
    if summary.contains("stopped early") {
        assert_ne!(visible_files(&lake), visible_files(&reference), "the stop left work for the rerun");
    }
    let rerun = succeeded(replay(&input, &lake).output().unwrap());
    assert!(rerun.contains("already present"), "{rerun}");
    assert_same_lake(&lake, &reference);
}

#[test]
fn a_replay_killed_at_random_points_and_run_again_holds_exactly_the_rows_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let (reference, took) = uninterrupted(dir.path(), &input);
    let lake = dir.path().join("lake");
    for attempt in 0..3 {
        let at = took.mul_f64(rand::random_range(0.05..0.95));
        let mut child = replay(&input, &lake).spawn().unwrap();
        std::thread::sleep(at);
        child.kill().unwrap(); // SIGKILL: no drain, no cleanup
        child.wait().unwrap();
        let rerun = replay(&input, &lake).output().unwrap();
        assert!(
            rerun.status.success(),
            "attempt {attempt}, killed after {at:?}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_same_lake(&lake, &reference);
        std::fs::remove_dir_all(&lake).unwrap();
        std::fs::remove_dir_all(jsonl_dir(&lake)).unwrap();
    }
}

#[test]
fn a_corrupt_gzip_file_stops_the_replay_and_after_it_is_replaced_the_lake_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let (reference, _) = uninterrupted(dir.path(), &input);
    let damaged = input.join("b.ndjson.gz");
    let intact = std::fs::read(&damaged).unwrap();
    let mut corrupt = intact.clone();
    // Flipped bits in the middle: deflate decodes wrong bytes for a while before it fails.
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 64].iter_mut().for_each(|b| *b ^= 0x5a);
    write_page_file(&damaged, &corrupt);

    let lake = dir.path().join("lake");
    let out = replay(&input, &lake).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "the user must act: {stderr}");
    assert!(stderr.contains("b.ndjson.gz"), "the error names the file: {stderr}");
    assert!(!has_staged_objects(&lake));

    write_page_file(&damaged, &intact);
    succeeded(replay(&input, &lake).output().unwrap());
    assert_same_lake(&lake, &reference);
}

#[test]
fn a_replay_whose_micro_batch_fails_and_is_run_again_holds_exactly_the_rows_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    let (reference, _) = uninterrupted(dir.path(), &input);
    let lake = dir.path().join("lake");
    let out = replay(&input, &lake).env(FAULT_VAR, "process@40").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "a failed worker is a bug: {stderr}");
    assert!(stderr.contains("micro-batch") && stderr.contains("report it"), "{stderr}");
    assert!(!common::parquet_files(&lake, "playlist_tracks").is_empty(), "files were committed before the failure");
    succeeded(replay(&input, &lake).output().unwrap());
    assert_same_lake(&lake, &reference);
}

/// A run config over `sim`: plays of alice and bob, and every playlist of both, every second,
/// in one-page micro-batches so every pull spans several.
fn live_config(sim: &Simulator, dir: &Path) -> PathBuf {
    let playlists =
        ["alice", "bob"].map(|u| format!("[[jobs]]\ntype = \"user_playlists\"\nuser = \"{u}\"\nevery_secs = 1\n"));
    common::config_with_jobs(sim, dir, 1_000_000, &format!("{}[pipeline]\nbatch_max_pages = 1\n", playlists.concat()))
}

/// Crashes a live run at the second time it reaches fault point `point`, restarts it, and
/// checks every play and playlist entry against the simulator.
async fn crash_at_and_restart(point: &str) {
    // Playlists never change during the test, so the truth names the one snapshot of each.
    let config = SimConfig { plays_per_minute: 120.0, playlist_change_every_secs: 1_000_000, ..SimConfig::default() };
    let sim = Simulator::start(config, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());

    let child = common::run(&config).arg("--force").env(FAULT_VAR, format!("{point}@2")).spawn().unwrap();
    // A run that never reaches the point would run forever: stop it after a minute.
    let pid = child.id();
    let watchdog = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    });
    let crashed = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    watchdog.abort();
    let stderr = String::from_utf8_lossy(&crashed.stderr);
    assert_eq!(crashed.status.code(), Some(CRASH_EXIT_CODE), "the run did not stop at {point}: {stderr}");

    let restarted = common::run(&config).args(["--force", "--for", "4s"]).output().unwrap();
    let summary = succeeded(restarted);
    assert!(summary.contains("plays"), "{summary}");
    let lake = dir.path().join("lake");
    assert!(!has_staged_objects(&lake), "staged objects left after a clean stop");
    assert!(!dir.path().join("state").join(tunestream::pipeline::MANIFEST_FILE).exists());
    common::assert_plays_exactly_once(&lake, &sim);
    common::assert_playlist_entries_exactly_once(&lake, &sim);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_crash_before_the_manifest_is_written() {
    crash_at_and_restart("commit.before_manifest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_crash_after_the_manifest_is_written() {
    crash_at_and_restart("commit.after_manifest").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_crash_between_two_objects_of_a_commit() {
    crash_at_and_restart("commit.between_objects").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_crash_before_the_state_is_written() {
    crash_at_and_restart("commit.before_state").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_crash_before_the_manifest_is_removed() {
    crash_at_and_restart("commit.before_manifest_removal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_state_or_lake_is_refused_with_the_holders_pid() {
    let sim = Simulator::start(SimConfig { plays_per_minute: 120.0, ..SimConfig::default() }, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());
    let first = common::run(&config).arg("--force").spawn().unwrap();
    let pid = first.id();
    wait_until("the first run's first commit", || !lake_plays(&dir.path().join("lake")).is_empty());

    let second = common::run(&config).args(["--force", "--for", "2s"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("pid {pid}")) && stderr.contains("in use"), "{stderr}");

    let input = write_input(dir.path());
    let replay = replay(&input, &dir.path().join("lake")).output().unwrap();
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(!replay.status.success() && stderr.contains(&format!("pid {pid}")), "{stderr}");

    succeeded(common::interrupt(first));
    common::assert_plays_exactly_once(&dir.path().join("lake"), &sim);
    sim.stop().await;
}
