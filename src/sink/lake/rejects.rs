//! Rejected lines: staged next to the lake as NDJSON, one file per micro-batch, with the error,
//! the source file, the line number and the line itself, so they can be fixed and replayed.
//!
//! A file is named by the micro-batch and by where its lines come from (each source and line
//! number), so two byte-identical micro-batches of bad lines, read from two files or from two
//! places in one file, keep two files of records.

use std::io::Write;

use crate::decode::Reject;
use crate::sink::SinkError;
use crate::store::{Pending, Store};

/// The folder below the lake root that holds rejected lines.
pub const REJECTED_DIR: &str = "_rejected";

#[derive(serde::Serialize)]
struct RejectRecord<'a> {
    source: String,
    line: u64,
    kind: Option<&'static str>,
    error: &'a str,
    record: std::borrow::Cow<'a, str>,
}

/// Stages the rejects of one micro-batch as `_rejected/rejected-<batch id>-<origin>.ndjson`,
/// `<origin>` a digest of every reject's source and line number.
///
/// Like lake files, the name derives from the input, and the file commits with the batch.
pub fn stage_rejects(store: &Store, batch_id: &str, rejects: &[Reject]) -> Result<Option<Pending>, SinkError> {
    if rejects.is_empty() {
        return Ok(None);
    }
    let mut text = Vec::new();
    let mut origin = xxhash_rust::xxh3::Xxh3::new();
    for reject in rejects {
        origin.update(reject.line.file.path.as_os_str().as_encoded_bytes());
        origin.update(&reject.line.line_no.to_le_bytes());
        let record = RejectRecord {
            source: reject.line.file.path.display().to_string(),
            line: reject.line.line_no,
            kind: reject.kind.map(|k| k.name()),
            error: &reject.error,
            record: String::from_utf8_lossy(&reject.record),
        };
        // Serialising plain strings and numbers into a Vec cannot fail.
        if serde_json::to_writer(&mut text, &record).is_ok() {
            text.push(b'\n');
        }
    }
    let origin = origin.digest();
    let mut upload = store.upload(format!("{REJECTED_DIR}/rejected-{batch_id}-{origin:016x}.ndjson"))?;
    if let Err(source) = upload.write_all(&text) {
        let path = upload.describe();
        upload.abort();
        return Err(SinkError::Io { path, source });
    }
    Ok(Some(store.stage(upload)?))
}
