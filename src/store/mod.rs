//! Object stores under the lake: the few operations both a local directory and S3 can honour.
//!
//! An object is written through an [`Upload`] to its final key, invisible until committed;
//! [`Store::stage`] makes it durable but still invisible ([`Staged`]); [`Store::commit`] then
//! creates it under its key only if that key is absent, so a committed key never gets new bytes
//! (Snowpipe skips a name it has loaded, even with changed bytes).

mod local;
mod location;
pub mod s3;

pub use local::LocalStore;
pub use location::Location;
pub use s3::{ObjectInfo, S3Section, S3Settings, S3Store};

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::blame::Blame;

/// Where objects live. A closed set: a local directory or an S3 prefix.
#[derive(Debug)]
pub enum Store {
    Local(LocalStore),
    S3(S3Store),
}

/// An object being written to its final key, not visible under it until committed.
#[derive(Debug)]
pub struct Upload {
    /// The final key, relative to the store's root.
    key: String,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Local(local::LocalUpload),
    S3(s3::S3Upload),
}

/// A complete, durable object waiting, invisible, to be committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Staged {
    /// A file under a hidden name in its final directory.
    Local { temp: PathBuf },
    /// A multipart upload to the final key with every part uploaded, not yet completed.
    S3 { upload_id: String, parts: Vec<s3::Part> },
}

/// A staged object and the key it is committed under: what a checkpoint manifest lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The root of the store it belongs to ([`Store::root`]).
    pub store: String,
    pub staged: Staged,
    /// Final key, `/`-separated, relative to the store's root.
    pub key: String,
    pub bytes: u64,
    /// What the object holds, independent of the order of its rows, where its writer knows it:
    /// a Parquet file's `tunestream.content` entry. An existing object with other bytes but the
    /// same content is the same object (a query without ORDER BY may order rows differently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// What a commit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The key was created with the staged bytes.
    Created,
    /// The key already held an object (an earlier run over the same input); it was kept.
    AlreadyPresent,
}

/// A store operation failed. Every variant names the object or directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused: the user must fix space or permissions.
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint lists an object whose staged copy and final key are both gone: something
    /// other than this process removed it. The user must find out what.
    #[error(
        "{key}: neither its staged copy {staged} nor the committed object exists; was the lake changed by hand or by another process?"
    )]
    Vanished { key: String, staged: String },
    /// S3 refused for good (no such bucket, access denied): the user must fix what it names.
    #[error("{url}: {message}")]
    S3 { url: String, message: String },
    /// S3 could not be reached before the run stopped: the service is down; the next start
    /// completes what was not committed.
    #[error(
        "{url}: S3 still unreachable after {attempts} attempts when the run stopped ({message}); nothing after the last checkpoint was committed, and the next start writes it again"
    )]
    Unreachable { url: String, attempts: u32, message: String },
    /// The key holds another object than this write would have produced. tunestream never
    /// overwrites a key, so the user must find out who wrote it.
    #[error(
        "{url} already holds another object ({found}; this write's: {expected}); tunestream never overwrites a key: was this lake written by another run or another state directory, or did a replay's input change since it was read?"
    )]
    Conflict { url: String, found: String, expected: String },
    /// tunestream broke its own rules (a task died, a checkpoint names the wrong kind of store).
    #[error("{url}: {message} (a bug in tunestream)")]
    Bug { url: String, message: String },
}

impl StoreError {
    /// Who must act.
    pub fn blame(&self) -> Blame {
        match self {
            StoreError::Unreachable { .. } => Blame::Service,
            StoreError::Bug { .. } => Blame::Bug,
            StoreError::Io { .. }
            | StoreError::Vanished { .. }
            | StoreError::S3 { .. }
            | StoreError::Conflict { .. } => Blame::User,
        }
    }
}

