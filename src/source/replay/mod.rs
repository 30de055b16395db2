//! Replay: reads raw page files (NDJSON, one response per line, plain or gzip), local or in S3,
//! as micro-batches.
//!
//! Used for backfills, re-runs after a SQL change and benchmarks. Reading happens on a blocking
//! thread that hands batches to a bounded channel, so a slow pipeline slows the reader down.
//! S3 objects stream through a bounded buffer, the next one fetched while the current is read.

mod config;
mod ledger;
mod list;
mod size;

pub use config::ReplayConfig;
pub use ledger::{InputId, Ledger};
pub use list::{Input, list_files, unread};
pub use size::total_bytes;

use list::{S3Objects, list_s3};

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::SourceError;
use crate::page::{BatchLimits, BufferPool, CommitPoint, LONG_LINE_EXCERPT_BYTES, LineRef, PageBatch, SourceFile};
use crate::store::S3Settings;

/// The UTF-8 byte-order mark, stripped from the start of a page file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The buffer that peeks at a file's first bytes, and reads the compressed side of gzip files.
const PEEK_BUFFER_BYTES: usize = 64 << 10;
/// Bytes read at a time straight into a batch buffer. Small enough that the tail moved at a
/// batch cut is cheap, big enough that reads stay few.
const READ_CHUNK_BYTES: usize = 256 << 10;
/// A batch buffer is preallocated up to this size, whatever the byte limit.
const MAX_PREALLOCATED_BYTES: usize = 64 << 20;
/// Decoded batches' buffers kept for the next batches. Reading runs a few batches ahead of
/// decoding, so a buffer comes back about as often as one is needed; two cover the jitter.
const FREE_BUFFERS: usize = 2;

/// Reads `files` in order and sends micro-batches of at most `limits` to `tx`; the last one
/// carries [`CommitPoint::EndOfInput`].
///
/// Returns when all files are read, the receiver is gone, or `cancel` fires. Blocking: run it on
/// a blocking thread.
///
/// With a `ledger`, `s3://` objects an earlier complete replay read are skipped (local files are
/// filtered before, by [`unread`]), and every input read to its end is recorded in it.
pub fn read_files(
    inputs: &[Input],
    kind: Option<crate::page::Kind>,
    s3: &S3Settings,
    limits: BatchLimits,
    tx: &mpsc::Sender<PageBatch>,
    cancel: &CancellationToken,
    ledger: Option<&Ledger>,
) -> Result<(), SourceError> {
    let listed = list_s3(inputs, s3, cancel, ledger)?;
    let pool = BufferPool::new(FREE_BUFFERS);
    let mut batcher = Batcher {
        limits,
        chunk: READ_CHUNK_BYTES,
        seq: 0,
        batch: PageBatch::default(),
        pool,
        tx,
        cancel,
        unverified: false,
    };
    batcher.batch.buf = batcher.pool.take(batcher.capacity());
    for (input, s3) in inputs.iter().zip(listed) {
        let flow = match (input, s3) {
            (_, Some(S3Objects { store, objects })) => {
                let mut stream = store.stream(objects);
                let mut flow = Flow::Continue;
                while flow == Flow::Continue
                    && let Some((object, url, reader)) = stream.next_object()
                {
                    let id = InputId { name: url.clone(), size: object.size, modified_micros: object.modified_micros };
                    let path = PathBuf::from(url);
                    let source = Arc::new(SourceFile { path, modified_micros: object.modified_micros, kind });
                    flow = batcher.read_source(reader, &source)?;
                    if flow == Flow::Continue {
                        ledger.inspect(|l| l.record(id));
                    }
                }
                flow
            }
            (Input::File(path), None) => {
                let file = File::open(path).map_err(|source| SourceError::Input { path: path.clone(), source })?;
                let modified_micros = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_micros() as i64);
                let source = Arc::new(SourceFile { path: path.clone(), modified_micros, kind });
                let flow = batcher.read_source(file, &source)?;
                if flow == Flow::Continue
                    && let Some(ledger) = ledger
                {
                    ledger.record(InputId::of_file(path)?);
                }
                flow
            }
            (Input::S3(location), None) => return Err(SourceError::NoFiles(location.to_string())),
        };
        if flow == Flow::Stop {
            return Ok(());
        }
    }
    if !cancel.is_cancelled() {
        // The last batch, empty if the input ended at a cut, marks the end of the input: only
        // there may the files a complete run ends with be sealed.
        batcher.batch.commit_point = Some(CommitPoint::EndOfInput);
        // A closed receiver means the pipeline is already shutting down; nothing to report.
        let _ = tx.blocking_send(batcher.batch);
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Cuts lines into micro-batches. Each byte is copied once from the reader into the batch that
/// holds it; only the part of a chunk read past a cut moves, into the next batch.
struct Batcher<'a> {
    limits: BatchLimits,
    chunk: usize,
    seq: u64,
    batch: PageBatch,
    pool: BufferPool,
    tx: &'a mpsc::Sender<PageBatch>,
    cancel: &'a CancellationToken,
    /// The file being read is a gzip file not yet read to its checksum.
    unverified: bool,
}

