//! The feeds over hand-made rows: ranks and their change across windows, eviction at the
//! retention edge, and a restart that resumes from the snapshot.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tunestream::sink::feeds::{FeedsSettings, FeedsSink, Published};
use tunestream::sink::{SinkBatch, SinkInput};
use tunestream::telemetry::FeedCounters;
use tunestream::transform::{Feeds, Transform, built_in_feeds, built_in_queries};

const HOUR: i64 = 3_600_000_000;
/// 2026-12-01T12:00:00Z.
const NOON: i64 = 1_764_590_400_000_000;

fn iso(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).unwrap().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The output tables' schemas, from the default queries.
async fn schemas() -> Vec<(String, SchemaRef)> {
    let transform = Transform::plan(built_in_queries()).await.unwrap();
    transform.tables().iter().map(|q| (q.query.table.clone(), q.schema.clone())).collect()
}

fn table(schemas: &[(String, SchemaRef)], name: &str, rows: &[Value]) -> RecordBatch {
    let schema = schemas.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let lines: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let mut reader = arrow::json::ReaderBuilder::new(schema.clone()).build(Cursor::new(lines)).unwrap();
    reader.next().map_or_else(|| RecordBatch::new_empty(schema), Result::unwrap)
}

/// A play of `track` by `user` at `at`, fetched at `fetched`.
fn play(user: &str, track: &str, at: i64, fetched: i64) -> Value {
    json!({"user_id": user, "track_id": track, "played_at": iso(at), "_ingested_at": iso(fetched), "_batch_id": "b"})
}

fn rows(published: &Published, feed: &str) -> Vec<Value> {
    serde_json::from_str(&published.feeds[feed].json).unwrap()
}

#[tokio::test]
async fn ranks_change_across_windows_and_a_repeated_play_counts_once() {
    let schemas = schemas().await;
    let feeds = Feeds::plan(built_in_feeds(), &schemas).await.unwrap();
    let minute = HOUR / 60;
    let mut plays = Vec::new();
    // The hour before: a 3 plays, b 1.
    for (i, track) in ["a", "a", "a", "b"].iter().enumerate() {
        plays.push(play("u1", track, NOON - 2 * HOUR + (i as i64 + 1) * minute, NOON));
    }
    // The last hour: b 3 plays, a 2, c 1; and b's first play fetched twice.
    for (i, track) in ["b", "b", "b", "a", "a", "c"].iter().enumerate() {
        plays.push(play("u2", track, NOON - HOUR + (i as i64 + 1) * minute, NOON));
    }
    plays.push(play("u2", "b", NOON - HOUR + minute, NOON));
    let plays = table(&schemas, "plays", &plays);
    let tables: Vec<(String, Vec<RecordBatch>)> = schemas
        .iter()
        .map(|(name, _)| (name.clone(), if name == "plays" { vec![plays.clone()] } else { Vec::new() }))
        .collect();
    let outputs = feeds.run(&tables, NOON, &"test".into()).await.unwrap();
    let top = outputs.iter().find(|o| &*o.table == "top_tracks").unwrap();
    let mut json = Vec::new();
    tunestream::sink::json_rows::json_array(&top.batches, &mut json).unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&json).unwrap();
    let hour: Vec<(String, i64, i64, Value, Value)> = rows
        .iter()
        .filter(|r| r["span"] == "1h")
        .map(|r| {
            let text = r["track_id"].as_str().unwrap().to_owned();
            (
                text,
                r["rank"].as_i64().unwrap(),
                r["plays"].as_i64().unwrap(),
                r["previous_rank"].clone(),
                r["rank_change"].clone(),
            )
        })
        .collect();
    assert_eq!(
        hour,
        [
            ("b".into(), 1, 3, json!(2), json!(1)),
            ("a".into(), 2, 2, json!(1), json!(-1)),
            ("c".into(), 3, 1, Value::Null, Value::Null),
        ]
    );
    let day: Vec<(&str, i64)> = rows
        .iter()
        .filter(|r| r["span"] == "24h")
        .map(|r| (r["track_id"].as_str().unwrap(), r["plays"].as_i64().unwrap()))
        .collect();
    assert_eq!(day, [("a", 5), ("b", 4), ("c", 1)], "the day holds both hours, each play once");
}

fn settings(retention: Duration) -> FeedsSettings {
    FeedsSettings {
        path: None,
        retention,
        min_refresh: Duration::ZERO,
        snapshot_interval: Duration::from_secs(3600),
        max_rows: 100,
    }
}

