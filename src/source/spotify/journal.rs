//! The pull journal: each pull's micro-batches, written to the state directory before they go
//! downstream and kept until a checkpoint covers them. A restart sends the pulls no checkpoint
//! covers again, byte for byte, so their rows carry the same `_batch_id` as before the crash.
//!
//! Pulling them anew would not do: the pages would carry new fetch times (new lineage ids), and
//! plays can age out of Spotify's 50-play window meanwhile.

use std::collections::VecDeque;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CHECKPOINT_FILE;
use super::pulls::PullState;
use super::state::{StateDir, StateError, write_atomic};

/// The folder of the state directory holding one file per journaled pull.
pub const JOURNAL_DIR: &str = "journal";

/// One page as it went downstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournaledPage {
    /// When the page was fetched, in microseconds since the epoch.
    pub fetched_micros: i64,
    /// The enveloped page line, exactly as sent.
    pub line: String,
}

/// One pull: its micro-batches as cut, the clock of the last, and the state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournaledPull {
    /// The job that pulled it.
    pub label: String,
    pub batches: Vec<Vec<JournaledPage>>,
    pub clock_micros: i64,
    /// The source state with this pull (its `journaled` is this pull's number).
    pub state: PullState,
}

/// The journal of one state directory.
pub struct Journal {
    dir: StateDir,
    /// Numbers of the pulls on disk that a checkpoint may not cover yet, oldest first.
    written: VecDeque<u64>,
}

impl Journal {
    /// Opens the journal next to the checkpoint, deletes what `committed` covers and returns the
    /// pulls it does not cover, oldest first.
    pub fn open(state: &StateDir, committed: &PullState) -> Result<(Self, Vec<JournaledPull>), StateError> {
        let dir = StateDir::open(&state.path(JOURNAL_DIR))?;
        let io = |source| StateError::Io { path: dir.path(""), source };
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(dir.path("")).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            // Anything else (a temp file of an interrupted write) is not part of the journal.
            if let Some(n) = name.to_str().and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse::<u64>().ok()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let mut journal = Self { dir, written: numbers.into() };
        journal.prune(committed.journaled)?;
        let pulls = journal.written.iter().map(|n| journal.read(*n)).collect::<Result<_, _>>()?;
        Ok((journal, pulls))
    }

    fn read(&self, number: u64) -> Result<JournaledPull, StateError> {
        let path = self.dir.path(&file_name(number));
        let bytes = std::fs::read(&path).map_err(|source| StateError::Io { path: path.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt { path, message: e.to_string() })
    }

    /// Writes `pull` durably under its state's number.
    pub fn append(&mut self, pull: &JournaledPull) -> Result<(), StateError> {
        let number = pull.state.journaled;
        let path = self.dir.path(&file_name(number));
        let bytes =
            serde_json::to_vec(pull).map_err(|e| StateError::Corrupt { path: path.clone(), message: e.to_string() })?;
        write_atomic(&path, &bytes, true)?;
        self.written.push_back(number);
        Ok(())
    }

    /// Deletes the pulls the checkpoint now on disk covers.
    pub fn prune_committed(&mut self, checkpoint: &StateDir) -> Result<(), StateError> {
        let committed: PullState = checkpoint.read(CHECKPOINT_FILE)?;
        self.prune(committed.journaled)
    }

    fn prune(&mut self, through: u64) -> Result<(), StateError> {
        while let Some(&number) = self.written.front().filter(|n| **n <= through) {
            let path: PathBuf = self.dir.path(&file_name(number));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StateError::Io { path, source }),
            }
            self.written.pop_front();
        }
        Ok(())
    }
}

fn file_name(number: u64) -> String {
    format!("{number:020}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull(number: u64) -> JournaledPull {
        let page = JournaledPage { fetched_micros: 7, line: format!(r#"{{"kind":"recently_played","n":{number}}}"#) };
        let state = PullState { journaled: number, ..PullState::default() };
        JournaledPull { label: "plays:alice".into(), batches: vec![vec![page]], clock_micros: 9, state }
    }

    #[test]
    fn a_restart_gets_back_exactly_the_pulls_no_checkpoint_covers() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let (mut journal, pending) = Journal::open(&state, &PullState::default()).unwrap();
        assert!(pending.is_empty());
        for n in 1..=4 {
            journal.append(&pull(n)).unwrap();
        }
        state.write(CHECKPOINT_FILE, &PullState { journaled: 2, ..PullState::default() }, false).unwrap();
        journal.prune_committed(&state).unwrap();
        assert!(!state.path(JOURNAL_DIR).join(file_name(2)).exists());
        std::fs::write(state.path(JOURNAL_DIR).join(".00000000000000000005.json.tmp"), "torn").unwrap();

        let committed = PullState { journaled: 3, ..PullState::default() };
        let (_, pending) = Journal::open(&state, &committed).unwrap();
        assert_eq!(pending, vec![pull(4)], "pull 3 is covered, pull 4 is not");
        assert!(!state.path(JOURNAL_DIR).join(file_name(3)).exists());
    }
}
