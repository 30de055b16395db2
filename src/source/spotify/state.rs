//! The state directory: small JSON files written atomically (temp, fsync, rename), so a crash
//! leaves either the old or the new version, never a torn one. Token files are private (0600).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reading or writing a state file failed: the user must fix the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot use state file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt ({message}); move it away to start that state afresh")]
    Corrupt { path: PathBuf, message: String },
}

/// Where the source keeps what must survive a restart.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens (creating it if needed) the state directory at `root`.
    pub fn open(root: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(root).map_err(|source| StateError::Io { path: root.to_owned(), source })?;
        Ok(Self { root: root.to_owned() })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Reads `name`, or the default when it does not exist yet.
    pub fn read<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, StateError> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt { path, message: e.to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    /// Replaces `name` atomically with `value`; `private` files are readable by the owner only.
    pub fn write<T: Serialize>(&self, name: &str, value: &T, private: bool) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| StateError::Corrupt { path: self.path(name), message: e.to_string() })?;
        write_atomic(&self.path(name), &bytes, private)
    }
}

/// Writes `bytes` to `path` atomically (see [`crate::fs::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), StateError> {
    crate::fs::write_atomic(path, bytes, private).map_err(|(path, source)| StateError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_private_ones_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        assert_eq!(state.read::<Vec<u32>>("a.json").unwrap(), Vec::<u32>::new());
        state.write("a.json", &vec![1u32, 2], true).unwrap();
        state.write("a.json", &vec![3u32], true).unwrap();
        assert_eq!(state.read::<Vec<u32>>("a.json").unwrap(), vec![3]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state.path("a.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(state.path("b.json"), "{oops").unwrap();
        let err = state.read::<Vec<u32>>("b.json").unwrap_err().to_string();
        assert!(err.contains("b.json") && err.contains("corrupt"), "{err}");
    }
}
