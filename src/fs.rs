//! Small file-system helpers shared by the readers of user-given directories.

use std::path::{Path, PathBuf};

/// The entries of `dir`, sorted by name, so every run reads them in the same order.
pub fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}
