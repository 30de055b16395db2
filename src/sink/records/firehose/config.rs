//! `[[sinks]] type = "firehose"`: the section as written, and its validation.

use serde::Deserialize;

use crate::sink::{split_flag, stream_name_problem, tables_problem};

/// A `firehose` sink entry: JSON records of the output tables through a delivery stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirehoseSection {
    /// The delivery stream's name. Required.
    pub stream: String,
    /// The tables to send. Unset: every table.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
}

/// The validated `firehose` sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseSettings {
    pub stream: String,
    /// `None`: every table.
    pub tables: Option<Vec<String>>,
}

impl FirehoseSection {
    /// Every problem of this entry; `at` names it (`sinks[1]`).
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut problems: Vec<String> =
            stream_name_problem(at, "delivery stream", &self.stream, 64).into_iter().collect();
        problems.extend(tables_problem(at, self.tables.as_ref()));
        problems
    }

    pub fn into_settings(self) -> FirehoseSettings {
        FirehoseSettings { stream: self.stream, tables: self.tables }
    }
}

/// `--firehose STREAM[:TABLE,...]` on the command line.
pub fn parse_flag(value: &str) -> FirehoseSection {
    let (stream, tables) = split_flag(value);
    FirehoseSection { stream: stream.to_owned(), tables }
}
