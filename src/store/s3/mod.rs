//! The S3 store: every object is a multipart upload to its final key, started when the object
//! is opened and fed part by part while it is encoded. An uploaded but uncompleted upload is
//! S3's own durable, invisible staging; completing it with `If-None-Match: *` is the commit, so
//! a key is created once and never overwritten.
//!
//! Small objects are single-part uploads rather than PUTs: they stay invisible until their
//! checkpoint commits like every other object, with no local copy to keep.

mod client;
mod config;
mod read;
mod upload;

pub use client::connect;
pub use config::{S3Section, S3Settings};
pub use read::{ObjectInfo, ObjectStream};
pub use upload::{Part, S3Upload};

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Committed, StoreError};

/// The Parquet footer entry that names a file's content ([`super::Pending::content`]).
pub const CONTENT_ENTRY: &str = "tunestream.content";
use crate::aws::{Failure, retry};

/// What every upload and call of one store shares.
#[derive(Debug)]
pub(crate) struct Shared {
    client: Client,
    bucket: String,
    /// Key prefix, without a trailing `/`; empty for the bucket's root.
    prefix: String,
    settings: S3Settings,
    /// The runtime the client runs on; the store's synchronous calls come from blocking threads.
    handle: Handle,
    /// The run's cancellation: retries stop soon after it fires.
    cancel: CancellationToken,
    /// Aborts started without waiting, awaited by [`S3Store::settle`] before the run ends.
    background: TaskTracker,
}

/// A bucket and key prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    shared: Arc<Shared>,
}

/// How long a stopping run waits for its last aborts.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Shared {
    /// Aborts an upload in the background; [`S3Store::settle`] waits for it.
    fn abort_later(self: &Arc<Self>, key: String, upload_id: String) {
        let shared = self.clone();
        self.background.spawn_on(async move { upload::abort(&shared, &key, &upload_id).await }, &self.handle);
    }

    fn full_key(&self, key: &str) -> String {
        let key = key.trim_start_matches('/');
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) }
    }

    fn url(&self, full_key: &str) -> String {
        format!("s3://{}/{full_key}", self.bucket)
    }

    /// Turns a failure on `full_key` into the error that names it.
    fn error(&self, full_key: &str, failure: Failure) -> StoreError {
        let url = self.url(full_key);
        match failure {
            Failure::GaveUp { attempts, message } => StoreError::Unreachable { url, attempts, message },
            Failure::Precondition => StoreError::S3 { url, message: "a precondition failed".into() },
            Failure::NotFound { message, .. } | Failure::Permanent(message) => StoreError::S3 { url, message },
        }
    }
}

impl S3Store {
    /// Connects to `bucket` and checks it can be reached, so a missing bucket or missing
    /// permission stops the run before anything is read.
    pub async fn open(
        client: Client,
        bucket: String,
        prefix: String,
        settings: S3Settings,
        cancel: CancellationToken,
    ) -> Result<Self, StoreError> {
        let background = TaskTracker::new();
        let shared = Shared { client, bucket, prefix, settings, handle: Handle::current(), cancel, background };
        let url = shared.url(&shared.prefix);
        let checked =
            retry("check bucket", &shared.cancel, || shared.client.head_bucket().bucket(&shared.bucket).send());
        match checked.await {
            Ok(_) => Ok(Self { shared: Arc::new(shared) }),
            Err(Failure::NotFound { .. }) => Err(StoreError::S3 {
                url,
                message: format!("bucket `{}` does not exist; create it, or fix the lake URL", shared.bucket),
            }),
            Err(Failure::Permanent(message)) => Err(StoreError::S3 {
                url,
                message: format!("{message}; check the credentials and that they may list and write the bucket"),
            }),
            Err(other) => Err(shared.error(&shared.prefix, other)),
        }
    }

    /// `s3://bucket/prefix`.
    pub fn root(&self) -> String {
        self.shared.url(&self.shared.prefix).trim_end_matches('/').to_owned()
    }

    pub(super) fn upload(&self, key: &str) -> S3Upload {
        S3Upload::new(self.shared.clone(), self.shared.full_key(key))
    }

