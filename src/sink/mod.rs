//! Sinks: where transformed micro-batches land. This file is the closed set of sinks and the
//! one place that dispatches on it; each sink lives in its own folder.
//!
//! Every sink receives each micro-batch's output tables in order, then barriers. At a barrier
//! it makes everything received so far durable on its side and answers with [`Prepared`]:
//! what the pipeline's one commit makes visible. [`SinkConfig::start`] starts a sink with its
//! [`SinkContext`] and returns the channels the barrier speaks ([`SinkHandle`]).

mod entry;
mod error;
pub mod feeds;
mod input;
pub mod json_rows;
pub mod jsonl;
pub mod lake;
pub mod records;
mod run;

pub use entry::{chosen, split_flag, stream_name_problem, tables_problem};
pub use error::SinkError;
pub use input::{CommitStep, Prepared, SinkBatch, SinkInput};
pub use run::{SinkContext, SinkHandle, WriteSink};

/// The column every output table has: when its row's page was fetched. The lake partitions by
/// it and the feeds evict by it.
pub const INGESTED_AT: &str = "_ingested_at";

use std::path::Path;

use crate::store::Location;
use records::{firehose, kinesis};

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

/// The settings of every kind of sink, a closed set: [`SinkConfig::start`] starts one with a
/// `match`, each arm in the sink's own folder.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    /// Tables, raw zone and rejects in a Parquet lake (always present).
    Lake(lake::LakeSettings),
    /// JSON lines of chosen tables.
    Jsonl(jsonl::JsonlSettings),
    /// JSON records of chosen tables through Firehose.
    Firehose(firehose::FirehoseSettings),
    /// JSON records of chosen tables into a Kinesis data stream.
    Kinesis(kinesis::KinesisSettings),
    /// The trend feeds over the recent rows (`run` only).
    Feeds(feeds::FeedsSettings),
}

impl SinkConfig {
    /// The name errors and the summary use.
    pub fn name(&self) -> &'static str {
        match self {
            SinkConfig::Lake(_) => "lake",
            SinkConfig::Jsonl(_) => "jsonl",
            SinkConfig::Firehose(_) => "firehose",
            SinkConfig::Kinesis(_) => "kinesis",
            SinkConfig::Feeds(_) => "feeds",
        }
    }

    /// Where the sink's store is rooted, and what to call it in errors, for sinks that write
    /// objects: the pipeline opens and locks it before the sink starts.
    pub fn store(&self) -> Option<(Location, &'static str)> {
        match self {
            SinkConfig::Lake(lake) => Some((lake.path.clone(), "lake")),
            SinkConfig::Jsonl(jsonl) => Some((Location::Local(jsonl.path.clone()), "jsonl directory")),
            SinkConfig::Firehose(_) | SinkConfig::Kinesis(_) | SinkConfig::Feeds(_) => None,
        }
    }

    /// Starts the sink.
    pub async fn start(&self, cx: SinkContext) -> Result<SinkHandle, SinkError> {
        match self {
            SinkConfig::Lake(settings) => lake::start(settings, cx),
            SinkConfig::Jsonl(settings) => jsonl::start(settings, cx),
            SinkConfig::Firehose(settings) => firehose::start(settings, cx).await,
            SinkConfig::Kinesis(settings) => kinesis::start(settings, cx).await,
            SinkConfig::Feeds(settings) => feeds::start(settings, cx).await,
        }
    }

    /// Forgets what the sink remembers of deliveries in `state_dir`: the run ended with all of
    /// it committed.
    pub fn forget_deliveries(&self, state_dir: &Path) -> Result<(), SinkError> {
        match self {
            SinkConfig::Firehose(settings) => {
                records::forget(&records::ledger_path(state_dir, self.name(), &settings.stream))
            }
            SinkConfig::Kinesis(settings) => {
                records::forget(&records::ledger_path(state_dir, self.name(), &settings.stream))
            }
            SinkConfig::Lake(_) | SinkConfig::Jsonl(_) | SinkConfig::Feeds(_) => Ok(()),
        }
    }
}
