//! Validation of a parsed [`FileConfig`] into [`Settings`], reporting every problem at once.

use std::path::PathBuf;

use super::FileConfig;
use crate::serve::ServeSettings;
use crate::simulator::SimConfig;
use crate::sink::feeds::FeedsSettings;
use crate::sink::lake::LakeSettings;
use crate::sink::{SinkConfig, SinkSection};
use crate::snowflake::Values;
use crate::source::BatchLimits;
use crate::source::spotify::JobConfig;
use crate::store::{Location, S3Settings};

/// The validated configuration the pipeline runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The configured query folder, if any (see [`crate::transform::resolve_queries`]).
    pub queries: Option<PathBuf>,
    pub pipeline: PipelineSettings,
    /// The lake, always present: it holds the raw zone and rejects too.
    pub lake: LakeSettings,
    /// The `[[sinks]]`, in order.
    pub sinks: Vec<SinkConfig>,
    pub state_dir: PathBuf,
    /// How `s3://` locations are reached.
    pub s3: S3Settings,
    pub spotify: super::SpotifySettings,
    pub simulator: SimConfig,
    pub jobs: Vec<JobConfig>,
    /// The `sql/` placeholders' values from `[snowflake]`.
    pub snowflake: Values,
    /// The trend feeds, unless `feeds.enabled` is off.
    pub feeds: Option<FeedsSettings>,
    /// Where `run` serves HTTP, unless `serve.enabled` is off.
    pub serve: Option<ServeSettings>,
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

impl Settings {
    /// Every sink the pipeline starts, the lake first.
    pub fn all_sinks(&self) -> Vec<SinkConfig> {
        std::iter::once(SinkConfig::Lake(self.lake.clone())).chain(self.sinks.iter().cloned()).collect()
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
        at_least("pipeline.max_line_bytes", p.max_line_bytes, crate::page::LONG_LINE_EXCERPT_BYTES);
        at_least("pipeline.channel_capacity", p.channel_capacity, 1);
        at_least("pipeline.workers", p.workers, 1);
        problems.extend(self.lake.problems());
        problems.extend(self.s3.problems());
        problems.extend(self.place_problems());
        if self.state_dir.as_os_str().is_empty() {
            problems.push("state_dir is empty".to_owned());
        }
        for (i, job) in self.jobs.iter().enumerate() {
            problems.extend(job.problems(i));
        }
        let spotify = self.spotify.validate(&mut problems);
        problems.extend(self.simulator.problems());
        problems.extend(self.feeds.problems());
        problems.extend(self.serve.problems());
        let snowflake = self.snowflake.values(&self.lake.path).unwrap_or_else(|found| {
            problems.extend(found);
            Values::new()
        });
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let pipeline = PipelineSettings {
            batch: BatchLimits {
                max_pages: p.batch_max_pages,
                max_bytes: p.batch_max_bytes,
                max_line_bytes: p.max_line_bytes,
            },
            channel_capacity: p.channel_capacity,
            workers: p.workers,
        };
        Ok(Settings {
            queries: self.queries,
            pipeline,
            lake: self.lake.into_settings(),
            sinks: self.sinks.into_iter().map(SinkSection::into_settings).collect(),
            state_dir: self.state_dir,
            s3: self.s3.into_settings(),
            spotify,
            simulator: self.simulator,
            jobs: self.jobs,
            snowflake,
            feeds: self.feeds.into_settings(),
            serve: self.serve.into_settings(),
        })
    }

    /// The problems of where things are kept: each store needs a place of its own, apart from
    /// the state directory, and a directory where a directory belongs.
    fn place_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // Each store owns its place: its lock, and the staged objects it clears at start.
        let mut places = vec![("lake.path".to_owned(), self.lake.path.clone())];
        places.extend(self.lake.raw.clone().map(|raw| ("lake.raw".to_owned(), raw)));
        for (i, sink) in self.sinks.iter().enumerate() {
            problems.extend(sink.problems(&format!("sinks[{i}]")));
            let Some(root) = sink.root() else { continue };
            let name = format!("sinks[{i}].path");
            let root = Location::Local(root.to_owned());
            for (other_name, other) in &places {
                if root.overlaps(other) {
                    problems.push(format!(
                        "{name} {root} overlaps {other_name} {other}; every sink needs a place of its own"
                    ));
                }
            }
            places.push((name, root));
        }
        // Both hold a lock file of the same name, one per directory.
        if places.iter().any(|(_, place)| place.local() == Some(self.state_dir.as_path())) {
            problems
                .push(format!("state_dir {} is also a sink's directory; give it its own", self.state_dir.display()));
        }
        // A file where a directory belongs fails later with "File exists", or as if the
        // simulator could not start: say what it is here.
        let local_places =
            places.iter().filter_map(|(name, place)| place.local().map(|p| (name.clone(), p.to_owned())));
        for (name, path) in local_places.chain([("state_dir".to_owned(), self.state_dir.clone())]) {
            if path.exists() && !path.is_dir() {
                problems.push(format!("{name} {} exists and is not a directory", path.display()));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let settings = FileConfig::default().validate().unwrap();
        assert_eq!(settings.lake.max_file_age, std::time::Duration::from_secs(60));
        assert_eq!(settings.lake, LakeSettings::at(PathBuf::from("lake")));
    }

    #[test]
    fn a_sink_directory_inside_the_lake_or_another_sinks_is_refused() {
        let jsonl = |path: &str| SinkSection::Jsonl(crate::sink::jsonl::parse_flag(path));
        let mut config = FileConfig::default();
        config.lake.path = Location::Local(PathBuf::from("out/lake"));
        config.sinks = vec![jsonl("out/json"), jsonl("out/lake/json"), jsonl("out/json/plays")];
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("sinks[1].path out/lake/json overlaps lake.path"), "{err}");
        assert!(err.contains("sinks[2].path out/json/plays overlaps sinks[0].path"), "{err}");
        assert!(!err.contains("sinks[0].path out/json overlaps"), "{err}");

        let config = FileConfig { state_dir: PathBuf::from("lake"), ..FileConfig::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("state_dir lake is also a sink's directory"), "{err}");
    }

    #[test]
    fn a_file_where_a_lake_or_the_state_directory_belongs_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let mut config = FileConfig { state_dir: file.clone(), ..FileConfig::default() };
        config.lake.path = Location::Local(file.clone());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("state_dir {} exists and is not a directory", file.display())), "{err}");
        assert!(err.contains(&format!("lake.path {} exists and is not a directory", file.display())), "{err}");
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

    #[test]
    fn s3_locations_are_checked_with_the_rest() {
        let at = |s: &str| Location::parse(s).unwrap();
        let mut config = FileConfig::default();
        config.lake.path = at("s3://lake/spotify");
        config.lake.raw = Some(at("s3://lake/spotify/raw"));
        config.s3.part_bytes = 1 << 20;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("lake.raw s3://lake/spotify/raw overlaps lake.path s3://lake/spotify"), "{err}");
        assert!(err.contains("s3.part_bytes is 1048576"), "{err}");

        let mut config = FileConfig::default();
        config.lake.path = at("s3://lake/spotify");
        config.lake.raw = Some(at("s3://lake/spotify/_raw"));
        let settings = config.validate().unwrap();
        assert_eq!(settings.lake.raw, None, "the raw zone's default place, written out, is the default");
        assert_eq!(settings.s3.part_bytes, 8 << 20);

        let mut config = FileConfig::default();
        config.lake.raw = Some(at("state/raw"));
        config.state_dir = PathBuf::from("state/raw");
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("state_dir state/raw is also"), "{err}");
    }
}
