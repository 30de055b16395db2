//! Validation of a parsed [`FileConfig`] into [`Settings`], reporting every problem at once.

use std::path::PathBuf;
use std::time::Duration;

use super::{FileConfig, LakeSection};
use crate::sink::parquet::ParquetSinkConfig;
use crate::source::BatchLimits;
use crate::source::simulator::SimConfig;
use crate::source::spotify::JobConfig;

/// The validated configuration the pipeline runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The configured query folder, if any (see [`crate::transform::resolve_queries`]).
    pub queries: Option<PathBuf>,
    pub pipeline: PipelineSettings,
    pub lake: ParquetSinkConfig,
    pub state_dir: PathBuf,
    pub spotify: super::SpotifySettings,
    pub simulator: SimConfig,
    pub jobs: Vec<JobConfig>,
}

/// Validated `[pipeline]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineSettings {
    pub batch: BatchLimits,
    pub channel_capacity: usize,
    pub workers: usize,
}

/// A configuration the user must fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config ({origin}): {message}")]
    Parse { origin: String, message: String },
    #[error("invalid environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("invalid config:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl LakeSection {
    /// The sink settings of this section, lake root at `path`.
    pub fn into_sink_config(self, path: PathBuf) -> ParquetSinkConfig {
        ParquetSinkConfig {
            path,
            max_file_rows: self.max_file_rows,
            max_file_bytes: self.max_file_bytes,
            max_file_age: Duration::from_secs(self.max_file_age_secs),
            row_group_rows: self.row_group_rows,
            row_group_bytes: self.row_group_bytes,
            zstd_level: self.zstd_level,
            dictionary: self.dictionary,
        }
    }
}

impl FileConfig {
    /// Checks every value, returning all problems together.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let mut problems = Vec::new();
        let mut at_least = |name: &str, value: usize, min: usize| {
            if value < min {
                problems.push(format!("{name} is {value}; it must be at least {min}"));
            }
        };
        let p = &self.pipeline;
        at_least("pipeline.batch_max_pages", p.batch_max_pages, 1);
        at_least("pipeline.batch_max_bytes", p.batch_max_bytes, 1024);
        at_least("pipeline.channel_capacity", p.channel_capacity, 1);
        at_least("pipeline.workers", p.workers, 1);
        let l = &self.lake;
        at_least("lake.max_file_rows", l.max_file_rows, 1);
        at_least("lake.max_file_bytes", l.max_file_bytes, 1024);
        at_least("lake.max_file_age_secs", l.max_file_age_secs as usize, 1);
        at_least("lake.row_group_rows", l.row_group_rows, 1);
        at_least("lake.row_group_bytes", l.row_group_bytes, 1024);
        if !(1..=22).contains(&l.zstd_level) {
            problems.push(format!("lake.zstd_level is {}; it must be from 1 to 22", l.zstd_level));
        }
        if l.path.as_os_str().is_empty() {
            problems.push("lake.path is empty".to_owned());
        }
        if self.state_dir.as_os_str().is_empty() {
            problems.push("state_dir is empty".to_owned());
        }
        for (i, job) in self.jobs.iter().enumerate() {
            problems.extend(job.problems(i));
        }
        let spotify = self.spotify.validate(&mut problems);
        super::live::check_simulator(&self.simulator, &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let pipeline = PipelineSettings {
            batch: BatchLimits { max_pages: p.batch_max_pages, max_bytes: p.batch_max_bytes },
            channel_capacity: p.channel_capacity,
            workers: p.workers,
        };
        let path = self.lake.path.clone();
        Ok(Settings {
            queries: self.queries,
            pipeline,
            lake: self.lake.into_sink_config(path),
            state_dir: self.state_dir,
            spotify,
            simulator: self.simulator,
            jobs: self.jobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let settings = FileConfig::default().validate().unwrap();
        assert_eq!(settings.lake.max_file_age, Duration::from_secs(60));
        assert_eq!(settings.lake, ParquetSinkConfig::at(PathBuf::from("lake")));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut config = FileConfig::default();
        config.pipeline.workers = 0;
        config.lake.max_file_rows = 0;
        config.lake.zstd_level = 40;
        let err = config.validate().unwrap_err().to_string();
        for name in ["pipeline.workers", "lake.max_file_rows", "lake.zstd_level"] {
            assert!(err.contains(name), "{name} missing from: {err}");
        }
    }
}
