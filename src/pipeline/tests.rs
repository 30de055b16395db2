//! The barrier on its own, with scripted sinks: shutdown drains in order, a failing sink stops
//! the run by name with no checkpoint past what it acknowledged, a source that stops mid-pull
//! commits nothing of that pull, and a slow sink holds everything upstream to a bounded backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::page::{Checkpoint, CommitPoint};
use crate::sink::{Prepared, SinkBatch, SinkInput};
use crate::store::{LocalStore, Store};
use barrier::SinkLink;
use commit::Committer;
use process::Processed;

/// What a scripted sink saw, in order: `b<seq>` for a batch, `|<seq>` for a barrier.
type Log = Arc<std::sync::Mutex<Vec<String>>>;

struct Script {
    name: &'static str,
    /// Stop (dropping both channels, as a failed sink task does) on this batch.
    fail_on: Option<u64>,
    delay: Duration,
    /// Batches handled so far, for the backpressure test.
    handled: Arc<AtomicUsize>,
    log: Log,
}

fn scripted(name: &'static str) -> Script {
    Script { name, fail_on: None, delay: Duration::ZERO, handled: Arc::default(), log: Log::default() }
}

/// Starts the sink of `script` on a channel of `capacity` inputs.
fn start(script: &Script, capacity: usize) -> SinkLink {
    start_task(script, capacity).0
}

