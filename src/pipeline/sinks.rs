//! Starting the sinks: every sink's store, opened, locked (local directories) and recovered
//! before anything is written, then one task per configured sink, each with its input and
//! barrier channels.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Observed;
use super::barrier::SinkLink;
use super::commit::Committer;
use crate::Error;
use crate::config::Settings;
use crate::fs::{DirLock, lock_dir, lock_tree};
use crate::sink::feeds::{FeedsSettings, FeedsSink};
use crate::sink::jsonl::JsonlSink;
use crate::sink::lake::{LakeSink, TableSpec};
use crate::sink::records::{Ledger, RecordSink, Service, default_partition_key, forget, ledger_path};
use crate::sink::{BlockingSink, Prepared, Sink, SinkBatch, SinkConfig, SinkError, SinkInput};
use crate::sink::{firehose, kinesis};
use crate::store::{Location, Store};
use crate::telemetry::{Counters, DeliveryCounters};
use crate::transform::{Feeds, resolve_feeds};
use std::collections::BTreeMap;

/// A running sink: its name and its task.
pub struct SinkTask {
    pub name: &'static str,
    pub task: JoinHandle<Result<(), SinkError>>,
}

/// Every sink's store, held for this process, with the committer that recovered them.
pub struct Outputs {
    /// Each configured sink with its store (for sinks that write objects), the lake first.
    pub sinks: Vec<(SinkConfig, Option<Arc<Store>>)>,
    /// The raw zone's store, when it is not the lake's.
    pub raw: Option<Arc<Store>>,
    pub committer: Committer,
    _locks: Vec<DirLock>,
}

impl Outputs {
    /// The lake's store.
    pub fn lake(&self) -> Option<&Arc<Store>> {
        self.sinks.first().and_then(|(_, store)| store.as_ref())
    }

    /// Every store the sinks write to.
    pub fn stores(&self) -> Vec<Arc<Store>> {
        self.sinks.iter().filter_map(|(_, store)| store.clone()).chain(self.raw.clone()).collect()
    }
}

/// Opens and locks every sink's store (and `state_dir`, for a live source), then completes an
/// interrupted commit and removes staged objects no commit will list.
///
/// S3 has no locks: one run at a time may write an `s3://` prefix, which the state directory's
/// lock ensures for runs that share it (`docs/s3.md`).
pub async fn open(settings: &Settings, state_dir: Option<&Path>, cancel: &CancellationToken) -> Result<Outputs, Error> {
    let mut locks = Vec::new();
    let mut open_store = async |location: Location, what: &'static str| -> Result<Arc<Store>, Error> {
        if let Some(dir) = location.local() {
            locks.push(lock_tree(dir, what)?);
        }
        // At every start a store aborts the incomplete uploads below its prefix; at a bucket's
        // root those would include other applications'.
        if let Location::S3 { prefix, .. } = &location
            && prefix.is_empty()
        {
            let message = format!(
                "a {what} at the root of a bucket is refused: tunestream aborts the incomplete uploads below its prefix at every start, and at the root those include other applications'; use {location}/PREFIX"
            );
            return Err(crate::store::StoreError::S3 { url: location.to_string(), message }.into());
        }
        Ok(Arc::new(crate::store::open(&location, &settings.s3, cancel).await?))
    };
    let mut sinks = Vec::new();
    for sink in settings.all_sinks() {
        let store = match sink.root() {
            Some(root) => Some(open_store(root, if sink.name() == "lake" { "lake" } else { "jsonl directory" }).await?),
            None => None,
        };
        sinks.push((sink, store));
    }
    let raw = match settings.lake.raw.clone() {
        Some(raw) => Some(open_store(raw, "raw zone").await?),
        None => None,
    };
    if let Some(dir) = state_dir {
        locks.push(lock_dir(dir, "state directory")?);
    }
    let stores = sinks.iter().filter_map(|(_, store)| store.clone()).chain(raw.clone()).collect();
    let state_dir = state_dir.map(Path::to_owned);
    // Recovery talks to the stores synchronously, as commits do: off the async threads.
    let committer = tokio::task::spawn_blocking(move || Committer::recover(stores, state_dir.as_deref()))
        .await
        .map_err(|e| Error::Bug(format!("recovery task failed: {e}")))??;
    Ok(Outputs { sinks, raw, committer, _locks: locks })
}

