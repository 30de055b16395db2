//! `[lake]`: the section as written (with its defaults), and the settings it validates into.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::RAW_DIR;
use crate::store::Location;

/// `[lake]`: where Parquet files, the raw zone and rejects go, and when files roll.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeSection {
    /// Root of the lake: a local directory or `s3://bucket/prefix`.
    pub path: Location,
    /// Where the raw zone goes, a local directory or `s3://bucket/prefix`. Unset: `_raw/`
    /// below the lake's root.
    pub raw: Option<Location>,
    /// Rows after which a file is sealed. One micro-batch's rows of a table and hour always
    /// share a file, so a file may hold up to one micro-batch's rows more.
    pub max_file_rows: usize,
    /// Encoded bytes after which a file is sealed. Snowpipe loads 100–250 MB files best.
    pub max_file_bytes: usize,
    /// Seconds after its first row's fetch time at which a file is committed: the feed's delay.
    pub max_file_age_secs: u64,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Encoded bytes after which a row group is closed, whatever its rows: bounds the memory
    /// each open file holds, so it stays flat however large the input.
    pub row_group_bytes: usize,
    /// zstd compression level, 1 to 22. Level 1 compresses about twice as fast as 3 for files
    /// about a tenth bigger: the lake is a landing zone that the warehouse re-encodes on load, so
    /// the default favours the feed's delay and throughput. Raise it for long-lived files.
    pub zstd_level: i32,
    /// Dictionary-encode columns as well as compressing them. Off by default: zstd already
    /// stores repeated values compactly (the default tables are no bigger without it), and
    /// building dictionaries was the Parquet writer's largest cost.
    pub dictionary: bool,
}

impl Default for LakeSection {
    fn default() -> Self {
        Self {
            path: Location::Local(PathBuf::from("lake")),
            raw: None,
            max_file_rows: 1_000_000,
            max_file_bytes: 128 << 20,
            max_file_age_secs: 60,
            row_group_rows: 32 * 1024,
            row_group_bytes: 4 << 20,
            zstd_level: 1,
            dictionary: false,
        }
    }
}

/// The validated `[lake]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeSettings {
    /// Root of the lake; tables are folders below it.
    pub path: Location,
    /// A raw zone apart from the lake, if set; else it is `_raw/` below the lake's root.
    pub raw: Option<Location>,
    /// A file is sealed once it holds this many rows (or more: a micro-batch's rows of a table
    /// and hour are never split).
    pub max_file_rows: usize,
    /// A file is sealed once its encoded size reaches this many bytes.
    pub max_file_bytes: usize,
    /// A file is sealed once its first row is this old (by fetch time), so a quiet feed still
    /// lands within this delay.
    pub max_file_age: Duration,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// A row group is closed once its encoded size reaches this many bytes.
    pub row_group_bytes: usize,
    /// zstd level, 1 (fast) to 22 (small).
    pub zstd_level: i32,
    /// Dictionary-encode columns before compressing them.
    pub dictionary: bool,
}

impl LakeSection {
    /// Every problem of this section, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut at_least = |name: &str, value: u64, min: u64| {
            if value < min {
                problems.push(format!("lake.{name} is {value}; it must be at least {min}"));
            }
        };
        at_least("max_file_rows", self.max_file_rows as u64, 1);
        at_least("max_file_bytes", self.max_file_bytes as u64, 1024);
        at_least("max_file_age_secs", self.max_file_age_secs, 1);
        at_least("row_group_rows", self.row_group_rows as u64, 1);
        at_least("row_group_bytes", self.row_group_bytes as u64, 1024);
        if !(1..=22).contains(&self.zstd_level) {
            problems.push(format!("lake.zstd_level is {}; it must be from 1 to 22", self.zstd_level));
        }
        if self.path.local().is_some_and(|p| p.as_os_str().is_empty()) {
            problems.push("lake.path is empty".to_owned());
        }
        if let Some(raw) = self.separate_raw()
            && raw.overlaps(&self.path)
        {
            problems.push(format!(
                "lake.raw {raw} overlaps lake.path {}; leave it unset for {RAW_DIR}/ in the lake, or give it its own place",
                self.path
            ));
        }
        problems
    }

    /// The raw zone's own location, unless it is the default one in the lake.
    fn separate_raw(&self) -> Option<Location> {
        self.raw.clone().filter(|raw| *raw != self.path.join(RAW_DIR))
    }

    /// The settings of this section; call after [`Self::problems`] found none.
    pub fn into_settings(self) -> LakeSettings {
        LakeSettings {
            raw: self.separate_raw(),
            path: self.path,
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

impl LakeSettings {
    /// The lake at `path` with every other setting at its default.
    pub fn at(path: PathBuf) -> Self {
        LakeSection { path: Location::Local(path), ..LakeSection::default() }.into_settings()
    }
}
