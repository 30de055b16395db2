//! The Kinesis Data Streams sink: rows of the chosen tables as JSON records through PutRecords,
//! keyed by each table's partition key column, within its limits (500 records and 5 MiB a call,
//! 1 MiB a record with its key), with per-record retry ([`crate::sink::records`]).

mod config;

pub use config::{KinesisSection, KinesisSettings, parse_flag};

use super::service::Service;
use crate::sink::{SinkContext, SinkError, SinkHandle};

/// The data stream's client, from the standard AWS chain and `AWS_ENDPOINT_URL(_KINESIS)`.
pub async fn connect(settings: &KinesisSettings) -> Result<Service, String> {
    let shared = crate::aws::sdk_config().await?;
    let client = aws_sdk_kinesis::Client::new(&shared);
    Ok(Service::Kinesis { client, stream: settings.stream.clone() })
}

/// Connects to the stream and starts delivering to it.
pub async fn start(settings: &KinesisSettings, cx: SinkContext) -> Result<SinkHandle, SinkError> {
    let keys = super::partition_keys(&settings.partition_keys, &cx.tables)?;
    let service = connect(settings).await.map_err(|message| super::refused("kinesis", message))?;
    super::start(service, settings.tables.clone(), keys, cx)
}
