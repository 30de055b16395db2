//! Golden tests: every table query in `queries/` runs over `samples/spotify_pages.ndjson`, and
//! its output must equal `tests/golden/<table>.txt` (rows sorted, one per line); every feed in
//! `feeds/` runs over the output of a fixed simulator world (`tests/feeds/world.ndjson.gz`, 24
//! pages a `run` fetched) and must equal `tests/feeds/golden/<feed>.txt`.
//!
//! After an intended change to a query or feed, re-bless the expected outputs with
//! `TUNESTREAM_BLESS=1 cargo test --test golden` and review the diff.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use tunestream::decode::{ReadSchemas, decode_batch};
use tunestream::page::DEFAULT_MAX_LINE_BYTES;
use tunestream::sink::feeds::Retained;
use tunestream::source::replay::{ReplayConfig, list_files, read_files};
use tunestream::source::{BatchLimits, PageBatch};
use tunestream::transform::{Feeds, Transform, load_queries};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_sample() -> PageBatch {
    let mut batches = read_pages(root().join("samples/spotify_pages.ndjson"));
    assert_eq!(batches.len(), 1, "the sample fits one micro-batch");
    batches.remove(0)
}

/// The micro-batches a replay of `path` reads.
fn read_pages(path: PathBuf) -> Vec<PageBatch> {
    let config = ReplayConfig::new(vec![path], None);
    let files = list_files(&config, &Default::default()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let limits = BatchLimits { max_pages: usize::MAX, max_bytes: usize::MAX, max_line_bytes: DEFAULT_MAX_LINE_BYTES };
    read_files(&files, None, &Default::default(), limits, &tx, &Default::default(), None).unwrap();
    drop(tx);
    // The last batch only marks the end of the input when the input ended at a cut.
    std::iter::from_fn(|| rx.try_recv().ok()).filter(|b: &PageBatch| !b.lines.is_empty()).collect()
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

#[tokio::test]
async fn every_feed_matches_its_golden_output_on_a_fixed_simulator_world() {
    let transform = Transform::plan(load_queries(&root().join("queries")).unwrap()).await.unwrap();
    let world = tokio::task::spawn_blocking(|| read_pages(root().join("tests/feeds/world.ndjson.gz"))).await.unwrap();
    let schemas: Vec<_> = transform.tables().iter().map(|q| (q.query.table.clone(), q.schema.clone())).collect();
    let mut retained = Retained::new(schemas.clone());
    for batch in world {
        let decoded = decode_batch(batch, transform.read_schemas()).unwrap();
        assert!(decoded.rejects.is_empty());
        for output in transform.run(&decoded).await.unwrap() {
            retained.append(&output.table, &output.batches);
        }
    }
    let tables = retained.tables();
    let watermark = retained.latest_ingested().unwrap();
    let feeds = Feeds::plan(load_queries(&root().join("feeds")).unwrap(), &schemas).await.unwrap();
    let results = feeds.run(&tables, watermark, &"golden".into()).await.unwrap();

    let golden_dir = root().join("tests/feeds/golden");
    let mut failures = Vec::new();
    for result in &results {
        let rendered = render(&result.batches);
        assert!(
            !rendered.is_empty(),
            "{}: the world must give every feed rows, so its golden file tests it",
            result.table
        );
        if let Err(e) = check_golden(&golden_dir.join(format!("{}.txt", result.table)), &rendered) {
            failures.push(e);
        }
    }
    assert_eq!(results.len(), feeds.feeds().len());
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