fn start_task(script: &Script, capacity: usize) -> (SinkLink, tokio::task::JoinHandle<()>) {
    let (input_tx, mut input) = mpsc::channel::<SinkInput>(capacity);
    let (prepared, prepared_rx) = mpsc::channel(1);
    let (fail_on, delay, handled, log) = (script.fail_on, script.delay, script.handled.clone(), script.log.clone());
    let task = tokio::spawn(async move {
        while let Some(message) = input.recv().await {
            match message {
                SinkInput::Batch(batch) => {
                    if Some(batch.seq) == fail_on {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    log.lock().unwrap().push(format!("b{}", batch.seq));
                    handled.fetch_add(1, Ordering::SeqCst);
                }
                SinkInput::Barrier { seq, .. } => {
                    log.lock().unwrap().push(format!("|{seq}"));
                    if prepared.send(Prepared { seq, ..Prepared::default() }).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (SinkLink { name: script.name, input: input_tx, prepared: prepared_rx }, task)
}

/// A lake and a state directory in a temporary folder.
struct Harness {
    dir: tempfile::TempDir,
    state: std::path::PathBuf,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    Harness { state, dir }
}

impl Harness {
    fn committer(&self) -> Committer {
        let store = Arc::new(Store::Local(LocalStore::open(self.dir.path().join("lake")).unwrap()));
        Committer::recover(vec![store], Some(&self.state)).unwrap()
    }
}

/// A micro-batch with data; `state` makes it a live commit point carrying that cursor.
fn batch(seq: u64, state: Option<&str>, harness: &Harness) -> Processed {
    let commit_point = state.map(|cursor| {
        let checkpoint =
            Checkpoint { path: harness.state.join("checkpoint.json"), contents: cursor.as_bytes().to_vec() };
        CommitPoint::State(checkpoint)
    });
    let batch = SinkBatch { seq, clock_micros: Some(seq as i64), ..SinkBatch::default() };
    Processed { batch, pages: 1, bytes: 100, commit_point, elapsed: std::time::Duration::ZERO }
}

fn saved_state(harness: &Harness) -> Option<String> {
    std::fs::read_to_string(harness.state.join("checkpoint.json")).ok()
}

/// Every commit point is due at once.
const EAGER: CommitPolicy = CommitPolicy { max_delay_micros: 0 };

#[tokio::test]
async fn shutdown_drains_every_batch_in_order_and_commits_the_last_commit_point() {
    let harness = harness();
    let (one, two) = (scripted("one"), scripted("two"));
    let links = vec![start(&one, 2), start(&two, 2)];
    // Commit points only every 100 µs of fetch time: the last one waits for the shutdown.
    let policy = CommitPolicy { max_delay_micros: 100 };
    let barrier = Barrier::new(links, harness.committer(), policy);
    let (tx, rx) = mpsc::channel(2);
    let task = tokio::spawn(barrier.run(rx));
    for seq in 0..6 {
        let state = (seq % 2 == 1).then(|| format!("cursor {seq}"));
        tx.send(batch(seq, state.as_deref(), &harness)).await.unwrap();
    }
    drop(tx); // the source stopped right after a commit point
    let stats = task.await.unwrap().unwrap();
    assert!(!stats.stopped_mid_stream);
    assert_eq!(saved_state(&harness).as_deref(), Some("cursor 5"));
    for sink in [one, two] {
        let log = sink.log.lock().unwrap().clone();
        assert_eq!(log, ["b0", "b1", "b2", "b3", "b4", "b5", "|5"], "{}", sink.name);
    }
}

#[tokio::test]
async fn a_failing_sink_stops_the_run_by_name_and_no_state_passes_its_last_acknowledged_batch() {
    let harness = harness();
    let healthy = scripted("healthy");
    let failing = Script { fail_on: Some(3), ..scripted("failing") };
    let links = vec![start(&healthy, 2), start(&failing, 2)];
    let committer = harness.committer();
    let (tx, rx) = mpsc::channel(2);
    let task = tokio::spawn(Barrier::new(links, committer, EAGER).run(rx));
    for seq in 0..6 {
        // The receiver goes away once the barrier has failed.
        let _ = tx.send(batch(seq, Some(&format!("cursor {seq}")), &harness)).await;
    }
    drop(tx);
    let error = task.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::SinkStopped("failing")), "{error}");
    assert!(error.to_string().contains("failing"), "{error}");
    assert_eq!(saved_state(&harness).as_deref(), Some("cursor 2"), "batch 2 was the last both sinks acknowledged");
    assert_eq!(failing.log.lock().unwrap().last().map(String::as_str), Some("|2"));
}

#[tokio::test]
async fn a_source_that_stops_mid_pull_commits_nothing_of_that_pull() {
    let harness = harness();
    let sink = scripted("lake");
    let committer = harness.committer();
    let (tx, rx) = mpsc::channel(2);
    let (link, sink_task) = start_task(&sink, 2);
    let task = tokio::spawn(Barrier::new(vec![link], committer, EAGER).run(rx));
    tx.send(batch(0, Some("pull 1 done"), &harness)).await.unwrap();
    // Pull 2 spans two micro-batches; the source fails after the first.
    tx.send(batch(1, None, &harness)).await.unwrap();
    drop(tx);
    let stats = task.await.unwrap().unwrap();
    assert!(stats.stopped_mid_stream, "the summary says the run stopped between commit points");
    sink_task.await.unwrap();
    assert_eq!(saved_state(&harness).as_deref(), Some("pull 1 done"));
    assert_eq!(*sink.log.lock().unwrap(), ["b0", "|0", "b1"], "no barrier after the partial pull");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sink_holds_the_source_to_a_bounded_backlog() {
    let harness = harness();
    let slow = Script { delay: Duration::from_millis(5), ..scripted("slow") };
    let capacity = 2;
    let committer = harness.committer();
    let (tx, rx) = mpsc::channel(capacity);
    let (link, sink) = start_task(&slow, capacity);
    let task = tokio::spawn(Barrier::new(vec![link], committer, EAGER).run(rx));
    let mut most_ahead = 0;
    for seq in 0..40 {
        tx.send(batch(seq, None, &harness)).await.unwrap();
        let ahead = (seq as usize + 1) - slow.handled.load(Ordering::SeqCst);
        most_ahead = most_ahead.max(ahead);
    }
    drop(tx);
    task.await.unwrap().unwrap();
    sink.await.unwrap();
    assert_eq!(slow.handled.load(Ordering::SeqCst), 40);
    // The pipeline's channel, the sink's channel, the batch the barrier holds and the one the
    // sink is on: nothing else can be in flight, however fast the source.
    let bound = 2 * capacity + 2;
    assert!(most_ahead <= bound, "{most_ahead} batches ahead of the sink, bound {bound}");
    assert!(most_ahead >= capacity, "the source did run ahead ({most_ahead}), so the bound was tested");
}
