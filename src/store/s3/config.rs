//! `[s3]`: how tunestream talks to S3 and S3-compatible stores, with its defaults.

use serde::Deserialize;

/// The smallest part S3 accepts, but for the last.
pub const MIN_PART_BYTES: usize = 5 << 20;
/// The largest part S3 accepts.
pub const MAX_PART_BYTES: usize = 5 << 30;

/// `[s3]`: settings of every `s3://` location (lake, raw zone, replay input). Credentials,
/// region and endpoint come from the standard AWS chain and variables, never from here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Section {
    /// Address buckets as `ENDPOINT/bucket` rather than `bucket.ENDPOINT`: needed by MinIO,
    /// moto and most S3-compatible stores.
    pub force_path_style: bool,
    /// Bytes per multipart part, at least 5 MiB. Each open file holds about three parts in
    /// memory; larger parts mean fewer requests for large files.
    pub part_bytes: usize,
}

impl Default for S3Section {
    fn default() -> Self {
        Self { force_path_style: false, part_bytes: 8 << 20 }
    }
}

/// The validated `[s3]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Settings {
    pub force_path_style: bool,
    pub part_bytes: usize,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Section::default().into_settings()
    }
}

impl S3Section {
    /// Every problem of this section, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        if (MIN_PART_BYTES..=MAX_PART_BYTES).contains(&self.part_bytes) {
            return Vec::new();
        }
        vec![format!(
            "s3.part_bytes is {}; S3 takes parts from {MIN_PART_BYTES} to {MAX_PART_BYTES} bytes",
            self.part_bytes
        )]
    }

    pub fn into_settings(self) -> S3Settings {
        S3Settings { force_path_style: self.force_path_style, part_bytes: self.part_bytes }
    }
}
