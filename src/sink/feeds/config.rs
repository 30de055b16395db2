//! `[feeds]`: the section as written (with its defaults), and the settings it validates into.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[feeds]`: the trend feeds `run` keeps over a window of recent output rows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsSection {
    /// Keep and serve the feeds during `run`. `replay` never keeps them.
    pub enabled: bool,
    /// Directory of `<name>.sql` feeds. Unset: `./feeds` if it exists, else the built-in feeds.
    pub path: Option<PathBuf>,
    /// How long rows stay in the feeds' state, by their `_ingested_at`: a number and a unit,
    /// `s`, `m`, `h` or `d` (`90m`, `48h`, `7d`). The default keeps a day to rank against the
    /// day before it.
    pub retention: String,
    /// The least time between two refreshes, in milliseconds: a refresh follows each
    /// micro-batch, but no sooner than this after the one before.
    pub min_refresh_ms: u64,
    /// Seconds between snapshots of the retained rows to `<state_dir>/feeds/`, from which a
    /// restart resumes; the end of a run always writes one.
    pub snapshot_secs: u64,
    /// Rows a feed publishes at most; a feed's SQL should rank and limit its own rows.
    pub max_rows: usize,
}

impl Default for FeedsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            retention: "48h".to_owned(),
            min_refresh_ms: 1_000,
            snapshot_secs: 60,
            max_rows: 1_000,
        }
    }
}

/// The validated `[feeds]` section, for a run that keeps feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedsSettings {
    pub path: Option<PathBuf>,
    pub retention: Duration,
    pub min_refresh: Duration,
    pub snapshot_interval: Duration,
    pub max_rows: usize,
}

impl FeedsSection {
    /// Every problem of this section.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = parse_duration(&self.retention) {
            problems.push(format!("feeds.retention: {e}"));
        }
        if self.snapshot_secs == 0 {
            problems.push("feeds.snapshot_secs is 0; it must be at least 1".to_owned());
        }
        if self.max_rows == 0 {
            problems.push("feeds.max_rows is 0; it must be at least 1".to_owned());
        }
        problems
    }

    /// The settings, or `None` when feeds are off. Call after [`FeedsSection::problems`].
    pub fn into_settings(self) -> Option<FeedsSettings> {
        self.enabled.then(|| FeedsSettings {
            path: self.path,
            retention: parse_duration(&self.retention).unwrap_or(Duration::from_secs(48 * 3600)),
            min_refresh: Duration::from_millis(self.min_refresh_ms),
            snapshot_interval: Duration::from_secs(self.snapshot_secs),
            max_rows: self.max_rows,
        })
    }
}

/// Parses a positive number and a unit: `90s`, `30m`, `48h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90m, 48h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    match n.checked_mul(unit_secs) {
        Some(0) => Err(format!("`{text}` is zero; feeds need a window to keep")),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("`{text}` is too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_refuse_zero_and_strangers() {
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration(" 90m "), Ok(Duration::from_secs(5400)));
        for bad in ["0h", "48", "h", "2w", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let section = FeedsSection { retention: "2w".into(), max_rows: 0, ..FeedsSection::default() };
        let problems = section.problems().join("; ");
        assert!(problems.contains("feeds.retention") && problems.contains("feeds.max_rows"), "{problems}");
        assert_eq!(FeedsSection { enabled: false, ..FeedsSection::default() }.into_settings(), None);
    }
}
