//! Pipeline: wires source → decode+transform → sinks with bounded channels, one cancellation
//! token and the checkpoint barrier, and drains everything in flight on shutdown.
//!
//! ```text
//! source ─PageBatch─▶ process (`workers` at once, in order) ─Processed─▶ barrier
//!     barrier ─SinkInput─▶ each sink (its own task) ─Prepared─▶ barrier ─▶ commit (objects + state)
//! ```
//! Every channel holds at most `channel_capacity` items, so a slow sink slows the source.
//! `docs/exactly-once.md` states the commit protocol.

mod barrier;
mod commit;
mod live;
mod process;
mod sinks;
mod start;
#[cfg(test)]
mod tests;

pub use commit::{CommitError, MANIFEST_FILE};
pub use live::{login, plan, run_live};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::Settings;
use crate::decode::ReadSchemas;
use crate::sink::SinkConfig;
use crate::sink::feeds::{FeedsSettings, Published};
use crate::sink::lake::{REJECTED_DIR, TableSpec, check_tables};
use crate::source::SourceConfig;
use crate::telemetry::{CommitStats, Counters, FeedSummary, Metrics, RunSummary, SourceSummary, progress};
use crate::transform::{Feeds, Query, Transform, resolve_queries};
use barrier::{Barrier, CommitPolicy};
use process::ProcessStage;
use start::SourceStart;

/// Plans the queries and checks the lake tables: everything that can fail before data is read.
pub async fn prepare(settings: &Settings) -> Result<(Transform, Vec<TableSpec>), Error> {
    let queries = resolve_queries(settings.queries.as_deref())?;
    let schemas = Transform::read_schemas_for(&queries).await?;
    plan_tables(queries, schemas).await
}

/// Plans the feeds against the output `tables`, unless feeds are off.
pub async fn prepare_feeds(settings: &Settings, tables: &[TableSpec]) -> Result<Option<Feeds>, Error> {
    match &settings.feeds {
        Some(feeds) => Ok(Some(crate::sink::feeds::plan(feeds, tables).await?)),
        None => Ok(None),
    }
}

async fn plan_tables(queries: Vec<Query>, schemas: Arc<ReadSchemas>) -> Result<(Transform, Vec<TableSpec>), Error> {
    let transform = Transform::plan_with(queries, schemas).await?;
    let specs: Vec<TableSpec> = transform
        .tables()
        .iter()
        .map(|q| TableSpec {
            table: q.query.table.clone(),
            fingerprint: q.query.fingerprint(),
            schema: q.schema.clone(),
        })
        .collect();
    check_tables(&specs).map_err(|e| Error::Sink("lake", e))?;
    Ok((transform, specs))
}

/// What a run shares with the HTTP server while it runs.
#[derive(Debug, Clone)]
pub struct Observed {
    pub metrics: Arc<Metrics>,
    /// Where the feeds sink publishes each refresh.
    pub feeds: Arc<watch::Sender<Arc<Published>>>,
    /// Set once the sinks are open and the source has started.
    pub ready: Arc<AtomicBool>,
}

impl Default for Observed {
    fn default() -> Self {
        Self { metrics: Arc::default(), feeds: Arc::new(watch::Sender::new(Arc::default())), ready: Arc::default() }
    }
}

/// Runs `source` through the queries into every sink until the source ends or `cancel`
/// fires, then commits everything up to the last commit point.
pub async fn run(settings: &Settings, source: SourceConfig, cancel: CancellationToken) -> Result<RunSummary, Error> {
    run_observed(settings, source, cancel, &Observed::default(), None).await
}