impl Batcher<'_> {
    /// Reads one page file, plain or gzip, from `reader`.
    fn read_source(&mut self, reader: impl Read + Send, source: &Arc<SourceFile>) -> Result<Flow, SourceError> {
        let io_err = |e| SourceError::Input { path: source.path.clone(), source: e };
        let (reader, gzip) = open_maybe_gzip(reader).map_err(io_err)?;
        // A damaged gzip file can decode to wrong bytes before its checksum fails at the end:
        // until then, nothing read from it may be committed.
        self.unverified = gzip;
        if self.read_file(reader, source).map_err(io_err)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
        if gzip {
            self.unverified = false;
            return Ok(self.cut(self.batch.buf.len()));
        }
        // A file's lines never share a micro-batch with the next file's: what a file gives does
        // not depend on what is read after it, so a replay that skips the files it read before
        // (the ledger) cuts the new ones as a full replay would.
        if !self.batch.lines.is_empty() {
            return Ok(self.cut(self.batch.buf.len()));
        }
        Ok(Flow::Continue)
    }

    /// A batch buffer big enough that it rarely grows: the byte limit plus a chunk or two.
    fn capacity(&self) -> usize {
        self.limits.max_bytes.min(MAX_PREALLOCATED_BYTES) + 2 * self.chunk
    }

    fn read_file(&mut self, mut reader: Box<dyn Read + Send + '_>, source: &Arc<SourceFile>) -> std::io::Result<Flow> {
        let mut line_no = 0;
        // The first byte of the line being read; bytes before `search` hold no newline after it.
        let mut line_start = self.batch.buf.len();
        let mut eof = false;
        let mut first_read = true;
        // Once the line being read is longer than the limit: the bytes dropped past its excerpt,
        // and the excerpt's length.
        let mut too_long: Option<(u64, usize)> = None;
        while !eof {
            let mut search = self.batch.buf.len();
            self.batch.buf.reserve(self.chunk);
            eof = (&mut reader).take(self.chunk as u64).read_to_end(&mut self.batch.buf)? == 0;
            // Editors on Windows start UTF-8 files with a byte-order mark: it is not part of the
            // first line's JSON, so it is dropped (documented in docs/data-contract.md).
            if std::mem::take(&mut first_read) && self.batch.buf[line_start..].starts_with(UTF8_BOM) {
                self.batch.buf.drain(line_start..line_start + UTF8_BOM.len());
            }
            loop {
                let buf = &self.batch.buf;
                let end = match memchr::memchr(b'\n', &buf[search..]) {
                    Some(i) => search + i + 1,
                    None if eof && line_start < buf.len() => buf.len(),
                    None => break,
                };
                line_no += 1;
                let content_end = line_start + buf[line_start..end].trim_ascii_end().len();
                if too_long.is_none() && content_end - line_start > self.limits.max_line_bytes {
                    too_long = Some((0, LONG_LINE_EXCERPT_BYTES));
                }
                if let Some((dropped, excerpt)) = too_long.take() {
                    // The end of a line too long to keep: its excerpt stays, for the rejects.
                    let excerpt_end = line_start + excerpt;
                    let length = dropped + (content_end - line_start) as u64;
                    self.batch.buf.drain(excerpt_end..end);
                    let line = LineRef {
                        file: source.clone(),
                        line_no,
                        start: line_start,
                        end: excerpt_end,
                        too_long: Some(length),
                    };
                    self.batch.lines.push(line);
                    (line_start, search) = (excerpt_end, excerpt_end);
                    if self.batch.lines.len() >= self.limits.max_pages || excerpt_end >= self.limits.max_bytes {
                        if self.cut(excerpt_end) == Flow::Stop {
                            return Ok(Flow::Stop);
                        }
                        (line_start, search) = (0, 0);
                    }
                    continue;
                }
                if buf[line_start..content_end].trim_ascii_start().is_empty() {
                    self.batch.buf.drain(line_start..end);
                    search = line_start;
                    continue;
                }
                let line =
                    LineRef { file: source.clone(), line_no, start: line_start, end: content_end, too_long: None };
                self.batch.lines.push(line);
                (line_start, search) = (end, end);
                if self.batch.lines.len() >= self.limits.max_pages || end >= self.limits.max_bytes {
                    if self.cut(end) == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                    (line_start, search) = (0, 0);
                }
            }
            // No newline yet: a line past the limit keeps its first bytes and drops the rest as
            // it is read, so it never holds more memory than the limit.
            let unfinished = self.batch.buf.len() - line_start;
            if too_long.is_some() || unfinished > self.limits.max_line_bytes {
                let (dropped, excerpt) = too_long.get_or_insert((0, LONG_LINE_EXCERPT_BYTES.min(unfinished)));
                let excerpt_end = line_start + *excerpt;
                *dropped += (self.batch.buf.len() - excerpt_end) as u64;
                self.batch.buf.truncate(excerpt_end);
            }
        }
        Ok(Flow::Continue)
    }

    /// Sends the batch up to `end`; the bytes after it start the next batch.
    fn cut(&mut self, end: usize) -> Flow {
        self.seq += 1;
        let mut next = PageBatch { seq: self.seq, buf: self.pool.take(self.capacity()), ..PageBatch::default() };
        next.buf.extend_from_slice(&self.batch.buf[end..]);
        self.batch.buf.truncate(end);
        let mut full = std::mem::replace(&mut self.batch, next);
        full.commit_point = (!self.unverified).then_some(CommitPoint::Verified);
        if self.cancel.is_cancelled() || self.tx.blocking_send(full).is_err() { Flow::Stop } else { Flow::Continue }
    }
}

/// The file's lines, decompressed if it is gzip, and whether it is.
fn open_maybe_gzip<'a>(file: impl Read + Send + 'a) -> std::io::Result<(Box<dyn Read + Send + 'a>, bool)> {
    // Plain files: reads of a whole chunk bypass this buffer once the peeked bytes are used.
    let mut reader = BufReader::with_capacity(PEEK_BUFFER_BYTES, file);
    let is_gzip = reader.fill_buf()?.starts_with(&GZIP_MAGIC);
    Ok(if is_gzip { (Box::new(flate2::bufread::MultiGzDecoder::new(reader)), true) } else { (Box::new(reader), false) })
}

/// Reads a whole page file into memory, decompressing gzip: for tools and tests.
pub fn read_to_vec(path: &Path) -> Result<Vec<u8>, SourceError> {
    let io_err = |source| SourceError::Input { path: path.to_owned(), source };
    let mut out = Vec::new();
    open_maybe_gzip(File::open(path).map_err(io_err)?)
        .and_then(|(mut r, _)| r.read_to_end(&mut out))
        .map_err(io_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
