//! Snowflake as code: the `sql/` templates, embedded, rendered with the names of the
//! `[snowflake]` section (`tunestream snowflake render`).
//!
//! A template names its values as `{{placeholder}}`. The numbered folders are the deploy, run
//! in lexical order; `manual/` holds scripts run by hand (backfill, pause, resume, teardown), in an
//! order that is harmless when a loop runs them too (teardown is guarded).

mod config;

pub use config::{KEYS, SnowflakeSection, Values};

use std::path::{Path, PathBuf};

/// Every file of `sql/`, by its path there.
pub const TEMPLATES: [(&str, &str); 17] = [
    ("00_account/010_storage_integration.sql", include_str!("../../sql/00_account/010_storage_integration.sql")),
    ("00_account/020_database.sql", include_str!("../../sql/00_account/020_database.sql")),
    ("00_account/030_formats_and_stages.sql", include_str!("../../sql/00_account/030_formats_and_stages.sql")),
    ("10_raw/010_tables.sql", include_str!("../../sql/10_raw/010_tables.sql")),
    ("10_raw/020_pipes.sql", include_str!("../../sql/10_raw/020_pipes.sql")),
    ("10_raw/030_firehose.sql", include_str!("../../sql/10_raw/030_firehose.sql")),
    ("20_core/010_tables.sql", include_str!("../../sql/20_core/010_tables.sql")),
    ("20_core/020_streams.sql", include_str!("../../sql/20_core/020_streams.sql")),
    ("20_core/030_tasks.sql", include_str!("../../sql/20_core/030_tasks.sql")),
    ("20_core/040_resume_tasks.sql", include_str!("../../sql/20_core/040_resume_tasks.sql")),
    ("30_mart/010_top_charts.sql", include_str!("../../sql/30_mart/010_top_charts.sql")),
    ("30_mart/020_trends.sql", include_str!("../../sql/30_mart/020_trends.sql")),
    ("90_ops/010_status.sql", include_str!("../../sql/90_ops/010_status.sql")),
    ("manual/backfill.sql", include_str!("../../sql/manual/backfill.sql")),
    ("manual/pause.sql", include_str!("../../sql/manual/pause.sql")),
    ("manual/resume.sql", include_str!("../../sql/manual/resume.sql")),
    ("manual/teardown.sql", include_str!("../../sql/manual/teardown.sql")),
];

/// Files rendered only when their placeholder has a value: parts a deployment may not use.
pub const OPTIONAL: [(&str, &str); 2] =
    [("10_raw/030_firehose.sql", "firehose_url"), ("manual/backfill.sql", "backfill_url")];

/// The folder of scripts that are not part of the deploy.
pub const MANUAL_DIR: &str = "manual";

/// One rendered file.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFile {
    /// Its path under the output folder, as under `sql/`.
    pub path: &'static str,
    pub text: String,
    /// Placeholders left in it because their value is unset, in order of first use.
    pub unfilled: Vec<&'static str>,
}

/// A rendering the user must fix.
#[derive(Debug, thiserror::Error)]
pub enum SnowflakeError {
    #[error("values are unset:\n  - {}", .0.join("\n  - "))]
    Unfilled(Vec<String>),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Every template with `values` filled in, except optional files whose value is unset.
pub fn render(values: &Values) -> Vec<RenderedFile> {
    TEMPLATES
        .iter()
        .filter(|(path, _)| skipped(values).all(|(skipped, _)| skipped != *path))
        .map(|(path, text)| render_one(path, text, values))
        .collect()
}

/// The optional files `render` leaves out, with the placeholder that would bring each in.
pub fn skipped(values: &Values) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    OPTIONAL.into_iter().filter(|(_, placeholder)| values.get(placeholder).is_none_or(Option::is_none))
}

fn render_one(path: &'static str, template: &str, values: &Values) -> RenderedFile {
    let mut text = String::with_capacity(template.len());
    let mut unfilled = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let name = &rest[start + 2..start + len];
        text.push_str(&rest[..start]);
        match values.get_key_value(name) {
            Some((_, Some(value))) => text.push_str(value),
            Some((key, None)) => {
                if !unfilled.contains(key) {
                    unfilled.push(*key);
                }
                text.push_str(&rest[start..start + len + 2]);
            }
            // Not one of ours: left as written (the template tests keep this from happening).
            None => text.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    text.push_str(rest);
    RenderedFile { path, text, unfilled }
}

/// Each unfilled placeholder as `file: {{placeholder}} (set <key>)`.
pub fn unfilled(files: &[RenderedFile]) -> Vec<String> {
    let key = |name: &str| KEYS.iter().find(|(k, _)| *k == name).map_or(name.to_owned(), |(_, key)| (*key).to_owned());
    files
        .iter()
        .flat_map(|f| f.unfilled.iter().map(move |name| format!("{}: {{{{{name}}}}} (set {})", f.path, key(name))))
        .collect()
}

/// Writes `files` under `out`, creating folders as needed.
pub fn write(files: &[RenderedFile], out: &Path) -> Result<(), SnowflakeError> {
    for file in files {
        let path = out.join(file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| SnowflakeError::Write { path: dir.to_owned(), source })?;
        }
        std::fs::write(&path, &file.text).map_err(|source| SnowflakeError::Write { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