    /// Completes the upload of `key` unless the key exists; a key that exists counts as
    /// committed only when it holds exactly the parts this upload would have produced.
    pub(super) fn commit(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Part],
        content: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let shared = &self.shared;
        let key = shared.full_key(key);
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts.iter().map(|p| CompletedPart::builder().part_number(p.number).e_tag(&p.etag).build()).collect(),
            ))
            .build();
        let complete = retry("complete upload", &shared.cancel, || {
            shared
                .client
                .complete_multipart_upload()
                .bucket(&shared.bucket)
                .key(&key)
                .upload_id(upload_id)
                .multipart_upload(completed.clone())
                .if_none_match("*")
                .send()
        });
        match shared.handle.block_on(complete) {
            Ok(_) => Ok(Committed::Created),
            Err(Failure::Precondition) => {
                shared.handle.block_on(upload::abort(shared, &key, upload_id));
                self.verify(&key, parts, content).map(|()| Committed::AlreadyPresent)
            }
            // Completed by the run that crashed after completing it, before its checkpoint.
            Err(Failure::NotFound { code, .. }) if code == "NoSuchUpload" => {
                self.verify(&key, parts, content).map(|()| Committed::Created)
            }
            Err(failure) => Err(shared.error(&key, failure)),
        }
    }

    /// Checks that the object at `key` is the one `parts` make up: by its ETag, or, for a
    /// Parquet file with other bytes, by the `content` entry in its footer.
    fn verify(&self, key: &str, parts: &[Part], content: Option<&str>) -> Result<(), StoreError> {
        let shared = &self.shared;
        let head = retry("check existing object", &shared.cancel, || {
            shared.client.head_object().bucket(&shared.bucket).key(key).send()
        });
        let (found, size) = match shared.handle.block_on(head) {
            Ok(head) => {
                let size = head.content_length().unwrap_or(0).max(0) as u64;
                (head.e_tag().unwrap_or_default().trim_matches('"').to_owned(), size)
            }
            Err(Failure::NotFound { .. }) => {
                return Err(StoreError::Vanished { key: shared.url(key), staged: "its multipart upload".into() });
            }
            Err(failure) => return Err(shared.error(key, failure)),
        };
        let expected = upload::multipart_etag(parts);
        if expected.as_deref() == Some(found.as_str()) {
            return Ok(());
        }
        if let Some(content) = content
            && shared.handle.block_on(read::parquet_entry(shared, key, size, CONTENT_ENTRY))?.as_deref()
                == Some(content)
        {
            return Ok(());
        }
        Err(StoreError::Conflict {
            url: shared.url(key),
            found: format!("ETag {found}"),
            expected: format!("ETag {}", expected.unwrap_or_else(|| "unknown (the parts' ETags are not MD5s)".into())),
        })
    }

    /// Aborts an upload that will never be committed, without waiting: a leftover is aborted
    /// at the next start.
    pub(super) fn discard(&self, key: &str, upload_id: &str) {
        self.shared.abort_later(self.shared.full_key(key), upload_id.to_owned());
    }

    /// Aborts every multipart upload below the prefix: after an interrupted checkpoint was
    /// completed, none of them will ever be committed.
    pub(super) fn remove_strays(&self) -> Result<u64, StoreError> {
        let shared = &self.shared;
        shared.handle.block_on(async {
            let prefix = shared.full_key("");
            let mut aborted = 0;
            let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
            loop {
                let page = retry("list uploads", &shared.cancel, || {
                    shared
                        .client
                        .list_multipart_uploads()
                        .bucket(&shared.bucket)
                        .prefix(&prefix)
                        .set_key_marker(key_marker.clone())
                        .set_upload_id_marker(id_marker.clone())
                        .send()
                })
                .await
                .map_err(|failure| shared.error(&prefix, failure))?;
                for stray in page.uploads() {
                    if let (Some(key), Some(id)) = (stray.key(), stray.upload_id()) {
                        upload::abort(shared, key, id).await;
                        aborted += 1;
                    }
                }
                if !page.is_truncated().unwrap_or(false) {
                    return Ok(aborted);
                }
                key_marker = page.next_key_marker().map(str::to_owned);
                id_marker = page.next_upload_id_marker().map(str::to_owned);
            }
        })
    }

    /// Waits (a bounded time) for the aborts started without waiting, so a run that stops
    /// leaves no upload open that it could close.
    pub async fn settle(&self) {
        self.shared.background.close();
        if tokio::time::timeout(SETTLE_LIMIT, self.shared.background.wait()).await.is_err() {
            tracing::warn!(store = %self.root(), "uploads still being aborted; the next start aborts what is left");
        }
    }

    /// Objects below `prefix` (relative to the store), with their sizes, sorted by key.
    pub async fn objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        read::list(&self.shared, prefix).await
    }

    /// Keys below `prefix`, relative to the store, sorted.
    pub(super) fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let objects = self.shared.handle.block_on(self.objects(prefix))?;
        Ok(objects.into_iter().map(|o| o.key).collect())
    }

    pub(super) fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.shared.handle.block_on(read::whole(&self.shared, &self.shared.full_key(key)))
    }

    /// Streams the objects `keys` (relative to the store) in order, fetching the next while the
    /// current one is read.
    /// The `s3://` URL of the object at `key` (relative to the store), as a stream names it.
    pub fn object_url(&self, key: &str) -> String {
        self.shared.url(&self.shared.full_key(key))
    }

    pub fn stream(&self, objects: Vec<ObjectInfo>) -> ObjectStream {
        ObjectStream::start(self.shared.clone(), objects)
    }
}
