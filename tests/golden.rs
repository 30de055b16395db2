//! Golden tests: every table query in `queries/` runs over `samples/spotify_pages.ndjson`, and
//! its output must equal `tests/golden/<table>.txt` (rows sorted, one per line).
//!
//! After an intended change to a query, re-bless the expected outputs with
//! `TUNESTREAM_BLESS=1 cargo test --test golden` and review the diff.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use tunestream::decode::{ReadSchemas, decode_batch};
use tunestream::source::replay::{ReplayConfig, list_files, read_files};
use tunestream::source::{BatchLimits, PageBatch};
use tunestream::transform::{Transform, load_queries};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_sample() -> PageBatch {
    let config = ReplayConfig::new(vec![root().join("samples/spotify_pages.ndjson")], None);
    let files = list_files(&config).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let limits = BatchLimits { max_pages: usize::MAX, max_bytes: usize::MAX };
    read_files(&files, None, &Default::default(), limits, &tx, &Default::default()).unwrap();
    drop(tx);
    let batch = rx.try_recv().unwrap();
    assert!(rx.try_recv().is_err(), "the sample fits one micro-batch");
    batch
}

/// Rows as sorted text lines under a header line: stable whatever order the engine emits.
fn render(batches: &[RecordBatch]) -> String {
    let options = FormatOptions::default().with_null("NULL");
    let Some(first) = batches.first() else { return String::new() };
    let header: Vec<String> = first.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join(" | "));
        }
    }
    rows.sort();
    format!("{}\n{}\n", header.join(" | "), rows.join("\n"))
}

fn check_golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("TUNESTREAM_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e}; bless with TUNESTREAM_BLESS=1 cargo test --test golden", path.display()))?;
    if expected == actual {
        return Ok(());
    }
    Err(format!("{} differs.\n--- expected\n{expected}\n--- actual\n{actual}", path.display()))
}

#[tokio::test]
async fn every_query_matches_its_golden_output() {
    let queries = load_queries(&root().join("queries")).unwrap();
    let transform = Transform::plan(queries).await.unwrap();
    let sample = tokio::task::spawn_blocking(read_sample).await.unwrap();
    let decoded = decode_batch(sample, transform.read_schemas()).unwrap();
    assert!(decoded.rejects.is_empty());
    let outputs = transform.run(&decoded).await.unwrap();

    let golden_dir = root().join("tests/golden");
    let mut failures = Vec::new();
    for planned in transform.tables() {
        let table = &planned.query.table;
        let output = outputs.iter().find(|o| &*o.table == table);
        let rendered = output.map(|o| render(&o.batches)).unwrap_or_default();
        assert!(!rendered.is_empty(), "{table}: the sample must give every table rows, so its golden file tests it");
        if let Err(e) = check_golden(&golden_dir.join(format!("{table}.txt")), &rendered) {
            failures.push(e);
        }
    }
    let mut stale: Vec<String> = std::fs::read_dir(&golden_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !transform.tables().iter().any(|q| p.file_stem().is_some_and(|s| s == q.query.table.as_str())))
        .map(|p| p.display().to_string())
        .collect();
    stale.sort();
    assert!(stale.is_empty(), "golden files without a query: {stale:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Decoding only the fields the queries read must change no output row.
#[tokio::test]
async fn decoding_only_the_fields_read_gives_the_same_output_as_decoding_all() {
    let queries = load_queries(&root().join("queries")).unwrap();
    let pruned = Transform::plan(queries.clone()).await.unwrap();
    let full = Transform::plan_with(queries, ReadSchemas::full()).await.unwrap();
    assert_ne!(pruned.read_schemas().nested(), full.read_schemas().nested(), "the default queries skip fields");
    let mut rendered = Vec::new();
    for transform in [&pruned, &full] {
        let sample = tokio::task::spawn_blocking(read_sample).await.unwrap();
        let decoded = decode_batch(sample, transform.read_schemas()).unwrap();
        assert!(decoded.rejects.is_empty());
        let outputs = transform.run(&decoded).await.unwrap();
        let tables: Vec<(String, String)> = outputs.iter().map(|o| (o.table.to_string(), render(&o.batches))).collect();
        assert_eq!(tables.len(), transform.tables().len());
        rendered.push(tables);
    }
    assert_eq!(rendered[0], rendered[1]);
}
