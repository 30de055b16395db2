//! The cost of one refresh of the built-in feeds with 10k, 100k and 1M rows retained, the peak
//! memory with 1M rows retained, and the cost of one compaction of 1M plays, all distinct or each
//! fetched by 8 overlapping pulls.
//!
//! `cargo bench --bench feeds`. Rows are plays spread over two days of 2,000 tracks by 500
//! artists, with the dimension rows the feeds join to; the peak resident set size after the
//! largest case is printed (`VmHWM`, Linux).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow::datatypes::SchemaRef;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tunestream::sink::feeds::Retained;
use tunestream::transform::{Feeds, Transform, built_in_feeds, built_in_queries};

const HOUR: i64 = 3_600_000_000;
/// 2026-12-01T12:00:00Z.
const NOW: i64 = 1_764_590_400_000_000;
const TRACKS: usize = 2_000;
const ARTISTS: usize = 500;
/// Rows per retained batch, as a compacted table holds them.
const BATCH_ROWS: usize = 65_536;

/// A batch of `schema` with the named columns given and every other column null.
fn batch(schema: &SchemaRef, rows: usize, columns: &[(&str, ArrayRef)]) -> RecordBatch {
    let arrays = schema
        .fields()
        .iter()
        .map(|f| {
            columns.iter().find(|(name, _)| name == f.name()).map_or_else(
                || new_null_array(f.data_type(), rows),
                |(_, array)| arrow::compute::cast(array, f.data_type()).expect("column casts to its field"),
            )
        })
        .collect();
    RecordBatch::try_new(schema.clone(), arrays).expect("batch")
}

fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(values).with_timezone("UTC"))
}

fn strings(values: impl Iterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// `plays` rows of plays over the last two days, and the dimension tables.
fn tables(schemas: &[(String, SchemaRef)], plays: usize) -> Vec<(String, Vec<RecordBatch>)> {
    let schema = |name: &str| &schemas.iter().find(|(n, _)| n == name).expect("table").1;
    let mut out = Vec::new();
    let mut play_batches = Vec::new();
    for start in (0..plays).step_by(BATCH_ROWS) {
        let rows = BATCH_ROWS.min(plays - start);
        let at = |i: usize| NOW - 48 * HOUR + (i as i64 * 48 * HOUR / plays as i64);
        play_batches.push(batch(
            schema("plays"),
            rows,
            &[
                ("user_id", strings((start..start + rows).map(|i| format!("user{}", i % 50)))),
                ("played_at", timestamps((start..start + rows).map(at))),
                ("track_id", strings((start..start + rows).map(|i| format!("track{}", (i * 7919) % TRACKS)))),
                ("_ingested_at", timestamps((start..start + rows).map(|i| at(i) + 1_000_000))),
            ],
        ));
    }
    out.push(("plays".to_owned(), play_batches));
    let ingested = || timestamps(std::iter::repeat_n(NOW - HOUR, TRACKS));
    out.push((
        "tracks".to_owned(),
        vec![batch(
            schema("tracks"),
            TRACKS,
            &[
                ("track_id", strings((0..TRACKS).map(|i| format!("track{i}")))),
                ("track_name", strings((0..TRACKS).map(|i| format!("song {i}")))),
                ("_ingested_at", ingested()),
            ],
        )],
    ));
    out.push((
        "track_artists".to_owned(),
        vec![batch(
            schema("track_artists"),
            TRACKS,
            &[
                ("track_id", strings((0..TRACKS).map(|i| format!("track{i}")))),
                ("artist_id", strings((0..TRACKS).map(|i| format!("artist{}", i % ARTISTS)))),
                ("artist_position", Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(0, TRACKS)))),
                ("_ingested_at", ingested()),
            ],
        )],
    ));
    out.push((
        "artists".to_owned(),
        vec![batch(
            schema("artists"),
            ARTISTS,
            &[
                ("artist_id", strings((0..ARTISTS).map(|i| format!("artist{i}")))),
                ("artist_name", strings((0..ARTISTS).map(|i| format!("band {i}")))),
                ("_ingested_at", timestamps(std::iter::repeat_n(NOW - HOUR, ARTISTS))),
            ],
        )],
    ));
    for (name, _) in schemas {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.clone(), Vec::new()));
        }
    }
    out
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn refresh(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let transform = runtime.block_on(Transform::plan(built_in_queries())).expect("queries plan");
    let schemas: Vec<(String, SchemaRef)> =
        transform.tables().iter().map(|q| (q.query.table.clone(), q.schema.clone())).collect();
    let feeds = runtime.block_on(Feeds::plan(built_in_feeds(), &schemas)).expect("feeds plan");
    let mut group = c.benchmark_group("feeds/refresh");
    group.sample_size(10);
    for rows in [10_000, 100_000, 1_000_000] {
        let mut retained = Retained::new(schemas.clone());
        for (table, batches) in tables(&schemas, rows) {
            retained.append(&table, &batches);
        }
        let held = retained.tables();
        let name: Arc<str> = "bench".into();
        group.bench_with_input(BenchmarkId::from_parameter(rows), &held, |b, held| {
            b.iter(|| runtime.block_on(feeds.run(held, NOW, &name)).expect("refresh"));
        });
        if rows == 1_000_000
            && let Some(mib) = peak_rss_mib()
        {
            eprintln!("peak resident memory with {rows} plays retained and refreshed: {mib:.0} MiB");
        }
    }
    group.finish();
}

