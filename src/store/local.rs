//! The local-disk store: objects are files below a root directory, staged under hidden
//! `.inflight-*.tmp` names in their final directory and committed by hard-linking, which fails
//! when the final name exists (the local form of a conditional put).

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Committed, Staged, StoreError};

/// Files below `root`.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    /// Directories this process created whose entry in their parent is not yet synced.
    unsynced_dirs: Mutex<BTreeSet<PathBuf>>,
    next_id: AtomicU64,
}

/// A file being written under its hidden name.
#[derive(Debug)]
pub struct LocalUpload {
    file: File,
    temp: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.to_owned();
    move |source| StoreError::Io { path, source }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Whether `name` is a hidden object left by a run that stopped before committing it.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(".inflight-") && name.ends_with(".tmp")
}

impl LocalStore {
    /// The store rooted at `root`, created if missing.
    pub fn open(root: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        // Distinct per process, so two runs' hidden names never meet even without the lock.
        let next_id = AtomicU64::new(u64::from(std::process::id()) << 32);
        Ok(Self { root, unsynced_dirs: Mutex::default(), next_id })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> PathBuf {
        key.split('/').filter(|s| !s.is_empty()).fold(self.root.clone(), |path, part| path.join(part))
    }

    pub(super) fn upload(&self, key: &str) -> Result<LocalUpload, StoreError> {
        let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
        let dir = self.path_of(dir);
        self.create_dirs(&dir)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".inflight-{id:016x}-{name}.tmp"));
        let file = File::create(&temp).map_err(io(&temp))?;
        Ok(LocalUpload { file, temp })
    }

    /// Creates `dir` and its missing parents, remembering which are new so that their entries
    /// are synced when a file in them is committed.
    fn create_dirs(&self, dir: &Path) -> Result<(), StoreError> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut unsynced = crate::lock(&self.unsynced_dirs);
        unsynced.extend(missing.drain(..).map(Path::to_owned));
        Ok(())
    }

    /// Links the staged `temp` under `key` unless the key exists; a key that exists counts as
    /// committed only when it holds the same object: the same `content` entry for a Parquet file
    /// (whose rows a query may order differently), the same bytes for anything else.
    pub(super) fn commit(&self, temp: &Path, key: &str, content: Option<&str>) -> Result<Committed, StoreError> {
        let target = self.path_of(key);
        let committed = match std::fs::hard_link(temp, &target) {
            Ok(()) => Committed::Created,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Refused, the staged copy goes, as S3 aborts the upload.
                verify(&target, temp, content).inspect_err(|_| drop(std::fs::remove_file(temp)))?;
                Committed::AlreadyPresent
            }
            // Committed before a crash: the hidden name was already removed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !temp.exists() && target.exists() => {
                return Ok(Committed::Created);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !temp.exists() => {
                return Err(StoreError::Vanished { key: key.to_owned(), staged: temp.display().to_string() });
            }
            Err(e) => return Err(io(&target)(e)),
        };
        std::fs::remove_file(temp).map_err(io(temp))?;
        if committed == Committed::Created {
            self.sync_entries(&target)?;
        }
        Ok(committed)
    }

    /// Syncs the directory holding `target`, and every new directory's entry in its parent, so
    /// a committed file survives a power loss together with its partition folders.
    fn sync_entries(&self, target: &Path) -> Result<(), StoreError> {
        let Some(mut dir) = target.parent() else { return Ok(()) };
        sync_dir(dir)?;
        let mut unsynced = crate::lock(&self.unsynced_dirs);
        while unsynced.remove(dir) {
            let Some(parent) = dir.parent() else { break };
            sync_dir(parent)?;
            dir = parent;
        }
        Ok(())
    }

    pub(super) fn remove_strays(&self) -> Result<u64, StoreError> {
        let mut removed = 0;
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for path in crate::fs::sorted_entries(&dir).map_err(io(&dir))? {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if path.is_dir() {
                    dirs.push(path);
                } else if is_temp_name(name) {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    pub(super) fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut dirs = vec![self.path_of(prefix)];
        while let Some(dir) = dirs.pop() {
            let entries = match crate::fs::sorted_entries(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir)(e)),
            };
            for path in entries {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if path.is_dir() {
                    dirs.push(path);
                } else if !name.starts_with('.')
                    && let Ok(relative) = path.strip_prefix(&self.root)
                {
                    let parts: Vec<String> =
                        relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                    keys.push(parts.join("/"));
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    pub(super) fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(key);
        std::fs::read(&path).map_err(io(&path))
    }
}

/// Checks that the object at `target` is the staged one at `temp` (see [`LocalStore::commit`]).
fn verify(target: &Path, temp: &Path, content: Option<&str>) -> Result<(), StoreError> {
    let conflict =
        |found: String, expected: String| StoreError::Conflict { url: target.display().to_string(), found, expected };
    if let Some(content) = content {
        let found = parquet_content(target)?;
        return match found {
            Some(found) if found == content => Ok(()),
            found => Err(conflict(
                format!("content {}", found.as_deref().unwrap_or("unknown")),
                format!("content {content}"),
            )),
        };
    }
    let (found, expected) = (std::fs::read(target).map_err(io(target))?, std::fs::read(temp).map_err(io(temp))?);
    if found == expected {
        return Ok(());
    }
    let digest = |bytes: &[u8]| format!("{} bytes, xxh3 {:016x}", bytes.len(), xxhash_rust::xxh3::xxh3_64(bytes));
    Err(conflict(digest(&found), digest(&expected)))
}

/// The `tunestream.content` entry of the Parquet file at `path`, if it is one and has it.
fn parquet_content(path: &Path) -> Result<Option<String>, StoreError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = File::open(path).map_err(io(path))?;
    let Ok(reader) = SerializedFileReader::new(file) else { return Ok(None) };
    let entries = reader.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    Ok(entries.into_iter().find(|kv| kv.key == super::s3::CONTENT_ENTRY).and_then(|kv| kv.value))
}

impl LocalUpload {
    pub fn temp(&self) -> &Path {
        &self.temp
    }

    pub(super) fn finish(self) -> Result<(Staged, u64), StoreError> {
        let bytes = self.file.sync_all().and_then(|()| self.file.metadata()).map(|m| m.len());
        match bytes {
            Ok(bytes) => Ok((Staged::Local { temp: self.temp }, bytes)),
            Err(e) => {
                let _ = std::fs::remove_file(&self.temp);
                Err(io(&self.temp)(e))
            }
        }
    }

    pub(super) fn abort(self) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.temp);
    }
}

