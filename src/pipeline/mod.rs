//! Pipeline: wires source → decode → transform → sink with bounded channels and one
//! cancellation token, and drains everything in flight on shutdown.
//!
//! ```text
//! source (blocking thread) ─PageBatch─▶ decode+transform (`workers` at once, in order)
//!                                        ─Processed─▶ lake sink (blocking thread) ─▶ commit
//! ```
//! Every channel holds at most `channel_capacity` micro-batches, so a slow sink slows the source.

mod live;

pub use live::{plan, run_live};

use std::sync::Arc;
use std::time::Instant;

use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Error;
use crate::config::Settings;
use crate::decode::{DecodedBatch, ReadSchemas, Reject, decode_batch};
use crate::sink::parquet::{LakeWriter, TableSpec};
use crate::sink::rejects::write_rejects;
use crate::source::{Checkpoint, PageBatch, SourceConfig, replay, spotify};
use crate::telemetry::{Counters, RunSummary, SourceCounters};
use crate::transform::{Query, TableOutput, Transform, resolve_queries};

/// One micro-batch ready for the sink. The raw input and raw tables are already dropped, so
/// only query output waits in the channel.
struct Processed {
    seq: u64,
    id: Arc<str>,
    pages: usize,
    bytes: usize,
    rejects: Vec<Reject>,
    /// The latest fetch time in the micro-batch, or the live source's clock: the event clock.
    max_fetched_at: Option<i64>,
    checkpoint: Option<Checkpoint>,
    /// Raw lines with their fetch time, for the landing zone (live sources only).
    raw: Vec<(i64, Vec<u8>)>,
    outputs: Vec<TableOutput>,
}

/// Plans the queries and checks the lake tables: everything that can fail before data is read.
pub async fn prepare(settings: &Settings) -> Result<(Transform, Vec<TableSpec>), Error> {
    let queries = resolve_queries(settings.queries.as_deref())?;
    let schemas = Transform::read_schemas_for(&queries).await?;
    plan_tables(queries, schemas).await
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
    crate::sink::parquet::check_tables(&specs)?;
    Ok((transform, specs))
}

/// The planned queries, once planning is done; `None` if it failed.
type PlannedTransform = Shared<BoxFuture<'static, Option<Arc<Transform>>>>;

