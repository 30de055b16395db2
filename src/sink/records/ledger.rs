//! The delivery ledger: which records of which micro-batch a record sink's service accepted,
//! appended call by call and deleted when a run ends with everything committed. After a crash,
//! the next run counts the records it sends again that the ledger knows of ("at least N sent again
//! after restart": a call whose answer a killed run never read is not in it).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::SinkError;

/// The folder of the state directory that holds one ledger per record sink.
pub const LEDGER_DIR: &str = "delivered";

/// The ledger of the `kind` sink (`firehose`, `kinesis`) to `stream`.
pub fn ledger_path(state_dir: &Path, kind: &str, stream: &str) -> PathBuf {
    state_dir.join(LEDGER_DIR).join(format!("{kind}-{stream}.ledger"))
}

/// One record sink's ledger.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: Option<std::fs::File>,
    /// What earlier runs delivered that no run ended by committing: batch id → record indexes.
    before: HashMap<String, HashSet<u32>>,
    /// The file ends in a line cut short by a crash: the next line starts on a line of its own.
    torn: bool,
}

impl Ledger {
    /// Reads what earlier runs left at `path`; new lines are appended to it.
    pub fn open(path: PathBuf) -> Result<Self, SinkError> {
        let io = |source| SinkError::Io { path: path.to_owned(), source };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let mut before: HashMap<String, HashSet<u32>> = HashMap::new();
        for line in text.lines() {
            // Only a line cut short by a crash fails to parse: it is left out of the count.
            if let Some((batch, indexes)) = parse_line(line) {
                before.entry(batch.to_owned()).or_default().extend(indexes);
            }
        }
        let torn = !text.is_empty() && !text.ends_with('\n');
        Ok(Self { path, file: None, before, torn })
    }

    /// Whether an earlier run had `index` of `batch` accepted.
    pub fn delivered_before(&self, batch: &str, index: u32) -> bool {
        self.before.get(batch).is_some_and(|indexes| indexes.contains(&index))
    }

    /// Notes that the service accepted records `indexes` (ascending) of `batch`.
    pub fn accepted(&mut self, batch: &str, indexes: &[u32]) -> Result<(), SinkError> {
        if indexes.is_empty() {
            return Ok(());
        }
        let io = |source| SinkError::Io { path: self.path.clone(), source };
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            self.file = Some(std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?);
        }
        let mut line = format_line(batch, indexes);
        if std::mem::take(&mut self.torn) {
            line.insert(0, '\n');
        }
        // One write per call: a crash leaves whole lines, or a torn last one.
        self.file.as_mut().map_or(Ok(()), |file| file.write_all(line.as_bytes())).map_err(io)
    }
}

/// `<batch> <first>-<last>,<index>,...`: runs of consecutive indexes as ranges.
fn format_line(batch: &str, indexes: &[u32]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indexes.len() {
        let mut j = i;
        while j + 1 < indexes.len() && indexes[j + 1] == indexes[j] + 1 {
            j += 1;
        }
        runs.push(if i == j { indexes[i].to_string() } else { format!("{}-{}", indexes[i], indexes[j]) });
        i = j + 1;
    }
    format!("{batch} {}\n", runs.join(","))
}

fn parse_line(line: &str) -> Option<(&str, Vec<u32>)> {
    let (batch, runs) = line.split_once(' ')?;
    let mut indexes = Vec::new();
    for run in runs.split(',') {
        match run.split_once('-') {
            Some((first, last)) => indexes.extend(first.parse::<u32>().ok()?..=last.parse::<u32>().ok()?),
            None => indexes.push(run.parse().ok()?),
        }
    }
    Some((batch, indexes))
}

/// Deletes the ledger at `path`: everything it lists is committed.
pub fn forget(path: &Path) -> Result<(), SinkError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SinkError::Io { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_ledger_knows_every_record_accepted_before_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = ledger_path(dir.path(), "firehose", "plays");
        let mut ledger = Ledger::open(path.clone()).unwrap();
        ledger.accepted("b1", &[0, 1, 2, 5, 7, 8]).unwrap();
        ledger.accepted("b2", &[3]).unwrap();
        drop(ledger);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b1 0-2,5,7-8\nb2 3\n");
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"b3 4-").unwrap();

        let ledger = Ledger::open(path.clone()).unwrap();
        let known: Vec<u32> = (0..10).filter(|i| ledger.delivered_before("b1", *i)).collect();
        assert_eq!(known, vec![0, 1, 2, 5, 7, 8]);
        assert!(ledger.delivered_before("b2", 3) && !ledger.delivered_before("b2", 0));
        assert!(!ledger.delivered_before("b3", 4));
        let mut ledger = ledger;
        ledger.accepted("b3", &[6]).unwrap();
        assert!(Ledger::open(path.clone()).unwrap().delivered_before("b3", 6), "a torn line spoils no other");
        forget(&path).unwrap();
        assert!(!path.exists());
        forget(&path).unwrap();
    }
}
