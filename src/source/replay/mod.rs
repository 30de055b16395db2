//! Replay: reads raw page files (NDJSON, one response per line, plain or gzip) as micro-batches.
//!
//! Used for backfills, re-runs after a SQL change and benchmarks. Reading happens on a blocking
//! thread that hands batches to a bounded channel, so a slow pipeline slows the reader down.

mod config;

pub use config::ReplayConfig;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{BatchLimits, LineRef, PageBatch, SourceError, SourceFile};

const PAGE_FILE_ENDINGS: [&str; 6] = [".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz"];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER_BYTES: usize = 1 << 20;

/// Expands the configured paths into the ordered list of page files to read.
///
/// Fails before any data is read when a path is missing or nothing is found, naming the path.
pub fn list_files(config: &ReplayConfig) -> Result<Vec<PathBuf>, SourceError> {
    let mut files = Vec::new();
    for path in &config.paths {
        let meta = std::fs::metadata(path).map_err(|source| SourceError::Input { path: path.clone(), source })?;
        if meta.is_dir() {
            collect_dir(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        let named: Vec<String> = config.paths.iter().map(|p| p.display().to_string()).collect();
        return Err(SourceError::NoFiles(named.join(", ")));
    }
    Ok(files)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let entries =
        crate::fs::sorted_entries(dir).map_err(|source| SourceError::Input { path: dir.to_owned(), source })?;
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(['.', '_']) {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, files)?;
        } else if PAGE_FILE_ENDINGS.iter().any(|ending| name.ends_with(ending)) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads `files` in order and sends micro-batches of at most `limits` to `tx`.
///
/// Returns when all files are read, the receiver is gone, or `cancel` fires. Blocking: run it on
/// a blocking thread.
pub fn read_files(
    files: &[PathBuf],
    kind: Option<crate::decode::Kind>,
    limits: BatchLimits,
    tx: &mpsc::Sender<PageBatch>,
    cancel: &CancellationToken,
) -> Result<(), SourceError> {
    let mut batch = PageBatch::default();
    let mut seq = 0;
    for path in files {
        let io_err = |source| SourceError::Input { path: path.clone(), source };
        let file = File::open(path).map_err(io_err)?;
        let modified_micros = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_micros() as i64);
        let source = Arc::new(SourceFile { path: path.clone(), modified_micros, kind });
        let mut reader = open_maybe_gzip(file).map_err(io_err)?;
        let mut line_no = 0;
        loop {
            let start = batch.buf.len();
            let read = reader.read_until(b'\n', &mut batch.buf).map_err(io_err)?;
            if read == 0 {
                break;
            }
            line_no += 1;
            let line = &batch.buf[start..];
            let end = start + line.trim_ascii_end().len();
            if batch.buf[start..end].trim_ascii_start().is_empty() {
                batch.buf.truncate(start);
                continue;
            }
            batch.lines.push(LineRef { file: source.clone(), line_no, start, end });
            if batch.lines.len() >= limits.max_pages || batch.buf.len() >= limits.max_bytes {
                seq += 1;
                let full = std::mem::replace(&mut batch, PageBatch { seq, ..PageBatch::default() });
                if cancel.is_cancelled() || tx.blocking_send(full).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if !batch.lines.is_empty() && !cancel.is_cancelled() {
        // A closed receiver means the pipeline is already shutting down; nothing to report.
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

fn open_maybe_gzip(file: File) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let is_gzip = reader.fill_buf()?.starts_with(&GZIP_MAGIC);
    Ok(if is_gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, decoder))
    } else {
        Box::new(reader) as Box<dyn BufRead + Send>
    })
}

/// Reads a whole page file into memory, decompressing gzip: for tools and tests.
pub fn read_to_vec(path: &Path) -> Result<Vec<u8>, SourceError> {
    let io_err = |source| SourceError::Input { path: path.to_owned(), source };
    let mut out = Vec::new();
    open_maybe_gzip(File::open(path).map_err(io_err)?).and_then(|mut r| r.read_to_end(&mut out)).map_err(io_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(files: &[PathBuf], limits: BatchLimits) -> Vec<PageBatch> {
        let (tx, mut rx) = mpsc::channel(100);
        read_files(files, None, limits, &tx, &CancellationToken::new()).unwrap();
        drop(tx);
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
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

        let files = list_files(&ReplayConfig::new(vec![dir.path().to_owned()], None)).unwrap();
        assert_eq!(files, vec![plain.clone(), gz.clone()]);

        let batches = read_all(&files, BatchLimits { max_pages: 2, max_bytes: 1 << 20 });
        assert_eq!(batches.iter().map(|b| b.lines.len()).collect::<Vec<_>>(), vec![2, 2]);
        assert_eq!(batches.iter().map(|b| b.seq).collect::<Vec<_>>(), vec![0, 1]);
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
    fn missing_inputs_are_named() {
        let err = list_files(&ReplayConfig::new(vec!["/no/such/pages.ndjson".into()], None)).unwrap_err();
        assert!(err.to_string().contains("/no/such/pages.ndjson"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = list_files(&ReplayConfig::new(vec![empty.path().to_owned()], None)).unwrap_err();
        assert!(matches!(err, SourceError::NoFiles(_)), "{err}");
    }

    #[test]
    fn byte_limit_cuts_batches_too() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jsonl");
        std::fs::write(&file, "{\"x\":\"0123456789\"}\n".repeat(10)).unwrap();
        let batches = read_all(&[file], BatchLimits { max_pages: 1000, max_bytes: 30 });
        assert_eq!(batches.len(), 5);
        assert!(batches.iter().all(|b| b.lines.len() == 2));
    }
}