/// [`run`], counting into `observed` and keeping the trend feeds of `feeds` when given.
pub async fn run_observed(
    settings: &Settings,
    source: SourceConfig,
    cancel: CancellationToken,
    observed: &Observed,
    feeds: Option<&FeedsSettings>,
) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let queries = resolve_queries(settings.queries.as_deref())?;
    let (counters, source_counters) = (observed.metrics.pipeline.clone(), observed.metrics.source.clone());
    let capacity = settings.pipeline.channel_capacity;
    let RunState { ledger, dir: sink_state, _lock } = RunState::open(settings, &queries, &source)?;
    let ((page_tx, page_rx), (out_tx, out_rx)) = (mpsc::channel(capacity), mpsc::channel(capacity));
    // A replay reads while the queries are planned: reading needs no schema.
    let mut source = SourceStart::new(source, settings.pipeline.batch, page_tx, &cancel, ledger.clone());
    // A long replay shows its progress; a live run has no end to measure against.
    let progress = ledger.is_some().then(|| Progress::start(counters.clone(), source.total_bytes()));
    // A broken query is reported first, even when the input is missing too.
    let checked = Transform::read_schemas_for(&queries).await.map_err(Error::from);
    let schemas = match checked.and_then(|schemas| source.take_error().map_or(Ok(schemas), Err)) {
        Ok(schemas) => schemas,
        Err(e) => return Err(source.abandon(page_rx, &cancel, e).await),
    };
    // Decoding needs only the read schemas: it starts while the SQL is planned.
    let (transform_tx, transform_rx) = oneshot::channel::<Arc<Transform>>();
    let transform = transform_rx.map(Result::ok).boxed().shared();
    let stage = ProcessStage::new(schemas.clone(), transform, counters.clone(), &cancel, settings.pipeline.workers);
    let process = tokio::spawn(stage.run(page_rx, out_tx));
    let state_dir = source.state_dir().map(Path::to_owned);
    let setup = async {
        let (planned, specs) = plan_tables(queries, schemas).await?;
        // Only a run that will write takes the sinks' directories, and recovers them before
        // anything is read live: an interrupted commit decides where the source resumes.
        let configs = settings.all_sinks().into_iter().chain(feeds.cloned().map(SinkConfig::Feeds)).collect();
        let outputs = sinks::open(settings, configs, state_dir.as_deref(), &cancel).await?;
        let shared = sinks::Shared { tables: &specs, state_dir: &sink_state, capacity, observed, cancel: &cancel };
        let (links, tasks) = sinks::start(&outputs, shared).await?;
        // The receiver only goes away when the process stage has already failed.
        let _ = transform_tx.send(Arc::new(planned));
        Ok::<_, Error>((outputs, links, tasks))
    };
    let (outputs, links, sinks, source) = match setup.await {
        Ok((outputs, links, tasks)) => match source.start(source_counters.clone(), &cancel).await {
            Ok(task) => (outputs, links, tasks, task),
            Err(e) => {
                // The sinks end once their inputs close.
                drop(links);
                return Err(stop_after(e, &cancel, None, process, tasks).await);
            }
        },
        Err(e) => return Err(stop_after(e, &cancel, source.into_task(), process, Vec::new()).await),
    };
    let lake_root = outputs.lake.root();
    let stores = outputs.stores();
    let forget = |state_dir: &Path| sinks::forget_deliveries(&outputs.sinks, state_dir);
    let mut committer = outputs.committer;
    committer.count_into(counters.clone());
    observed.ready.store(true, Ordering::Relaxed);
    let policy = CommitPolicy { max_delay_micros: settings.lake.max_file_age.as_micros() as i64 };
    let barrier = tokio::spawn(Barrier::new(links, committer, policy).run(out_rx));
    let committed = finish(source, process, sinks, barrier, &cancel).await;
    if let Some(progress) = progress {
        progress.stop().await;
    }
    for store in &stores {
        store.settle().await;
    }
    let committed = committed?;
    if !committed.stopped_mid_stream {
        forget(&sink_state)?;
        // Everything read is committed: a rerun skips these inputs.
        if let Some(ledger) = &ledger {
            ledger.save()?;
        }
    }
    let rejected_dir = settings.lake.path.join(REJECTED_DIR).to_string();
    let summary = RunSummary::new(&counters, committed, lake_root, rejected_dir, started.elapsed());
    Ok(with_observed(summary, observed, feeds.is_some()))
}

/// The progress line of a replay, on stderr until stopped (or dropped).
struct Progress {
    task: tokio::task::JoinHandle<()>,
    _done: tokio_util::sync::DropGuard,
}

impl Progress {
    fn start(counters: Arc<Counters>, total_bytes: Option<u64>) -> Self {
        let done = CancellationToken::new();
        let task = tokio::spawn(progress::report(counters, total_bytes, done.clone()));
        Self { task, _done: done.drop_guard() }
    }

    async fn stop(self) {
        let Self { task, _done: done } = self;
        drop(done);
        let _ = task.await;
    }
}

