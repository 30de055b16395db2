//! Per-stage benchmarks on generated playlist pages: decode (JSON → Arrow), SQL (the default
//! queries over one decoded micro-batch), encode (query output → zstd Parquet).
//!
//! `cargo bench --bench stages`; throughput is reported in input bytes per second.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tunestream::decode::{DecodedBatch, decode_batch};
use tunestream::sink::parquet::{LakeWriter, ParquetSinkConfig, TableSpec};
use tunestream::source::synthetic::{EntryShape, playlist_pages};
use tunestream::source::{PageBatch, SourceFile};
use tunestream::transform::{TableOutput, Transform, load_queries};

const PAGES: usize = 100;

fn page_batch(text: &str) -> PageBatch {
    let file = Arc::new(SourceFile { path: PathBuf::from("bench.ndjson"), modified_micros: 0, kind: None });
    PageBatch::from_text(file, text)
}

fn transform(runtime: &tokio::runtime::Runtime) -> Transform {
    let queries = load_queries(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("queries")).expect("queries load");
    runtime.block_on(Transform::plan(queries)).expect("queries plan")
}

fn stages(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let text = playlist_pages(PAGES, 7, EntryShape::LegacyTrack);
    let transform = transform(&runtime);
    let schemas = transform.read_schemas().clone();
    let decoded: DecodedBatch = decode_batch(page_batch(&text), &schemas).expect("decode");
    let outputs: Vec<TableOutput> = runtime.block_on(transform.run(&decoded)).expect("transform");

    let mut group = c.benchmark_group("stages");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("decode", |b| b.iter(|| decode_batch(page_batch(&text), &schemas).expect("decode")));
    group.bench_function("sql", |b| b.iter(|| runtime.block_on(transform.run(&decoded)).expect("transform")));
    group.bench_function("encode", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let specs = transform
                .tables()
                .iter()
                .map(|q| TableSpec { table: q.query.table.clone(), fingerprint: 0, schema: q.schema.clone() })
                .collect();
            let mut lake = LakeWriter::new(ParquetSinkConfig::at(dir.path().to_owned()), specs).expect("lake");
            for output in &outputs {
                for batch in &output.batches {
                    lake.write(&output.table, &decoded.id, batch).expect("write");
                }
            }
            lake.finish().expect("finish")
        })
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
