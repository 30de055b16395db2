//! Record sinks (Firehose, Kinesis Data Streams): each row of the chosen tables as one JSON
//! record, cut into calls under the service's limits, sent with per-record retry. A micro-batch
//! is acknowledged only once every one of its records was accepted, so the checkpoint waits for
//! delivery. Records over the size limit go to the lake's rejected output instead.

mod calls;
mod deliver;
pub mod firehose;
mod keys;
pub mod kinesis;
mod ledger;
mod service;

pub use calls::{Limits, calls};
pub use keys::{default_partition_key, partition_keys};
pub use ledger::{LEDGER_DIR, Ledger, forget, ledger_path};
pub use service::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::run::start_blocking;
use super::{SinkBatch, SinkContext, SinkError, SinkHandle, WriteSink};
use crate::store::{Pending, Store};
use crate::telemetry::DeliveryCounters;
use deliver::{Delivery, Tally, Undelivered, deliver};
use keys::RowKeys;

/// One row as a record.
#[derive(Debug, Clone)]
pub struct Record {
    pub table: Arc<str>,
    /// The Kinesis partition key; empty for Firehose.
    pub key: String,
    /// The JSON object and its newline.
    pub data: Vec<u8>,
    /// Its place among the micro-batch's records, as the ledger notes it.
    pub index: u32,
}

/// Every row of the chosen tables of `batch` (`None`: every table) as a record, in order. With
/// `keys` (Kinesis), each record's partition key comes from its table's key column there, else
/// the micro-batch id. `lines` is scratch space kept between calls.
pub fn encode_records(
    batch: &SinkBatch,
    tables: Option<&[String]>,
    keys: Option<&BTreeMap<String, String>>,
    lines: &mut Vec<u8>,
) -> Result<Vec<Record>, SinkError> {
    let mut records = Vec::new();
    for output in batch.outputs.iter().filter(|o| super::chosen(tables, &o.table)) {
        let key_column = keys.and_then(|keys| keys.get(output.table.as_ref()));
        for part in &output.batches {
            lines.clear();
            super::json_rows::json_lines(&output.table, &batch.id, part, lines)?;
            let row_keys = match keys {
                Some(_) => RowKeys::new(part, key_column.map(String::as_str), &batch.id)
                    .map_err(|e| SinkError::Schema(format!("table {}: {e}", output.table)))?,
                None => RowKeys::none(),
            };
            for (row, line) in lines.split_inclusive(|b| *b == b'\n').enumerate() {
                let index = u32::try_from(records.len())
                    .map_err(|_| SinkError::Bug(format!("micro-batch {} has over 2^32 rows", batch.id)))?;
                records.push(Record {
                    table: output.table.clone(),
                    key: row_keys.key(row),
                    data: line.to_vec(),
                    index,
                });
            }
        }
    }
    Ok(records)
}

/// A record sink: where it delivers and which tables it takes.
pub struct RecordSink {
    service: Service,
    /// `kind:stream`, as errors and the summary name the sink.
    label: String,
    tables: Option<Vec<String>>,
    /// The column each table's partition key comes from (Kinesis only; a table not listed is
    /// keyed by micro-batch).
    partition_keys: BTreeMap<String, String>,
    /// The lake's store, where rejected records go.
    rejects: Arc<Store>,
    sealed: Vec<Pending>,
    counters: Arc<DeliveryCounters>,
    ledger: Ledger,
    handle: Handle,
    cancel: CancellationToken,
    lines: Vec<u8>,
}

impl RecordSink {
    pub fn new(
        service: Service,
        tables: Option<Vec<String>>,
        partition_keys: BTreeMap<String, String>,
        rejects: Arc<Store>,
        counters: Arc<DeliveryCounters>,
        ledger: Ledger,
        cancel: CancellationToken,
    ) -> Self {
        let label = service.label();
        Self {
            service,
            label,
            tables,
            partition_keys,
            rejects,
            sealed: Vec::new(),
            counters,
            ledger,
            handle: Handle::current(),
            cancel,
            lines: Vec::new(),
        }
    }

