//! The human-readable summary of a run.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::{CommitStats, Counters, DeliveryReport, FeedCounters, HistogramSnapshot, SourceCounters};

/// What a run did, printed when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub elapsed: Duration,
    pub batches: u64,
    pub pages: u64,
    pub input_bytes: u64,
    pub rejected_lines: u64,
    /// Where rejected lines were written, when there were any.
    pub rejected_dir: Option<String>,
    pub rows_by_table: BTreeMap<String, u64>,
    /// Rows each sink took, by sink and table.
    pub rows_by_sink: BTreeMap<String, BTreeMap<String, u64>>,
    /// What the commits of every sink did.
    pub committed: CommitStats,
    /// The lake's root, as the store names it.
    pub lake_root: String,
    /// What a live source did, for `run`.
    pub source: Option<SourceSummary>,
    /// What the record sinks delivered.
    pub delivered: DeliveryReport,
    /// What the trend feeds did, for a `run` that kept them.
    pub feeds: Option<FeedSummary>,
}

/// The trend feeds' part of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSummary {
    pub refreshes: u64,
    pub failed_refreshes: u64,
    pub retained_rows: u64,
    pub evicted_rows: u64,
    pub repeated_rows: u64,
    pub fetch_to_feed: HistogramSnapshot,
    pub refresh: HistogramSnapshot,
}

impl From<&FeedCounters> for FeedSummary {
    fn from(c: &FeedCounters) -> Self {
        Self {
            refreshes: Counters::get(&c.refreshes),
            failed_refreshes: Counters::get(&c.failed_refreshes),
            retained_rows: Counters::get(&c.retained_rows),
            evicted_rows: Counters::get(&c.evicted_rows),
            repeated_rows: Counters::get(&c.repeated_rows),
            fetch_to_feed: c.fetch_to_feed.snapshot(),
            refresh: c.refresh.snapshot(),
        }
    }
}

impl fmt::Display for FeedSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound =
            |h: &HistogramSnapshot, q: f64| h.quantile_bound(q).map_or_else(|| "-".to_owned(), |s| format!("≤ {s} s"));
        writeln!(
            f,
            "  feeds            {} refreshes ({} failed), {} rows held, {} evicted, {} repeated sightings dropped",
            self.refreshes, self.failed_refreshes, self.retained_rows, self.evicted_rows, self.repeated_rows
        )?;
        writeln!(
            f,
            "    fetch to feed p50 {}, p99 {}; refresh p50 {}, p99 {}",
            bound(&self.fetch_to_feed, 0.5),
            bound(&self.fetch_to_feed, 0.99),
            bound(&self.refresh, 0.5),
            bound(&self.refresh, 0.99)
        )
    }
}

/// The live source's part of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSummary {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub malformed: u64,
    pub token_refreshes: u64,
    pub pulls: u64,
    pub pulls_paused: u64,
    pub pages: u64,
    pub unchanged_playlists: u64,
    pub gaps: u64,
    pub set_aside: u64,
    pub metadata_only_playlists: u64,
    pub failed_targets: u64,
    /// The latest problem of each job that has one.
    pub problems: BTreeMap<String, String>,
}

impl From<&SourceCounters> for SourceSummary {
    fn from(c: &SourceCounters) -> Self {
        Self {
            requests: Counters::get(&c.requests),
            retries: Counters::get(&c.retries),
            rate_limited: Counters::get(&c.rate_limited),
            server_errors: Counters::get(&c.server_errors),
            malformed: Counters::get(&c.malformed),
            token_refreshes: Counters::get(&c.token_refreshes),
            pulls: Counters::get(&c.pulls),
            pulls_paused: Counters::get(&c.pulls_paused),
            pages: Counters::get(&c.pages),
            unchanged_playlists: Counters::get(&c.unchanged_playlists),
            gaps: Counters::get(&c.gaps),
            set_aside: Counters::get(&c.set_aside),
            metadata_only_playlists: Counters::get(&c.metadata_only_playlists),
            failed_targets: Counters::get(&c.failed_targets),
            problems: c.problems(),
        }
    }
}

