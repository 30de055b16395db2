//! A multipart upload fed by a synchronous writer: parts of exactly `part_bytes` go up in the
//! background while the writer goes on encoding, with at most [`PARTS_IN_FLIGHT`] of them
//! queued, so an open object holds a few parts of memory however large it grows.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use bytes::Bytes;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::Shared;
use crate::aws::{Failure, retry};
use crate::store::{Staged, StoreError};

/// Parts uploading at once per object. The writer waits for the oldest beyond this: the
/// backpressure that holds up the pipeline while S3 is slow or away.
pub const PARTS_IN_FLIGHT: usize = 2;

/// An uploaded part, as CompleteMultipartUpload wants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub number: i32,
    pub etag: String,
}

/// An object being uploaded to its final key, invisible until its upload is completed.
#[derive(Debug)]
pub struct S3Upload {
    shared: Arc<Shared>,
    key: String,
    upload_id: Option<String>,
    buffer: Vec<u8>,
    in_flight: VecDeque<JoinHandle<Result<Part, StoreError>>>,
    parts: Vec<Part>,
    bytes: u64,
}

impl S3Upload {
    pub(super) fn new(shared: Arc<Shared>, key: String) -> Self {
        let buffer = Vec::with_capacity(shared.settings.part_bytes);
        Self { shared, key, upload_id: None, buffer, in_flight: VecDeque::new(), parts: Vec::new(), bytes: 0 }
    }

    /// `s3://bucket/key`, for error messages.
    pub fn url(&self) -> String {
        self.shared.url(&self.key)
    }

