//! The Firehose sink: rows of the chosen tables as newline-terminated JSON records through
//! PutRecordBatch, within its limits (500 records and 4 MiB a call, 1,000 KiB a record), with
//! per-record retry ([`crate::sink::records`]).

mod config;

pub use config::{FirehoseSection, FirehoseSettings, parse_flag};

use std::collections::BTreeMap;

use super::service::Service;
use crate::sink::{SinkContext, SinkError, SinkHandle};

/// The delivery stream's client, from the standard AWS chain and `AWS_ENDPOINT_URL(_FIREHOSE)`.
pub async fn connect(settings: &FirehoseSettings) -> Result<Service, String> {
    let shared = crate::aws::sdk_config().await?;
    let client = aws_sdk_firehose::Client::new(&shared);
    Ok(Service::Firehose { client, stream: settings.stream.clone() })
}

/// Connects to the stream and starts delivering to it.
pub async fn start(settings: &FirehoseSettings, cx: SinkContext) -> Result<SinkHandle, SinkError> {
    let keys = BTreeMap::new();
    let service = connect(settings).await.map_err(|message| super::refused("firehose", message))?;
    super::start(service, settings.tables.clone(), keys, cx)
}
