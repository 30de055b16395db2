//! The Firehose and Kinesis sinks over real HTTP on loopback: moto serves both services, a fault
//! proxy of the tests' own fails chosen records and calls, and boto3 reads back what the services
//! hold.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::proxy::Proxy;
use common::repo;
use common::s3::aws_env;
use serde_json::{Value, json};
use tunestream::fault::{CRASH_EXIT_CODE, FAULT_VAR};
use tunestream::simulator::{SimConfig, Simulator};
use tunestream::source::synthetic::{EntryShape, playlist_pages};

/// Runs `tests/tools/streams.py` with `args` and returns what it printed.
fn streams(args: &[&str]) -> Value {
    common::s3::python_tool("streams.py", args)
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{name}-{}-{:x}", std::process::id(), nanos % (1 << 40))
}

fn set_faults(proxy: &Proxy, plan: Value) {
    streams(&["fault", &proxy.url(), &plan.to_string()]);
}

fn proxy_counters(proxy: &Proxy) -> Value {
    streams(&["fault", &proxy.url()])
}

/// The sample pages and 30 synthetic playlist pages (3,000 entries in one micro-batch).
fn write_input(dir: &Path) -> Vec<String> {
    let synthetic = dir.join("playlists.ndjson");
    std::fs::write(&synthetic, playlist_pages(30, 7, EntryShape::LegacyTrack)).unwrap();
    vec![repo().join("samples/spotify_pages.ndjson").display().to_string(), synthetic.display().to_string()]
}

/// `tunestream replay` of `inputs` into a local lake, talking to AWS at `endpoint`.
fn replay(inputs: &[String], dir: &Path, endpoint: &str, sinks: &[&str]) -> Command {
    let mut command = common::bin();
    command.arg("replay").args(inputs).arg("--lake").arg(dir.join("lake")).arg("--queries").arg(repo().join("queries"));
    command.args(sinks).env("TUNESTREAM__STATE_DIR", dir.join("state"));
    aws_env(&mut command, endpoint).env("RUST_LOG", "warn").env_remove(tunestream::fault::FAULT_VAR);
    command
}

fn succeeded(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
    String::from_utf8(out.stdout).unwrap()
}

/// (sent, retried, rejected) of `sink` from the summary's `delivered` line.
fn delivered(summary: &str, sink: &str) -> (u64, u64, u64) {
    let numbers = delivered_counts(summary, sink);
    (numbers[0], numbers[1], numbers[2])
}

/// The records of `sink` the summary says were sent again after a restart.
fn sent_again(summary: &str, sink: &str) -> u64 {
    delivered_counts(summary, sink).get(3).copied().unwrap_or(0)
}

fn delivered_counts(summary: &str, sink: &str) -> Vec<u64> {
    let line = summary.lines().find(|l| l.trim_start().starts_with(&format!("delivered        {sink}:"))).unwrap();
    line.rsplit_once(": ")
        .unwrap()
        .1
        .split(", ")
        .map(|part| part.split_whitespace().find_map(|word| word.parse().ok()).unwrap())
        .collect()
}

/// Every JSON record the jsonl sink wrote below `dir`, as sorted text: the records a sink sends.
fn jsonl_sorted(dir: &Path) -> Vec<String> {
    let mut records = Vec::new();
    for table in std::fs::read_dir(dir).unwrap() {
        let table = table.unwrap().file_name().into_string().unwrap();
        if table.starts_with('.') {
            continue;
        }
        records.extend(common::jsonl_records(dir, &table).iter().map(Value::to_string));
    }
    records.sort();
    records
}

fn sorted(records: &[Value]) -> Vec<String> {
    let mut text: Vec<String> = records.iter().map(Value::to_string).collect();
    text.sort();
    text
}