    /// Starts the multipart upload on first use.
    fn upload_id(&mut self) -> Result<String, StoreError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let shared = &self.shared;
        let create = retry("start upload", &shared.cancel, || {
            shared.client.create_multipart_upload().bucket(&shared.bucket).key(&self.key).send()
        });
        let created = shared.handle.block_on(create).map_err(|failure| shared.error(&self.key, failure))?;
        let id = created.upload_id().unwrap_or_default().to_owned();
        if id.is_empty() {
            return Err(StoreError::S3 { url: self.url(), message: "S3 returned no upload id".into() });
        }
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    /// Queues `body` as the next part, first waiting for the oldest part in flight if too many are.
    fn send(&mut self, body: Vec<u8>) -> Result<(), StoreError> {
        let upload_id = self.upload_id()?;
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        let number = i32::try_from(self.parts.len() + self.in_flight.len() + 1).unwrap_or(i32::MAX);
        self.bytes += body.len() as u64;
        let (shared, key) = (self.shared.clone(), self.key.clone());
        let task = self.shared.handle.spawn(async move { upload_part(&shared, &key, &upload_id, number, body).await });
        self.in_flight.push_back(task);
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<(), StoreError> {
        let Some(task) = self.in_flight.pop_front() else { return Ok(()) };
        let part = self
            .shared
            .handle
            .block_on(task)
            .map_err(|e| StoreError::Bug { url: self.url(), message: format!("a part upload task failed: {e}") })??;
        self.parts.push(part);
        Ok(())
    }

    /// Uploads the last part and waits for every part: the object is durable, still invisible.
    pub(crate) fn finish(mut self) -> Result<(Staged, u64), StoreError> {
        let finished = (|| {
            // The last part may be short, even empty when nothing was written.
            if !self.buffer.is_empty() || self.parts.len() + self.in_flight.len() == 0 {
                let last = std::mem::take(&mut self.buffer);
                self.send(last)?;
            }
            while !self.in_flight.is_empty() {
                self.wait_oldest()?;
            }
            Ok::<_, StoreError>(())
        })();
        match (finished, self.upload_id.take()) {
            (Ok(()), Some(upload_id)) => {
                let parts = std::mem::take(&mut self.parts);
                Ok((Staged::S3 { upload_id, parts }, self.bytes))
            }
            (Ok(()), None) => Err(StoreError::S3 { url: self.url(), message: "no upload was started".into() }),
            (Err(e), upload_id) => {
                self.upload_id = upload_id;
                self.abort();
                Err(e)
            }
        }
    }

    /// Abandons the upload without waiting; a leftover is aborted at the next start.
    pub(crate) fn abort(mut self) {
        self.in_flight.drain(..).for_each(|task| task.abort());
        if let Some(upload_id) = self.upload_id.take() {
            self.shared.abort_later(self.key.clone(), upload_id);
        }
    }
}

impl Write for S3Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let part_bytes = self.shared.settings.part_bytes;
        let mut rest = buf;
        // Parts are cut at exactly `part_bytes`: S3 wants equal parts but for the last.
        while !rest.is_empty() {
            let take = (part_bytes - self.buffer.len()).min(rest.len());
            self.buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buffer.len() == part_bytes {
                let part = std::mem::replace(&mut self.buffer, Vec::with_capacity(part_bytes));
                self.send(part).map_err(std::io::Error::other)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn upload_part(
    shared: &Shared,
    key: &str,
    upload_id: &str,
    number: i32,
    body: Vec<u8>,
) -> Result<Part, StoreError> {
    let md5 = Md5::digest(&body);
    let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5);
    let body = Bytes::from(body);
    let uploaded = retry("upload part", &shared.cancel, || {
        shared
            .client
            .upload_part()
            .bucket(&shared.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_md5(&content_md5)
            .body(ByteStream::from(body.clone()))
            .send()
    })
    .await
    .map_err(|failure| shared.error(key, failure))?;
    crate::fault::crash_point("s3.part_uploaded");
    let etag = uploaded.e_tag().map_or_else(|| format!("\"{}\"", hex(&md5)), str::to_owned);
    Ok(Part { number, etag })
}

/// Aborts an upload, best effort: an upload already gone is what was wanted.
pub(super) async fn abort(shared: &Shared, key: &str, upload_id: &str) {
    let aborted = retry("abort upload", &shared.cancel, || {
        shared.client.abort_multipart_upload().bucket(&shared.bucket).key(key).upload_id(upload_id).send()
    });
    match aborted.await {
        Ok(_) | Err(Failure::NotFound { .. }) => {}
        Err(e) => tracing::warn!(key, ?e, "could not abort an upload; the next start aborts it"),
    }
}

/// The ETag S3 gives the object completed from `parts`: the MD5 of their MD5s, then `-N`.
/// `None` when a part's ETag is not an MD5 (as with SSE-KMS).
pub fn multipart_etag(parts: &[Part]) -> Option<String> {
    let mut all = Md5::new();
    for part in parts {
        let tag = part.etag.trim_matches('"');
        if tag.len() != 32 {
            return None;
        }
        for pair in tag.as_bytes().chunks(2) {
            let text = std::str::from_utf8(pair).ok()?;
            all.update([u8::from_str_radix(text, 16).ok()?]);
        }
    }
    Some(format!("{}-{}", hex(&all.finalize()), parts.len()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multipart_etag_is_the_md5_of_the_part_md5s() {
        // Two parts, "a" * 5 MiB and "b", hashed as S3 documents it; moto agrees in tests/s3.rs.
        let part = |n, etag: &str| Part { number: n, etag: format!("\"{etag}\"") };
        let a = hex(&Md5::digest(vec![b'a'; 5 << 20]));
        let b = hex(&Md5::digest(b"b"));
        let mut both = Md5::digest(vec![b'a'; 5 << 20]).to_vec();
        both.extend_from_slice(&Md5::digest(b"b"));
        let expected = format!("{}-2", hex(&Md5::digest(&both)));
        assert_eq!(multipart_etag(&[part(1, &a), part(2, &b)]), Some(expected));
        assert_eq!(multipart_etag(&[part(1, "not-an-md5")]), None);
    }
}
