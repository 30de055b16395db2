//! Reading S3: listing a prefix, fetching whole objects, and streaming a list of objects in
//! order with bounded memory while the next one is already being fetched.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Shared;
use crate::aws::retry;
use crate::store::StoreError;

/// Chunks of object data held between the fetching task and the reader: with the HTTP
/// client's chunks of tens of KiB, a few MiB at most, whatever the objects' size.
const CHUNKS_AHEAD: usize = 64;

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store's prefix.
    pub key: String,
    pub size: u64,
    /// Last-modified time, in microseconds since the epoch.
    pub modified_micros: i64,
}

/// Lists the objects at `prefix` (relative to the store): the object of that name, and every
/// object below it as a folder.
pub(super) async fn list(shared: &Shared, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
    let full = shared.full_key(prefix);
    let root = if shared.prefix.is_empty() { String::new() } else { format!("{}/", shared.prefix) };
    let mut objects = Vec::new();
    let mut token = None::<String>;
    loop {
        let page = retry("list objects", &shared.cancel, || {
            shared
                .client
                .list_objects_v2()
                .bucket(&shared.bucket)
                .prefix(&full)
                .set_continuation_token(token.clone())
                .send()
        })
        .await
        .map_err(|failure| shared.error(&full, failure))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let below = full.is_empty() || key == full || full.ends_with('/') || key[full.len()..].starts_with('/');
            let hidden = key.rsplit('/').next().is_some_and(|name| name.starts_with('.'));
            if below && !hidden {
                objects.push(ObjectInfo {
                    key: key.strip_prefix(&root).unwrap_or(key).to_owned(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    modified_micros: object
                        .last_modified()
                        .map_or(0, |t| t.secs() * 1_000_000 + i64::from(t.subsec_nanos() / 1000)),
                });
            }
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated().unwrap_or(false) => token = Some(next.to_owned()),
            _ => break,
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}

/// Fetches the whole object at `full_key`.
pub(super) async fn whole(shared: &Shared, full_key: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    fetch(shared, full_key, |chunk| {
        out.extend_from_slice(&chunk);
        std::future::ready(true)
    })
    .await?;
    Ok(out)
}

/// Fetches `full_key` chunk by chunk into `sink` (which answers whether to go on). A body cut
/// off mid-way is resumed from the first byte not yet delivered, so no byte repeats.
async fn fetch<F, Fut>(shared: &Shared, full_key: &str, mut sink: F) -> Result<(), StoreError>
where
    F: FnMut(Bytes) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut offset = 0u64;
    loop {
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        let response = retry("get object", &shared.cancel, || {
            shared.client.get_object().bucket(&shared.bucket).key(full_key).set_range(range.clone()).send()
        })
        .await
        .map_err(|failure| shared.error(full_key, failure))?;
        let mut body = response.body;
        loop {
            match body.try_next().await {
                Ok(Some(chunk)) => {
                    offset += chunk.len() as u64;
                    if !sink(chunk).await {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) if shared.cancel.is_cancelled() => {
                    return Err(StoreError::Unreachable {
                        url: shared.url(full_key),
                        attempts: 1,
                        message: e.to_string(),
                    });
                }
                Err(e) => {
                    tracing::warn!(key = full_key, offset, error = %e, "S3 body cut off; resuming");
                    break;
                }
            }
        }
    }
}

enum Message {
    Data(Bytes),
    End,
    Failed(StoreError),
}

/// Objects streamed in order; [`ObjectStream::next_object`] gives a reader for each.
pub struct ObjectStream {
    objects: VecDeque<super::ObjectInfo>,
    rx: mpsc::Receiver<Message>,
    url_of: Arc<Shared>,
}

/// One object's bytes, read from the stream.
pub struct ObjectReader<'a> {
    rx: &'a mut mpsc::Receiver<Message>,
    current: Bytes,
    done: bool,
}

impl ObjectStream {
    pub(super) fn start(shared: Arc<Shared>, objects: Vec<ObjectInfo>) -> Self {
        let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        let keys: Vec<String> = objects.iter().map(|o| shared.full_key(&o.key)).collect();
        let fetching = shared.clone();
        shared.handle.spawn(async move {
            for key in keys {
                let sent = fetch(&fetching, &key, |chunk| {
                    let tx = tx.clone();
                    async move { tx.send(Message::Data(chunk)).await.is_ok() }
                })
                .await;
                let message = match sent {
                    Ok(()) => Message::End,
                    Err(e) => Message::Failed(e),
                };
                if tx.send(message).await.is_err() {
                    return;
                }
            }
        });
        Self { objects: objects.into(), rx, url_of: shared }
    }

    /// The next object and a reader of its bytes. Blocking: call from a blocking thread.
    pub fn next_object(&mut self) -> Option<(ObjectInfo, String, ObjectReader<'_>)> {
        let object = self.objects.pop_front()?;
        let url = self.url_of.url(&self.url_of.full_key(&object.key));
        Some((object, url, ObjectReader { rx: &mut self.rx, current: Bytes::new(), done: false }))
    }
}

impl Read for ObjectReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() && !self.done {
            match self.rx.blocking_recv() {
                Some(Message::Data(chunk)) => self.current = chunk,
                Some(Message::End) => self.done = true,
                Some(Message::Failed(e)) => return Err(std::io::Error::other(e)),
                None => return Err(std::io::Error::other("the S3 fetch stopped")),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The value of `entry` in the key-value metadata of the Parquet file at `full_key` (`size`
/// bytes), reading only its footer; `None` when it is not a Parquet file or has no such entry.
pub(super) async fn parquet_entry(
    shared: &Shared,
    full_key: &str,
    size: u64,
    entry: &str,
) -> Result<Option<String>, StoreError> {
    // Footers of the lake's files are a few KiB; a larger one costs a second request.
    let tail = ranged(shared, full_key, size.saturating_sub(64 << 10), size).await?;
    let Some(footer_len) = tail
        .len()
        .checked_sub(8)
        .filter(|_| tail.ends_with(b"PAR1"))
        .map(|at| u32::from_le_bytes([tail[at], tail[at + 1], tail[at + 2], tail[at + 3]]) as u64)
    else {
        return Ok(None);
    };
    let footer = if footer_len + 8 <= tail.len() as u64 {
        tail[tail.len() - 8 - footer_len as usize..tail.len() - 8].to_vec()
    } else {
        let start = size.saturating_sub(footer_len + 8);
        ranged(shared, full_key, start, size - 8).await?
    };
    let Ok(metadata) = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&footer) else {
        return Ok(None);
    };
    let entries = metadata.file_metadata().key_value_metadata().cloned().unwrap_or_default();
    Ok(entries.into_iter().find(|kv| kv.key == entry).and_then(|kv| kv.value))
}

/// Bytes `start..end` of the object at `full_key`.
async fn ranged(shared: &Shared, full_key: &str, start: u64, end: u64) -> Result<Vec<u8>, StoreError> {
    if end <= start {
        return Ok(Vec::new());
    }
    let range = format!("bytes={start}-{}", end - 1);
    let response = retry("get object range", &shared.cancel, || {
        shared.client.get_object().bucket(&shared.bucket).key(full_key).range(&range).send()
    })
    .await
    .map_err(|failure| shared.error(full_key, failure))?;
    let bytes = response
        .body
        .collect()
        .await
        .map_err(|e| StoreError::S3 { url: shared.url(full_key), message: format!("reading its footer: {e}") })?;
    Ok(bytes.to_vec())
}
