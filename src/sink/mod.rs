//! Sinks: where transformed micro-batches land.
//!
//! Every sink receives each micro-batch's output tables in order, then barriers. At a barrier
//! it makes everything received so far durable on its side and answers with [`Prepared`]:
//! the objects it staged for the pipeline to commit. The set of sinks is closed ([`Sink`]);
//! the pipeline starts each with a `match`.

pub mod jsonl;
pub mod lake;

use std::path::PathBuf;
use std::sync::Arc;

use crate::decode::Reject;
use crate::store::{Location, Pending, StoreError};
use crate::transform::TableOutput;

/// One micro-batch as every sink sees it.
#[derive(Debug, Default)]
pub struct SinkBatch {
    /// Order in the run.
    pub seq: u64,
    /// Lineage id, derived from the batch's content.
    pub id: Arc<str>,
    pub outputs: Vec<TableOutput>,
    pub rejects: Vec<Reject>,
    /// Raw lines with their fetch time, for the landing zone (live sources only).
    pub raw: Vec<(i64, Vec<u8>)>,
    /// The latest fetch time in the batch, or the live source's clock: the event clock.
    pub clock_micros: Option<i64>,
}

/// What a sink receives, in order.
#[derive(Debug, Clone)]
pub enum SinkInput {
    Batch(Arc<SinkBatch>),
    /// Make every batch up to `seq` durable; `seal` closes open files too.
    Barrier {
        seq: u64,
        seal: bool,
    },
}

/// A sink's answer to a barrier.
#[derive(Debug, Default)]
pub struct Prepared {
    pub seq: u64,
    /// Staged objects to commit with this barrier.
    pub objects: Vec<Pending>,
}

/// A `[[sinks]]` entry as written: `type` picks the variant. The lake is not one of them: it is
/// always there, as `[lake]`, since it holds the raw zone and rejects.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkSection {
    /// JSON lines of the output tables in a local directory.
    Jsonl(jsonl::JsonlSection),
}

impl SinkSection {
    /// Every problem of this entry; `at` names it (`sinks[1]`).
    pub fn problems(&self, at: &str) -> Vec<String> {
        match self {
            SinkSection::Jsonl(jsonl) => jsonl.problems(at),
        }
    }

    pub fn into_settings(self) -> SinkConfig {
        match self {
            SinkSection::Jsonl(jsonl) => SinkConfig::Jsonl(jsonl.into_settings()),
        }
    }

    /// The directory the sink writes to.
    pub fn root(&self) -> &std::path::Path {
        match self {
            SinkSection::Jsonl(jsonl) => &jsonl.path,
        }
    }
}

/// The settings of every kind of sink, a closed set: the pipeline builds one sink from each
/// with a `match`.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    Lake(lake::LakeSettings),
    Jsonl(jsonl::JsonlSettings),
}

impl SinkConfig {
    /// The name errors and the summary use.
    pub fn name(&self) -> &'static str {
        match self {
            SinkConfig::Lake(_) => "lake",
            SinkConfig::Jsonl(_) => "jsonl",
        }
    }

    /// Where the sink's store is rooted.
    pub fn root(&self) -> Location {
        match self {
            SinkConfig::Lake(lake) => lake.path.clone(),
            SinkConfig::Jsonl(jsonl) => Location::Local(jsonl.path.clone()),
        }
    }
}

/// The closed set of running sinks.
pub enum Sink {
    /// Tables, raw zone and rejects in a Parquet lake (always present).
    Lake(Box<lake::LakeSink>),
    /// JSON lines of chosen tables.
    Jsonl(jsonl::JsonlSink),
}

impl Sink {
    /// The name errors and the summary use.
    pub fn name(&self) -> &'static str {
        match self {
            Sink::Lake(_) => "lake",
            Sink::Jsonl(_) => "jsonl",
        }
    }

    /// Handles one input; a barrier returns what the sink prepared.
    pub fn handle(&mut self, input: SinkInput) -> Result<Option<Prepared>, SinkError> {
        match input {
            SinkInput::Batch(batch) => {
                match self {
                    Sink::Lake(lake) => lake.write(&batch)?,
                    Sink::Jsonl(jsonl) => jsonl.write(&batch)?,
                }
                Ok(None)
            }
            SinkInput::Barrier { seq, seal } => {
                let objects = match self {
                    Sink::Lake(lake) => lake.prepare(seal)?,
                    Sink::Jsonl(jsonl) => jsonl.prepare(seal)?,
                };
                Ok(Some(Prepared { seq, objects }))
            }
        }
    }
}

/// A sink failed. Who must act is in each variant's text.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The store refused a write: the user must fix space or permissions.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A local file could not be written: the user must fix space or permissions.
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
    /// A query's output does not fit the sink: the user must fix the SQL.
    #[error("{0}")]
    Schema(String),
    /// tunestream broke its own rules: a bug.
    #[error("{0} (a bug in tunestream)")]
    Bug(String),
}