impl std::io::Write for LocalUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Pending, Store};
    use std::io::Write;

    fn pending(store: &Store, key: &str, bytes: &[u8]) -> Pending {
        let mut upload = store.upload(key.into()).unwrap();
        upload.write_all(bytes).unwrap();
        store.stage(upload).unwrap()
    }

    #[test]
    fn a_committed_key_is_never_replaced_and_hidden_objects_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::open(dir.path().join("lake")).unwrap());
        let first = pending(&store, "t/dt=1/a.txt", b"first");
        let stray = pending(&store, "t/dt=1/b.txt", b"never committed").staged;
        assert_eq!(store.commit(&first).unwrap(), Committed::Created);
        let again = pending(&store, "t/dt=1/a.txt", b"first");
        assert_eq!(store.commit(&again).unwrap(), Committed::AlreadyPresent);
        // Other bytes under a taken key are refused, naming the key, and change nothing.
        let second = pending(&store, "t/dt=1/a.txt", b"second");
        let err = store.commit(&second).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("a.txt") && err.to_string().contains("never overwrites"), "{err}");
        assert_eq!(store.read("t/dt=1/a.txt").unwrap(), b"first");
        assert_eq!(store.list("t").unwrap(), vec!["t/dt=1/a.txt".to_owned()]);
        // Committing again after a crash finds the object in place.
        assert_eq!(store.commit(&first).unwrap(), Committed::Created);
        assert_eq!(store.remove_strays().unwrap(), 1);
        assert!(!matches!(&stray, Staged::Local { temp } if temp.exists()));
    }

    #[test]
    fn a_listed_object_that_vanished_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::open(dir.path().to_owned()).unwrap());
        let pending = pending(&store, "t/a.txt", b"rows");
        store.discard(&pending);
        let err = store.commit(&pending).unwrap_err().to_string();
        assert!(err.contains("t/a.txt") && err.contains("neither"), "{err}");
    }

    #[test]
    fn new_partition_directories_are_synced_once_with_their_first_file() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalStore::open(dir.path().to_owned()).unwrap();
        let store = Store::Local(local);
        let pending = pending(&store, "t/dt=1/hour=02/a", b"x");
        let Store::Local(local) = &store else { unreachable!() };
        assert_eq!(local.unsynced_dirs.lock().unwrap().len(), 3);
        store.commit(&pending).unwrap();
        assert!(local.unsynced_dirs.lock().unwrap().is_empty());
    }
}
