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
    /// The user must not nest one run's directories in another's.
    #[error(
        "{what} {dir} and {other} are nested, and {other} is in use by another tunestream process (pid {pid}); give each run directories that do not contain each other"
    )]
    Nested { what: &'static str, dir: PathBuf, other: PathBuf, pid: String },
    #[error("cannot lock {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Locks `dir`, a store's root, like [`lock_dir`], and refuses it when another process holds a
/// directory above or below it: two stores nested in each other would each recover (and clean)
/// the other's staged files. The error names the holder's directory and pid.
pub fn lock_tree(dir: &Path, what: &'static str) -> Result<DirLock, LockError> {
    let lock = lock_dir(dir, what)?;
    let root = std::fs::canonicalize(dir).map_err(|source| LockError::Io { path: dir.to_owned(), source })?;
    let nested = |other: &Path| -> Result<(), LockError> {
        match held_by_another(other) {
            Some(pid) => Err(LockError::Nested { what, dir: dir.to_owned(), other: other.to_owned(), pid }),
            None => Ok(()),
        }
    };
    for ancestor in root.ancestors().skip(1) {
        nested(ancestor)?;
    }
    let mut dirs = vec![root];
    while let Some(next) = dirs.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                nested(&path)?;
                dirs.push(path);
            }
        }
    }
    Ok(lock)
}

/// The pid of another live process holding `dir`'s lock, if one does.
fn held_by_another(dir: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(dir.join(LOCK_FILE)).ok()?;
    let mut pid = String::new();
    let _ = file.read_to_string(&mut pid);
    let pid = pid.trim().to_owned();
    // This process's own locks (a lake and its raw zone) are not another's.
    if pid == std::process::id().to_string() {
        return None;
    }
    match file.try_lock() {
        Err(std::fs::TryLockError::WouldBlock) => Some(if pid.is_empty() { "unknown".into() } else { pid }),
        _ => None,
    }
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

    /// Holds `dir`'s lock from another process (a child `flock`), until the guard is dropped.
    struct OtherProcess(std::process::Child);

    impl OtherProcess {
        fn lock(dir: &Path) -> Self {
            std::fs::create_dir_all(dir).unwrap();
            let file = dir.join(LOCK_FILE);
            let child = std::process::Command::new("flock")
                .arg(&file)
                .args(["sh", "-c", "echo 4242 > \"$0\"; sleep 30", file.to_str().unwrap()])
                .spawn()
                .unwrap();
            for _ in 0..200 {
                if std::fs::read_to_string(&file).is_ok_and(|t| t.trim() == "4242") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Self(child)
        }
    }

    impl Drop for OtherProcess {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_store_inside_or_above_another_processs_store_is_refused_naming_both_and_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let _live = OtherProcess::lock(&lake);
        for (nested, what) in
            [(lake.join("_raw"), "raw zone"), (lake.join("plays"), "lake"), (dir.path().to_owned(), "lake")]
        {
            let err = lock_tree(&nested, what).unwrap_err().to_string();
            assert!(err.contains("pid 4242") && err.contains("nested") && err.contains("lake"), "{err}");
        }
        // Beside it, and this process's own nested directories, are fine.
        let _beside = lock_tree(&dir.path().join("rebuilt"), "lake").unwrap();
        let own = dir.path().join("own");
        let _outer = lock_tree(&own, "lake").unwrap();
        let _inner = lock_tree(&own.join("_raw"), "raw zone").unwrap();
    }

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
