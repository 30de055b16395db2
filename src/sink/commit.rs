//! Commits a finished temporary file under its final name without ever replacing a file.
//!
//! This is the local equivalent of a conditional put (`If-None-Match: *`): Snowpipe skips a
//! name it has loaded before, so a name, once committed, must never get new bytes.

use std::fs::File;
use std::path::Path;

use super::SinkError;

/// Hard-links `temp` to `target` (which fails if `target` exists) and removes `temp`.
///
/// Returns `true` when `target` was created, `false` when it already existed and was kept.
pub fn commit_no_clobber(temp: &Path, target: &Path) -> Result<bool, SinkError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SinkError::Io { path, source }
    };
    let created = match std::fs::hard_link(temp, target) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(io(target)(e)),
    };
    std::fs::remove_file(temp).map_err(io(temp))?;
    if created && let Some(dir) = target.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_target_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, target) = (dir.path().join(".t"), dir.path().join("final"));
        std::fs::write(&temp, "first").unwrap();
        assert!(commit_no_clobber(&temp, &target).unwrap());
        std::fs::write(&temp, "second").unwrap();
        assert!(!commit_no_clobber(&temp, &target).unwrap());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "first");
        assert!(!temp.exists());
    }
}
