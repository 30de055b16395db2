//! The lake on S3, end to end against a real S3-protocol server on loopback (moto, started by
//! `scripts/test`), read back with an independent client (boto3) and the Parquet reader.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use common::proxy::Proxy;
use common::s3::{aws_env, bucket, download, endpoint, open_uploads, tool};
use common::{lake_rows, repo, visible_files, wait_until};
use tunestream::fault::{CRASH_EXIT_CODE, FAULT_VAR};
use tunestream::simulator::{SimConfig, Simulator};

/// `tunestream replay INPUTS --lake LAKE` against `endpoint`, output captured.
fn replay(inputs: &[&str], lake: &str, endpoint: &str) -> Command {
    let mut command = common::bin();
    command.arg("replay").args(inputs).args(["--lake", lake, "--queries"]).arg(repo().join("queries"));
    aws_env(&mut command, endpoint).env("RUST_LOG", "warn").env_remove(FAULT_VAR);
    command
}

fn succeeded(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
    String::from_utf8(out.stdout).unwrap()
}

fn relative_names(dir: &Path) -> Vec<String> {
    visible_files(dir).iter().map(|p| p.to_str().unwrap().to_owned()).collect()
}

/// The sample pages split in two files, so one can be read from S3 and one from disk.
fn split_samples(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(repo().join("samples/spotify_pages.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let (a, b) = (dir.join("a.ndjson"), dir.join("b.ndjson"));
    std::fs::write(&a, first.join("\n")).unwrap();
    std::fs::write(&b, second.join("\n")).unwrap();
    (a, b)
}

#[test]
fn a_replay_into_s3_holds_the_rows_of_a_local_replay_under_the_same_names() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = split_samples(dir.path());
    let local = dir.path().join("local");
    succeeded(
        replay(&[a.to_str().unwrap(), b.to_str().unwrap()], local.to_str().unwrap(), &endpoint()).output().unwrap(),
    );

    // Half the input from disk, half from S3, on one command line.
    let bucket = bucket("replay");
    tool(&["put", &bucket, "input/b.ndjson", b.to_str().unwrap()]);
    let lake = format!("s3://{bucket}/lake");
    let input = format!("s3://{bucket}/input/");
    let secret = "wJalrXUtnFEMI-never-logged";
    let out = replay(&[a.to_str().unwrap(), &input], &lake, &endpoint())
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(secret), "the secret key reached the log");
    let summary = succeeded(out);
    assert!(summary.contains(&format!("lake in {lake}")), "{summary}");

    let copy = dir.path().join("copy");
    let keys = download(&bucket, "lake", &copy);
    assert_eq!(keys, relative_names(&local), "the same layout and file names as on disk");
    assert_eq!(lake_rows(&copy), lake_rows(&local));
    assert!(open_uploads(&bucket).is_empty(), "no upload left open");

    // A rerun reads nothing: every input is in the replay ledger.
    let again = succeeded(replay(&[a.to_str().unwrap(), &input], &lake, &endpoint()).output().unwrap());
    assert!(again.contains("0 pages") && again.contains("0 files (0.0 MB), 0 already present"), "{again}");
    // One with another state directory, and so no ledger, finds every file in place, each
    // checked to be the one it would write.
    let mut elsewhere = replay(&[a.to_str().unwrap(), &input], &lake, &endpoint());
    let again = succeeded(elsewhere.arg("--state-dir").arg(dir.path().join("other-state")).output().unwrap());
    assert!(again.contains(&format!("0 files (0.0 MB), {} already present", keys.len())), "{again}");
    assert!(open_uploads(&bucket).is_empty(), "the rerun's uploads were aborted");
}

#[test]
fn an_object_in_the_way_is_never_overwritten_and_the_error_names_its_key() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = split_samples(dir.path());
    let inputs = [a.to_str().unwrap(), b.to_str().unwrap()];
    let bucket = bucket("conflict");
    succeeded(replay(&inputs, &format!("s3://{bucket}/first"), &endpoint()).output().unwrap());
    let keys = download(&bucket, "first", &dir.path().join("first"));
    let taken = &keys[keys.len() / 2];

    let squatter = dir.path().join("squatter");
    std::fs::write(&squatter, "not what tunestream would write").unwrap();
    tool(&["put", &bucket, &format!("second/{taken}"), squatter.to_str().unwrap()]);
    let out = replay(&inputs, &format!("s3://{bucket}/second"), &endpoint()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "the user must act: {stderr}");
    assert!(
        stderr.contains(&format!("s3://{bucket}/second/{taken}")) && stderr.contains("never overwrites"),
        "{stderr}"
    );
    let kept = download(&bucket, "second", &dir.path().join("second"));
    assert!(kept.contains(taken));
    assert_eq!(std::fs::read(dir.path().join("second").join(taken)).unwrap(), std::fs::read(&squatter).unwrap());
    assert!(open_uploads(&bucket).is_empty(), "the refused upload was aborted");
}

