//! Running a sink: what it is started with ([`SinkContext`]), what the barrier holds of it
//! ([`SinkHandle`]), and the loop of the sinks that write synchronously, each on its own thread.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::feeds::Published;
use super::lake::TableSpec;
use super::{Prepared, SinkBatch, SinkError, SinkInput};
use crate::store::{Pending, Store};
use crate::telemetry::{Counters, DeliveryCounters, FeedCounters};

/// Everything a sink is started with, named: the pipeline opened and locked the stores.
pub struct SinkContext {
    /// The output tables, with their schemas.
    pub tables: Vec<TableSpec>,
    /// The sink's own store, for sinks that write objects.
    pub store: Option<Arc<Store>>,
    /// The raw zone's store when it is not the lake's (the lake only).
    pub raw: Option<Arc<Store>>,
    /// Where a sink puts what it cannot deliver (records over a service's limit): the lake's
    /// store, below `_rejected/`.
    pub rejects: Arc<Store>,
    /// Where the sink keeps what must survive a restart (delivery ledgers, feed snapshots).
    pub state_dir: PathBuf,
    /// How many inputs the sink may have waiting.
    pub capacity: usize,
    /// The run's counters: rows taken per sink and table.
    pub counters: Arc<Counters>,
    /// Records delivered to services.
    pub delivered: Arc<DeliveryCounters>,
    /// Where the feeds publish each refresh, and their counters.
    pub published: Arc<watch::Sender<Arc<Published>>>,
    pub feed_counters: Arc<FeedCounters>,
    pub cancel: CancellationToken,
}

/// A started sink as the barrier speaks to it: inputs in, one [`Prepared`] per barrier out.
pub struct SinkHandle {
    pub name: &'static str,
    pub input: mpsc::Sender<SinkInput>,
    pub prepared: mpsc::Receiver<Prepared>,
    pub task: JoinHandle<Result<(), SinkError>>,
}

/// A sink that writes or calls a service synchronously, one input at a time.
pub trait WriteSink: Send + 'static {
    /// Takes one micro-batch.
    fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError>;
    /// Makes everything written durable on the sink's side (`seal` closes open files too) and
    /// returns the staged objects to commit.
    fn prepare(&mut self, seal: bool) -> Result<Vec<Pending>, SinkError>;
}

/// The channels a sink task serves, and the counting of what it takes.
pub(super) struct Channels {
    pub input: mpsc::Receiver<SinkInput>,
    pub prepared: mpsc::Sender<Prepared>,
    pub rows: RowCount,
}

/// Opens the channels of sink `name`, labelled `label`, which takes the tables `takes` picks,
/// and starts `task` on them.
pub(super) fn start<F>(
    name: &'static str,
    label: String,
    takes: impl Fn(&str) -> bool,
    cx: &SinkContext,
    task: F,
) -> SinkHandle
where
    F: FnOnce(Channels) -> JoinHandle<Result<(), SinkError>>,
{
    let (input_tx, input) = mpsc::channel(cx.capacity);
    // One barrier is answered at a time: the barrier waits for every answer before the next.
    let (prepared_tx, prepared_rx) = mpsc::channel(1);
    let tables = cx.tables.iter().map(|spec| spec.table.clone()).filter(|table| takes(table)).collect();
    let rows = RowCount { label, tables, counters: cx.counters.clone() };
    let task = task(Channels { input, prepared: prepared_tx, rows });
    SinkHandle { name, input: input_tx, prepared: prepared_rx, task }
}

/// Starts `sink` on a blocking thread of its own: it encodes and writes files or calls services
/// synchronously.
pub(super) fn start_blocking(
    name: &'static str,
    label: String,
    takes: impl Fn(&str) -> bool,
    cx: &SinkContext,
    sink: impl WriteSink,
) -> SinkHandle {
    start(name, label, takes, cx, |channels| tokio::task::spawn_blocking(move || run_blocking(sink, channels)))
}

/// Feeds a sink its inputs in order until they end, counting the rows of each batch it wrote;
/// a failure ends the task and drops the channels, which the barrier sees.
fn run_blocking(mut sink: impl WriteSink, channels: Channels) -> Result<(), SinkError> {
    let Channels { mut input, prepared, rows } = channels;
    while let Some(message) = input.blocking_recv() {
        let span = tracing::debug_span!("sink", name = %rows.label);
        let _enter = span.enter();
        match message {
            SinkInput::Batch(batch) => {
                sink.write(&batch)?;
                rows.taken(&batch);
            }
            SinkInput::Barrier { seq, seal } => {
                let objects = sink.prepare(seal)?;
                if prepared.blocking_send(Prepared { seq, objects, steps: Vec::new() }).is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Counts the rows one sink took, by table, for the summary and metrics.
pub(super) struct RowCount {
    /// The name the summary and metrics count under: the kind, and where it writes when
    /// several sinks of the kind may run (`jsonl:out`, `firehose:stream`).
    label: String,
    tables: Vec<String>,
    counters: Arc<Counters>,
}

impl RowCount {
    /// Counts the rows of `batch` the sink took.
    pub fn taken(&self, batch: &SinkBatch) {
        let taken = batch.outputs.iter().filter(|output| self.tables.iter().any(|t| **t == *output.table));
        let rows = taken.map(|output| (output.table.as_ref(), output.rows()));
        self.counters.record_sink_rows(&self.label, rows);
    }
}
