//! `[[sinks]] type = "jsonl"`: the section as written, its defaults, and its validation.

use std::path::PathBuf;

use serde::Deserialize;

/// A `jsonl` sink entry: JSON lines of the output tables in a local directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSection {
    /// Directory the files go to, one folder per table. Required.
    pub path: PathBuf,
    /// The tables to write. Unset: every table.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
}

/// The validated `jsonl` sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlSettings {
    pub path: PathBuf,
    /// `None`: every table.
    pub tables: Option<Vec<String>>,
}

impl JsonlSection {
    /// Every problem of this entry; `at` names it (`sinks[1]`).
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push(format!("{at}.path is empty"));
        }
        problems.extend(crate::sink::tables_problem(at, self.tables.as_ref()));
        problems
    }

    pub fn into_settings(self) -> JsonlSettings {
        JsonlSettings { path: self.path, tables: self.tables }
    }
}

/// `--jsonl DIR[:TABLE,...]` on the command line: every table, or the ones listed.
pub fn parse_flag(value: &str) -> JsonlSection {
    let (path, tables) = crate::sink::split_flag(value);
    JsonlSection { path: PathBuf::from(path), tables }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_names_a_directory_and_optionally_its_tables() {
        assert_eq!(parse_flag("out/json"), JsonlSection { path: "out/json".into(), tables: None });
        let some = parse_flag("out:plays, playlist_tracks");
        assert_eq!(some.tables, Some(vec!["plays".to_owned(), "playlist_tracks".to_owned()]));
        assert_eq!(some.path, PathBuf::from("out"));
        assert!(parse_flag("out:").problems("--jsonl").iter().any(|p| p.contains("tables is empty")));
    }
}
