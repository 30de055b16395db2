//! What flows into a sink (micro-batches and barriers) and what it answers at a barrier.

use std::sync::Arc;

use crate::decode::Reject;
use crate::store::Pending;
use crate::transform::TableOutput;

/// One micro-batch as every sink sees it.
#[derive(Debug, Default)]
pub struct SinkBatch {
    /// Order in the run.
    pub seq: u64,
    /// Lineage id, derived from the batch's content.
    pub id: Arc<str>,
    pub outputs: Vec<TableOutput>,
    pub rejects: Vec<Reject>,
    /// Raw lines with their fetch time, for the landing zone (live sources only).
    pub raw: Vec<(i64, Vec<u8>)>,
    /// The latest fetch time in the batch, or the live source's clock: the event clock.
    pub clock_micros: Option<i64>,
}

/// What a sink receives, in order.
#[derive(Debug, Clone)]
pub enum SinkInput {
    Batch(Arc<SinkBatch>),
    /// Make every batch up to `seq` durable; `seal` closes open files too.
    Barrier {
        seq: u64,
        seal: bool,
    },
}

/// A sink's answer to a barrier: what the commit makes visible, all or none, together with the
/// source state that covers it.
#[derive(Debug, Default)]
pub struct Prepared {
    pub seq: u64,
    /// Staged objects to commit with this barrier.
    pub objects: Vec<Pending>,
    /// Steps the commit takes after the objects are in place (`docs/exactly-once.md`).
    pub steps: Vec<CommitStep>,
}

/// A commit step beyond making objects visible, such as a table format's catalog commit that
/// lists the new files. The commit manifest records the steps with the objects, so recovery after
/// a crash completes them too. No sink has one yet: a sink that needs one adds its variant here
/// and its arm in the commit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CommitStep {}
