//! Configuration: a strict TOML file, overridden by environment variables, then by the command
//! line, and validated into [`Settings`] with every problem reported at once.
//!
//! Each component owns its section and its defaults (the lake's in [`crate::sink::lake`], the
//! live source's in [`crate::source`]); this module composes them, applies the environment and
//! validates the whole.

mod env;
mod secrets;
mod validate;

pub use crate::source::spotify::{SpotifySection, SpotifySettings};
pub use env::{ENV_PREFIX, SPOTIFY_VARS, apply_env_overrides};
pub use validate::{ConfigError, PipelineSettings, Settings};

pub use crate::sink::SinkSection;
pub use crate::sink::lake::LakeSection;
use crate::source::spotify::JobConfig;
pub use crate::store::S3Section;

/// The embedded configuration `tunestream run` uses when no file is given: the simulator and a
/// demo schedule.
pub const DEMO_CONFIG: &str = include_str!("demo.toml");

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration file. Every section and field is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// Directory of `<table>.sql` transforms. Unset: `./queries` if it exists, else the
    /// built-in default queries.
    pub queries: Option<PathBuf>,
    /// How pages move through the pipeline.
    pub pipeline: PipelineSection,
    /// The Parquet lake, its raw zone and rejects.
    pub lake: LakeSection,
    /// Where the live source keeps tokens (0600), cursors, snapshots, the budget and the circuit.
    pub state_dir: PathBuf,
    /// The Spotify Web API, or the built-in simulator when `api_url` is unset.
    pub spotify: SpotifySection,
    /// The built-in simulator.
    pub simulator: crate::simulator::SimConfig,
    /// What `run` pulls, each job at its own interval.
    pub jobs: Vec<JobConfig>,
    /// Sinks besides the lake, each a `[[sinks]]` table whose `type` picks the kind.
    pub sinks: Vec<SinkSection>,
    /// How `s3://` locations are reached.
    pub s3: S3Section,
    /// The names `tunestream snowflake render` fills into `sql/`.
    pub snowflake: crate::snowflake::SnowflakeSection,
    /// The trend feeds `run` keeps over the recent rows.
    pub feeds: crate::sink::feeds::FeedsSection,
    /// The HTTP server of `run`: feeds, dashboard, metrics and health.
    pub serve: crate::serve::ServeSection,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            queries: None,
            pipeline: PipelineSection::default(),
            lake: LakeSection::default(),
            state_dir: PathBuf::from("state"),
            spotify: SpotifySection::default(),
            simulator: Default::default(),
            jobs: Vec::new(),
            sinks: Vec::new(),
            s3: S3Section::default(),
            snowflake: Default::default(),
            feeds: Default::default(),
            serve: Default::default(),
        }
    }
}

/// `[pipeline]`: micro-batch size, channel depth and parallelism.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSection {
    /// A micro-batch is cut after this many pages…
    pub batch_max_pages: usize,
    /// …or this many bytes of raw JSON, whichever comes first.
    pub batch_max_bytes: usize,
    /// The longest raw line read (64 MiB); a longer one goes to the rejected output with its
    /// file, line number, length and first 4 KiB, and reading goes on at the next line.
    pub max_line_bytes: usize,
    /// Micro-batches waiting between two stages; bounds memory and applies backpressure.
    pub channel_capacity: usize,
    /// Micro-batches decoded and transformed at the same time.
    pub workers: usize,
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            batch_max_pages: 500,
            batch_max_bytes: 8 << 20,
            max_line_bytes: crate::page::DEFAULT_MAX_LINE_BYTES,
            channel_capacity: 2,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Reads `path` (or the defaults when `None`), then applies `TUNESTREAM__…` variables from `vars`.
pub fn load(path: Option<&Path>, vars: impl IntoIterator<Item = (String, String)>) -> Result<FileConfig, ConfigError> {
    load_or(path, "", vars)
}

/// Like [`load`], but with `DEMO_CONFIG` instead of the bare defaults when no file is given.
pub fn load_or_demo(
    path: Option<&Path>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<FileConfig, ConfigError> {
    load_or(path, DEMO_CONFIG, vars)
}

fn load_or(
    path: Option<&Path>,
    fallback: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<FileConfig, ConfigError> {
    let mut table = match path {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            text.parse::<toml::Table>().map_err(|e| secrets::syntax_error(&path.display().to_string(), &text, &e))?
        }
        None => fallback
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Parse { origin: "embedded demo config".into(), message: e.to_string() })?,
    };
    apply_env_overrides(&mut table, vars)?;
    let origin = path.map_or_else(|| "environment".to_owned(), |p| format!("{} and environment", p.display()));
    let mut secrets = Vec::new();
    secrets::non_string_secrets(&table, "", &mut secrets);
    if !secrets.is_empty() {
        return Err(ConfigError::Parse { origin, message: secrets.join("; ") });
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse { origin, message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(load(None, []).unwrap(), FileConfig::default());
    }

    #[test]
    fn the_embedded_demo_config_is_valid_and_has_jobs() {
        let demo = load_or_demo(None, []).unwrap();
        assert!(!demo.jobs.is_empty());
        assert!(demo.spotify.api_url.is_none(), "the demo must run on the simulator");
        demo.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[lake]\nmax_rows = 5\n").unwrap();
        let err = load(Some(&path), []).unwrap_err().to_string();
        assert!(err.contains("max_rows") && err.contains("t.toml"), "{err}");
    }

    #[test]
    fn sinks_are_a_list_whose_type_picks_the_kind_and_strangers_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[[sinks]]\ntype = \"jsonl\"\npath = \"out\"\ntables = [\"plays\"]\n").unwrap();
        let settings = load(Some(&path), []).unwrap().validate().unwrap();
        let names: Vec<&str> = settings.all_sinks().iter().map(crate::sink::SinkConfig::name).collect();
        assert_eq!(names, ["lake", "jsonl"]);
        for (text, named) in [
            ("[[sinks]]\ntype = \"kafka\"\npath = \"out\"\n", "kafka"),
            ("[[sinks]]\ntype = \"jsonl\"\npath = \"out\"\nfolder = \"x\"\n", "folder"),
            ("[[sinks]]\npath = \"out\"\n", "type"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = load(Some(&path), []).unwrap_err().to_string();
            assert!(err.contains(named) && err.contains("t.toml"), "{named}: {err}");
        }
        std::fs::write(&path, "[[sinks]]\ntype = \"jsonl\"\npath = \"\"\ntables = []\n").unwrap();
        let err = load(Some(&path), []).unwrap().validate().unwrap_err().to_string();
        assert!(err.contains("sinks[0].path") && err.contains("sinks[0].tables"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "queries = \"q\"\n[lake]\nmax_file_rows = 5\nzstd_level = 9\n").unwrap();
        let vars = [
            ("TUNESTREAM__LAKE__MAX_FILE_ROWS".to_owned(), "7".to_owned()),
            ("TUNESTREAM__LAKE__PATH".to_owned(), "/tmp/lake".to_owned()),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let config = load(Some(&path), vars).unwrap();
        assert_eq!(config.lake.max_file_rows, 7);
        assert_eq!(config.lake.zstd_level, 9);
        assert_eq!(config.lake.path, crate::store::Location::Local(PathBuf::from("/tmp/lake")));
        assert_eq!(config.queries, Some(PathBuf::from("q")));
    }
}
