//! Decode and SQL of micro-batches, several at once, handed on in input order.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Error;
use crate::decode::{DecodedBatch, ReadSchemas, decode_batch};
use crate::page::{CommitPoint, PageBatch};
use crate::sink::SinkBatch;
use crate::telemetry::Counters;
use crate::transform::Transform;

/// The planned queries, once planning is done; `None` if it failed.
pub type PlannedTransform = Shared<BoxFuture<'static, Option<Arc<Transform>>>>;

/// One micro-batch ready for the sinks. The raw input and raw tables are already dropped, so
/// only query output waits in the channel.
#[derive(Debug)]
pub struct Processed {
    pub batch: SinkBatch,
    pub pages: usize,
    /// Input bytes; 0 for a live source's heartbeat, which carries no data.
    pub bytes: usize,
    pub commit_point: Option<CommitPoint>,
    /// How long decode and transform took.
    pub elapsed: std::time::Duration,
}

/// Decode and transform, `workers` micro-batches at a time.
pub struct ProcessStage {
    schemas: Arc<ReadSchemas>,
    transform: PlannedTransform,
    counters: Arc<Counters>,
    cancel: CancellationToken,
    workers: usize,
}

impl ProcessStage {
    /// A stage that decodes with `schemas` at once and runs the SQL once `transform` is planned.
    pub fn new(
        schemas: Arc<ReadSchemas>,
        transform: PlannedTransform,
        counters: Arc<Counters>,
        cancel: &CancellationToken,
        workers: usize,
    ) -> Self {
        Self { schemas, transform, counters, cancel: cancel.clone(), workers }
    }

    /// Processes every batch of `pages` into `out`, in order, until `pages` ends, `out` is
    /// gone, or a batch fails (which cancels the run).
    pub async fn run(self, pages: mpsc::Receiver<PageBatch>, out: mpsc::Sender<Processed>) -> Result<(), Error> {
        // Each micro-batch is its own task, so the SQL of several batches runs on several
        // threads; `buffered` still hands them on in input order.
        let mut processed = ReceiverStream::new(pages)
            .map(|batch| {
                let task = tokio::spawn(process(self.transform.clone(), self.schemas.clone(), batch));
                async move { task.await.map_err(|e| Error::Bug(format!("a micro-batch task failed: {e}")))? }
            })
            .buffered(self.workers);
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
            if item.bytes > 0 {
                self.counters.batch_seconds.observe(item.elapsed);
                let rows = item.batch.outputs.iter().map(|o| (o.table.to_string(), o.rows()));
                self.counters.record_batch(item.pages, item.bytes, item.batch.rejects.len(), rows);
                let rejects = item.batch.rejects.iter().map(|r| (r.reason(), r.kind.map_or("unknown", |k| k.name())));
                self.counters.record_rejects(rejects);
            }
            if out.send(item).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

async fn process(
    transform: PlannedTransform,
    schemas: Arc<ReadSchemas>,
    mut batch: PageBatch,
) -> Result<Processed, Error> {
    let span = tracing::debug_span!("batch", seq = batch.seq);
    let (clock, commit_point) = (batch.clock_micros, batch.commit_point.take());
    let raw = if batch.keep_raw {
        batch.lines.iter().map(|l| (l.file.modified_micros, batch.line(l).to_vec())).collect()
    } else {
        Vec::new()
    };
    if batch.lines.is_empty() {
        // A heartbeat, or the end of an input: only its clock and commit point matter.
        let id = Arc::from(batch.content_id());
        let sink_batch = SinkBatch { seq: batch.seq, id, clock_micros: clock, raw, ..SinkBatch::default() };
        let elapsed = std::time::Duration::ZERO;
        return Ok(Processed { batch: sink_batch, pages: 0, bytes: 0, commit_point, elapsed });
    }
    if crate::fault::fires("process") {
        return Err(Error::Bug(format!("micro-batch {} failed on purpose ({})", batch.seq, crate::fault::FAULT_VAR)));
    }
    async move {
        let started = std::time::Instant::now();
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
        let clock_micros = decoded.max_fetched_at().into_iter().chain(clock).max();
        let DecodedBatch { seq, id, pages, bytes, rejects, .. } = decoded;
        let batch = SinkBatch { seq, id, outputs, rejects, raw, clock_micros };
        Ok(Processed { batch, pages, bytes, commit_point, elapsed: started.elapsed() })
    }
    .instrument(span)
    .await
}