/// Runs `source` through the queries into the lake until the source ends or `cancel` fires,
/// then commits everything in flight.
pub async fn run(settings: &Settings, source: SourceConfig, cancel: CancellationToken) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let queries = resolve_queries(settings.queries.as_deref())?;
    let replay_files = match &source {
        SourceConfig::Replay(config) => Some(replay::list_files(config)),
        SourceConfig::Spotify(_) => None,
    };
    let counters = Arc::new(Counters::default());
    let source_counters = Arc::new(SourceCounters::default());
    let (capacity, limits) = (settings.pipeline.channel_capacity, settings.pipeline.batch);
    let (page_tx, page_rx) = mpsc::channel::<PageBatch>(capacity);
    let (out_tx, out_rx) = mpsc::channel::<Processed>(capacity);
    let (transform_tx, transform_rx) = oneshot::channel::<Arc<Transform>>();
    let transform: PlannedTransform = transform_rx.map(Result::ok).boxed().shared();

    // A replay starts reading at once, since reading needs no schema; a live source gets the
    // sender once the lake is recovered.
    let (mut replay_task, live_pages, missing_input) = match (&source, replay_files) {
        (SourceConfig::Replay(config), Some(Ok(files))) => {
            let (cancel, kind) = (cancel.clone(), config.kind);
            let task = tokio::task::spawn_blocking(move || replay::read_files(&files, kind, limits, &page_tx, &cancel));
            (Some(task), None, None)
        }
        (_, Some(Err(e))) => (None, None, Some(e)),
        _ => (None, Some(page_tx), None),
    };
    // A broken query is reported first, even when the input is missing too.
    let checked = Transform::read_schemas_for(&queries)
        .await
        .map_err(Error::from)
        .and_then(|schemas| missing_input.map_or(Ok(schemas), |e| Err(e.into())));
    let schemas = match checked {
        Ok(schemas) => schemas,
        Err(e) => {
            // Dropping the receiver stops a reader waiting for room in the channel.
            cancel.cancel();
            drop(page_rx);
            if let Some(task) = replay_task {
                let _ = task.await;
            }
            return Err(e);
        }
    };
    // Decoding needs only the read schemas, so a replay decodes its first micro-batches while
    // the queries are planned; their SQL waits for the plans.
    let stage =
        ProcessStage { schemas: schemas.clone(), transform, counters: counters.clone(), cancel: cancel.clone() };
    let process_task = tokio::spawn(stage.run(page_rx, out_tx, settings.pipeline.workers));

    let setup = async {
        let (planned, specs) = plan_tables(queries, schemas).await?;
        let mut lake = LakeWriter::new(settings.lake.clone(), specs)?;
        // The receiver only goes away when the process stage has already failed.
        let _ = transform_tx.send(Arc::new(planned));
        let live_task = match (source, live_pages) {
            (SourceConfig::Spotify(config), Some(page_tx)) => {
                // Recover the lake first: an interrupted checkpoint decides where the source resumes.
                lake.enable_checkpoints(&config.state_dir)?;
                let client = Arc::new(spotify::connect(&config, source_counters.clone(), cancel.clone())?);
                if config.auto_login {
                    spotify::log_in_simulated_users(&client, &config.jobs).await?;
                }
                let cancel = cancel.clone();
                Some(tokio::spawn(async move { spotify::run_source(client, &config, limits, page_tx, cancel).await }))
            }
            _ => None,
        };
        Ok::<_, Error>((lake, live_task))
    };
    let ready = setup.await.and_then(|(lake, live_task)| match live_task.or_else(|| replay_task.take()) {
        Some(task) => Ok((lake, task)),
        None => Err(Error::Bug("no source was started".into())),
    });
    let (lake, source_task) = match ready {
        Ok(ready) => ready,
        Err(e) => {
            // Stop what already started, await it, and report why.
            cancel.cancel();
            if let Some(task) = replay_task {
                let _ = task.await;
            }
            let _ = process_task.await;
            return Err(e);
        }
    };
    let lake_root = lake.root().to_owned();
    let sink_task = tokio::task::spawn_blocking(move || sink_loop(lake, out_rx));

    // Await all three, in flow order, so every error is seen and nothing is left running.
    let source_result = join(source_task).await;
    let process_result = join(process_task).await;
    let lake_stats = join(sink_task).await?;
    source_result?;
    process_result?;
    let mut summary = RunSummary::new(&counters, lake_stats, lake_root, started.elapsed());
    if Counters::get(&source_counters.requests) > 0 || !source_counters.problems().is_empty() {
        summary.source = Some(crate::telemetry::SourceSummary::from(source_counters.as_ref()));
    }
    Ok(summary)
}

/// Decode and SQL of micro-batches, several at once, handed on in input order.
struct ProcessStage {
    schemas: Arc<ReadSchemas>,
    transform: PlannedTransform,
    counters: Arc<Counters>,
    cancel: CancellationToken,
}

