//! Sinks: where transformed micro-batches land.
//!
//! Every sink receives each micro-batch's output tables in order, then barriers. At a barrier
//! it makes everything received so far durable on its side and answers with [`Prepared`]:
//! the objects it staged for the pipeline to commit. The set of sinks is closed ([`Sink`]);
//! the pipeline starts each with a `match`.

pub mod feeds;
pub mod firehose;
pub mod jsonl;
pub mod kinesis;
pub mod lake;
pub mod records;

/// The column every output table has: when its row's page was fetched. The lake partitions by
/// it and the feeds evict by it.
pub const INGESTED_AT: &str = "_ingested_at";

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
    /// JSON records of the output tables through a Kinesis Data Firehose delivery stream.
    Firehose(firehose::FirehoseSection),
    /// JSON records of the output tables into a Kinesis data stream.
    Kinesis(kinesis::KinesisSection),
}

impl SinkSection {
    /// Every problem of this entry; `at` names it (`sinks[1]`).
    pub fn problems(&self, at: &str) -> Vec<String> {
        match self {
            SinkSection::Jsonl(jsonl) => jsonl.problems(at),
            SinkSection::Firehose(firehose) => firehose.problems(at),
            SinkSection::Kinesis(kinesis) => kinesis.problems(at),
        }
    }

    pub fn into_settings(self) -> SinkConfig {
        match self {
            SinkSection::Jsonl(jsonl) => SinkConfig::Jsonl(jsonl.into_settings()),
            SinkSection::Firehose(firehose) => SinkConfig::Firehose(firehose.into_settings()),
            SinkSection::Kinesis(kinesis) => SinkConfig::Kinesis(kinesis.into_settings()),
        }
    }

    /// The local directory the sink writes to, if it writes to one.
    pub fn root(&self) -> Option<&std::path::Path> {
        match self {
            SinkSection::Jsonl(jsonl) => Some(&jsonl.path),
            SinkSection::Firehose(_) | SinkSection::Kinesis(_) => None,
        }
    }
}

/// Splits a sink flag, `TARGET[:TABLE,...]`, into its target and its tables (`None`: every
/// table). A `:` followed by a path is part of the target.
pub fn split_flag(value: &str) -> (&str, Option<Vec<String>>) {
    match value.rsplit_once(':').filter(|(target, tables)| !target.is_empty() && !tables.contains(['/', '\\'])) {
        Some((target, tables)) => {
            (target, Some(tables.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()))
        }
        None => (value, None),
    }
}

/// Whether a sink whose entry chose `tables` (`None`: every table) takes `table`.
pub fn chosen(tables: Option<&[String]>, table: &str) -> bool {
    tables.is_none_or(|tables| tables.iter().any(|t| t == table))
}

/// The problem of a sink entry's `tables`, if it has one; `at` names the entry.
pub fn tables_problem(at: &str, tables: Option<&Vec<String>>) -> Option<String> {
    tables.is_some_and(Vec::is_empty).then(|| format!("{at}.tables is empty; leave it out to take every table"))
}

/// The problem of a stream name, if it has one: AWS allows 1 to `max` letters, digits, `_`, `.`
/// and `-` in Firehose and Kinesis stream names. `at` names the entry, `what` the kind of stream.
pub fn stream_name_problem(at: &str, what: &str, name: &str, max: usize) -> Option<String> {
    let valid = (1..=max).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    (!valid).then(|| format!("{at}.stream `{name}` is not a {what} name (1 to {max} letters, digits, `_`, `.`, `-`)"))
}

/// The settings of every kind of sink, a closed set: the pipeline builds one sink from each
/// with a `match`.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    Lake(lake::LakeSettings),
    Jsonl(jsonl::JsonlSettings),
    Firehose(firehose::FirehoseSettings),
    Kinesis(kinesis::KinesisSettings),
}

impl SinkConfig {
    /// The name errors and the summary use.
    pub fn name(&self) -> &'static str {
        match self {
            SinkConfig::Lake(_) => "lake",
            SinkConfig::Jsonl(_) => "jsonl",
            SinkConfig::Firehose(_) => "firehose",
            SinkConfig::Kinesis(_) => "kinesis",
        }
    }

    /// Where the sink's store is rooted, for sinks that write objects.
    pub fn root(&self) -> Option<Location> {
        match self {
            SinkConfig::Lake(lake) => Some(lake.path.clone()),
            SinkConfig::Jsonl(jsonl) => Some(Location::Local(jsonl.path.clone())),
            SinkConfig::Firehose(_) | SinkConfig::Kinesis(_) => None,
        }
    }
}

/// The closed set of running sinks.
pub enum Sink {
    /// The sinks that write or call services synchronously, each on a blocking thread.
    Blocking(BlockingSink),
    /// The trend feeds over the recent rows (`run` only): an async task of its own
    /// ([`feeds::FeedsSink::run`]), since it refreshes between inputs.
    Feeds(Box<feeds::FeedsSink>),
}

