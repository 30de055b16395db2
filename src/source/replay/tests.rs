//! Tests of replay reading: batch cuts, gzip verification, long lines, byte-order marks.

use std::io::Write;

use super::*;
use crate::page::DEFAULT_MAX_LINE_BYTES;

fn local(files: &[PathBuf]) -> Vec<Input> {
    files.iter().cloned().map(Input::File).collect()
}

/// Every batch `Batcher::read_file` cuts from `file` with reads of `chunk` bytes, the one still
/// open at the file's end last.
fn cut_file(file: &Path, chunk: usize, limits: BatchLimits) -> Vec<PageBatch> {
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
    let source = Arc::new(SourceFile { path: file.to_owned(), modified_micros: 0, kind: None });
    let (reader, _) = open_maybe_gzip(File::open(file).unwrap()).unwrap();
    assert_eq!(batcher.read_file(reader, &source).unwrap(), Flow::Continue);
    let mut batches: Vec<PageBatch> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    batches.push(batcher.batch);
    batches
}

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
    let expected = vec![(2, verified.clone()), (2, None), (2, None), (1, verified), (0, Some(CommitPoint::EndOfInput))];
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
    let lines: Vec<String> =
        batches.iter().flat_map(|b| b.lines.iter().map(|l| String::from_utf8_lossy(b.line(l)).into_owned())).collect();
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

    let files = list_files(&ReplayConfig::new(vec![dir.path().to_owned()], None), &CancellationToken::new()).unwrap();
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
    let cut = |chunk: usize, limits: BatchLimits| {
        cut_file(&file, chunk, limits)
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
        let batches = cut_file(&file, chunk, limits);
        assert_eq!(batches.len(), 1, "one batch");
        let batch = &batches[0];
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
