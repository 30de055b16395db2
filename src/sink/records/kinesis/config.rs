//! `[[sinks]] type = "kinesis"`: the section as written, and its validation.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::sink::{split_flag, stream_name_problem, tables_problem};

/// A `kinesis` sink entry: JSON records of the output tables into a data stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinesisSection {
    /// The data stream's name. Required.
    pub stream: String,
    /// The tables to send. Unset: every table.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
    /// The column whose value is each table's partition key, so one key's records stay in
    /// order on one shard. Unset for a table: its natural key (`user_id` for plays,
    /// `playlist_id` for playlist_tracks…), or the micro-batch id for a table without one.
    #[serde(default)]
    pub partition_keys: BTreeMap<String, String>,
}

/// The validated `kinesis` sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisSettings {
    pub stream: String,
    /// `None`: every table.
    pub tables: Option<Vec<String>>,
    pub partition_keys: BTreeMap<String, String>,
}

impl KinesisSection {
    /// Every problem of this entry; `at` names it (`sinks[1]`).
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut problems: Vec<String> = stream_name_problem(at, "data stream", &self.stream, 128).into_iter().collect();
        problems.extend(tables_problem(at, self.tables.as_ref()));
        for (table, column) in &self.partition_keys {
            if column.is_empty() {
                problems.push(format!("{at}.partition_keys.{table} is empty"));
            }
        }
        problems
    }

    pub fn into_settings(self) -> KinesisSettings {
        KinesisSettings { stream: self.stream, tables: self.tables, partition_keys: self.partition_keys }
    }
}

/// `--kinesis STREAM[:TABLE,...]` on the command line.
pub fn parse_flag(value: &str) -> KinesisSection {
    let (stream, tables) = split_flag(value);
    KinesisSection { stream: stream.to_owned(), tables, partition_keys: BTreeMap::new() }
}