/// The sinks that run on a blocking thread, one input at a time.
pub enum BlockingSink {
    /// Tables, raw zone and rejects in a Parquet lake (always present).
    Lake(Box<lake::LakeSink>),
    /// JSON lines of chosen tables.
    Jsonl(jsonl::JsonlSink),
    /// JSON records of chosen tables through Firehose or into a Kinesis data stream.
    Records(Box<records::RecordSink>),
}

impl Sink {
    /// The name errors use.
    pub fn name(&self) -> &'static str {
        match self {
            Sink::Blocking(BlockingSink::Lake(_)) => "lake",
            Sink::Blocking(BlockingSink::Jsonl(_)) => "jsonl",
            Sink::Blocking(BlockingSink::Records(records)) => records.kind(),
            Sink::Feeds(_) => "feeds",
        }
    }

    /// The name the summary and metrics count rows under: the kind, and where it writes when
    /// several sinks of the kind may run (`jsonl:out`, `firehose:stream`).
    pub fn label(&self) -> String {
        match self {
            Sink::Blocking(BlockingSink::Jsonl(jsonl)) => format!("jsonl:{}", jsonl.root()),
            Sink::Blocking(BlockingSink::Records(records)) => records.label().to_owned(),
            Sink::Blocking(BlockingSink::Lake(_)) | Sink::Feeds(_) => self.name().to_owned(),
        }
    }

    /// Whether the sink takes the rows of `table`.
    pub fn takes(&self, table: &str) -> bool {
        match self {
            Sink::Blocking(BlockingSink::Lake(_)) => true,
            Sink::Blocking(BlockingSink::Jsonl(jsonl)) => jsonl.wants(table),
            Sink::Blocking(BlockingSink::Records(records)) => records.wants(table),
            Sink::Feeds(feeds) => feeds.reads(table),
        }
    }
}

impl BlockingSink {
    /// Handles one input; a barrier returns what the sink prepared.
    pub fn handle(&mut self, input: &SinkInput) -> Result<Option<Prepared>, SinkError> {
        match *input {
            SinkInput::Batch(ref batch) => {
                match self {
                    BlockingSink::Lake(lake) => lake.write(batch)?,
                    BlockingSink::Jsonl(jsonl) => jsonl.write(batch)?,
                    BlockingSink::Records(records) => records.write(batch)?,
                }
                Ok(None)
            }
            SinkInput::Barrier { seq, seal } => {
                let objects = match self {
                    BlockingSink::Lake(lake) => lake.prepare(seal)?,
                    BlockingSink::Jsonl(jsonl) => jsonl.prepare(seal)?,
                    BlockingSink::Records(records) => records.prepare(),
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
    /// A stream refused for good (no such stream, access denied): the user must fix it.
    #[error("{sink}: {message}")]
    Refused { sink: String, message: String },
    /// Records were still failing when the run stopped: the service is down. Nothing after the
    /// last checkpoint counts as delivered; the next start sends it again.
    #[error(
        "{sink}: {records} records not delivered when the run stopped ({message}); nothing after the last checkpoint was committed, and the next start sends it again"
    )]
    Undelivered { sink: String, records: usize, message: String },
    /// tunestream broke its own rules: a bug.
    #[error("{0} (a bug in tunestream)")]
    Bug(String),
}

impl SinkError {
    /// Who must act.
    pub fn blame(&self) -> crate::Blame {
        match self {
            SinkError::Store(e) => e.blame(),
            SinkError::Io { .. } | SinkError::Schema(_) | SinkError::Refused { .. } => crate::Blame::User,
            SinkError::Undelivered { .. } => crate::Blame::Service,
            SinkError::Encode { .. } | SinkError::Bug(_) => crate::Blame::Bug,
        }
    }

    /// A Parquet encoder's failure on `path`: the file system's (a full disk, a permission), which
    /// the user must fix, when the encoder failed writing; a bug otherwise.
    pub fn encode(path: PathBuf, source: ::parquet::errors::ParquetError) -> Self {
        use ::parquet::errors::ParquetError;
        match source {
            ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => SinkError::Io { path, source: *io },
                Err(inner) => SinkError::Encode { path, source: ParquetError::External(inner) },
            },
            source => SinkError::Encode { path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_under_the_parquet_encoder_is_the_users_to_fix_and_a_broken_encoder_a_bug() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let e = SinkError::encode("lake/x.parquet".into(), ::parquet::errors::ParquetError::External(Box::new(full)));
        assert!(matches!(&e, SinkError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull), "{e}");
        let bug = SinkError::encode("lake/x.parquet".into(), ::parquet::errors::ParquetError::General("bad".into()));
        assert!(matches!(bug, SinkError::Encode { .. }));
        assert!(crate::Error::Sink("lake", e).blame() == crate::blame::Blame::User);
    }
}