    /// Sends every record of the chosen tables of `batch`, returning once all were accepted.
    /// Blocking: call from the sink's own thread.
    pub fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        let limits = self.service.limits();
        let keys = matches!(self.service, Service::Kinesis { .. }).then_some(&self.partition_keys);
        let all = encode_records(batch, self.tables.as_deref(), keys, &mut self.lines)
            .map_err(|e| SinkError::Schema(format!("{}: {e}", self.label)))?;
        let (records, oversized): (Vec<Record>, Vec<Record>) =
            all.into_iter().partition(|record| self.service.size(record) <= limits.max_bytes_per_record);
        let mut tally = Tally::new();
        if !oversized.is_empty() {
            self.reject(&batch.id, &oversized, limits.max_bytes_per_record)?;
            for record in &oversized {
                tally.entry(record.table.clone()).or_default().rejected += 1;
            }
        }
        let span = tracing::debug_span!("deliver", sink = %self.label, records = records.len());
        let to = Delivery { service: &self.service, batch_id: &batch.id, ledger: &mut self.ledger, tally: &mut tally };
        let delivered = self.handle.block_on(deliver(to, records, &self.cancel).instrument(span));
        for (table, counts) in &tally {
            self.counters.add(&self.label, table, *counts);
        }
        if delivered.is_ok() {
            crate::fault::crash_point("records.delivered");
        }
        delivered.map_err(|e| match e {
            Undelivered::Refused(message) => SinkError::Refused { sink: self.label.clone(), message },
            Undelivered::Stopped { records, message } => {
                SinkError::Undelivered { sink: self.label.clone(), records, message }
            }
            Undelivered::Local(e) => e,
        })
    }

    /// Stages the records over the size limit as `_rejected/<kind>-<stream>-<batch>.ndjson`.
    fn reject(&mut self, batch_id: &str, records: &[Record], limit: usize) -> Result<(), SinkError> {
        let mut text = Vec::new();
        for record in records {
            let line = serde_json::json!({
                "sink": self.label,
                "table": record.table.as_ref(),
                "key": record.key,
                "batch_id": batch_id,
                "error": format!("record of {} bytes is over the limit of {limit} bytes", self.service.size(record)),
                "record": String::from_utf8_lossy(record.data.trim_ascii_end()),
            });
            text.extend_from_slice(line.to_string().as_bytes());
            text.push(b'\n');
        }
        let name = self.label.replace(':', "-");
        let mut upload = self.rejects.upload(format!("{}/{name}-{batch_id}.ndjson", super::lake::REJECTED_DIR))?;
        if let Err(source) = upload.write_all(&text) {
            let path = upload.describe();
            upload.abort();
            return Err(SinkError::Io { path, source });
        }
        let pending = self.rejects.stage(upload)?;
        tracing::warn!(sink = %self.label, records = records.len(), key = %pending.key, "records over the size limit set aside");
        self.sealed.push(pending);
        Ok(())
    }

    /// Everything written so far was delivered by `write`; hands over the staged rejects.
    pub fn prepare(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.sealed)
    }

    /// Whether the sink sends the rows of `table`.
    pub fn wants(&self, table: &str) -> bool {
        super::chosen(self.tables.as_deref(), table)
    }

    /// `kind:stream`, as the summary and metrics name the sink.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `firehose` or `kinesis`.
    pub fn kind(&self) -> &'static str {
        self.service.kind()
    }
}

impl WriteSink for RecordSink {
    fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        RecordSink::write(self, batch)
    }

    fn prepare(&mut self, _seal: bool) -> Result<Vec<Pending>, SinkError> {
        Ok(RecordSink::prepare(self))
    }
}

/// Starts a record sink delivering the chosen `tables` to `service`, keyed by `partition_keys`
/// (Kinesis), its ledger in the state directory and its rejects in the store `cx` names.
fn start(
    service: Service,
    tables: Option<Vec<String>>,
    partition_keys: BTreeMap<String, String>,
    cx: SinkContext,
) -> Result<SinkHandle, SinkError> {
    let (kind, label) = (service.kind(), service.label());
    let ledger = Ledger::open(ledger_path(&cx.state_dir, kind, service.stream()))?;
    let takes = {
        let tables = tables.clone();
        move |table: &str| super::chosen(tables.as_deref(), table)
    };
    let (rejects, delivered, cancel) = (cx.rejects.clone(), cx.delivered.clone(), cx.cancel.clone());
    let sink = RecordSink::new(service, tables, partition_keys, rejects, delivered, ledger, cancel);
    Ok(start_blocking(kind, label, takes, &cx, sink))
}

/// A service that refused to connect: the user must fix what it names.
fn refused(kind: &str, message: String) -> SinkError {
    SinkError::Refused { sink: kind.to_owned(), message }
}

impl Drop for RecordSink {
    fn drop(&mut self) {
        for pending in self.sealed.drain(..) {
            self.rejects.discard(&pending);
        }
    }
}

#[cfg(test)]
mod tests;