/// Opens the store at `location`; an S3 bucket is checked for access first.
pub async fn open(location: &Location, s3: &S3Settings, cancel: &CancellationToken) -> Result<Store, StoreError> {
    match location {
        Location::Local(path) => Ok(Store::Local(LocalStore::open(path.clone())?)),
        Location::S3 { bucket, prefix } => {
            let client = s3::connect(s3, &location.to_string()).await?;
            let store = S3Store::open(client, bucket.clone(), prefix.clone(), *s3, cancel.clone()).await?;
            Ok(Store::S3(store))
        }
    }
}

impl Store {
    /// A human name of the store's root, for logs and the summary.
    pub fn root(&self) -> String {
        match self {
            Store::Local(local) => local.root().display().to_string(),
            Store::S3(s3) => s3.root(),
        }
    }

    /// Starts writing the object that will be committed under `key` (`/`-separated, relative
    /// to the root). Nothing is visible under `key` before the commit.
    pub fn upload(&self, key: String) -> Result<Upload, StoreError> {
        let target = match self {
            Store::Local(local) => Target::Local(local.upload(&key)?),
            Store::S3(s3) => Target::S3(s3.upload(&key)),
        };
        Ok(Upload { key, target })
    }

    /// Completes an upload: durable, still invisible, ready to commit under its key.
    pub fn stage(&self, upload: Upload) -> Result<Pending, StoreError> {
        let (staged, bytes) = match upload.target {
            Target::Local(local) => local.finish()?,
            Target::S3(s3) => s3.finish()?,
        };
        Ok(Pending { store: self.root(), staged, key: upload.key, bytes, content: None })
    }

    /// Makes a staged object visible under `pending.key`, unless that key exists.
    pub fn commit(&self, pending: &Pending) -> Result<Committed, StoreError> {
        match (self, &pending.staged) {
            (Store::Local(local), Staged::Local { temp }) => {
                local.commit(temp, &pending.key, pending.content.as_deref())
            }
            (Store::S3(s3), Staged::S3 { upload_id, parts }) => {
                s3.commit(&pending.key, upload_id, parts, pending.content.as_deref())
            }
            _ => Err(StoreError::Bug {
                url: format!("{}/{}", self.root(), pending.key),
                message: "a checkpoint lists this object as staged in another kind of store".into(),
            }),
        }
    }

    /// Drops a staged object that will never be committed. Best effort: a leftover is removed at
    /// the next start.
    pub fn discard(&self, pending: &Pending) {
        match (self, &pending.staged) {
            (Store::Local(_), Staged::Local { temp }) => drop(std::fs::remove_file(temp)),
            (Store::S3(s3), Staged::S3 { upload_id, .. }) => s3.discard(&pending.key, upload_id),
            _ => {}
        }
    }

    /// Waits for the clean-up the store started in the background (S3 aborts), a bounded time.
    pub async fn settle(&self) {
        if let Store::S3(s3) = self {
            s3.settle().await;
        }
    }

    /// Removes every hidden object a stopped run left behind, returning how many. Call only
    /// while holding the store's lock and after an interrupted checkpoint was completed.
    pub fn remove_strays(&self) -> Result<u64, StoreError> {
        match self {
            Store::Local(local) => local.remove_strays(),
            Store::S3(s3) => s3.remove_strays(),
        }
    }

    /// Keys below `prefix`, sorted; hidden objects are left out.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Local(local) => local.list(prefix),
            Store::S3(s3) => s3.list(prefix),
        }
    }

    /// The bytes of the object at `key`.
    pub fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Local(local) => local.read(key),
            Store::S3(s3) => s3.read(key),
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.target {
            Target::Local(upload) => upload.write(buf),
            Target::S3(upload) => upload.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.target {
            Target::Local(upload) => upload.flush(),
            Target::S3(upload) => upload.flush(),
        }
    }
}

impl Upload {
    /// Where the upload's bytes go, for error messages.
    pub fn describe(&self) -> PathBuf {
        match &self.target {
            Target::Local(upload) => upload.temp().to_owned(),
            Target::S3(upload) => PathBuf::from(upload.url()),
        }
    }

    /// Abandons the upload and removes what it wrote.
    pub fn abort(self) {
        match self.target {
            Target::Local(upload) => upload.abort(),
            Target::S3(upload) => upload.abort(),
        }
    }
}
