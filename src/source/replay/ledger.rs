//! The replay ledger: which input files complete replays into one lake, with one set of queries
//! and sinks, have read. A rerun reads only the files that are new, so a replay repeated over a
//! raw zone that grew adds exactly the new rows; a file that changed since it was read is refused,
//! naming it, since its rows are in the lake already (docs/exactly-once.md).
//!
//! The ledger is `inputs-<scope>.json` in the replay's part of the state directory (one folder
//! per lake, which the replay locks; one ledger per queries, page kind and sinks), written
//! atomically once a replay committed
//! everything it read. A replay stopped before that records nothing: its rerun reads the same
//! files again, and their lake files, named by their content, are found already committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::source::SourceError;

/// What tells one input file from another version of it: its name, size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputId {
    /// The absolute path, or the `s3://` URL.
    pub name: String,
    pub size: u64,
    pub modified_micros: i64,
}

impl InputId {
    /// The identity of the local file at `path`.
    pub fn of_file(path: &Path) -> Result<Self, SourceError> {
        let input = |source| SourceError::Input { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(input)?;
        let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let name = std::fs::canonicalize(path).map_err(input)?.display().to_string();
        Ok(Self { name, size: meta.len(), modified_micros: modified.map_or(0, |d| d.as_micros() as i64) })
    }

    fn describe(&self) -> String {
        let when = chrono::DateTime::from_timestamp_micros(self.modified_micros).unwrap_or_default();
        format!("{} bytes, modified {}", self.size, when.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    /// The token of the lake the inputs went into (see [`Ledger::open`]).
    #[serde(default)]
    lake_token: Option<String>,
    inputs: Vec<InputId>,
}

/// The inputs earlier complete replays read, and those this one reads.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    /// A file in a local lake holding the token this ledger was written with, so a lake that
    /// was removed or replaced since is noticed: its inputs are then read again.
    marker: Option<PathBuf>,
    token: Option<String>,
    known: BTreeMap<String, InputId>,
    read: Mutex<Vec<InputId>>,
}

impl Ledger {
    /// The part of `state_dir` that replays into `lake` keep their state in.
    pub fn dir(state_dir: &Path, lake: &str) -> PathBuf {
        state_dir.join("replay").join(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(lake.as_bytes())))
    }

    /// The ledger kept in `dir` (see [`Ledger::dir`]) of replays under `scope` (what decides the
    /// output: the queries' text, the page kind given for bare lines, the sinks). With `lake`, a
    /// local lake's root, the ledger counts only while the lake holds the token it was saved
    /// with: a lake removed or replaced since has lost the rows, so every input is read again.
    pub fn open(dir: &Path, scope: &str, lake: Option<&Path>) -> Result<Self, SourceError> {
        let scope = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(scope.as_bytes()));
        let path = dir.join(format!("inputs-{scope}.json"));
        let key = dir.file_name().map(|k| k.display().to_string()).unwrap_or_default();
        let marker = lake.map(|lake| lake.join(format!(".tunestream-replay-{key}-{scope}")));
        let saved: Saved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SourceError::Ledger {
                path: path.clone(),
                message: format!("corrupt ({e}); remove it to read every input again"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(e) => return Err(SourceError::Ledger { path, message: e.to_string() }),
        };
        let in_lake = marker.as_ref().and_then(|m| std::fs::read_to_string(m).ok());
        let (token, inputs) = match (&marker, saved.lake_token) {
            (Some(_), Some(token)) if in_lake.as_deref() != Some(token.as_str()) => {
                tracing::warn!(
                    "the lake was removed or replaced since the last replay into it: every input is read again"
                );
                (None, Vec::new())
            }
            (_, token) => (token, saved.inputs),
        };
        let known = inputs.into_iter().map(|id| (id.name.clone(), id)).collect();
        Ok(Self { path, marker, token, known, read: Mutex::default() })
    }

    /// Whether `id` was read by an earlier complete replay (it is then skipped); an error naming
    /// the file when the file has changed since.
    pub fn already_read(&self, id: &InputId) -> Result<bool, SourceError> {
        match self.known.get(&id.name) {
            None => Ok(false),
            Some(known) if known == id => Ok(true),
            Some(known) => Err(SourceError::InputChanged {
                name: id.name.clone(),
                was: known.describe(),
                now: id.describe(),
                ledger: self.path.clone(),
            }),
        }
    }

    /// Notes that this replay read `id` to its end.
    pub fn record(&self, id: InputId) {
        crate::lock(&self.read).push(id);
    }

    /// How many inputs earlier replays read.
    pub fn known(&self) -> usize {
        self.known.len()
    }

    /// Writes what this replay read next to what earlier ones did. Call only once everything it
    /// read is committed.
    pub fn save(&self) -> Result<(), SourceError> {
        let mut all = self.known.clone();
        for id in crate::lock(&self.read).drain(..) {
            all.insert(id.name.clone(), id);
        }
        let ledger_error =
            |path: &Path, e: std::io::Error| SourceError::Ledger { path: path.to_owned(), message: e.to_string() };
        let token = match (&self.marker, &self.token) {
            (Some(marker), None) => {
                let token = format!("{:032x}", rand::random::<u128>());
                crate::fs::write_atomic(marker, token.as_bytes(), false).map_err(|(path, e)| ledger_error(&path, e))?;
                Some(token)
            }
            (_, token) => token.clone(),
        };
        let saved = Saved { lake_token: token, inputs: all.into_values().collect() };
        let bytes = serde_json::to_vec_pretty(&saved)
            .map_err(|e| SourceError::Ledger { path: self.path.clone(), message: e.to_string() })?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| SourceError::Ledger { path: dir.to_owned(), message: e.to_string() })?;
        }
        crate::fs::write_atomic(&self.path, &bytes, false)
            .map_err(|(path, e)| SourceError::Ledger { path, message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_read_are_skipped_next_time_and_a_changed_one_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.ndjson");
        std::fs::write(&file, "{}\n").unwrap();
        let open = |lake: &str, scope: &str| Ledger::open(&Ledger::dir(dir.path(), lake), scope, None).unwrap();
        let ledger = open("lake", "queries");
        let id = InputId::of_file(&file).unwrap();
        assert!(!ledger.already_read(&id).unwrap());
        ledger.record(id.clone());
        ledger.save().unwrap();

        let again = open("lake", "queries");
        assert!(again.already_read(&id).unwrap());
        // Another lake, or other queries, keep their own ledger.
        assert!(!open("lake2", "queries").already_read(&id).unwrap());
        assert!(!open("lake", "queries v2").already_read(&id).unwrap());

        std::fs::write(&file, "{}\n{}\n").unwrap();
        let changed = InputId::of_file(&file).unwrap();
        let err = again.already_read(&changed).unwrap_err().to_string();
        assert!(err.contains(&id.name) && err.contains("changed"), "{err}");
    }

    #[test]
    fn a_lake_removed_since_the_last_replay_has_every_input_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, state) = (dir.path().join("lake"), Ledger::dir(dir.path(), "lake"));
        std::fs::create_dir_all(&lake).unwrap();
        let file = dir.path().join("a.ndjson");
        std::fs::write(&file, "{}\n").unwrap();
        let id = InputId::of_file(&file).unwrap();
        let ledger = Ledger::open(&state, "queries", Some(&lake)).unwrap();
        ledger.record(id.clone());
        ledger.save().unwrap();
        assert!(Ledger::open(&state, "queries", Some(&lake)).unwrap().already_read(&id).unwrap());
        std::fs::remove_dir_all(&lake).unwrap();
        std::fs::create_dir_all(&lake).unwrap();
        let again = Ledger::open(&state, "queries", Some(&lake)).unwrap();
        assert!(!again.already_read(&id).unwrap(), "the new lake has none of its rows");
        again.record(id.clone());
        again.save().unwrap();
        assert!(Ledger::open(&state, "queries", Some(&lake)).unwrap().already_read(&id).unwrap());
    }
}