#[test]
fn firehose_resends_only_the_records_that_failed_and_counts_them_exactly() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_input(dir.path());
    let proxy = Proxy::new("fault_proxy.py");
    let (stream, bucket) = (unique("plays"), unique("firehose"));
    streams(&["firehose-create", &stream, &bucket]);
    set_faults(&proxy, json!({"fail_every": 7}));

    let json_dir = dir.path().join("json");
    let flags = ["--firehose", &stream, "--jsonl", json_dir.to_str().unwrap()];
    let summary = succeeded(replay(&inputs, dir.path(), &proxy.url(), &flags).output().unwrap());

    let records = streams(&["firehose-records", &bucket])["records"].as_array().unwrap().clone();
    assert_eq!(sorted(&records), jsonl_sorted(&json_dir), "every row once, as the jsonl sink wrote it");
    let counters = proxy_counters(&proxy);
    let (sent, retried, rejected) = delivered(&summary, &format!("firehose:{stream}"));
    assert_eq!(sent, records.len() as u64, "{summary}");
    assert_eq!(retried, counters["failed"].as_u64().unwrap(), "only the failed records were sent again");
    assert!(retried > 0 && rejected == 0, "{summary}");
    assert_eq!(counters["records"].as_u64().unwrap(), sent + retried);
    assert_eq!(counters["most_records"], 500, "calls fill up to the record limit and no further");
}

#[test]
fn kinesis_keys_records_by_table_and_rides_out_throttling() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_input(dir.path());
    let proxy = Proxy::new("fault_proxy.py");
    let stream = unique("trends");
    streams(&["kinesis-create", &stream, "2"]);
    let plan = json!({"fail_every": 5, "fail_code": "ProvisionedThroughputExceededException", "throttle_calls": 2});
    set_faults(&proxy, plan);

    let json_dir = dir.path().join("json");
    let tables = "plays,playlist_tracks";
    let (kinesis, jsonl) = (format!("{stream}:{tables}"), format!("{}:{tables}", json_dir.display()));
    let summary = succeeded(
        replay(&inputs, dir.path(), &proxy.url(), &["--kinesis", &kinesis, "--jsonl", &jsonl]).output().unwrap(),
    );

    let records = streams(&["kinesis-records", &stream])["records"].as_array().unwrap().clone();
    let data: Vec<Value> = records.iter().map(|r| r["data"].clone()).collect();
    assert_eq!(sorted(&data), jsonl_sorted(&json_dir), "every row once");
    let mut shard_of_key = BTreeMap::new();
    for record in &records {
        let key_column = match record["data"]["_table"].as_str().unwrap() {
            "plays" => "user_id",
            _ => "playlist_id",
        };
        assert_eq!(record["key"], record["data"][key_column], "keyed by the table's natural key");
        let shard = shard_of_key.entry(record["key"].to_string()).or_insert_with(|| record["shard"].clone());
        assert_eq!(*shard, record["shard"], "one key's records on one shard");
    }
    let counters = proxy_counters(&proxy);
    assert_eq!(counters["throttled"], 2);
    let (sent, retried, _) = delivered(&summary, &format!("kinesis:{stream}"));
    assert_eq!((sent, retried), (records.len() as u64, counters["failed"].as_u64().unwrap()), "{summary}");
    assert!(summary.contains("playlist_tracks") && summary.contains("plays"), "{summary}");
}

