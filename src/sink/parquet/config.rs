//! Settings of the Parquet lake sink.

use std::path::PathBuf;
use std::time::Duration;

/// Where the lake is and when its files roll.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetSinkConfig {
    /// Root directory of the lake; tables are folders below it.
    pub path: PathBuf,
    /// A file is committed once it holds this many rows.
    pub max_file_rows: usize,
    /// A file is committed once its encoded size reaches this many bytes.
    pub max_file_bytes: usize,
    /// A file is committed once its first row is this old (by fetch time), so a quiet feed
    /// still lands within this delay.
    pub max_file_age: Duration,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// A row group is closed once its encoded size reaches this many bytes.
    pub row_group_bytes: usize,
    /// zstd level, 1 (fast) to 22 (small).
    pub zstd_level: i32,
    /// Dictionary-encode columns before compressing them.
    pub dictionary: bool,
}

impl ParquetSinkConfig {
    /// The lake at `path` with the defaults of [`crate::config`].
    pub fn at(path: PathBuf) -> Self {
        crate::config::LakeSection::default().into_sink_config(path)
    }
}
