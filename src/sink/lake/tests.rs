//! Rolling, naming and schema checks of the lake sink.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::*;
use crate::store::{Committed, LocalStore};
use crate::telemetry::CommitStats;
use crate::transform::TableOutput;

const T0: i64 = 1_790_000_000_000_000;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
        Field::new(INGESTED_AT, DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), true),
    ]))
}

fn batch(rows: std::ops::Range<i64>, at_micros: i64) -> RecordBatch {
    let n = rows.end - rows.start;
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.clone())),
            Arc::new(StringArray::from_iter_values(rows.map(|i| format!("row {i} with some text to encode")))),
            Arc::new(TimestampNanosecondArray::from(vec![at_micros * 1000; n as usize]).with_timezone("UTC")),
        ],
    )
    .unwrap()
}

/// A lake sink whose staged objects are committed at once, as a replay's barriers do.
struct TestLake {
    sink: LakeSink,
    store: Arc<Store>,
    stats: CommitStats,
}

impl TestLake {
    fn write(&mut self, table: &str, batch_id: &str, part: &RecordBatch) -> Result<(), SinkError> {
        let output = TableOutput { table: table.into(), batches: vec![part.clone()] };
        let batch = SinkBatch { id: batch_id.into(), outputs: vec![output], ..SinkBatch::default() };
        self.sink.write(&batch)?;
        self.commit(false)
    }

    /// Advances the lake's clock to `now_micros` and commits the files that aged.
    fn roll_aged(&mut self, now_micros: i64) -> Result<(), SinkError> {
        self.sink.write(&SinkBatch { clock_micros: Some(now_micros), ..SinkBatch::default() })?;
        self.commit(false)
    }

    fn finish(&mut self) -> Result<CommitStats, SinkError> {
        self.commit(true)?;
        Ok(self.stats.clone())
    }

    fn commit(&mut self, seal: bool) -> Result<(), SinkError> {
        for pending in self.sink.prepare(seal)? {
            match self.store.commit(&pending)? {
                Committed::Created => self.stats.files_committed += 1,
                Committed::AlreadyPresent => self.stats.files_already_present += 1,
            }
        }
        Ok(())
    }

    fn stats(&self) -> &CommitStats {
        &self.stats
    }
}

fn writer(dir: &Path, tune: impl FnOnce(&mut LakeSettings)) -> TestLake {
    let mut settings = LakeSettings::at(dir.to_owned());
    tune(&mut settings);
    let store = Arc::new(Store::Local(LocalStore::open(dir.to_owned()).unwrap()));
    let specs = vec![TableSpec { table: "t".into(), fingerprint: 1, schema: schema() }];
    let sink = LakeSink::new(settings, store.clone(), None, specs).unwrap();
    TestLake { sink, store, stats: CommitStats::default() }
}

fn committed(dir: &Path) -> Vec<std::path::PathBuf> {
    let hour = dir.join("t").join(layout::partition_dir(Some(T0 / 3_600_000_000)));
    let mut files: Vec<_> = std::fs::read_dir(hour).map_or(Vec::new(), |d| d.map(|e| e.unwrap().path()).collect());
    files.sort();
    files
}

fn is_temp_name(name: &str) -> bool {
    name.starts_with(".inflight-")
}

#[test]
fn files_roll_by_age_of_their_first_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = writer(dir.path(), |c| c.max_file_age = Duration::from_secs(60));
    lake.write("t", "b1", &batch(0..10, T0)).unwrap();
    lake.roll_aged(T0 + 59_999_999).unwrap();
    assert_eq!(lake.stats().files_committed, 0);
    assert!(committed(dir.path()).iter().all(|p| is_temp_name(&p.file_name().unwrap().to_string_lossy())));
    lake.roll_aged(T0 + 60_000_000).unwrap();
    assert_eq!(lake.stats().files_committed, 1);
    assert_eq!(committed(dir.path()).len(), 1, "the temporary file is gone once committed");
}

#[test]
fn files_roll_by_bytes_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = writer(dir.path(), |c| {
        c.max_file_bytes = 1024;
        c.row_group_rows = 50;
    });
    for i in 0..20 {
        lake.write("t", &format!("b{i}"), &batch(i * 100..(i + 1) * 100, T0)).unwrap();
    }
    let stats = lake.finish().unwrap();
    assert!(stats.files_committed > 1, "{stats:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut lake = writer(dir.path(), |c| c.max_file_rows = 30);
    for (i, rows) in [(0, 0..20), (1, 20..40), (2, 40..100), (3, 100..110)] {
        lake.write("t", &format!("b{i}"), &batch(rows, T0)).unwrap();
    }
    assert_eq!(lake.finish().unwrap().files_committed, 3, "20 + 20, then 60, then 10 rows");
}

