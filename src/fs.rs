//! Small file-system helpers: ordered directory listings and atomic file replacement.

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
