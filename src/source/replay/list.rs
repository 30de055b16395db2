//! Which page files a replay reads: local paths expanded in order (directory symlinks followed,
//! each directory once), `s3://` prefixes listed before anything is read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::ReplayConfig;
use super::ledger::{InputId, Ledger};
use crate::source::SourceError;
use crate::store::{Location, ObjectInfo, S3Settings, S3Store, Store};

const PAGE_FILE_ENDINGS: [&str; 6] = [".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz"];

/// One input of a replay, in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    /// An `s3://` prefix, listed when reading starts.
    S3(Location),
}

/// A listed `s3://` prefix: its store and page objects.
pub(super) struct S3Objects {
    pub store: S3Store,
    pub objects: Vec<ObjectInfo>,
}

/// Expands the configured local paths into the ordered list of page files to read; `s3://`
/// prefixes stay as they are, and are listed by `read_files` before it reads anything.
///
/// Fails before any data is read when a path is missing or nothing is found, naming the path.
///
/// Directory symlinks are followed, but each directory is read once, by its device and inode:
/// a link back into the tree (`again -> .`) is skipped with a warning instead of being read
/// again, so no file is read twice and the listing always ends. Listing stops when `cancel`
/// fires, with what it found so far.
pub fn list_files(config: &ReplayConfig, cancel: &CancellationToken) -> Result<Vec<Input>, SourceError> {
    let mut inputs = Vec::new();
    let mut visited = Visited::default();
    for location in &config.inputs {
        let Location::Local(path) = location else {
            inputs.push(Input::S3(location.clone()));
            continue;
        };
        let meta = std::fs::metadata(path).map_err(|source| SourceError::Input { path: path.clone(), source })?;
        let mut files = Vec::new();
        if meta.is_dir() {
            collect_dir(path, &mut files, &mut visited, cancel)?;
        } else {
            files.push(path.clone());
        }
        inputs.extend(files.into_iter().map(Input::File));
    }
    if inputs.is_empty() && !cancel.is_cancelled() {
        return Err(no_files(config));
    }
    Ok(inputs)
}

fn no_files(config: &ReplayConfig) -> SourceError {
    let named: Vec<String> = config.inputs.iter().map(ToString::to_string).collect();
    SourceError::NoFiles(named.join(", "))
}

/// The local files of `inputs` that no earlier complete replay recorded in `ledger`, and every
/// `s3://` input (its objects are checked when it is listed); an error naming a file that changed
/// since it was read.
pub fn unread(inputs: Vec<Input>, ledger: &Ledger) -> Result<Vec<Input>, SourceError> {
    let mut kept = Vec::with_capacity(inputs.len());
    for input in inputs {
        if let Input::File(path) = &input
            && ledger.already_read(&InputId::of_file(path)?)?
        {
            continue;
        }
        kept.push(input);
    }
    Ok(kept)
}

/// Whether `name` is a page file of a folder being read: hidden and `_`-prefixed names are not.
fn is_page_file(name: &str) -> bool {
    !name.starts_with(['.', '_']) && PAGE_FILE_ENDINGS.iter().any(|ending| name.ends_with(ending))
}

/// Lists every `s3://` input, so that a missing bucket or an empty prefix fails before anything
/// is read. Blocking: call from a blocking thread.
pub(super) fn list_s3(
    inputs: &[Input],
    s3: &S3Settings,
    cancel: &CancellationToken,
    ledger: Option<&Ledger>,
) -> Result<Vec<Option<S3Objects>>, SourceError> {
    if !inputs.iter().any(|input| matches!(input, Input::S3(_))) {
        return Ok(inputs.iter().map(|_| None).collect());
    }
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| SourceError::Bug(format!("listing s3:// inputs needs a Tokio runtime: {e}")))?;
    let mut listed = Vec::with_capacity(inputs.len());
    for input in inputs {
        let Input::S3(location) = input else {
            listed.push(None);
            continue;
        };
        let (store, objects) = handle.block_on(async {
            let Store::S3(store) = crate::store::open(location, s3, cancel).await? else {
                return Err(crate::store::StoreError::Bug {
                    url: location.to_string(),
                    message: "an s3:// input opened as another kind of store".into(),
                });
            };
            let objects = store.objects("").await?;
            Ok((store, objects))
        })?;
        // A named object is read whatever its name; below a prefix, the names a folder's are.
        let objects: Vec<ObjectInfo> = objects
            .into_iter()
            .filter(|o| o.key.is_empty() || o.key.split('/').all(|part| !part.starts_with(['.', '_'])))
            .filter(|o| o.key.is_empty() || is_page_file(o.key.rsplit('/').next().unwrap_or_default()))
            .collect();
        if objects.is_empty() {
            return Err(SourceError::NoFiles(location.to_string()));
        }
        let mut unread = Vec::with_capacity(objects.len());
        for object in objects {
            let name = store.object_url(&object.key);
            let id = InputId { name, size: object.size, modified_micros: object.modified_micros };
            if !ledger.map(|l| l.already_read(&id)).transpose()?.unwrap_or(false) {
                unread.push(object);
            }
        }
        listed.push(Some(S3Objects { store, objects: unread }));
    }
    Ok(listed)
}

/// The directories a listing has read, by device and inode.
#[derive(Default)]
struct Visited(HashSet<(u64, u64)>);

impl Visited {
    /// Whether `meta`'s directory is read for the first time (and marks it read).
    fn first_time(&mut self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.0.insert((meta.dev(), meta.ino()))
    }
}

fn collect_dir(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut Visited,
    cancel: &CancellationToken,
) -> Result<(), SourceError> {
    let input = |source| SourceError::Input { path: dir.to_owned(), source };
    if !visited.first_time(&std::fs::metadata(dir).map_err(input)?) {
        tracing::warn!("{} is a directory already listed (a symlink loop?): not read again", dir.display());
        return Ok(());
    }
    for path in crate::fs::sorted_entries(dir).map_err(input)? {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(['.', '_']) {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, files, visited, cancel)?;
        } else if is_page_file(name) {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(dir: &Path, cancel: &CancellationToken) -> Vec<PathBuf> {
        let config = ReplayConfig::new(vec![dir.to_owned()], None);
        let inputs = list_files(&config, cancel).unwrap();
        inputs.into_iter().map(|i| if let Input::File(p) = i { p } else { panic!("{i:?}") }).collect()
    }

    #[test]
    fn symlink_loops_are_listed_once_and_links_to_other_trees_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("in");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.ndjson"), "{}\n").unwrap();
        std::fs::write(root.join("sub/b.ndjson"), "{}\n").unwrap();
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("c.ndjson"), "{}\n").unwrap();
        std::os::unix::fs::symlink(".", root.join("again")).unwrap();
        std::os::unix::fs::symlink("..", root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink(&other, root.join("linked")).unwrap();
        let names: Vec<String> = listed(&root, &CancellationToken::new())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.ndjson", "c.ndjson", "b.ndjson"], "each file once, the loops skipped");
    }

    #[test]
    fn a_cancelled_listing_stops_without_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.ndjson"), "{}\n").unwrap();
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(listed(dir.path(), &cancel).is_empty());
    }
}
