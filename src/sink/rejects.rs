//! Rejected lines: written next to the lake as NDJSON, one file per micro-batch, with the error,
//! the source file, the line number and the line itself, so they can be fixed and replayed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::decode::Reject;

use super::SinkError;

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

/// Writes the rejects of one micro-batch to `<lake>/_rejected/rejected-<batch id>.ndjson`.
///
/// Like lake files, the name derives from the input and an existing file is kept as it is.
/// Returns the path when a new file was written.
pub fn write_rejects(lake: &Path, batch_id: &str, rejects: &[Reject]) -> Result<Option<PathBuf>, SinkError> {
    if rejects.is_empty() {
        return Ok(None);
    }
    let dir = lake.join(REJECTED_DIR);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SinkError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut text = Vec::new();
    for reject in rejects {
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
    let target = dir.join(format!("rejected-{batch_id}.ndjson"));
    let temp = dir.join(format!(".inflight-{batch_id}.ndjson.tmp"));
    let mut file = std::fs::File::create(&temp).map_err(io(&temp))?;
    file.write_all(&text).and_then(|()| file.sync_all()).map_err(io(&temp))?;
    let created = super::commit::commit_no_clobber(&temp, &target)?;
    Ok(created.then_some(target))
}
