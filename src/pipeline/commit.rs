//! The one commit path: every object the sinks staged (table files, raw pages, rejects) and the
//! live source's state become durable here, together.
//!
//! With a state directory, a commit first writes a manifest of every staged object and the new
//! source state, then commits each object (create only if absent), writes the state and removes
//! the manifest. A restart that finds a manifest completes it; any other staged object belongs
//! to data whose state was never saved, and is removed. Without one (replay), objects are
//! committed one by one: their names are deterministic, so a rerun recreates what is missing.
//! `docs/exactly-once.md` walks through every state and what a restart does in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::fault::crash_point;
use crate::page::Checkpoint;
use crate::sink::CommitStep;
use crate::store::{Committed, Pending, Store, StoreError};
use crate::telemetry::{CommitStats, Counters};

/// The manifest of a checkpoint in progress, in the state directory.
pub const MANIFEST_FILE: &str = "pending-commit.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    objects: Vec<Pending>,
    /// Steps after the objects; written only when there are some, so manifests stay as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    steps: Vec<CommitStep>,
    state_path: Option<PathBuf>,
    state: Option<String>,
}

/// A commit failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The manifest cannot be written or read: the user must fix or remove it.
    #[error("checkpoint manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    /// An object belongs to a store no sink uses any more: the user must restore the config
    /// the interrupted run had, or remove the manifest (dropping that checkpoint).
    #[error(
        "{key} belongs to {store}, which no configured sink writes to; restore the configuration of the interrupted run, or remove the checkpoint manifest to drop its commit"
    )]
    UnknownStore { store: String, key: String },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CommitError {
    /// Who must act.
    pub fn blame(&self) -> crate::Blame {
        match self {
            CommitError::Store(e) => e.blame(),
            CommitError::Manifest { .. } | CommitError::UnknownStore { .. } | CommitError::Io { .. } => {
                crate::Blame::User
            }
        }
    }
}

/// Commits what the sinks staged, with the source state that covers it.
#[derive(Debug)]
pub struct Committer {
    /// Every sink's store; an object names its own by root.
    stores: Vec<Arc<Store>>,
    /// Set with a state directory: commits go through a manifest there.
    manifest: Option<PathBuf>,
    /// The state last written, so an unchanged state is not written again.
    written: Option<Vec<u8>>,
    stats: CommitStats,
    /// The run's live counters, which `/metrics` reads while the run goes on.
    counters: Option<Arc<Counters>>,
}

impl Committer {
    /// Counts every later commit into `counters` too.
    pub fn count_into(&mut self, counters: Arc<Counters>) {
        self.counters = Some(counters);
    }

    /// The run's live counters, when it keeps them.
    pub fn counters(&self) -> Option<&Arc<Counters>> {
        self.counters.as_ref()
    }

    /// Completes a commit a crash interrupted (with `state_dir`), then removes the staged
    /// objects no commit will ever list. Call only while holding the store's lock.
    pub fn recover(stores: Vec<Arc<Store>>, state_dir: Option<&Path>) -> Result<Self, CommitError> {
        let manifest = state_dir.map(|dir| dir.join(MANIFEST_FILE));
        let mut committer = Self { stores, manifest, written: None, stats: CommitStats::default(), counters: None };
        if let Some(path) = committer.manifest.clone() {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| CommitError::Manifest {
                        path: path.clone(),
                        message: format!("corrupt ({e}); remove it to drop that checkpoint"),
                    })?;
                    tracing::warn!(objects = manifest.objects.len(), "completing a checkpoint interrupted by a crash");
                    committer.apply(&manifest, &path)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(CommitError::Io { path, source }),
            }
        }
        let mut removed = 0;
        for store in &committer.stores {
            removed += store.remove_strays()?;
        }
        if removed > 0 {
            tracing::info!(removed, "removed staged objects of a stopped run; their pages are read again");
        }
        Ok(committer)
    }

    pub fn stats(&self) -> &CommitStats {
        &self.stats
    }

    /// Commits `objects`, then `steps`, and, when it changed, `state`: all of them or, after a
    /// crash, none until the restart completes them.
    pub fn commit(
        &mut self,
        objects: Vec<Pending>,
        steps: Vec<CommitStep>,
        state: Option<Checkpoint>,
    ) -> Result<(), CommitError> {
        let state = state.filter(|c| self.written.as_ref() != Some(&c.contents));
        if objects.is_empty() && steps.is_empty() && state.is_none() {
            return Ok(());
        }
        let Some(path) = self.manifest.clone() else {
            for (i, pending) in objects.iter().enumerate() {
                if let Err(e) = self.publish(pending) {
                    // Nothing will complete these: without a manifest, a rerun stages them anew.
                    self.discard(&objects[i + 1..]);
                    return Err(e);
                }
            }
            return steps.iter().try_for_each(apply_step);
        };
        let manifest = Manifest {
            objects,
            steps,
            state_path: state.as_ref().map(|c| c.path.clone()),
            state: state.as_ref().map(|c| String::from_utf8_lossy(&c.contents).into_owned()),
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| CommitError::Manifest {
            path: path.clone(),
            message: format!("cannot be written ({e}); lake and state paths must be UTF-8"),
        })?;
        crash_point("commit.before_manifest");
        crate::fs::write_atomic(&path, &bytes, false).map_err(|(path, source)| CommitError::Io { path, source })?;
        crash_point("commit.after_manifest");
        self.apply(&manifest, &path)?;
        if let Some(state) = state {
            self.written = Some(state.contents);
        }
        Ok(())
    }

    fn apply(&mut self, manifest: &Manifest, manifest_path: &Path) -> Result<(), CommitError> {
        for (i, pending) in manifest.objects.iter().enumerate() {
            if i == 1 {
                crash_point("commit.between_objects");
            }
            self.publish(pending)?;
        }
        manifest.steps.iter().try_for_each(apply_step)?;
        crash_point("commit.before_state");
        if let (Some(path), Some(state)) = (&manifest.state_path, &manifest.state) {
            crate::fs::write_atomic(path, state.as_bytes(), false)
                .map_err(|(path, source)| CommitError::Io { path, source })?;
            self.stats.checkpoints += 1;
        }
        crash_point("commit.before_manifest_removal");
        std::fs::remove_file(manifest_path).map_err(|source| CommitError::Io { path: manifest_path.to_owned(), source })
    }

    fn store_of(&self, pending: &Pending) -> Result<&Store, CommitError> {
        let store = self.stores.iter().find(|store| store.root() == pending.store);
        store
            .map(Arc::as_ref)
            .ok_or_else(|| CommitError::UnknownStore { store: pending.store.clone(), key: pending.key.clone() })
    }

    fn publish(&mut self, pending: &Pending) -> Result<(), CommitError> {
        let created = self.store_of(pending)?.commit(pending)? == Committed::Created;
        self.stats.record(&pending.store, created, pending.bytes);
        if let Some(counters) = &self.counters {
            counters.record_commit(&pending.key, created, pending.bytes);
        }
        if created {
            tracing::debug!(key = %pending.key, bytes = pending.bytes, "committed");
        } else {
            tracing::debug!(key = %pending.key, "already present from an earlier run; kept it");
        }
        Ok(())
    }

    /// Drops staged objects that will never be committed (the run stopped before their barrier).
    pub fn discard(&self, objects: &[Pending]) {
        for pending in objects {
            if let Ok(store) = self.store_of(pending) {
                store.discard(pending);
            }
        }
    }
}

