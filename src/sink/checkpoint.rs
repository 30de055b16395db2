//! Commits lake files and source state together, so a crash at any point leaves the lake and
//! the source's cursors in agreement: a restart re-pulls exactly what was not committed.
//!
//! Finished files wait under their temporary names. A checkpoint first writes a manifest of
//! every (temporary, final) pair plus the new source state, then links the files, writes the
//! state and removes the manifest. A restart that finds a manifest completes it; any other
//! temporary file belongs to data whose state was never saved, and is removed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SinkError;
use super::commit::commit_no_clobber;
use super::parquet::{LakeStats, is_temp_name};
use crate::source::Checkpoint;

/// The manifest of a checkpoint in progress, in the state directory.
pub const MANIFEST_FILE: &str = "pending-commit.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// (temporary path, final path, bytes) of every file to commit.
    files: Vec<(PathBuf, PathBuf, u64)>,
    state_path: Option<PathBuf>,
    state: Option<String>,
}

/// Files and state waiting for the next checkpoint.
#[derive(Debug)]
pub struct Checkpointer {
    manifest: PathBuf,
    pending: Vec<(PathBuf, PathBuf, u64)>,
    latest: Option<Checkpoint>,
    written: Option<Vec<u8>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SinkError + use<> {
    let path = path.to_owned();
    move |source| SinkError::Io { path, source }
}

impl Checkpointer {
    /// Completes a checkpoint a crash interrupted, then removes stray temporary files under `lake`.
    pub fn recover(state_dir: &Path, lake: &Path, stats: &mut LakeStats) -> Result<Self, SinkError> {
        std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
        let manifest_path = state_dir.join(MANIFEST_FILE);
        match std::fs::read(&manifest_path) {
            Ok(bytes) => {
                let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| SinkError::Checkpoint {
                    path: manifest_path.clone(),
                    message: format!("corrupt ({e}); remove it to drop that checkpoint"),
                })?;
                tracing::warn!(files = manifest.files.len(), "completing a checkpoint interrupted by a crash");
                apply(&manifest, &manifest_path, stats)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&manifest_path)(e)),
        }
        let removed = remove_stray_temps(lake)?;
        if removed > 0 {
            tracing::info!(removed, "removed uncommitted files of an earlier run; their pages are pulled again");
        }
        Ok(Self { manifest: manifest_path, pending: Vec::new(), latest: None, written: None })
    }

    /// Queues a finished temporary file for the next checkpoint.
    pub fn defer(&mut self, temp: PathBuf, target: PathBuf, bytes: u64) {
        self.pending.push((temp, target, bytes));
    }

    /// Records the source state that the next checkpoint saves.
    pub fn set(&mut self, checkpoint: Checkpoint) {
        self.latest = Some(checkpoint);
    }

    /// Commits every queued file and the latest state. Call only with no file open, since
    /// open files hold rows the state already covers.
    pub fn commit(&mut self, stats: &mut LakeStats) -> Result<(), SinkError> {
        let state_changed = self.latest.as_ref().is_some_and(|c| self.written.as_ref() != Some(&c.contents));
        if self.pending.is_empty() && !state_changed {
            return Ok(());
        }
        let manifest = Manifest {
            files: std::mem::take(&mut self.pending),
            state_path: self.latest.as_ref().map(|c| c.path.clone()),
            state: self.latest.as_ref().map(|c| String::from_utf8_lossy(&c.contents).into_owned()),
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| SinkError::Checkpoint {
            path: self.manifest.clone(),
            message: format!("cannot be written ({e}); lake and state paths must be UTF-8"),
        })?;
        crate::fs::write_atomic(&self.manifest, &bytes, false)
            .map_err(|(path, source)| SinkError::Io { path, source })?;
        apply(&manifest, &self.manifest, stats)?;
        self.written = self.latest.as_ref().map(|c| c.contents.clone());
        Ok(())
    }
}

fn apply(manifest: &Manifest, manifest_path: &Path, stats: &mut LakeStats) -> Result<(), SinkError> {
    for (temp, target, bytes) in &manifest.files {
        if !temp.exists() {
            // Linked before the crash; the temporary name was already removed.
            continue;
        }
        if commit_no_clobber(temp, target)? {
            stats.files_committed += 1;
            stats.bytes_committed += bytes;
            tracing::debug!(path = %target.display(), bytes, "committed lake file");
        } else {
            stats.files_already_present += 1;
        }
    }
    if let (Some(path), Some(state)) = (&manifest.state_path, &manifest.state) {
        crate::fs::write_atomic(path, state.as_bytes(), false)
            .map_err(|(path, source)| SinkError::Io { path, source })?;
    }
    std::fs::remove_file(manifest_path).map_err(io(manifest_path))
}

fn remove_stray_temps(dir: &Path) -> Result<u64, SinkError> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            removed += remove_stray_temps(&path)?;
        } else if is_temp_name(name) {
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_checkpoint_is_completed_and_strays_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, state) = (dir.path().join("lake"), dir.path().join("state"));
        std::fs::create_dir_all(lake.join("t")).unwrap();
        let (temp, target) = (lake.join("t/.inflight-01.parquet.tmp"), lake.join("t/part-1.parquet"));
        std::fs::write(&temp, "rows").unwrap();
        let stray = lake.join("t/.inflight-02.parquet.tmp");
        std::fs::write(&stray, "uncheckpointed").unwrap();
        std::fs::create_dir_all(&state).unwrap();
        let manifest = Manifest {
            files: vec![(temp.clone(), target.clone(), 4)],
            state_path: Some(state.join("checkpoint.json")),
            state: Some("{\"cursor\":7}".into()),
        };
        std::fs::write(state.join(MANIFEST_FILE), serde_json::to_vec(&manifest).unwrap()).unwrap();

        let mut stats = LakeStats::default();
        let mut checkpointer = Checkpointer::recover(&state, &lake, &mut stats).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "rows");
        assert_eq!(std::fs::read_to_string(state.join("checkpoint.json")).unwrap(), "{\"cursor\":7}");
        assert!(!temp.exists() && !stray.exists() && !state.join(MANIFEST_FILE).exists());
        assert_eq!(stats.files_committed, 1);

        checkpointer.set(Checkpoint { path: state.join("checkpoint.json"), contents: b"{\"cursor\":8}".to_vec() });
        checkpointer.commit(&mut stats).unwrap();
        assert_eq!(std::fs::read_to_string(state.join("checkpoint.json")).unwrap(), "{\"cursor\":8}");
    }
}
