//! The services a record sink delivers to, a closed set: Firehose (PutRecordBatch) and Kinesis
//! Data Streams (PutRecords), with their limits and one put call each.

use aws_sdk_firehose::primitives::Blob;
use tokio_util::sync::CancellationToken;

use super::Record;
use super::calls::Limits;
use crate::aws::{Failure, retry};

/// PutRecordBatch: records per call.
pub const FIREHOSE_MAX_RECORDS_PER_CALL: usize = 500;
/// PutRecordBatch: bytes of record data per call.
pub const FIREHOSE_MAX_BYTES_PER_CALL: usize = 4 << 20;
/// PutRecordBatch: bytes of data per record, before base64.
pub const FIREHOSE_MAX_BYTES_PER_RECORD: usize = 1000 << 10;
/// PutRecords: records per call.
pub const KINESIS_MAX_RECORDS_PER_CALL: usize = 500;
/// PutRecords: bytes per call, data and partition keys together.
pub const KINESIS_MAX_BYTES_PER_CALL: usize = 5 << 20;
/// PutRecords: bytes per record, data plus partition key.
pub const KINESIS_MAX_BYTES_PER_RECORD: usize = 1 << 20;
/// Kinesis partition keys are 1 to 256 Unicode characters.
pub const KINESIS_MAX_KEY_CHARS: usize = 256;

/// PutRecordBatch's limits.
pub const FIREHOSE_LIMITS: Limits = Limits {
    max_records_per_call: FIREHOSE_MAX_RECORDS_PER_CALL,
    max_bytes_per_call: FIREHOSE_MAX_BYTES_PER_CALL,
    max_bytes_per_record: FIREHOSE_MAX_BYTES_PER_RECORD,
};
/// PutRecords' limits.
pub const KINESIS_LIMITS: Limits = Limits {
    max_records_per_call: KINESIS_MAX_RECORDS_PER_CALL,
    max_bytes_per_call: KINESIS_MAX_BYTES_PER_CALL,
    max_bytes_per_record: KINESIS_MAX_BYTES_PER_RECORD,
};

/// A delivery stream or a data stream, with its client.
#[derive(Debug, Clone)]
pub enum Service {
    Firehose { client: aws_sdk_firehose::Client, stream: String },
    Kinesis { client: aws_sdk_kinesis::Client, stream: String },
}

impl Service {
    pub fn limits(&self) -> Limits {
        match self {
            Service::Firehose { .. } => FIREHOSE_LIMITS,
            Service::Kinesis { .. } => KINESIS_LIMITS,
        }
    }

    /// What a record counts against the limits: its data, and its partition key on Kinesis.
    pub fn size(&self, record: &Record) -> usize {
        match self {
            Service::Firehose { .. } => record.data.len(),
            Service::Kinesis { .. } => record.data.len() + record.key.len(),
        }
    }

    /// `firehose` or `kinesis`.
    pub fn kind(&self) -> &'static str {
        match self {
            Service::Firehose { .. } => "firehose",
            Service::Kinesis { .. } => "kinesis",
        }
    }

    /// `kind:stream`, as errors, the summary and the ledger name the sink.
    pub fn label(&self) -> String {
        format!("{}:{}", self.kind(), self.stream())
    }

    /// The stream's name, for messages.
    pub fn stream(&self) -> &str {
        match self {
            Service::Firehose { stream, .. } | Service::Kinesis { stream, .. } => stream,
        }
    }

    /// Puts `records` in one call, retrying the call while it fails as a whole for a transient
    /// reason. Returns each record's error code, `None` where it was accepted.
    pub async fn put(&self, records: &[Record], cancel: &CancellationToken) -> Result<Vec<Option<String>>, Failure> {
        match self {
            Service::Firehose { client, stream } => {
                let entries: Vec<_> = records
                    .iter()
                    .map(|r| aws_sdk_firehose::types::Record::builder().data(Blob::new(r.data.clone())).build())
                    .collect::<Result<_, _>>()
                    .map_err(|e| Failure::Permanent(e.to_string()))?;
                let put = retry("firehose put", cancel, || {
                    client.put_record_batch().delivery_stream_name(stream).set_records(Some(entries.clone())).send()
                });
                let answer = put.await?;
                Ok(answer.request_responses().iter().map(|r| r.error_code().map(str::to_owned)).collect())
            }
            Service::Kinesis { client, stream } => {
                let entries: Vec<_> = records
                    .iter()
                    .map(|r| {
                        aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                            .data(aws_sdk_kinesis::primitives::Blob::new(r.data.clone()))
                            .partition_key(&r.key)
                            .build()
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| Failure::Permanent(e.to_string()))?;
                let put = retry("kinesis put", cancel, || {
                    client.put_records().stream_name(stream).set_records(Some(entries.clone())).send()
                });
                let answer = put.await?;
                Ok(answer.records().iter().map(|r| r.error_code().map(str::to_owned)).collect())
            }
        }
    }
}