/// Takes one commit step. A step must be idempotent: recovery takes it again after a crash
/// between the step and the manifest's removal.
fn apply_step(step: &CommitStep) -> Result<(), CommitError> {
    match *step {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LocalStore, Staged};
    use std::io::Write;

    fn stage(store: &Store, key: &str, bytes: &[u8]) -> Pending {
        let mut upload = store.upload(key.into()).unwrap();
        upload.write_all(bytes).unwrap();
        store.stage(upload).unwrap()
    }

    #[test]
    fn an_interrupted_checkpoint_is_completed_and_strays_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let store = Arc::new(Store::Local(LocalStore::open(dir.path().join("lake")).unwrap()));
        let listed = stage(&store, "t/part-1.parquet", b"rows");
        let stray = stage(&store, "t/part-2.parquet", b"uncheckpointed");
        let manifest = Manifest {
            objects: vec![listed.clone()],
            steps: Vec::new(),
            state_path: Some(state.join("checkpoint.json")),
            state: Some("{\"cursor\":7}".into()),
        };
        std::fs::write(state.join(MANIFEST_FILE), serde_json::to_vec(&manifest).unwrap()).unwrap();

        let mut committer = Committer::recover(vec![store.clone()], Some(&state)).unwrap();
        assert_eq!(store.read("t/part-1.parquet").unwrap(), b"rows");
        assert_eq!(std::fs::read_to_string(state.join("checkpoint.json")).unwrap(), "{\"cursor\":7}");
        let Staged::Local { temp } = &stray.staged else { panic!("a local store stages files") };
        assert!(!temp.exists() && !state.join(MANIFEST_FILE).exists());
        assert_eq!(store.list("").unwrap(), vec!["t/part-1.parquet".to_owned()]);
        assert_eq!(committer.stats().files_committed, 1);

        let checkpoint = Checkpoint { path: state.join("checkpoint.json"), contents: b"{\"cursor\":8}".to_vec() };
        committer.commit(Vec::new(), Vec::new(), Some(checkpoint)).unwrap();
        assert_eq!(std::fs::read_to_string(state.join("checkpoint.json")).unwrap(), "{\"cursor\":8}");
    }

    #[test]
    fn an_object_of_a_store_no_sink_uses_any_more_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let gone = Store::Local(LocalStore::open(dir.path().join("json")).unwrap());
        let listed = stage(&gone, "plays/part-1.jsonl", b"{}");
        let manifest = Manifest { objects: vec![listed], ..Manifest::default() };
        std::fs::write(state.join(MANIFEST_FILE), serde_json::to_vec(&manifest).unwrap()).unwrap();
        let lake = Arc::new(Store::Local(LocalStore::open(dir.path().join("lake")).unwrap()));
        let err = Committer::recover(vec![lake], Some(&state)).unwrap_err().to_string();
        assert!(err.contains("plays/part-1.jsonl") && err.contains("json") && err.contains("restore"), "{err}");
    }

    #[test]
    fn a_manifest_naming_a_vanished_object_stops_recovery_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let store = Arc::new(Store::Local(LocalStore::open(dir.path().join("lake")).unwrap()));
        let listed = stage(&store, "t/part-1.parquet", b"rows");
        store.discard(&listed);
        let manifest = Manifest { objects: vec![listed], ..Manifest::default() };
        std::fs::write(state.join(MANIFEST_FILE), serde_json::to_vec(&manifest).unwrap()).unwrap();
        let err = Committer::recover(vec![store], Some(&state)).unwrap_err().to_string();
        assert!(err.contains("t/part-1.parquet"), "{err}");
        assert!(state.join(MANIFEST_FILE).exists(), "the manifest stays for the user to look at");
    }
}