/// Builds every configured sink for `tables`; record sinks count what they deliver in
/// `delivered` and keep their ledgers in `state_dir`.
pub async fn build(
    outputs: &Outputs,
    tables: &[TableSpec],
    state_dir: &Path,
    delivered: &Arc<DeliveryCounters>,
    cancel: &CancellationToken,
) -> Result<Vec<Sink>, Error> {
    let lake = outputs.lake().ok_or_else(|| Error::Bug("no lake store".into()))?;
    let mut sinks = Vec::new();
    for (config, store) in &outputs.sinks {
        let store = || store.clone().ok_or_else(|| Error::Bug(format!("sink {} has no store", config.name())));
        sinks.push(match config {
            SinkConfig::Lake(settings) => {
                let built = LakeSink::new(settings.clone(), store()?, outputs.raw.clone(), tables.to_vec());
                Sink::Blocking(BlockingSink::Lake(Box::new(built.map_err(|e| Error::Sink("lake", e))?)))
            }
            SinkConfig::Jsonl(jsonl) => Sink::Blocking(BlockingSink::Jsonl(JsonlSink::new(jsonl.clone(), store()?))),
            SinkConfig::Firehose(firehose) => {
                let service = firehose::connect(firehose).await.map_err(|message| refused(config, message))?;
                record_sink(service, firehose.tables.clone(), BTreeMap::new(), lake, state_dir, delivered, cancel)?
            }
            SinkConfig::Kinesis(kinesis) => {
                let keys = partition_keys(&kinesis.partition_keys, tables).map_err(|e| Error::Sink("kinesis", e))?;
                let service = kinesis::connect(kinesis).await.map_err(|message| refused(config, message))?;
                record_sink(service, kinesis.tables.clone(), keys, lake, state_dir, delivered, cancel)?
            }
        });
    }
    Ok(sinks)
}

/// The feeds of `settings`, planned against the output `tables`.
pub async fn plan_feeds(settings: &FeedsSettings, tables: &[TableSpec]) -> Result<Feeds, Error> {
    let queries = resolve_feeds(settings.path.as_deref())?;
    let schemas: Vec<_> = tables.iter().map(|spec| (spec.table.clone(), spec.schema.clone())).collect();
    Ok(Feeds::plan(queries, &schemas).await?)
}

/// The feeds sink: the feeds of `settings` over the output `tables`, resuming from the
/// snapshot in `state_dir`, publishing to `observed`.
pub async fn feeds(
    settings: &FeedsSettings,
    tables: &[TableSpec],
    state_dir: &Path,
    observed: &Observed,
) -> Result<Sink, Error> {
    let planned = Arc::new(plan_feeds(settings, tables).await?);
    let schemas: Vec<_> = tables.iter().map(|spec| (spec.table.clone(), spec.schema.clone())).collect();
    let (settings, state_dir) = (settings.clone(), state_dir.to_owned());
    let (published, counters) = (observed.feeds.clone(), observed.metrics.feeds.clone());
    // Reading the snapshot is file work: off the async threads.
    let sink = tokio::task::spawn_blocking(move || {
        FeedsSink::new(planned, &schemas, settings, &state_dir, published, counters)
    })
    .await
    .map_err(|e| Error::Bug(format!("feeds sink setup failed: {e}")))?;
    Ok(Sink::Feeds(Box::new(sink)))
}

/// A record sink for `service`, its ledger in `state_dir` and its rejects in the lake.
fn record_sink(
    service: Service,
    tables: Option<Vec<String>>,
    partition_keys: BTreeMap<String, String>,
    lake: &Arc<Store>,
    state_dir: &Path,
    delivered: &Arc<DeliveryCounters>,
    cancel: &CancellationToken,
) -> Result<Sink, Error> {
    let path = ledger_path(state_dir, service.kind(), service.stream());
    let ledger = Ledger::open(path).map_err(|e| Error::Sink(service.kind(), e))?;
    let sink =
        RecordSink::new(service, tables, partition_keys, lake.clone(), delivered.clone(), ledger, cancel.clone());
    Ok(Sink::Blocking(BlockingSink::Records(Box::new(sink))))
}

/// Deletes the ledgers of the record sinks in `settings`: a run ended with everything they
/// delivered committed.
pub fn forget_deliveries(settings: &Settings, state_dir: &Path) -> Result<(), Error> {
    for sink in settings.all_sinks() {
        let stream = match &sink {
            SinkConfig::Firehose(firehose) => &firehose.stream,
            SinkConfig::Kinesis(kinesis) => &kinesis.stream,
            SinkConfig::Lake(_) | SinkConfig::Jsonl(_) => continue,
        };
        forget(&ledger_path(state_dir, sink.name(), stream)).map_err(|e| Error::Sink(sink.name(), e))?;
    }
    Ok(())
}

