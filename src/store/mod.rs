//! Object stores under the lake: the few operations both a local directory and S3 can honour.
//!
//! An object is written through an [`Upload`], invisible under a hidden name until it is
//! complete; [`Store::finish`] makes it durable but still hidden ([`Staged`]); [`Store::commit`]
//! then creates it under its final key only if that key is absent, so a committed key never
//! gets new bytes (Snowpipe skips a name it has loaded, even with changed bytes).

mod local;

pub use local::LocalStore;

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where objects live. A closed set: local disk now, S3 next.
#[derive(Debug)]
pub enum Store {
    Local(LocalStore),
}

/// An object being written, not visible under any final key.
#[derive(Debug)]
pub enum Upload {
    Local(local::LocalUpload),
}

/// A complete, durable object waiting under a hidden name to be committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Staged {
    Local { temp: PathBuf },
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
}

impl Store {
    /// A human name of the store's root, for logs and the summary.
    pub fn root(&self) -> String {
        match self {
            Store::Local(local) => local.root().display().to_string(),
        }
    }

    /// Starts writing an object that will be committed under a key in `dir` ending in
    /// `extension`.
    pub fn upload(&self, dir: &str, extension: &str) -> Result<Upload, StoreError> {
        match self {
            Store::Local(local) => local.upload(dir, extension).map(Upload::Local),
        }
    }

    /// Completes an upload: durable, still hidden.
    pub fn finish(&self, upload: Upload) -> Result<(Staged, u64), StoreError> {
        match (self, upload) {
            (Store::Local(_), Upload::Local(upload)) => upload.finish(),
        }
    }

    /// Completes an upload and names the key it will be committed under.
    pub fn stage(&self, upload: Upload, key: String) -> Result<Pending, StoreError> {
        let (staged, bytes) = self.finish(upload)?;
        Ok(Pending { store: self.root(), staged, key, bytes })
    }

    /// Makes a staged object visible under `pending.key`, unless that key exists.
    pub fn commit(&self, pending: &Pending) -> Result<Committed, StoreError> {
        match (self, &pending.staged) {
            (Store::Local(local), Staged::Local { temp }) => local.commit(temp, &pending.key),
        }
    }

    /// Drops a staged object that will never be committed. Best effort: a leftover is removed at
    /// the next start.
    pub fn discard(&self, staged: &Staged) {
        match (self, staged) {
            (Store::Local(_), Staged::Local { temp }) => drop(std::fs::remove_file(temp)),
        }
    }

    /// Removes every hidden object a stopped run left behind, returning how many. Call only
    /// while holding the store's lock and after an interrupted checkpoint was completed.
    pub fn remove_strays(&self) -> Result<u64, StoreError> {
        match self {
            Store::Local(local) => local.remove_strays(),
        }
    }

    /// Keys below `prefix`, sorted; hidden objects are left out.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Local(local) => local.list(prefix),
        }
    }

    /// The bytes of the object at `key`.
    pub fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Local(local) => local.read(key),
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Upload::Local(upload) => upload.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Upload::Local(upload) => upload.flush(),
        }
    }
}

impl Upload {
    /// Where the upload's bytes go, for error messages.
    pub fn describe(&self) -> PathBuf {
        match self {
            Upload::Local(upload) => upload.temp().to_owned(),
        }
    }

    /// Abandons the upload and removes what it wrote.
    pub fn abort(self) {
        match self {
            Upload::Local(upload) => upload.abort(),
        }
    }
}
