//! The human-readable summary of a run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::Counters;
use crate::sink::parquet::LakeStats;

/// What a run did, printed when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub elapsed: Duration,
    pub batches: u64,
    pub pages: u64,
    pub input_bytes: u64,
    pub rejected_lines: u64,
    /// Where rejected lines were written, when there were any.
    pub rejected_dir: Option<PathBuf>,
    pub rows_by_table: BTreeMap<String, u64>,
    pub lake: LakeStats,
    pub lake_root: PathBuf,
}

impl RunSummary {
    pub fn new(counters: &Counters, lake: LakeStats, lake_root: PathBuf, elapsed: Duration) -> Self {
        let rejected_lines = Counters::get(&counters.rejected_lines);
        Self {
            elapsed,
            batches: Counters::get(&counters.batches),
            pages: Counters::get(&counters.pages),
            input_bytes: Counters::get(&counters.input_bytes),
            rejected_lines,
            rejected_dir: (rejected_lines > 0).then(|| lake_root.join(crate::sink::rejects::REJECTED_DIR)),
            rows_by_table: counters.rows_by_table(),
            lake,
            lake_root,
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
        writeln!(f, "  pages            {} ({:.0} pages/s)", self.pages, self.pages as f64 / secs)?;
        writeln!(f, "  input            {mb:.1} MB ({:.1} MB/s)", mb / secs)?;
        match &self.rejected_dir {
            Some(dir) => writeln!(f, "  rejected lines   {} (see {})", self.rejected_lines, dir.display())?,
            None => writeln!(f, "  rejected lines   0")?,
        }
        writeln!(f, "  rows             {} ({:.0} rows/s)", self.total_rows(), self.total_rows() as f64 / secs)?;
        for (table, rows) in &self.rows_by_table {
            writeln!(f, "    {table:<20} {rows}")?;
        }
        write!(
            f,
            "  lake             {} files committed ({:.1} MB), {} already present, in {}",
            self.lake.files_committed,
            self.lake.bytes_committed as f64 / 1e6,
            self.lake.files_already_present,
            self.lake_root.display()
        )
    }
}