#[test]
fn a_missing_bucket_stops_the_run_at_once_saying_what_to_fix() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = split_samples(dir.path());
    let out = replay(&[a.to_str().unwrap()], "s3://no-such-bucket-here/lake", &endpoint()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no-such-bucket-here") && stderr.contains("does not exist"), "{stderr}");
}

/// A client of the test server built here, not through tunestream's AWS chain.
fn test_client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_goes_up_in_equal_parts_while_it_is_written_and_appears_only_at_commit() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    use std::io::Write;
    use tunestream::store::{Committed, S3Settings, S3Store, Store};

    let bucket = bucket("multipart");
    let settings = S3Settings { part_bytes: 5 << 20, ..S3Settings::default() };
    let cancel = tokio_util::sync::CancellationToken::new();
    let store = S3Store::open(test_client(), bucket.clone(), "lake".into(), settings, cancel).await.unwrap();
    let store = Store::S3(store);
    let key = "t/dt=2026-12-01/hour=00/part-big.parquet";
    // 12 MiB that do not compress to anything: parts of 5, 5 and 2 MiB.
    let body: Vec<u8> = (0..12u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (pending, parts_while_writing) = tokio::task::spawn_blocking({
        let bucket = bucket.clone();
        move || {
            let mut upload = store.upload(key.into()).unwrap();
            for chunk in body[..11 << 20].chunks(64 << 10) {
                upload.write_all(chunk).unwrap();
            }
            // Two parts are up or on their way while the last megabyte is still unwritten.
            wait_until("the first part is uploaded", || {
                !tool(&["parts", &bucket, &format!("lake/{key}")])["parts"].as_array().unwrap().is_empty()
            });
            let parts = tool(&["parts", &bucket, &format!("lake/{key}")]);
            upload.write_all(&body[11 << 20..]).unwrap();
            let pending = store.stage(upload).unwrap();
            assert!(tool(&["keys", &bucket, "lake"])["keys"].as_array().unwrap().is_empty(), "visible before commit");
            assert_eq!(store.commit(&pending).unwrap(), Committed::Created);
            assert_eq!(store.commit(&pending).unwrap(), Committed::Created, "a second commit finds it in place");
            (pending, parts)
        }
    })
    .await
    .unwrap();
    assert!(parts_while_writing["parts"].as_array().unwrap().iter().all(|size| size.as_u64() == Some(5 << 20)));
    let head = tool(&["head", &bucket, &format!("lake/{key}")]);
    assert_eq!(head["size"].as_u64(), Some(12 << 20));
    assert_eq!(pending.bytes, 12 << 20);
    let sizes: Vec<u64> = head["part_sizes"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap()).collect();
    assert_eq!(sizes, [5 << 20, 5 << 20, 2 << 20], "equal parts but the last");
    assert!(head["etag"].as_str().unwrap().ends_with("-3"));
    let dir = tempfile::tempdir().unwrap();
    download(&bucket, "lake", dir.path());
    let expected: Vec<u8> = (0..12u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(std::fs::read(dir.path().join(key)).unwrap() == expected, "the object holds exactly what was written");
    assert!(open_uploads(&bucket).is_empty());
}

/// A run config over `sim` with playlists too, in one-page micro-batches.
fn live_config(sim: &Simulator, dir: &Path) -> PathBuf {
    let playlists =
        ["alice", "bob"].map(|u| format!("[[jobs]]\ntype = \"user_playlists\"\nuser = \"{u}\"\nevery_secs = 1\n"));
    common::config_with_jobs(sim, dir, 1_000_000, &format!("{}[pipeline]\nbatch_max_pages = 1\n", playlists.concat()))
}

fn live_sim_config() -> SimConfig {
    // Playlists never change during a test, so the truth names the one snapshot of each. Every
    // play stays reachable: an outage longer than Spotify's 50-play window loses plays at the
    // API (the run reports that as a possible gap), and these tests are about the lake.
    SimConfig {
        plays_per_minute: 120.0,
        playlist_change_every_secs: 1_000_000,
        history_limit: 100_000,
        ..SimConfig::default()
    }
}

/// `tunestream run` into `lake` through `endpoint`, output captured.
fn run(config: &Path, lake: &str, endpoint: &str) -> Command {
    let mut command = common::run(config);
    command.args(["--force", "--lake", lake]);
    aws_env(&mut command, endpoint);
    command
}

/// Checks every play and playlist entry of the lake at `s3://bucket/lake` against `sim`.
fn assert_lake_exactly_once(bucket: &str, sim: &Simulator, dir: &Path) -> PathBuf {
    let copy = dir.join(format!("copy-{}", visible_files(dir).len()));
    download(bucket, "lake", &copy);
    common::assert_plays_exactly_once(&copy, sim);
    common::assert_playlist_entries_exactly_once(&copy, sim);
    assert!(open_uploads(bucket).is_empty(), "no incomplete upload is left behind");
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_into_s3_keeps_its_raw_zone_there_and_a_replay_of_it_rebuilds_the_same_tables() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let sim = Simulator::start(live_sim_config(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());
    let bucket = bucket("live");
    let lake = format!("s3://{bucket}/lake");
    succeeded(run(&config, &lake, &endpoint()).args(["--for", "4s"]).output().unwrap());
    let copy = assert_lake_exactly_once(&bucket, &sim, dir.path());
    assert!(copy.join("_raw").is_dir(), "the raw zone is in the lake on S3");

    let rebuilt = format!("s3://{bucket}/rebuilt");
    // One page a micro-batch, as the run cut them: the same batches get the same lineage ids.
    let mut replay_raw = replay(&[&format!("{lake}/_raw/")], &rebuilt, &endpoint());
    succeeded(replay_raw.env("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "1").output().unwrap());
    let rebuilt_copy = dir.path().join("rebuilt");
    download(&bucket, "rebuilt", &rebuilt_copy);
    assert_eq!(lake_rows(&rebuilt_copy), lake_rows(&copy), "the raw zone replays into the same tables");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_zone_can_live_apart_from_an_s3_lake() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let sim = Simulator::start(live_sim_config(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());
    let bucket = bucket("rawapart");
    let (lake, raw) = (format!("s3://{bucket}/lake"), dir.path().join("raw"));
    succeeded(run(&config, &lake, &endpoint()).arg("--raw").arg(&raw).args(["--for", "3s"]).output().unwrap());
    let copy = assert_lake_exactly_once(&bucket, &sim, dir.path());
    assert!(!copy.join("_raw").exists(), "no raw zone in the lake");
    let pages = visible_files(&raw);
    assert!(!pages.is_empty() && pages.iter().all(|p| p.to_str().unwrap().ends_with(".ndjson.gz")), "{pages:?}");
    assert!(!common::has_staged_objects(&raw));

    // The local raw zone rebuilds the S3 lake's tables into another prefix.
    let rebuilt = format!("s3://{bucket}/rebuilt");
    let mut replay_raw = replay(&[raw.to_str().unwrap()], &rebuilt, &endpoint());
    succeeded(replay_raw.env("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "1").output().unwrap());
    let rebuilt_copy = dir.path().join("rebuilt");
    download(&bucket, "rebuilt", &rebuilt_copy);
    assert_eq!(lake_rows(&rebuilt_copy), lake_rows(&copy));
    sim.stop().await;
}

/// Crashes a live run into S3 the second time it reaches fault point `point`, restarts it, and
/// checks the lake against the simulator.
async fn crash_at_and_restart(point: &str) {
    let sim = Simulator::start(live_sim_config(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());
    let bucket = bucket("crash");
    let lake = format!("s3://{bucket}/lake");

    let child = run(&config, &lake, &endpoint()).env(FAULT_VAR, format!("{point}@2")).spawn().unwrap();
    let crashed = wait_or_kill(child, Duration::from_secs(60)).await;
    let stderr = String::from_utf8_lossy(&crashed.stderr);
    assert_eq!(crashed.status.code(), Some(CRASH_EXIT_CODE), "the run did not stop at {point}: {stderr}");

    succeeded(run(&config, &lake, &endpoint()).args(["--for", "4s"]).output().unwrap());
    assert!(!dir.path().join("state").join(tunestream::pipeline::MANIFEST_FILE).exists());
    assert_lake_exactly_once(&bucket, &sim, dir.path());
    sim.stop().await;
}

/// Waits for `child`, killing it after `limit`: a run that never reaches its fault point would
/// otherwise run forever.
async fn wait_or_kill(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let watchdog = tokio::spawn(async move {
        tokio::time::sleep(limit).await;
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    });
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    watchdog.abort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_inside_an_upload_restarts_with_every_row_once() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    crash_at_and_restart("s3.part_uploaded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_the_uploads_of_a_checkpoint_restarts_with_every_row_once() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    crash_at_and_restart("commit.between_objects").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_before_its_checkpoint_is_saved_restarts_with_every_row_once() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    crash_at_and_restart("commit.before_state").await;
}

fn plays_files(bucket: &str) -> usize {
    let keys = tool(&["keys", bucket, "lake/plays"]);
    keys["keys"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_outage_holds_the_run_back_and_nothing_is_lost() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let sim = Simulator::start(live_sim_config(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());
    let bucket = bucket("outage");
    let lake = format!("s3://{bucket}/lake");
    let mut proxy = Proxy::new("tcp_proxy.py");

    let log = dir.path().join("run.stderr");
    let child = common::stderr_to(&mut run(&config, &lake, &proxy.url()), &log).spawn().unwrap();
    wait_until("a first commit", || plays_files(&bucket) > 0);
    proxy.stop();
    // With S3 away, the sink waits, the channels fill and the source stops pulling.
    let requests = || common::requests_sent(dir.path());
    wait_until("the source to stop pulling", || {
        let before = requests();
        std::thread::sleep(Duration::from_secs(3));
        requests() == before
    });
    let before_outage_ended = plays_files(&bucket);
    proxy.start();
    wait_until("a commit after the outage", || plays_files(&bucket) > before_outage_ended);

    // Stopped while S3 is down: the run says what it could not commit, and exits non-zero.
    let retries = || common::count_in(&log, "AWS unavailable; retrying");
    let before_stop = retries();
    proxy.stop();
    wait_until("a retry against the stopped S3", || retries() > before_stop);
    let out = common::interrupt(child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(out.status.code(), Some(75), "an unreachable service: {stderr}");
    assert!(stderr.contains("unreachable") && stderr.contains("next start"), "{stderr}");

    // The next start, with S3 back, completes it.
    proxy.start();
    succeeded(run(&config, &lake, &proxy.url()).args(["--for", "4s"]).output().unwrap());
    assert_lake_exactly_once(&bucket, &sim, dir.path());
    sim.stop().await;
}

/// A small Parquet file whose footer says its content is `content`.
fn parquet_with_content(rows: &[i64], content: &str) -> Vec<u8> {
    use arrow::array::{Int64Array, RecordBatch};
    use parquet::file::metadata::KeyValue;
    let batch = RecordBatch::try_from_iter([("n", std::sync::Arc::new(Int64Array::from(rows.to_vec())) as _)]).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.append_key_value_metadata(KeyValue::new("tunestream.content".into(), content.to_owned()));
    writer.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_key_counts_as_written_only_when_it_holds_the_same_rows() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    use std::io::Write;
    use tunestream::store::{Committed, S3Settings, S3Store, Store, StoreError};

    let bucket = bucket("verify");
    let dir = tempfile::tempdir().unwrap();
    let key = "plays/dt=2026-12-01/hour=00/part-x.parquet";
    // An earlier run's file: the same rows as below in another order, so other bytes.
    let earlier = dir.path().join("earlier.parquet");
    std::fs::write(&earlier, parquet_with_content(&[3, 2, 1], "00000000000000aa")).unwrap();
    tool(&["put", &bucket, &format!("lake/{key}"), earlier.to_str().unwrap()]);

    let cancel = tokio_util::sync::CancellationToken::new();
    let store =
        S3Store::open(test_client(), bucket.clone(), "lake".into(), S3Settings::default(), cancel).await.unwrap();
    let store = Store::S3(store);
    let results = tokio::task::spawn_blocking(move || {
        let commit = |content: &str| {
            let mut upload = store.upload(key.into()).unwrap();
            upload.write_all(&parquet_with_content(&[1, 2, 3], content)).unwrap();
            let pending = tunestream::store::Pending { content: Some(content.into()), ..store.stage(upload).unwrap() };
            store.commit(&pending)
        };
        (commit("00000000000000aa"), commit("00000000000000bb"))
    })
    .await
    .unwrap();
    assert_eq!(results.0.unwrap(), Committed::AlreadyPresent, "the same rows, in another order");
    let err = results.1.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains(&format!("s3://{bucket}/lake/{key}")), "{err}");
    let kept = dir.path().join("kept");
    download(&bucket, "lake", &kept);
    assert_eq!(std::fs::read(kept.join(key)).unwrap(), std::fs::read(&earlier).unwrap(), "never overwritten");
    assert!(open_uploads(&bucket).is_empty());
}

/// The README's rebuild, `replay LAKE/_raw --lake REBUILT`, repeated while a live run keeps
/// writing the raw zone, then once more after it stopped: REBUILT must hold exactly the rows of
/// one fresh replay of the final raw zone. `lake`, `rebuilt` and `fresh` are local paths or
/// `s3://` URLs; `read` brings a lake to a local directory to compare.
async fn rebuild_while_a_live_run_writes(lake: &str, rebuilt: &str, fresh: &str, read: impl Fn(&str) -> PathBuf) {
    let sim = Simulator::start(live_sim_config(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let config = live_config(&sim, dir.path());
    let raw = format!("{lake}/_raw/");
    let replay_to = |target: &str, state: &str| {
        let mut command = replay(&[&raw], target, &endpoint());
        command.arg("--state-dir").arg(dir.path().join(state)).output().unwrap()
    };
    let live = run(&config, lake, &endpoint()).args(["--for", "8s"]).spawn().unwrap();
    let mut rebuilds = 0;
    while rebuilds < 3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let out = replay_to(rebuilt, "state");
        // Until the first raw file is committed there is nothing to read.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !(stderr.contains("no raw page files") || stderr.contains("No such file")) {
            succeeded(out);
            rebuilds += 1;
        }
    }
    succeeded(wait_or_kill(live, Duration::from_secs(60)).await);
    succeeded(replay_to(rebuilt, "state"));
    succeeded(replay_to(fresh, "fresh-state"));
    let (grown, whole) = (lake_rows(&read(rebuilt)), lake_rows(&read(fresh)));
    assert!(whole["plays"].len() > 10 && whole["playlist_tracks"].len() > 10, "{:?}", whole.keys());
    assert_eq!(grown, whole, "rebuilt in steps while the raw zone grew, it holds the rows of one replay");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_repeated_while_the_raw_zone_grows_on_s3_loses_and_doubles_nothing() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let bucket = bucket("grown");
    let dir = tempfile::tempdir().unwrap();
    let read = |url: &str| {
        let prefix = url.rsplit('/').next().unwrap();
        let copy = dir.path().join(prefix);
        download(&bucket, prefix, &copy);
        copy
    };
    let at = |prefix: &str| format!("s3://{bucket}/{prefix}");
    rebuild_while_a_live_run_writes(&at("lake"), &at("rebuilt"), &at("fresh"), read).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_repeated_while_the_raw_zone_grows_on_disk_loses_and_doubles_nothing() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    rebuild_while_a_live_run_writes(&at("lake"), &at("rebuilt"), &at("fresh"), |path: &str| PathBuf::from(path)).await;
}

#[test]
fn a_lake_at_a_buckets_root_and_dot_segments_in_an_s3_url_are_refused() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let bucket = bucket("root");
    let sample = repo().join("samples/spotify_pages.ndjson");
    let out = replay(&[sample.to_str().unwrap()], &format!("s3://{bucket}"), &endpoint()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("root of a bucket") && stderr.contains(&bucket), "{stderr}");
    let out = replay(&[sample.to_str().unwrap()], &format!("s3://{bucket}/lake/../x"), &endpoint()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`..`"), "{stderr}");
    for prefix in ["albums", "_raw", "lake", "x"] {
        assert_eq!(tool(&["keys", &bucket, prefix])["keys"], serde_json::json!([]), "nothing was written");
    }
}

#[test]
fn missing_aws_credentials_fail_at_once_saying_what_to_set() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let sample = repo().join("samples/spotify_pages.ndjson");
    let out = replay(&[sample.to_str().unwrap()], "s3://no-credentials/lake", &endpoint())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "the user must act: {stderr}");
    assert!(stderr.contains("no AWS credentials") && stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(!stderr.contains("retrying"), "not retried like an outage: {stderr}");
}

#[test]
fn a_stop_while_s3_hangs_ends_within_the_grace_period() {
    // An S3 endpoint that accepts connections and never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hang.local_addr().unwrap());
    let (connected, first_connection) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hang.incoming().map_while(Result::ok) {
            held.push(stream);
            let _ = connected.send(());
        }
    });
    let sample = repo().join("samples/spotify_pages.ndjson");
    let child = replay(&[sample.to_str().unwrap()], "s3://hanging/lake", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    first_connection.recv_timeout(Duration::from_secs(60)).expect("the replay reaches the hanging endpoint");
    let stopped = std::time::Instant::now();
    let out = common::interrupt(child);
    let took = stopped.elapsed();
    let grace = tunestream::aws::STOP_GRACE;
    assert!(took < grace + Duration::from_secs(10), "stopped after {took:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(75), "a service that kept failing: {}", String::from_utf8_lossy(&out.stderr));
}
