//! The S3 client: the shared AWS configuration ([`crate::aws::sdk_config`]) plus path-style
//! addressing when asked, for MinIO and other S3-compatible stores.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::RequestChecksumCalculation;

use super::S3Settings;
use crate::store::StoreError;

/// A client for `url`'s bucket.
pub async fn connect(settings: &S3Settings, url: &str) -> Result<Client, StoreError> {
    let shared = crate::aws::sdk_config().await.map_err(|message| StoreError::S3 { url: url.to_owned(), message })?;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(settings.force_path_style)
        // Every part carries a Content-MD5, which S3 checks; no second checksum is needed.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    Ok(Client::from_conf(config))
}
