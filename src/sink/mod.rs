//! Sinks: where transformed micro-batches land.
//!
//! Every sink is a variant of [`SinkConfig`]; the pipeline builds the one configured with a
//! `match`. S3, Kinesis Data Firehose and Kinesis Data Streams join as further variants.

pub mod checkpoint;
mod commit;
pub mod parquet;
pub mod raw;
pub mod rejects;

use std::path::PathBuf;

/// The closed set of sinks.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    /// Micro-batched Parquet files in a Hive-partitioned local directory.
    Parquet(parquet::ParquetSinkConfig),
}

/// A sink failed. Who must act is in each variant's text.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The file system refused a write: the user must fix space or permissions.
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Parquet encoder failed: a bug in tunestream.
    #[error("cannot encode {path} as Parquet (a bug in tunestream)")]
    Encode {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    /// The checkpoint manifest in the state directory is unusable: the user must fix or remove it.
    #[error("checkpoint manifest {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// A query's output does not fit the sink: the user must fix the SQL.
    #[error("{0}")]
    Schema(String),
}