/// `summary` with what `observed` counted: deliveries, the feeds when kept, and the source's
/// requests when it made any.
fn with_observed(mut summary: RunSummary, observed: &Observed, feeds: bool) -> RunSummary {
    let metrics = &observed.metrics;
    summary.delivered = metrics.delivery.snapshot();
    if feeds {
        summary.feeds = Some(FeedSummary::from(metrics.feeds.as_ref()));
    }
    if Counters::get(&metrics.source.requests) > 0 || !metrics.source.problems().is_empty() {
        summary.source = Some(SourceSummary::from(metrics.source.as_ref()));
    }
    summary
}

/// Where a run keeps its state: a replay keeps its own (its ledger, its record sinks' ledgers)
/// in a part of the state directory, which it locks, so a live run may use the rest meanwhile;
/// a live run uses the whole state directory.
struct RunState {
    /// The inputs replays into this lake read (replay only).
    ledger: Option<Arc<crate::source::replay::Ledger>>,
    /// Where the sinks keep their state.
    dir: PathBuf,
    _lock: Option<crate::fs::DirLock>,
}

impl RunState {
    fn open(settings: &Settings, queries: &[Query], source: &SourceConfig) -> Result<Self, Error> {
        let SourceConfig::Replay(config) = source else {
            return Ok(Self { ledger: None, dir: settings.state_dir.clone(), _lock: None });
        };
        let (dir, scope) = replay_state(settings, queries, config);
        let lock = crate::fs::lock_dir(&dir, "replay state directory")?;
        let ledger = crate::source::replay::Ledger::open(&dir, &scope, settings.lake.path.local())?;
        if ledger.known() > 0 {
            let inputs = ledger.known();
            tracing::info!(inputs, "earlier replays into this lake read some inputs: only new ones are read");
        }
        Ok(Self { ledger: Some(Arc::new(ledger)), dir, _lock: Some(lock) })
    }
}

/// Where a replay into this lake keeps its state, and the scope of its ledger there: what decides
/// its output (the queries' text, the page kind given for bare lines, the sinks).
fn replay_state(
    settings: &Settings,
    queries: &[crate::transform::Query],
    config: &crate::source::replay::ReplayConfig,
) -> (std::path::PathBuf, String) {
    let mut scope: Vec<String> = queries.iter().map(|q| format!("{}\n{}", q.table, q.sql)).collect();
    scope.sort();
    scope.push(format!("kind {:?}", config.kind));
    scope.push(format!("sinks {:?}", settings.sinks));
    // The same lake named from another folder is the same lake.
    let lake = match &settings.lake.path {
        crate::store::Location::Local(path) => {
            std::path::absolute(path).unwrap_or_else(|_| path.clone()).display().to_string()
        }
        s3 => s3.to_string(),
    };
    (crate::source::replay::Ledger::dir(&settings.state_dir, &lake), scope.join("\n"))
}

type Task<T> = tokio::task::JoinHandle<Result<T, Error>>;

/// Awaits every stage in flow order, so every error is seen and nothing is left running; the
/// first error in that order is the cause, and a stopped sink's own error beats the barrier's.
async fn finish(
    source: Task<()>,
    process: Task<()>,
    sinks: Vec<sinks::SinkTask>,
    barrier: Task<CommitStats>,
    cancel: &CancellationToken,
) -> Result<CommitStats, Error> {
    let source = join(source).await.inspect_err(|_| cancel.cancel());
    let process = join(process).await.inspect_err(|_| cancel.cancel());
    let barrier = join(barrier).await.inspect_err(|_| cancel.cancel());
    let mut sink_result = Ok(());
    for sink in sinks {
        let result = sinks::ended(sink.name, sink.task.await);
        sink_result = sink_result.and(result.inspect_err(|_| cancel.cancel()));
    }
    source.and(process).and(sink_result).and(barrier)
}

/// Stops what started before setup failed, awaits it, and returns the setup error.
async fn stop_after(
    error: Error,
    cancel: &CancellationToken,
    source: Option<Task<()>>,
    process: Task<()>,
    sinks: Vec<sinks::SinkTask>,
) -> Error {
    cancel.cancel();
    if let Some(task) = source {
        let _ = task.await;
    }
    let _ = process.await;
    for sink in sinks {
        let _ = sink.task.await;
    }
    error
}

async fn join<T, E: Into<Error>>(task: tokio::task::JoinHandle<Result<T, E>>) -> Result<T, Error> {
    match task.await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(Error::Bug(format!("a pipeline task failed: {e}"))),
    }
}
