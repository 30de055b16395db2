//! Per-stage benchmarks on generated playlist pages: decode (JSON → Arrow), SQL (the default
//! queries over one decoded micro-batch), encode (query output → zstd Parquet, staged and
//! committed in a local store), and records (query output → JSON records cut into Firehose and
//! Kinesis calls, without sending them).
//!
//! `cargo bench --bench stages`; throughput is reported in input bytes per second, and in
//! records per second for the record sinks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tunestream::decode::{DecodedBatch, decode_batch};
use tunestream::sink::SinkBatch;
use tunestream::sink::lake::{LakeSettings, LakeSink, TableSpec};
use tunestream::sink::records::{FIREHOSE_LIMITS, KINESIS_LIMITS, calls, default_partition_key, encode_records};
use tunestream::source::synthetic::{EntryShape, playlist_pages};
use tunestream::source::{PageBatch, SourceFile};
use tunestream::store::{LocalStore, Store};
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
    let batch = SinkBatch { id: decoded.id.clone(), outputs, ..SinkBatch::default() };
    group.bench_function("encode", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let specs = transform
                .tables()
                .iter()
                .map(|q| TableSpec { table: q.query.table.clone(), fingerprint: 0, schema: q.schema.clone() })
                .collect();
            let store = Arc::new(Store::Local(LocalStore::open(dir.path().to_owned()).expect("store")));
            let settings = LakeSettings::at(dir.path().to_owned());
            let mut lake = LakeSink::new(settings, store.clone(), None, specs).expect("lake");
            lake.write(&batch).expect("write");
            for pending in lake.prepare(true).expect("seal") {
                store.commit(&pending).expect("commit");
            }
        })
    });
    group.finish();

    let mut lines = Vec::new();
    let records = encode_records(&batch, None, None, &mut lines).expect("records").len();
    let mut group = c.benchmark_group("records");
    group.throughput(Throughput::Elements(records as u64));
    group.sample_size(10);
    let keys: BTreeMap<String, String> = transform
        .tables()
        .iter()
        .filter_map(|q| Some((q.query.table.clone(), default_partition_key(&q.query.table)?.to_owned())))
        .collect();
    for (name, keys, limits) in [("firehose", None, FIREHOSE_LIMITS), ("kinesis", Some(&keys), KINESIS_LIMITS)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let records = encode_records(&batch, None, keys, &mut lines).expect("records");
                let sizes: Vec<usize> = records.iter().map(|r| r.data.len() + r.key.len()).collect();
                calls(&sizes, limits)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
