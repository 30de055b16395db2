//! The flags `run` and `replay` share (where output goes), and the one place where any command's
//! flags override the configuration.

use std::path::PathBuf;

use crate::config::FileConfig;
use crate::sink::records::{firehose, kinesis};
use crate::sink::{SinkSection, jsonl};
use crate::store::Location;

/// Where a pipeline's output goes: the lake, its raw zone, the queries, the state, and the
/// sinks besides the lake (after the config file's).
#[derive(Debug, clap::Args)]
pub struct OutputFlags {
    /// Lake root: a directory or s3://bucket/prefix (config: lake.path).
    #[arg(long, value_parser = Location::parse, env = "TUNESTREAM_LAKE")]
    pub lake: Option<Location>,
    /// Raw zone, if not _raw/ in the lake: a directory or s3://bucket/prefix (config: lake.raw).
    #[arg(long, value_parser = Location::parse, env = "TUNESTREAM_RAW")]
    pub raw: Option<Location>,
    /// Directory of TABLE.sql queries (config: queries).
    #[arg(long, env = "TUNESTREAM_QUERIES")]
    pub queries: Option<PathBuf>,
    /// State directory: tokens, cursors and the budget of live runs, and the inputs each
    /// replay read, so a rerun reads only new ones (config: state_dir).
    #[arg(long, env = "TUNESTREAM_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Also write the output tables as JSON lines to DIR (all tables, or the ones listed);
    /// repeatable (config: a `[[sinks]]` entry of type "jsonl").
    #[arg(long = "jsonl", value_name = "DIR[:TABLE,...]")]
    pub jsonl: Vec<String>,
    /// Also send the output tables as JSON records through a Firehose delivery stream (all
    /// tables, or the ones listed); repeatable (config: a `[[sinks]]` entry of type "firehose").
    #[arg(long = "firehose", value_name = "STREAM[:TABLE,...]")]
    pub firehose: Vec<String>,
    /// Also put the output tables as JSON records into a Kinesis data stream (all tables, or
    /// the ones listed); repeatable (config: a `[[sinks]]` entry of type "kinesis").
    #[arg(long = "kinesis", value_name = "STREAM[:TABLE,...]")]
    pub kinesis: Vec<String>,
}

impl OutputFlags {
    /// These flags as overrides of the configuration.
    pub fn into_overrides(self) -> Overrides {
        let sinks = (self.jsonl.iter().map(|flag| SinkSection::Jsonl(jsonl::parse_flag(flag))))
            .chain(self.firehose.iter().map(|flag| SinkSection::Firehose(firehose::parse_flag(flag))))
            .chain(self.kinesis.iter().map(|flag| SinkSection::Kinesis(kinesis::parse_flag(flag))))
            .collect();
        Overrides {
            lake: self.lake,
            raw: self.raw,
            queries: self.queries,
            state_dir: self.state_dir,
            sinks,
            ..Overrides::default()
        }
    }
}

/// What the command line sets over the configuration: each value given replaces the file's
/// (and the environment's `TUNESTREAM__…`); sinks are added after the file's.
#[derive(Debug, Default)]
pub struct Overrides {
    pub lake: Option<Location>,
    pub raw: Option<Location>,
    pub queries: Option<PathBuf>,
    pub feeds: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub sinks: Vec<SinkSection>,
}

impl Overrides {
    /// `file` with these overrides applied.
    pub fn apply(self, mut file: FileConfig) -> FileConfig {
        if let Some(lake) = self.lake {
            file.lake.path = lake;
        }
        file.lake.raw = self.raw.or(file.lake.raw);
        file.queries = self.queries.or(file.queries);
        file.feeds.path = self.feeds.or(file.feeds.path);
        if let Some(state_dir) = self.state_dir {
            file.state_dir = state_dir;
        }
        if let Some(listen) = self.listen {
            file.serve.listen = listen;
        }
        file.sinks.extend(self.sinks);
        file
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    fn overrides(args: &[&str]) -> Overrides {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Replay { outputs, .. } = cli.command else { panic!("not a replay") };
        outputs.into_overrides()
    }

    #[test]
    fn flags_replace_the_files_values_and_add_sinks_after_its_own() {
        let mut file = crate::config::load(None, Vec::new()).unwrap();
        file.sinks.push(SinkSection::Jsonl(jsonl::parse_flag("from-file")));
        let args = ["tunestream", "replay", "in", "--lake", "elsewhere", "--state-dir", "st", "--jsonl", "j:plays"];
        let file = overrides(&args).apply(file);
        assert_eq!(file.lake.path, Location::parse("elsewhere").unwrap());
        assert_eq!(file.state_dir, PathBuf::from("st"));
        assert_eq!(file.sinks.len(), 2, "the flag's sink comes after the file's");
        assert_eq!(file.sinks[1], SinkSection::Jsonl(jsonl::parse_flag("j:plays")));
    }

    #[test]
    fn a_value_not_given_keeps_the_files() {
        let mut file = crate::config::load(None, Vec::new()).unwrap();
        file.queries = Some(PathBuf::from("mine"));
        let before = (file.lake.path.clone(), file.state_dir.clone());
        let file = overrides(&["tunestream", "replay", "in"]).apply(file);
        assert_eq!(file.queries, Some(PathBuf::from("mine")));
        assert_eq!((file.lake.path.clone(), file.state_dir.clone()), before);
    }
}
