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
mod tests {
    use super::*;
    use crate::page::DEFAULT_MAX_LINE_BYTES;

    fn local(files: &[PathBuf]) -> Vec<Input> {
        files.iter().cloned().map(Input::File).collect()
    }
    use std::io::Write;

    /// The batches read from `files` but for empty ones, which only mark commit points; only
    /// the last batch marks the end of the input.
    fn read_all(files: &[PathBuf], limits: BatchLimits) -> Vec<PageBatch> {
        let (tx, mut rx) = mpsc::channel(100);
        read_files(&local(files), None, &S3Settings::default(), limits, &tx, &CancellationToken::new(), None).unwrap();
        drop(tx);
        let mut batches: Vec<PageBatch> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        let ends: Vec<bool> = batches.iter().map(|b| b.commit_point == Some(CommitPoint::EndOfInput)).collect();
        assert_eq!(ends.iter().filter(|e| **e).count(), 1, "one end of input");
        assert_eq!(ends.last(), Some(&true), "the end of input comes last");
        batches.retain(|b| !b.lines.is_empty());
        batches
    }

    #[test]
    fn nothing_read_from_a_gzip_file_is_verified_before_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.ndjson");
        std::fs::write(&plain, "{\"a\":1}\n{\"a\":2}\n").unwrap();
        let gz = dir.path().join("b.ndjson.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all("{\"b\":1}\n".repeat(5).as_bytes()).unwrap();
        enc.finish().unwrap();
        let (tx, mut rx) = mpsc::channel(100);
        let limits = BatchLimits { max_pages: 2, max_bytes: 1 << 20, max_line_bytes: DEFAULT_MAX_LINE_BYTES };
        read_files(&local(&[plain, gz]), None, &S3Settings::default(), limits, &tx, &CancellationToken::new(), None)
            .unwrap();
        drop(tx);
        let marks: Vec<(usize, Option<CommitPoint>)> =
            std::iter::from_fn(|| rx.try_recv().ok()).map(|b| (b.lines.len(), b.commit_point)).collect();
        let verified = Some(CommitPoint::Verified);
        let expected =
            vec![(2, verified.clone()), (2, None), (2, None), (1, verified), (0, Some(CommitPoint::EndOfInput))];
        assert_eq!(marks, expected);
    }