/// 1M plays in 17 batches (compaction is due), each play fetched `pulls` times a few minutes
/// apart: how long one eviction and compaction takes, and how many rows it keeps.
fn compact(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let transform = runtime.block_on(Transform::plan(built_in_queries())).expect("queries plan");
    let schemas: Vec<(String, SchemaRef)> =
        transform.tables().iter().map(|q| (q.query.table.clone(), q.schema.clone())).collect();
    let plays_schema = schemas.iter().find(|(n, _)| n == "plays").expect("plays").1.clone();
    let mut group = c.benchmark_group("feeds/compact");
    group.sample_size(10);
    const ROWS: usize = 1_000_000;
    for pulls in [1, 8] {
        let distinct = ROWS / pulls;
        let mut retained = Retained::new([("plays".to_owned(), plays_schema.clone())]);
        for start in (0..ROWS).step_by(ROWS / 17 + 1) {
            let rows = (ROWS / 17 + 1).min(ROWS - start);
            let play = |i: usize| i % distinct;
            let at = |i: usize| NOW - 40 * HOUR + (play(i) as i64 * 40 * HOUR / distinct as i64);
            let pull = |i: usize| (i / distinct) as i64 * 5 * 60_000_000;
            retained.append(
                "plays",
                &[batch(
                    &plays_schema,
                    rows,
                    &[
                        ("user_id", strings((start..start + rows).map(|i| format!("user{}", play(i) % 50)))),
                        ("played_at", timestamps((start..start + rows).map(at))),
                        ("track_id", strings((start..start + rows).map(|i| format!("track{}", play(i) % TRACKS)))),
                        ("_ingested_at", timestamps((start..start + rows).map(|i| at(i) + pull(i)))),
                    ],
                )],
            );
        }
        let mut once = retained.clone();
        once.evict_and_compact(NOW - 48 * HOUR, 2 * HOUR).expect("compact");
        eprintln!("{ROWS} plays, each fetched {pulls} times: {} rows kept after compaction", once.rows());
        group.bench_with_input(BenchmarkId::from_parameter(format!("{pulls}-pulls")), &retained, |b, retained| {
            b.iter(|| retained.clone().evict_and_compact(NOW - 48 * HOUR, 2 * HOUR).expect("compact"));
        });
    }
    group.finish();
}

criterion_group!(benches, refresh, compact);
criterion_main!(benches);
