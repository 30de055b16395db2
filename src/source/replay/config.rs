//! Settings of the replay source.

use crate::page::Kind;
use crate::store::{Location, S3Settings};

/// What to replay and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Files, directories and `s3://` prefixes of raw pages; directories and prefixes are read
    /// recursively in name order.
    pub inputs: Vec<Location>,
    /// The kind of bare responses, when their `href` does not tell it.
    pub kind: Option<Kind>,
    /// How `s3://` inputs are reached.
    pub s3: S3Settings,
}

impl ReplayConfig {
    /// Replays local paths with the default S3 settings.
    pub fn new(paths: Vec<std::path::PathBuf>, kind: Option<Kind>) -> Self {
        Self { inputs: paths.into_iter().map(Location::Local).collect(), kind, s3: S3Settings::default() }
    }
}
