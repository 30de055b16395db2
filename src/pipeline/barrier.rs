//! The checkpoint barrier: hands every micro-batch to every sink in order, and at commit points
//! asks each sink to prepare, then commits what they staged with the source state, once all
//! of them answered. A source's state never becomes durable before every sink holds its rows.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::commit::Committer;
use super::process::Processed;
use crate::Error;
use crate::page::{Checkpoint, CommitPoint};
use crate::sink::{Prepared, SinkInput};
use crate::store::Pending;
use crate::telemetry::{CommitStats, Counters};

/// The pipeline's end of one sink's two channels.
pub struct SinkLink {
    pub name: &'static str,
    pub input: mpsc::Sender<SinkInput>,
    pub prepared: mpsc::Receiver<Prepared>,
}

/// When the barrier commits at a live source's commit points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitPolicy {
    /// Commit once the oldest uncommitted data was fetched this many microseconds ago by the
    /// pipeline's clock (the lake's `max_file_age`); with no data waiting, commit at once.
    pub max_delay_micros: i64,
}

/// Where the stream stands since the last commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing was received since the last commit.
    Committed,
    /// The last batch received was a commit point that is not committed yet.
    AtCommitPoint(u64),
    /// The last batch received is not a commit point: its rows may belong to a pull (or a
    /// replay) that is not complete, and must never be committed on their own.
    MidStream,
}

pub struct Barrier {
    sinks: Vec<SinkLink>,
    /// `None` only while a commit runs on a blocking thread.
    committer: Option<Committer>,
    policy: CommitPolicy,
}

impl Barrier {
    pub fn new(sinks: Vec<SinkLink>, committer: Committer, policy: CommitPolicy) -> Self {
        Self { sinks, committer: Some(committer), policy }
    }

    /// Runs until `processed` ends, then commits the last commit point if the stream ended on
    /// one. Returns what was committed; on a sink's failure, the error names the sink.
    pub async fn run(mut self, mut processed: mpsc::Receiver<Processed>) -> Result<CommitStats, Error> {
        let mut tail = Tail::Committed;
        let mut state: Option<Checkpoint> = None;
        // The pipeline clock when the oldest uncommitted data arrived.
        let mut oldest_uncommitted: Option<i64> = None;
        let counters = self.committer.as_ref().and_then(|c| c.counters().cloned());
        while let Some(item) = processed.recv().await {
            if let Some(counters) = &counters {
                self.record_queues(counters, processed.len());
            }
            let (seq, clock) = (item.batch.seq, item.batch.clock_micros.unwrap_or(i64::MIN));
            let batch = Arc::new(item.batch);
            for sink in &self.sinks {
                sink.input.send(SinkInput::Batch(batch.clone())).await.map_err(|_| Error::SinkStopped(sink.name))?;
            }
            if item.bytes > 0 {
                oldest_uncommitted.get_or_insert(clock);
            }
            tail = match item.commit_point {
                Some(CommitPoint::State(checkpoint)) => {
                    state = Some(checkpoint);
                    let due = oldest_uncommitted
                        .is_none_or(|oldest| clock.saturating_sub(oldest) >= self.policy.max_delay_micros);
                    if due {
                        self.barrier(seq, true, state.take()).await?;
                        if let (Some(counters), Some(oldest)) =
                            (&counters, oldest_uncommitted.filter(|&t| t > i64::MIN))
                        {
                            let waited = chrono::Utc::now().timestamp_micros().saturating_sub(oldest).max(0);
                            counters.fetch_to_commit.observe(std::time::Duration::from_micros(waited as u64));
                        }
                        oldest_uncommitted = None;
                        Tail::Committed
                    } else {
                        Tail::AtCommitPoint(seq)
                    }
                }
                // Files sealed so far hold only verified rows under deterministic names; open
                // files go on, so the files of a complete run stay what they would have been.
                Some(CommitPoint::Verified) => {
                    self.barrier(seq, false, None).await?;
                    Tail::MidStream
                }
                Some(CommitPoint::EndOfInput) => {
                    self.barrier(seq, true, None).await?;
                    Tail::Committed
                }
                None => Tail::MidStream,
            };
        }
        match tail {
            Tail::AtCommitPoint(seq) => self.barrier(seq, true, state.take()).await?,
            Tail::MidStream => {
                tracing::warn!("stopped between commit points: what came after the last commit is read again next run")
            }
            Tail::Committed => {}
        }
        let mut stats = self.committer.as_ref().map(|c| c.stats().clone()).unwrap_or_default();
        stats.stopped_mid_stream = tail == Tail::MidStream;
        Ok(stats)
    }

    /// Sets the queue gauges: batches waiting for the barrier, and the fullest sink's inputs.
    fn record_queues(&self, counters: &Counters, waiting: usize) {
        crate::telemetry::set(&counters.queued_batches, waiting as u64);
        let fullest = self.sinks.iter().map(|s| s.input.max_capacity() - s.input.capacity()).max().unwrap_or(0);
        crate::telemetry::set(&counters.queued_sink_inputs, fullest as u64);
    }

    /// Asks every sink to make batch `seq` and all before it durable (`seal`: open files too),
    /// then commits the objects they staged with `state`.
    async fn barrier(&mut self, seq: u64, seal: bool, state: Option<Checkpoint>) -> Result<(), Error> {
        for sink in &self.sinks {
            sink.input.send(SinkInput::Barrier { seq, seal }).await.map_err(|_| Error::SinkStopped(sink.name))?;
        }
        let mut objects: Vec<Pending> = Vec::new();
        let mut steps = Vec::new();
        for sink in &mut self.sinks {
            match sink.prepared.recv().await {
                Some(prepared) if prepared.seq == seq => {
                    objects.extend(prepared.objects);
                    steps.extend(prepared.steps);
                }
                Some(prepared) => {
                    return Err(Error::Bug(format!(
                        "sink {} answered barrier {} to barrier {seq}",
                        sink.name, prepared.seq
                    )));
                }
                None => {
                    if let Some(committer) = &self.committer {
                        committer.discard(&objects);
                    }
                    return Err(Error::SinkStopped(sink.name));
                }
            }
        }
        if objects.is_empty() && steps.is_empty() && state.is_none() {
            return Ok(());
        }
        let Some(mut committer) = self.committer.take() else {
            return Err(Error::Bug("a commit started while another was running".into()));
        };
        let (committer, result) = tokio::task::spawn_blocking(move || {
            let result = committer.commit(objects, steps, state);
            (committer, result)
        })
        .await
        .map_err(|e| Error::Bug(format!("the commit task failed: {e}")))?;
        self.committer = Some(committer);
        tracing::debug!(seq, seal, "barrier committed");
        result.map_err(Error::from)
    }
}