    #[test]
    fn a_byte_order_mark_at_the_start_of_a_file_is_dropped_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson.gz"));
        std::fs::write(&first, "\u{feff}{\"a\":1}\n\u{feff}{\"a\":2}\n").unwrap();
        let mut enc = flate2::write::GzEncoder::new(File::create(&second).unwrap(), flate2::Compression::fast());
        enc.write_all("\u{feff}{\"b\":1}\n".as_bytes()).unwrap();
        enc.finish().unwrap();
        let batches = read_all(
            &[first, second],
            BatchLimits { max_pages: 10, max_bytes: 1 << 20, max_line_bytes: DEFAULT_MAX_LINE_BYTES },
        );
        let lines: Vec<String> = batches
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| String::from_utf8_lossy(b.line(l)).into_owned()))
            .collect();
        // Only a file's first bytes are a byte-order mark; one later is part of a (bad) line.
        assert_eq!(lines, vec!["{\"a\":1}", "\u{feff}{\"a\":2}", "{\"b\":1}"]);
    }

    #[test]
    fn a_cancelled_read_never_marks_the_end_of_its_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.ndjson");
        std::fs::write(&file, "{\"a\":1}\n".repeat(10)).unwrap();
        let (tx, mut rx) = mpsc::channel(100);
        let cancel = CancellationToken::new();
        cancel.cancel();
        read_files(
            &local(&[file]),
            None,
            &S3Settings::default(),
            BatchLimits { max_pages: 3, max_bytes: 1 << 20, max_line_bytes: DEFAULT_MAX_LINE_BYTES },
            &tx,
            &cancel,
            None,
        )
        .unwrap();
        drop(tx);
        let batches: Vec<PageBatch> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert!(batches.iter().all(|b| b.commit_point.is_none()), "{} batches", batches.len());
    }

    #[test]
    fn lines_are_cut_into_batches_with_file_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.ndjson");
        std::fs::write(&plain, "{\"a\":1}\r\n\n{\"a\":2}\n{\"a\":3}").unwrap();
        let gz = dir.path().join("b.ndjson.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(b"{\"b\":1}\n").unwrap();
        enc.finish().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();

        let files =
            list_files(&ReplayConfig::new(vec![dir.path().to_owned()], None), &CancellationToken::new()).unwrap();
        assert_eq!(files, local(&[plain.clone(), gz.clone()]));

        let batches = read_all(
            &[plain.clone(), gz.clone()],
            BatchLimits { max_pages: 2, max_bytes: 1 << 20, max_line_bytes: DEFAULT_MAX_LINE_BYTES },
        );
        // A batch ends with its file: the second file's line starts a batch of its own.
        assert_eq!(batches.iter().map(|b| b.lines.len()).collect::<Vec<_>>(), vec![2, 1, 1]);
        assert_eq!(batches.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
        let all: Vec<(String, u64, String)> = batches
            .iter()
            .flat_map(|b| {
                b.lines.iter().map(move |l| {
                    let name = l.file.path.file_name().unwrap().to_string_lossy().into_owned();
                    (name, l.line_no, String::from_utf8_lossy(b.line(l)).into_owned())
                })
            })
            .collect();
        assert_eq!(
            all,
            vec![
                ("a.ndjson".into(), 1, r#"{"a":1}"#.into()),
                ("a.ndjson".into(), 3, r#"{"a":2}"#.into()),
                ("a.ndjson".into(), 4, r#"{"a":3}"#.into()),
                ("b.ndjson.gz".into(), 1, r#"{"b":1}"#.into()),
            ]
        );
    }

    #[test]
    fn reused_buffers_hold_only_their_own_batch() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.ndjson");
        let text: String = (0..300).map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 37))).collect();
        std::fs::write(&file, &text).unwrap();
        let limits = BatchLimits { max_pages: 1000, max_bytes: 700, max_line_bytes: DEFAULT_MAX_LINE_BYTES };
        let lines_of = |b: &PageBatch| (b.content_id(), b.lines.iter().map(|l| b.line(l).to_vec()).collect::<Vec<_>>());
        let kept: Vec<_> = read_all(std::slice::from_ref(&file), limits).iter().map(lines_of).collect();

        // One batch in flight at a time, dropped once read: the reader refills freed buffers.
        let (tx, mut rx) = mpsc::channel(1);
        let reader = std::thread::spawn(move || {
            read_files(&local(&[file]), None, &S3Settings::default(), limits, &tx, &CancellationToken::new(), None)
        });
        let mut reused = Vec::new();
        while let Some(batch) = rx.blocking_recv() {
            if !batch.lines.is_empty() {
                reused.push(lines_of(&batch));
            }
        }
        reader.join().unwrap().unwrap();
        assert!(kept.len() > 10);
        assert_eq!(reused, kept);
    }

    #[test]
    fn batches_do_not_depend_on_how_the_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.ndjson");
        std::fs::write(&file, "{\"a\":1}\r\n\n  \n{\"a\":22}\n{\"a\":333}\n\n{\"a\":4444}").unwrap();
        let source = Arc::new(SourceFile { path: file.clone(), modified_micros: 0, kind: None });
        let cut = |chunk: usize, limits: BatchLimits| {
            let (tx, mut rx) = mpsc::channel(100);
            let cancel = CancellationToken::new();
            let pool = BufferPool::new(FREE_BUFFERS);
            let mut batcher = Batcher {
                limits,
                chunk,
                seq: 0,
                batch: PageBatch::default(),
                pool,
                tx: &tx,
                cancel: &cancel,
                unverified: false,
            };
            let (reader, _) = open_maybe_gzip(File::open(&file).unwrap()).unwrap();
            assert_eq!(batcher.read_file(reader, &source).unwrap(), Flow::Continue);
            let mut batches: Vec<PageBatch> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
            batches.push(batcher.batch);
            batches
                .iter()
                .map(|b| {
                    let lines: Vec<(u64, String)> =
                        b.lines.iter().map(|l| (l.line_no, String::from_utf8_lossy(b.line(l)).into_owned())).collect();
                    (b.seq, b.content_id(), lines)
                })
                .collect::<Vec<_>>()
        };
        for limits in [
            BatchLimits { max_pages: 2, max_bytes: 1 << 20, max_line_bytes: DEFAULT_MAX_LINE_BYTES },
            BatchLimits { max_pages: 100, max_bytes: 12, max_line_bytes: DEFAULT_MAX_LINE_BYTES },
        ] {
            let reference = cut(1 << 20, limits);
            let lines: Vec<u64> = reference.iter().flat_map(|b| b.2.iter().map(|l| l.0)).collect();
            assert_eq!(lines, vec![1, 4, 5, 7], "blank lines are skipped but counted");
            assert!(reference.len() >= 2, "the limits cut the file");
            for chunk in 1..=9 {
                assert_eq!(cut(chunk, limits), reference, "chunk of {chunk} bytes");
            }
        }
    }

    #[test]
    fn missing_inputs_are_named() {
        let err = list_files(&ReplayConfig::new(vec!["/no/such/pages.ndjson".into()], None), &CancellationToken::new())
            .unwrap_err();
        assert!(err.to_string().contains("/no/such/pages.ndjson"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err =
            list_files(&ReplayConfig::new(vec![empty.path().to_owned()], None), &CancellationToken::new()).unwrap_err();
        assert!(matches!(err, SourceError::NoFiles(_)), "{err}");
    }

    #[test]
    fn a_line_past_the_limit_keeps_an_excerpt_and_reading_goes_on_at_the_next_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.ndjson.gz");
        let long = format!("{{\"pad\":\"{}\"}}", "x".repeat(300_000));
        let mut enc = flate2::write::GzEncoder::new(File::create(&file).unwrap(), flate2::Compression::fast());
        enc.write_all(format!("{{\"a\":1}}\n{long}\n{{\"a\":2}}\n{long}").as_bytes()).unwrap();
        enc.finish().unwrap();
        let limits = BatchLimits { max_pages: 1000, max_bytes: 1 << 20, max_line_bytes: 100_000 };
        for chunk in [READ_CHUNK_BYTES, 7_919] {
            let (tx, mut rx) = mpsc::channel(100);
            let cancel = CancellationToken::new();
            let pool = BufferPool::new(FREE_BUFFERS);
            let mut batcher = Batcher {
                limits,
                chunk,
                seq: 0,
                batch: PageBatch::default(),
                pool,
                tx: &tx,
                cancel: &cancel,
                unverified: false,
            };
            let source = Arc::new(SourceFile { path: file.clone(), modified_micros: 0, kind: None });
            let (reader, _) = open_maybe_gzip(File::open(&file).unwrap()).unwrap();
            assert_eq!(batcher.read_file(reader, &source).unwrap(), Flow::Continue);
            let batch = batcher.batch;
            assert!(rx.try_recv().is_err(), "one batch");
            let lines: Vec<(u64, Option<u64>, usize)> =
                batch.lines.iter().map(|l| (l.line_no, l.too_long, l.end - l.start)).collect();
            let long_len = long.len() as u64;
            assert_eq!(
                lines,
                [
                    (1, None, 7),
                    (2, Some(long_len), LONG_LINE_EXCERPT_BYTES),
                    (3, None, 7),
                    (4, Some(long_len), LONG_LINE_EXCERPT_BYTES)
                ],
                "chunk {chunk}"
            );
            assert!(batch.line(&batch.lines[1]).starts_with(b"{\"pad\":\"xxx"));
            assert_eq!(batch.line(&batch.lines[2]), b"{\"a\":2}");
            assert!(batch.buf.len() < 200_000, "the long lines were never held: {}", batch.buf.len());
        }
    }

    #[test]
    fn byte_limit_cuts_batches_too() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        std::fs::write(&file, "{\"x\":\"0123456789\"}\n".repeat(10)).unwrap();
        let batches =
            read_all(&[file], BatchLimits { max_pages: 1000, max_bytes: 30, max_line_bytes: DEFAULT_MAX_LINE_BYTES });
        assert_eq!(batches.len(), 5);
        assert!(batches.iter().all(|b| b.lines.len() == 2));
    }
}
