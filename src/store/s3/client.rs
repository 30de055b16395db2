//! Building the S3 client the AWS way: credentials and region from the standard chain
//! (environment, profile, IMDS), the endpoint from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`,
//! and path-style addressing when asked, for MinIO and other S3-compatible stores.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::RequestChecksumCalculation;

use super::S3Settings;
use crate::store::StoreError;

/// How long a connection may take to open before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a response may take to start arriving.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for `url`'s bucket. The SDK's own retries are off: [`super::retry`] retries for as
/// long as the run goes on, which no fixed attempt count can do.
pub async fn connect(settings: &S3Settings, url: &str) -> Result<Client, StoreError> {
    let timeouts = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(READ_TIMEOUT).build();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .load()
        .await;
    if shared.region().is_none() {
        return Err(StoreError::S3 {
            url: url.to_owned(),
            message: "no AWS region is configured; set AWS_REGION, or a region in the AWS profile".into(),
        });
    }
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(settings.force_path_style)
        // Every part carries a Content-MD5, which S3 checks; no second checksum is needed.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    Ok(Client::from_conf(config))
}
