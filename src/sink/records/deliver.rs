//! Delivering records: every call under the limits, then only the records that failed again,
//! with capped, jittered backoff, until every record is accepted or the run stops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::calls::calls;
use super::ledger::Ledger;
use super::service::Service;
use super::{Record, SinkError};
use crate::aws::{ATTEMPTS_WHILE_STOPPING, FIRST_BACKOFF, Failure, MAX_BACKOFF, is_throttling};
use crate::telemetry::Delivered;

/// What happened to each table's records.
pub type Tally = BTreeMap<Arc<str>, Delivered>;

/// Why records were not delivered.
#[derive(Debug)]
pub enum Undelivered {
    /// The service refused for good (no such stream, access denied).
    Refused(String),
    /// Still failing when the run stopped.
    Stopped { records: usize, message: String },
    /// Not the service's doing: the ledger cannot be written, or a bug.
    Local(SinkError),
}

/// Where one micro-batch's records go and what is noted of them.
pub struct Delivery<'a> {
    pub service: &'a Service,
    pub batch_id: &'a str,
    pub ledger: &'a mut Ledger,
    pub tally: &'a mut Tally,
}

/// One pass over the records still to send.
#[derive(Default)]
struct Round {
    failed: Vec<Record>,
    /// A failure was the stream's throttling.
    throttled: bool,
    last_error: String,
}

impl Round {
    /// Sorts one call's answers: the accepted records' indexes, in order, after `accepted`
    /// saw each; the failed ones kept for the next round.
    fn sort(&mut self, batch: Vec<Record>, codes: Vec<Option<String>>, mut accepted: impl FnMut(&Record)) -> Vec<u32> {
        let mut indexes = Vec::with_capacity(batch.len());
        for (record, code) in batch.into_iter().zip(codes) {
            match code {
                None => {
                    accepted(&record);
                    indexes.push(record.index);
                }
                Some(code) => {
                    self.throttled |= is_throttling(&code);
                    self.last_error = code;
                    self.failed.push(record);
                }
            }
        }
        indexes.sort_unstable();
        indexes
    }
}

/// Sends `records` until the service accepted each once, adding to the tally and the ledger.
pub async fn deliver(
    to: Delivery<'_>,
    mut records: Vec<Record>,
    cancel: &CancellationToken,
) -> Result<(), Undelivered> {
    let Delivery { service, batch_id, ledger, tally } = to;
    let limits = service.limits();
    let mut backoff = FIRST_BACKOFF;
    let mut left_when_stopping = ATTEMPTS_WHILE_STOPPING;
    while !records.is_empty() {
        let sizes: Vec<usize> = records.iter().map(|r| service.size(r)).collect();
        let mut round = Round::default();
        let mut pending = records.into_iter();
        for call in calls(&sizes, limits) {
            let batch: Vec<Record> = pending.by_ref().take(call.len()).collect();
            match service.put(&batch, cancel).await {
                Ok(codes) if codes.len() == batch.len() => {
                    let accepted = round.sort(batch, codes, |record| {
                        let counts = tally.entry(record.table.clone()).or_default();
                        counts.sent += 1;
                        counts.resent += u64::from(ledger.delivered_before(batch_id, record.index));
                    });
                    ledger.accepted(batch_id, &accepted).map_err(Undelivered::Local)?;
                }
                Ok(codes) => {
                    return Err(Undelivered::Refused(format!(
                        "{} answered {} results for {} records",
                        service.stream(),
                        codes.len(),
                        batch.len()
                    )));
                }
                Err(Failure::GaveUp { message, .. }) => {
                    let records = round.failed.len() + batch.len() + pending.len();
                    return Err(Undelivered::Stopped { records, message });
                }
                Err(Failure::Permanent(message) | Failure::NotFound { message, .. }) => {
                    return Err(Undelivered::Refused(message));
                }
                Err(Failure::Precondition) => {
                    let message = format!("{} answered a put with a failed precondition", service.stream());
                    return Err(Undelivered::Local(SinkError::Bug(message)));
                }
            }
        }
        let Round { failed, throttled, last_error } = round;
        if failed.is_empty() {
            return Ok(());
        }
        for record in &failed {
            tally.entry(record.table.clone()).or_default().retried += 1;
        }
        if cancel.is_cancelled() {
            if left_when_stopping == 0 {
                return Err(Undelivered::Stopped { records: failed.len(), message: last_error });
            }
            left_when_stopping -= 1;
        }
        tracing::debug!(failed = failed.len(), throttled, code = %last_error, "records failed; sending them again");
        // Throttling waits the longest: the stream needs the time, not another try.
        let wait = if throttled { backoff.max(Duration::from_millis(500)) } else { backoff };
        tokio::select! {
            () = tokio::time::sleep(wait.mul_f64(rand::random_range(0.5..=1.0))) => {}
            () = cancel.cancelled(), if !cancel.is_cancelled() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        records = failed;
    }
    Ok(())
}