/// A feeds sink over the built-in feeds in `state_dir`, with its published results.
async fn sink(
    schemas: &[(String, SchemaRef)],
    retention: Duration,
    state_dir: &std::path::Path,
) -> (FeedsSink, watch::Receiver<Arc<Published>>) {
    let feeds = Arc::new(Feeds::plan(built_in_feeds(), schemas).await.unwrap());
    let (tx, rx) = watch::channel(Arc::new(Published::default()));
    let counters = Arc::new(FeedCounters::default());
    (FeedsSink::new(feeds, schemas, settings(retention), state_dir, Arc::new(tx), counters), rx)
}

fn batch(schemas: &[(String, SchemaRef)], seq: u64, plays: &[Value], clock: i64) -> SinkInput {
    let outputs = vec![tunestream::transform::TableOutput {
        table: "plays".into(),
        batches: vec![table(schemas, "plays", plays)],
    }];
    SinkInput::Batch(Arc::new(SinkBatch {
        seq,
        id: format!("b{seq}").into(),
        outputs,
        clock_micros: Some(clock),
        ..SinkBatch::default()
    }))
}

/// Feeds `inputs` to `sink` through its task, then returns the last published result.
async fn run(sink: FeedsSink, inputs: Vec<SinkInput>, published: &watch::Receiver<Arc<Published>>) -> Arc<Published> {
    let (tx, rx) = mpsc::channel(8);
    let (prepared_tx, _prepared_rx) = mpsc::channel(8);
    let task = tokio::spawn(sink.run(rx, prepared_tx, |_| {}));
    for input in inputs {
        tx.send(input).await.unwrap();
    }
    drop(tx);
    task.await.unwrap().unwrap();
    published.borrow().clone()
}

fn clock_plays(published: &Published) -> i64 {
    rows(published, "listening_clock").iter().map(|r| r["plays"].as_i64().unwrap()).sum()
}

#[tokio::test]
async fn rows_leave_at_the_retention_edge_and_a_restart_resumes_from_the_snapshot() {
    let schemas = schemas().await;
    let state = tempfile::tempdir().unwrap();
    let retention = Duration::from_secs(3600);
    let (feeds, published) = sink(&schemas, retention, state.path()).await;
    let old = [play("u", "a", NOON - 10, NOON - HOUR)];
    let newer = [play("u", "b", NOON - 5, NOON - HOUR + 1)];
    // At the edge: the first row was ingested exactly one retention before the clock, and stays.
    let inputs = vec![batch(&schemas, 1, &old, NOON - HOUR), batch(&schemas, 2, &newer, NOON)];
    let first = run(feeds, inputs, &published).await;
    assert_eq!(clock_plays(&first), 2);
    assert_eq!(first.watermark_micros, Some(NOON));

    // A restart finds both rows in the snapshot, before any new input.
    let (feeds, published) = sink(&schemas, retention, state.path()).await;
    let resumed = run(feeds, Vec::new(), &published).await;
    assert_eq!(clock_plays(&resumed), 2, "the snapshot must bring the trends back");
    assert_eq!(resumed.watermark_micros, Some(NOON), "the windows resume at the last clock, not the latest row");

    // One microsecond later the first row is out of the window; the second stays.
    let (feeds, published) = sink(&schemas, retention, state.path()).await;
    let later = run(feeds, vec![batch(&schemas, 3, &[], NOON + 1)], &published).await;
    assert_eq!(clock_plays(&later), 1);
    let kept: Vec<Value> = rows(&later, "top_tracks");
    assert!(kept.iter().all(|r| r["track_id"] == "b"), "{kept:?}");
}

#[tokio::test]
async fn a_feed_that_does_not_plan_is_reported_with_its_file() {
    let schemas = schemas().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.sql"), "SELECT no_such_column FROM plays").unwrap();
    let queries = tunestream::transform::load_queries(dir.path()).unwrap();
    let err = Feeds::plan(queries, &schemas).await.err().unwrap().to_string();
    assert!(err.contains("broken.sql") && err.contains("no_such_column"), "{err}");
}

#[tokio::test]
async fn every_feed_is_listed_empty_before_the_first_refresh() {
    let schemas = schemas().await;
    let state = tempfile::tempdir().unwrap();
    let (_feeds, published) = sink(&schemas, Duration::from_secs(3600), state.path()).await;
    let before = published.borrow().clone();
    let names: Vec<String> = before.feeds.keys().cloned().collect();
    let mut expected: Vec<String> =
        built_in_feeds().into_iter().map(|q| q.table).filter(|name| !name.starts_with('_')).collect();
    expected.sort();
    assert_eq!(names, expected, "the set of feeds is known at start");
    assert_eq!(before.version, 0);
    assert!(before.feeds.values().all(|f| f.rows == 0 && &*f.json == "[]"));
}