impl fmt::Display for SourceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  spotify          {} requests, {} pulls ({} paused), {} pages",
            self.requests, self.pulls, self.pulls_paused, self.pages
        )?;
        writeln!(
            f,
            "    retries {}, rate-limited {}, server errors {}, malformed bodies {}, token refreshes {}",
            self.retries, self.rate_limited, self.server_errors, self.malformed, self.token_refreshes
        )?;
        writeln!(
            f,
            "    unchanged playlists skipped {}, possible play gaps {}, unreadable pages set aside {}",
            self.unchanged_playlists, self.gaps, self.set_aside
        )?;
        writeln!(
            f,
            "    playlists with entries refused (metadata only) {}, failed targets retried next pull {}",
            self.metadata_only_playlists, self.failed_targets
        )?;
        for (job, problem) in &self.problems {
            writeln!(f, "    {job}: {problem}")?;
        }
        Ok(())
    }
}

impl RunSummary {
    /// `rejected_dir` is where rejected lines go, named only when there were some.
    pub fn new(
        counters: &Counters,
        committed: CommitStats,
        lake_root: String,
        rejected_dir: String,
        elapsed: Duration,
    ) -> Self {
        let rejected_lines = Counters::get(&counters.rejected_lines);
        Self {
            elapsed,
            batches: Counters::get(&counters.batches),
            pages: Counters::get(&counters.pages),
            input_bytes: Counters::get(&counters.input_bytes),
            rejected_lines,
            rejected_dir: (rejected_lines > 0).then_some(rejected_dir),
            rows_by_table: counters.rows_by_table(),
            rows_by_sink: counters.rows_by_sink(),
            committed,
            lake_root,
            source: None,
            delivered: DeliveryReport::default(),
            feeds: None,
        }
    }

    pub fn total_rows(&self) -> u64 {
        self.rows_by_table.values().sum()
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mb = self.input_bytes as f64 / 1e6;
        writeln!(f, "tunestream run summary")?;
        writeln!(f, "  elapsed          {:.3} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "  micro-batches    {}", self.batches)?;
        if let Some(source) = &self.source {
            write!(f, "{source}")?;
        }
        writeln!(f, "  pages            {} ({:.0} pages/s)", self.pages, self.pages as f64 / secs)?;
        writeln!(f, "  input            {mb:.1} MB ({:.1} MB/s)", mb / secs)?;
        match &self.rejected_dir {
            Some(dir) => writeln!(f, "  rejected lines   {} (see {})", self.rejected_lines, dir)?,
            None => writeln!(f, "  rejected lines   0")?,
        }
        writeln!(f, "  rows             {} ({:.0} rows/s)", self.total_rows(), self.total_rows() as f64 / secs)?;
        for (table, rows) in &self.rows_by_table {
            writeln!(f, "    {table:<20} {rows}")?;
        }
        for (sink, tables) in &self.rows_by_sink {
            let each: Vec<String> = tables.iter().map(|(table, rows)| format!("{table} {rows}")).collect();
            writeln!(f, "  sink rows        {sink}: {} ({})", tables.values().sum::<u64>(), each.join(", "))?;
        }
        if self.committed.stopped_mid_stream {
            writeln!(f, "  stopped early    rows after the last commit are not in the lake; run again to finish them")?;
        }
        write!(f, "{}", self.delivered)?;
        if let Some(feeds) = &self.feeds {
            write!(f, "{feeds}")?;
        }
        write!(
            f,
            "  committed        {} files ({:.1} MB), {} already present; lake in {}",
            self.committed.files_committed,
            self.committed.bytes_committed as f64 / 1e6,
            self.committed.files_already_present,
            self.lake_root
        )?;
        // With more than the lake, each store's share.
        if self.committed.by_store.len() > 1 {
            for (root, commits) in &self.committed.by_store {
                write!(
                    f,
                    "\n    {root}: {} files ({:.1} MB), {} already present",
                    commits.files_committed,
                    commits.bytes_committed as f64 / 1e6,
                    commits.files_already_present
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_summed_and_shown_per_store_when_there_are_several() {
        let mut commits = CommitStats::default();
        commits.record("lake", true, 2_000_000);
        commits.record("lake", false, 10);
        commits.record("json", true, 500_000);
        let summary = |commits: CommitStats| {
            RunSummary::new(&Counters::default(), commits, "lake".into(), "lake/_rejected".into(), Duration::ZERO)
                .to_string()
        };
        let text = summary(commits);
        assert!(text.contains("committed        2 files (2.5 MB), 1 already present; lake in lake"), "{text}");
        assert!(text.contains("    lake: 1 files (2.0 MB), 1 already present"), "{text}");
        assert!(text.contains("    json: 1 files (0.5 MB), 0 already present"), "{text}");

        let mut lake_only = CommitStats::default();
        lake_only.record("lake", true, 1);
        assert!(!summary(lake_only).contains("    lake:"), "one store needs no breakdown");
    }
}