/// Sends rows whose records are `sizes` bytes (data plus key) through a record sink for
/// `service`, then returns the proxy's counters and the staged rejects.
async fn send_sized(kinesis: bool, sizes: Vec<usize>) -> (Value, Vec<tunestream::store::Pending>) {
    use arrow::array::{RecordBatch, StringArray};
    use tunestream::sink::records::{Ledger, RecordSink, Service};
    use tunestream::sink::{SinkBatch, json_rows::json_lines};
    use tunestream::store::{LocalStore, Store};
    use tunestream::transform::TableOutput;

    let proxy = Proxy::new("fault_proxy.py");
    let stream = unique("limits");
    let batch = |payload: &str| {
        let ids = StringArray::from(vec!["k"]);
        RecordBatch::try_from_iter([
            ("user_id", Arc::new(ids) as _),
            ("payload", Arc::new(StringArray::from(vec![payload])) as _),
        ])
        .unwrap()
    };
    let mut empty = Vec::new();
    json_lines("big", "b1", &batch(""), &mut empty).unwrap();
    let overhead = empty.len() + usize::from(kinesis);
    let parts: Vec<RecordBatch> = sizes.iter().map(|size| batch(&"x".repeat(size - overhead))).collect();

    let region = aws_sdk_kinesis::config::Region::new("us-east-1");
    let credentials = aws_sdk_kinesis::config::Credentials::new("test", "test", None, None, "tests");
    let service = if kinesis {
        streams(&["kinesis-create", &stream, "1"]);
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .endpoint_url(proxy.url())
            .region(region)
            .credentials_provider(credentials)
            .build();
        Service::Kinesis { client: aws_sdk_kinesis::Client::from_conf(config), stream: stream.clone() }
    } else {
        streams(&["firehose-create", &stream, &unique("limits")]);
        let config = aws_sdk_firehose::Config::builder()
            .behavior_version(aws_sdk_firehose::config::BehaviorVersion::latest())
            .endpoint_url(proxy.url())
            .region(aws_sdk_firehose::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_firehose::config::Credentials::new("test", "test", None, None, "tests"))
            .build();
        Service::Firehose { client: aws_sdk_firehose::Client::from_conf(config), stream: stream.clone() }
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::Local(LocalStore::open(dir.path().to_owned()).unwrap()));
    let keys = BTreeMap::from([("big".to_owned(), "user_id".to_owned())]);
    let cancel = tokio_util::sync::CancellationToken::new();
    let ledger = Ledger::open(dir.path().join("state/delivered/limits.ledger")).unwrap();
    let mut sink = RecordSink::new(service, None, keys, store, Default::default(), ledger, cancel);
    let input = SinkBatch {
        id: "b1".into(),
        outputs: vec![TableOutput { table: "big".into(), batches: parts }],
        ..SinkBatch::default()
    };
    let rejects = tokio::task::spawn_blocking(move || {
        sink.write(&input).unwrap();
        sink.prepare()
    })
    .await
    .unwrap();
    (proxy_counters(&proxy), rejects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_calls_and_records_reach_their_limits_and_one_byte_more_is_rejected() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let mib = 1 << 20;
    // Five records of exactly 1 MiB with their key make one call of exactly 5 MiB, which moto
    // accepts (it enforces both limits); a sixth record is one byte over.
    let (counters, rejects) = send_sized(true, vec![mib, mib, mib, mib, mib, mib + 1]).await;
    assert_eq!(counters["largest_record"], mib);
    assert_eq!(counters["most_bytes"], 5 * mib);
    assert_eq!((counters["calls"].as_u64(), counters["records"].as_u64()), (Some(1), Some(5)));
    assert_eq!(rejects.len(), 1, "the record one byte over the limit is set aside");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_calls_and_records_reach_their_limits_and_one_byte_more_is_rejected() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let record = 1000 << 10;
    // Four records of 1,000 KiB fit in 4 MiB; the fifth starts a second call.
    let (counters, rejects) = send_sized(false, vec![record, record, record, record, record, record + 1]).await;
    assert_eq!(counters["largest_record"], record);
    assert_eq!(counters["most_bytes"], 4 * record);
    assert_eq!((counters["calls"].as_u64(), counters["records"].as_u64()), (Some(2), Some(5)));
    assert_eq!(rejects.len(), 1);
}

/// 40 micro-batches of one synthetic playlist page each.
fn many_batches(dir: &Path) -> Vec<String> {
    let input = dir.join("pages.ndjson");
    std::fs::write(&input, playlist_pages(40, 11, EntryShape::Item)).unwrap();
    vec![input.display().to_string()]
}

fn firehose_records(bucket: &str) -> Vec<Value> {
    streams(&["firehose-records", bucket])["records"].as_array().unwrap().clone()
}

/// A replay of `inputs` into a fresh lake in `dir/<name>`, one page a micro-batch, sending to
/// Firehose `stream` through `proxy`, with a jsonl copy of what it sends in `dir/<name>/json`.
fn replay_to_firehose(inputs: &[String], dir: &Path, name: &str, proxy: &Proxy, stream: &str) -> Command {
    let run_dir = dir.join(name);
    let json_dir = run_dir.join("json");
    let mut command =
        replay(inputs, &run_dir, &proxy.url(), &["--firehose", stream, "--jsonl", json_dir.to_str().unwrap()]);
    command.env("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "1");
    command
}

#[test]
fn a_firehose_outage_holds_the_run_back_and_nothing_is_lost_or_sent_twice() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = many_batches(dir.path());
    let proxy = Proxy::new("fault_proxy.py");
    let (stream, bucket) = (unique("outage"), unique("outage"));
    streams(&["firehose-create", &stream, &bucket]);

    // Down from the start: the run waits; back up: it goes on and delivers every record once.
    set_faults(&proxy, json!({"down": true}));
    let mut child = replay_to_firehose(&inputs, dir.path(), "first", &proxy, &stream)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A retry after a refusal shows the run is waiting, not failing.
    common::wait_until("Firehose to be tried twice", || proxy_counters(&proxy)["refused"].as_u64() >= Some(2));
    assert!(firehose_records(&bucket).is_empty());
    assert!(child.try_wait().unwrap().is_none(), "the run waits for Firehose");
    set_faults(&proxy, json!({}));
    succeeded(child.wait_with_output().unwrap());
    assert_eq!(sorted(&firehose_records(&bucket)), jsonl_sorted(&dir.path().join("first/json")));
}

#[test]
fn a_shutdown_while_firehose_is_down_says_how_many_records_were_not_delivered() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = many_batches(dir.path());
    let proxy = Proxy::new("fault_proxy.py");
    let (stream, bucket) = (unique("down"), unique("down"));
    streams(&["firehose-create", &stream, &bucket]);
    set_faults(&proxy, json!({"down": true}));
    let mut command = replay_to_firehose(&inputs, dir.path(), "stopped", &proxy, &stream);
    let child = command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    common::wait_until("Firehose to be tried", || proxy_counters(&proxy)["refused"].as_u64() >= Some(1));
    let out = common::interrupt(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    let records = stderr.split(" records not delivered").next().unwrap().rsplit(' ').next().unwrap();
    assert!(records.parse::<u64>().unwrap() > 0 && stderr.contains("next start"), "{stderr}");

    // The next start, with Firehose back, sends them.
    set_faults(&proxy, json!({}));
    succeeded(replay_to_firehose(&inputs, dir.path(), "again", &proxy, &stream).output().unwrap());
    assert_eq!(sorted(&firehose_records(&bucket)), jsonl_sorted(&dir.path().join("again/json")));
}

#[test]
fn records_sent_before_a_crash_are_sent_again_with_the_same_batch_id() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = many_batches(dir.path());
    let proxy = Proxy::new("fault_proxy.py");
    let (stream, bucket) = (unique("crash"), unique("crash"));
    streams(&["firehose-create", &stream, &bucket]);

    // Killed after delivering the fifth micro-batch, before its checkpoint.
    let out = replay(&inputs, dir.path(), &proxy.url(), &["--firehose", &stream])
        .env("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "1")
        .env(tunestream::fault::FAULT_VAR, "records.delivered@5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(tunestream::fault::CRASH_EXIT_CODE), "{}", String::from_utf8_lossy(&out.stderr));
    let before = firehose_records(&bucket).len();

    let json_dir = dir.path().join("json");
    let mut again =
        replay(&inputs, dir.path(), &proxy.url(), &["--firehose", &stream, "--jsonl", json_dir.to_str().unwrap()]);
    let summary = succeeded(again.env("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "1").output().unwrap());

    let records = firehose_records(&bucket);
    let expected = jsonl_sorted(&json_dir);
    let mut unique_records: Vec<String> = records.iter().map(Value::to_string).collect();
    unique_records.sort();
    unique_records.dedup();
    assert_eq!(unique_records, expected, "every record at least once");
    let repeats = records.len() - expected.len();
    assert!(repeats > 0 && repeats <= before, "the records of the uncheckpointed micro-batches came again");
    assert_eq!(sent_again(&summary, &format!("firehose:{stream}")), repeats as u64, "{summary}");
    let replay_state: Vec<_> = std::fs::read_dir(dir.path().join("state/replay")).unwrap().flatten().collect();
    let ledgers = replay_state.iter().filter_map(|d| d.path().join("delivered").read_dir().ok()).flatten().count();
    assert_eq!(ledgers, 0, "a finished run keeps no ledger");
    // A repeat is the same record, so it carries the same `_batch_id`.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        *counts.entry(record.to_string()).or_default() += 1;
    }
    let repeated_batches: std::collections::BTreeSet<String> = records
        .iter()
        .filter(|r| counts[&r.to_string()] > 1)
        .map(|r| r["_batch_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!repeated_batches.is_empty() && repeated_batches.len() <= 5, "{repeated_batches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_killed_after_a_delivery_sends_those_records_again_with_the_same_batch_id() {
    if !common::has(&[common::Needs::S3, common::Needs::Python]) {
        return;
    }
    let sim = Simulator::start(SimConfig { plays_per_minute: 120.0, ..SimConfig::default() }, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let playlists = "[[jobs]]\ntype = \"user_playlists\"\nuser = \"alice\"\nevery_secs = 1\n";
    let config =
        common::config_with_jobs(&sim, dir.path(), 1_000_000, &format!("{playlists}[pipeline]\nbatch_max_pages = 1\n"));
    let proxy = Proxy::new("fault_proxy.py");
    let (stream, bucket) = (unique("live"), unique("live"));
    streams(&["firehose-create", &stream, &bucket]);
    let json_dir = dir.path().join("json");
    let run = || {
        let mut command = common::run(&config);
        command.args(["--force", "--firehose", &stream, "--jsonl", json_dir.to_str().unwrap()]);
        aws_env(&mut command, &proxy.url());
        command
    };

    // Killed once the third micro-batch is delivered, before a checkpoint covers it.
    let crashed = tokio::task::block_in_place(|| run().env(FAULT_VAR, "records.delivered@3").output().unwrap());
    assert_eq!(crashed.status.code(), Some(CRASH_EXIT_CODE), "{}", String::from_utf8_lossy(&crashed.stderr));
    let journal = dir.path().join("state/journal");
    assert!(journal.read_dir().unwrap().any(|_| true), "the uncheckpointed pulls are journaled");
    let summary = tokio::task::block_in_place(|| succeeded(run().args(["--for", "3s"]).output().unwrap()));

    // Every record once in the committed jsonl output, at least once in Firehose.
    let records = firehose_records(&bucket);
    let mut unique_records: Vec<String> = records.iter().map(Value::to_string).collect();
    unique_records.sort();
    unique_records.dedup();
    assert_eq!(unique_records, jsonl_sorted(&json_dir), "every record at least once");
    let repeats = (records.len() - unique_records.len()) as u64;
    assert!(repeats > 0, "the delivered but uncheckpointed records came again");
    assert_eq!(sent_again(&summary, &format!("firehose:{stream}")), repeats, "{summary}");
    // The restart sent the journaled pages, not pulled them anew: a play is under one batch id.
    let mut batches_of_play: BTreeMap<(String, String), std::collections::BTreeSet<String>> = BTreeMap::new();
    for record in records.iter().filter(|r| r["_table"] == "plays") {
        let play = (record["user_id"].to_string(), record["played_at"].to_string());
        batches_of_play.entry(play).or_default().insert(record["_batch_id"].to_string());
    }
    assert!(!batches_of_play.is_empty());
    assert!(batches_of_play.values().all(|ids| ids.len() == 1), "{batches_of_play:?}");
    common::assert_plays_exactly_once(&dir.path().join("lake"), &sim);
    sim.stop().await;
}