#[test]
fn a_micro_batchs_rows_are_never_split_so_another_row_order_names_the_same_files_with_the_same_rows() {
    let rows_by_file = |order: &[i64]| {
        let dir = tempfile::tempdir().unwrap();
        let mut lake = writer(dir.path(), |c| c.max_file_rows = 30);
        let n = Int64Array::from(order.to_vec());
        let texts = StringArray::from_iter_values(order.iter().map(|i| format!("row {i}")));
        let times = TimestampNanosecondArray::from(vec![T0 * 1000; order.len()]).with_timezone("UTC");
        let part = RecordBatch::try_new(schema(), vec![Arc::new(n), Arc::new(texts), Arc::new(times)]).unwrap();
        lake.write("t", "b0", &batch(0..25, T0)).unwrap();
        lake.write("t", "b1", &part).unwrap();
        lake.finish().unwrap();
        committed(dir.path())
            .iter()
            .map(|path| {
                let file = std::fs::File::open(path).unwrap();
                let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
                let mut rows: Vec<i64> = reader
                    .build()
                    .unwrap()
                    .flat_map(|b| b.unwrap().column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
                    .collect();
                rows.sort();
                (path.file_name().unwrap().to_owned(), rows)
            })
            .collect::<Vec<_>>()
    };
    let forward: Vec<i64> = (100..120).collect();
    let backward: Vec<i64> = forward.iter().rev().copied().collect();
    assert_eq!(rows_by_file(&forward), rows_by_file(&backward));
}

#[test]
fn the_same_input_names_the_same_files_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let run = |batch_id: &str| {
        let mut lake = writer(dir.path(), |_| {});
        lake.write("t", batch_id, &batch(0..10, T0)).unwrap();
        lake.finish().unwrap()
    };
    assert_eq!(run("b1").files_committed, 1);
    let again = run("b1");
    assert_eq!((again.files_committed, again.files_already_present), (0, 1));
    assert_eq!(run("b2").files_committed, 1, "other input, other name");
    assert_eq!(committed(dir.path()).len(), 2);
}

#[test]
fn timestamps_are_written_as_microseconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = writer(dir.path(), |_| {});
    lake.write("t", "b", &batch(0..3, T0 + 7)).unwrap();
    lake.finish().unwrap();
    let file = std::fs::File::open(&committed(dir.path())[0]).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let field = reader.schema().field_with_name(INGESTED_AT).unwrap().clone();
    assert_eq!(field.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    let read = reader.build().unwrap().next().unwrap().unwrap();
    let times = read.column(2).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
    assert_eq!(times.value(0), T0 + 7);
}

#[test]
fn tables_without_an_ingest_time_are_all_reported() {
    let no_time = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let wrong_type = Arc::new(Schema::new(vec![Field::new(INGESTED_AT, DataType::Utf8, true)]));
    let specs = vec![
        TableSpec { table: "a".into(), fingerprint: 0, schema: no_time },
        TableSpec { table: "b".into(), fingerprint: 0, schema: wrong_type },
    ];
    let err = check_tables(&specs).unwrap_err().to_string();
    assert!(err.contains("table a") && err.contains("table b"), "{err}");
}

#[test]
fn a_failed_run_leaves_no_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut lake = writer(dir.path(), |_| {});
    lake.write("t", "b", &batch(0..10, T0)).unwrap();
    drop(lake);
    assert!(committed(dir.path()).is_empty());
}

#[test]
fn row_groups_close_at_their_byte_budget_so_memory_stays_bounded() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let mut lake = writer(dir.path(), |c| c.row_group_bytes = 1024);
    for i in 0..20 {
        lake.write("t", &format!("b{i}"), &batch(i * 500..(i + 1) * 500, T0)).unwrap();
    }
    lake.finish().unwrap();
    let files = committed(dir.path());
    assert_eq!(files.len(), 1);
    let reader = SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
    let groups = reader.metadata().num_row_groups();
    assert!(groups > 1, "one file, several row groups: {groups}");
    assert_eq!(reader.metadata().file_metadata().num_rows(), 10_000);
}

#[test]
fn columns_are_dictionary_encoded_only_when_configured() {
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    for dictionary in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut lake = writer(dir.path(), |c| c.dictionary = dictionary);
        lake.write("t", "b0", &batch(0..1000, T0)).unwrap();
        lake.finish().unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&committed(dir.path())[0]).unwrap()).unwrap();
        let strings = reader.metadata().row_group(0).column(1);
        let encoded = strings.encodings().any(|e| e == Encoding::RLE_DICTIONARY);
        assert_eq!(encoded, dictionary, "encodings {:?}", strings.encodings().collect::<Vec<_>>());
        assert_eq!(reader.metadata().file_metadata().num_rows(), 1000);
    }
}