impl ProcessStage {
    async fn run(
        self,
        pages: mpsc::Receiver<PageBatch>,
        out: mpsc::Sender<Processed>,
        workers: usize,
    ) -> Result<(), Error> {
        // Each micro-batch is its own task, so the SQL of several batches runs on several
        // threads; `buffered` still hands them on in input order.
        let mut processed = ReceiverStream::new(pages)
            .map(|batch| {
                let task = tokio::spawn(process(self.transform.clone(), self.schemas.clone(), batch));
                async move { task.await.map_err(|e| Error::Bug(format!("a micro-batch task failed: {e}")))? }
            })
            .buffered(workers);
        while let Some(result) = processed.next().await {
            let item = match result {
                Ok(item) => item,
                Err(e) => {
                    self.cancel.cancel();
                    // Await the batches already in flight; the source stops on the cancel.
                    while processed.next().await.is_some() {}
                    return Err(e);
                }
            };
            let rows =
                item.outputs.iter().map(|o| (o.table.to_string(), o.batches.iter().map(|b| b.num_rows() as u64).sum()));
            // A live source's idle heartbeats carry no pages: they are not micro-batches of data.
            if item.bytes > 0 {
                self.counters.record_batch(item.pages, item.bytes, item.rejects.len(), rows);
            }
            if out.send(item).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

async fn join<T, E: Into<Error>>(task: tokio::task::JoinHandle<Result<T, E>>) -> Result<T, Error> {
    match task.await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(Error::Bug(format!("a pipeline task failed: {e}"))),
    }
}

async fn process(
    transform: PlannedTransform,
    schemas: Arc<ReadSchemas>,
    mut batch: PageBatch,
) -> Result<Processed, Error> {
    let span = tracing::debug_span!("batch", seq = batch.seq);
    let (clock, checkpoint) = (batch.clock_micros, batch.checkpoint.take());
    let raw = if batch.keep_raw {
        batch.lines.iter().map(|l| (l.file.modified_micros, batch.line(l).to_vec())).collect()
    } else {
        Vec::new()
    };
    if batch.lines.is_empty() {
        // A live source's heartbeat: only its clock and checkpoint matter.
        let id = Arc::from(batch.content_id());
        let (seq, pages, bytes, rejects, outputs) = (batch.seq, 0, 0, Vec::new(), Vec::new());
        return Ok(Processed { seq, id, pages, bytes, rejects, max_fetched_at: clock, checkpoint, raw, outputs });
    }
    async move {
        let decoded = tokio::task::spawn_blocking(move || decode_batch(batch, &schemas))
            .await
            .map_err(|e| Error::Bug(format!("decode task failed: {e}")))??;
        // Planning failed only if `run` is already reporting why; this error is not shown.
        let transform = transform.await.ok_or_else(|| Error::Bug("the queries were not planned".into()))?;
        let outputs = transform.run(&decoded).await?;
        tracing::debug!(
            batch_id = %decoded.id,
            pages = decoded.pages,
            rejected = decoded.rejects.len(),
            tables = outputs.len(),
            "micro-batch transformed"
        );
        let max_fetched_at = decoded.max_fetched_at().into_iter().chain(clock).max();
        let DecodedBatch { seq, id, pages, bytes, rejects, .. } = decoded;
        Ok(Processed { seq, id, pages, bytes, rejects, max_fetched_at, checkpoint, raw, outputs })
    }
    .instrument(span)
    .await
}

/// Writes micro-batches to the lake in order; commits every open file once the input ends.
/// Progress is logged at most this often; every micro-batch is still logged at debug level.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

fn sink_loop(
    mut lake: LakeWriter,
    mut rx: mpsc::Receiver<Processed>,
) -> Result<crate::sink::parquet::LakeStats, Error> {
    let mut clock_micros = i64::MIN;
    let mut last_progress = Instant::now();
    let (mut pages, mut batches) = (0, 0);
    while let Some(item) = rx.blocking_recv() {
        let _span = tracing::debug_span!("sink", seq = item.seq).entered();
        if let Some(path) = write_rejects(lake.root(), &item.id, &item.rejects)? {
            tracing::warn!(rejected = item.rejects.len(), path = %path.display(), "rejected lines written");
        }
        for output in &item.outputs {
            for batch in &output.batches {
                lake.write(&output.table, &item.id, batch)?;
            }
        }
        lake.write_raw(item.raw.iter().map(|(at, line)| (*at, line.as_slice())))?;
        if let Some(checkpoint) = item.checkpoint {
            lake.set_checkpoint(checkpoint);
        }
        // The pipeline's clock is the latest fetch time seen: replays roll files exactly as the
        // live run that fetched the pages did, and the same input always gives the same files.
        clock_micros = clock_micros.max(item.max_fetched_at.unwrap_or(i64::MIN));
        lake.roll_aged(clock_micros)?;
        tracing::debug!(pages = item.pages, "micro-batch written");
        (pages, batches) = (pages + item.pages, batches + 1);
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            let stats = lake.stats();
            tracing::info!(batches, pages, files = stats.files_committed, "progress");
        }
    }
    Ok(lake.finish()?)
}