fn refused(config: &SinkConfig, message: String) -> Error {
    Error::Sink(config.name(), SinkError::Refused { sink: config.name().to_owned(), message })
}

/// The partition key column of every table: the configured one, which must exist, else the
/// table's natural key where the table has that column.
fn partition_keys(
    configured: &BTreeMap<String, String>,
    tables: &[TableSpec],
) -> Result<BTreeMap<String, String>, SinkError> {
    let mut keys = BTreeMap::new();
    let mut problems = Vec::new();
    for (table, column) in configured {
        match tables.iter().find(|t| &t.table == table) {
            Some(spec) if spec.schema.index_of(column).is_ok() => {
                keys.insert(table.clone(), column.clone());
            }
            Some(_) => problems.push(format!("partition_keys.{table}: `{column}` is not a column of table {table}")),
            None => problems.push(format!("partition_keys.{table}: no query produces a table `{table}`")),
        }
    }
    for spec in tables {
        if let Some(column) = default_partition_key(&spec.table)
            && !keys.contains_key(&spec.table)
            && spec.schema.index_of(column).is_ok()
        {
            keys.insert(spec.table.clone(), column.to_owned());
        }
    }
    if problems.is_empty() { Ok(keys) } else { Err(SinkError::Schema(problems.join("\n"))) }
}

/// Starts one task per sink, each reading at most `capacity` inputs ahead and counting the
/// rows it takes of `tables` into `counters`.
pub fn start(
    sinks: Vec<Sink>,
    capacity: usize,
    tables: &[TableSpec],
    counters: &Arc<Counters>,
) -> (Vec<SinkLink>, Vec<SinkTask>) {
    let mut links = Vec::with_capacity(sinks.len());
    let mut tasks = Vec::with_capacity(sinks.len());
    for sink in sinks {
        let name = sink.name();
        let (input_tx, input_rx) = mpsc::channel(capacity);
        // One barrier is answered at a time: the barrier waits for every answer before the next.
        let (prepared_tx, prepared_rx) = mpsc::channel(1);
        let rows = RowCount::new(&sink, tables, counters.clone());
        let task = match sink {
            // They encode and write files or call services synchronously: blocking work, each
            // on its own thread.
            Sink::Blocking(sink) => {
                tokio::task::spawn_blocking(move || run_blocking(sink, input_rx, prepared_tx, &rows))
            }
            Sink::Feeds(feeds) => tokio::spawn(feeds.run(input_rx, prepared_tx, move |batch| rows.taken(batch))),
        };
        links.push(SinkLink { name, input: input_tx, prepared: prepared_rx });
        tasks.push(SinkTask { name, task });
    }
    (links, tasks)
}

/// Counts the rows one sink took, by table, for the summary and metrics.
struct RowCount {
    label: String,
    tables: Vec<String>,
    counters: Arc<Counters>,
}

impl RowCount {
    fn new(sink: &Sink, tables: &[TableSpec], counters: Arc<Counters>) -> Self {
        let tables = tables.iter().map(|spec| spec.table.clone()).filter(|table| sink.takes(table)).collect();
        Self { label: sink.label(), tables, counters }
    }

    /// Counts the rows of `batch` the sink took.
    fn taken(&self, batch: &SinkBatch) {
        let taken = batch.outputs.iter().filter(|output| self.tables.iter().any(|t| **t == *output.table));
        let rows = taken.map(|output| (output.table.as_ref(), output.rows()));
        self.counters.record_sink_rows(&self.label, rows);
    }
}

/// Feeds a sink its inputs in order until they end, counting the rows of each batch it wrote;
/// a failure ends the task and drops the channels, which the barrier sees.
fn run_blocking(
    mut sink: BlockingSink,
    mut input: mpsc::Receiver<SinkInput>,
    prepared: mpsc::Sender<Prepared>,
    rows: &RowCount,
) -> Result<(), SinkError> {
    while let Some(message) = input.blocking_recv() {
        let span = tracing::debug_span!("sink", name = %rows.label);
        let _enter = span.enter();
        let answer = sink.handle(&message)?;
        if let SinkInput::Batch(batch) = &message {
            rows.taken(batch);
        }
        if let Some(answer) = answer
            && prepared.blocking_send(answer).is_err()
        {
            break;
        }
    }
    Ok(())
}
