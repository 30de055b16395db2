//! Small file-system helpers: ordered directory listings, atomic file replacement, and
//! directory locks that keep two processes out of one lake or state directory.

use std::path::{Path, PathBuf};

/// The entries of `dir`, sorted by name, so every run reads them in the same order.
pub fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

/// Replaces `path` with `bytes` through a temporary file in the same directory (fsync, rename,
/// fsync the directory), so readers and crashes see the old or the new file, never a torn one.
/// `private` files are created readable by their owner only. Errors name the path that failed.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), (PathBuf, std::io::Error)> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temp).map_err(|e| (temp.clone(), e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| (temp.clone(), e))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(|e| (path.to_owned(), e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| (dir.to_owned(), e))
}

/// The file in a locked directory that holds the lock and the holder's pid.
pub const LOCK_FILE: &str = ".tunestream.lock";

/// A directory this process owns until the guard is dropped (or the process dies: the lock is
/// the kernel's, so a killed run never leaves a stale one).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Another process holds a directory, or the lock cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The user must stop the other run, or give this one its own directory.
    #[error("{what} {dir} is in use by another tunestream process (pid {pid}); stop it or use another {what}")]
    Held { what: &'static str, dir: PathBuf, pid: String },
    #[error("cannot lock {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Locks `dir` (created if missing) for this process, writing its pid into the lock file.
/// `what` names the directory's role in the error ("lake", "state directory").
pub fn lock_dir(dir: &Path, what: &'static str) -> Result<DirLock, LockError> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = if pid.trim().is_empty() { "unknown".to_owned() } else { pid.trim().to_owned() };
            return Err(LockError::Held { what, dir: dir.to_owned(), pid });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).and_then(|()| file.rewind()).map_err(io)?;
    write!(file, "{}", std::process::id()).and_then(|()| file.sync_all()).map_err(io)?;
    Ok(DirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_is_refused_with_the_holders_pid_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_dir(dir.path(), "lake").unwrap();
        let err = lock_dir(dir.path(), "lake").unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())) && err.contains("lake"), "{err}");
        drop(held);
        lock_dir(dir.path(), "lake").unwrap();
    }
}
