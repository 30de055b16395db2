//! The output rows the feeds read, kept for the retention window: appended per micro-batch,
//! evicted by `_ingested_at`, compacted into few batches, and snapshotted as Parquet so a
//! restart resumes with its trends.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::kernels::cmp::gt_eq;
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::sightings::keep_sightings;
use crate::sink::SinkError;

/// The column rows are evicted by (the one the lake partitions by).
pub use crate::sink::INGESTED_AT;

/// A table's batches are concatenated into one once it holds more than this many: a refresh
/// then scans a few large batches, not one small batch per micro-batch.
const COMPACT_AFTER_BATCHES: usize = 16;

/// Rows dropped by one eviction and compaction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Ingested before the retention window.
    pub evicted: usize,
    /// Repeated sightings of a row kept once per slice.
    pub repeated: usize,
}

/// The retained rows of every table the feeds read. Clones share the batches.
#[derive(Debug, Default, Clone)]
pub struct Retained {
    tables: BTreeMap<String, Table>,
}

#[derive(Debug, Clone)]
struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Retained {
    /// Empty tables with these names and schemas.
    pub fn new(tables: impl IntoIterator<Item = (String, SchemaRef)>) -> Self {
        let tables = tables.into_iter().map(|(name, schema)| (name, Table { schema, batches: Vec::new() })).collect();
        Self { tables }
    }

    /// Keeps `batches` of `table`, if the feeds read it.
    pub fn append(&mut self, table: &str, batches: &[RecordBatch]) {
        if let Some(kept) = self.tables.get_mut(table) {
            kept.batches.extend(batches.iter().filter(|b| b.num_rows() > 0).cloned());
        }
    }

    /// Drops every row ingested before `cutoff_micros`, then compacts tables holding many
    /// batches, keeping one sighting of a repeated row per `slice_micros`
    /// (`sightings`).
    pub fn evict_and_compact(&mut self, cutoff_micros: i64, slice_micros: i64) -> Result<Dropped, SinkError> {
        let mut dropped = Dropped::default();
        for (name, table) in &mut self.tables {
            let failed = |e: ArrowError| SinkError::Bug(format!("feeds: cannot evict from {name}: {e}"));
            let mut kept = Vec::with_capacity(table.batches.len());
            for batch in table.batches.drain(..) {
                let before = batch.num_rows();
                let batch = evict(batch, cutoff_micros).map_err(failed)?;
                dropped.evicted += before - batch.num_rows();
                if batch.num_rows() > 0 {
                    kept.push(batch);
                }
            }
            if kept.len() > COMPACT_AFTER_BATCHES {
                let all = concat_batches(&table.schema, &kept).map_err(failed)?;
                let times = ingested_at(&all).map_err(failed)?;
                let once = keep_sightings(&all, &times, slice_micros).map_err(failed)?;
                dropped.repeated += all.num_rows() - once.num_rows();
                kept = vec![once];
            }
            table.batches = kept;
        }
        Ok(dropped)
    }

    /// Every table with its batches, for a refresh.
    pub fn tables(&self) -> Vec<(String, Vec<RecordBatch>)> {
        self.tables.iter().map(|(name, table)| (name.clone(), table.batches.clone())).collect()
    }

    /// Rows held, over all tables.
    pub fn rows(&self) -> usize {
        self.tables.values().flat_map(|t| &t.batches).map(RecordBatch::num_rows).sum()
    }

    /// Batches held, over all tables.
    pub fn batches(&self) -> usize {
        self.tables.values().map(|t| t.batches.len()).sum()
    }

    /// The latest `_ingested_at` held, if any row is.
    pub fn latest_ingested(&self) -> Option<i64> {
        let batches = self.tables.values().flat_map(|t| &t.batches);
        batches.filter_map(|batch| ingested_at(batch).ok().and_then(|times| arrow::compute::max(&times))).max()
    }

    /// Writes every table to `<dir>/<table>.parquet`, each replaced atomically.
    pub fn save(&self, dir: &Path) -> Result<(), SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io { path: dir.to_owned(), source })?;
        for (name, table) in &self.tables {
            let path = snapshot_path(dir, name);
            let bytes = parquet_bytes(&path, &table.schema, &table.batches)?;
            crate::fs::write_atomic(&path, &bytes, false).map_err(|(path, source)| SinkError::Io { path, source })?;
        }
        Ok(())
    }

    /// Reads the snapshots in `dir` into these tables. A table whose snapshot is missing or
    /// was written with other columns (its query changed) starts empty; returns the tables so
    /// left empty, with why.
    pub fn load(&mut self, dir: &Path) -> Vec<(String, String)> {
        let mut skipped = Vec::new();
        for (name, table) in &mut self.tables {
            let path = snapshot_path(dir, name);
            if !path.exists() {
                continue;
            }
            match read_parquet(&path, &table.schema) {
                Ok(batches) => table.batches = batches,
                Err(why) => skipped.push((name.clone(), format!("{}: {why}", path.display()))),
            }
        }
        skipped
    }
}

/// The file beside the snapshots that holds the event clock they were taken at.
const CLOCK_FILE: &str = "clock";

/// Writes the event clock `watermark_micros` to `<dir>/clock`, replaced atomically.
pub fn save_clock(dir: &Path, watermark_micros: i64) -> Result<(), SinkError> {
    let path = dir.join(CLOCK_FILE);
    crate::fs::write_atomic(&path, watermark_micros.to_string().as_bytes(), false)
        .map_err(|(path, source)| SinkError::Io { path, source })
}

/// The event clock saved in `dir`, if one was and it reads as one.
pub fn load_clock(dir: &Path) -> Option<i64> {
    let path = dir.join(CLOCK_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    let clock = text.trim().parse().ok();
    if clock.is_none() {
        tracing::warn!(path = %path.display(), "feeds: the saved clock is not a number; the latest row's time is used");
    }
    clock
}

fn snapshot_path(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.parquet"))
}

/// `batch` without the rows ingested before `cutoff_micros`; whole batches on either side of
/// the cutoff are kept or dropped without filtering.
fn evict(batch: RecordBatch, cutoff_micros: i64) -> Result<RecordBatch, ArrowError> {
    let times = ingested_at(&batch)?;
    let oldest = arrow::compute::min(&times);
    if times.null_count() == 0 && oldest.is_some_and(|t| t >= cutoff_micros) {
        return Ok(batch);
    }
    let keep = gt_eq(&times, &TimestampMicrosecondArray::new_scalar(cutoff_micros))?;
    filter_record_batch(&batch, &keep)
}

/// The `_ingested_at` column of `batch` in microseconds, whatever its unit and zone.
fn ingested_at(batch: &RecordBatch) -> Result<TimestampMicrosecondArray, ArrowError> {
    let column =
        batch.column_by_name(INGESTED_AT).ok_or_else(|| ArrowError::SchemaError(format!("no {INGESTED_AT}")))?;
    // This runs for every retained batch at every micro-batch: a column already in
    // microseconds is shared, not cast into a copy.
    if let Some(micros) = column.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        // Instants in microseconds whatever the zone; without it, it compares with the cutoff.
        return Ok(micros.clone().with_timezone_opt(None::<&str>));
    }
    let micros = arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    micros
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .cloned()
        .ok_or_else(|| ArrowError::SchemaError(format!("{INGESTED_AT} is not a timestamp")))
}

/// `batches` as a Parquet file; `path` names it in errors.
fn parquet_bytes(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, SinkError> {
    let encode = |source| SinkError::encode(path.to_owned(), source);
    let properties =
        WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(encode)?)).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties)).map_err(encode)?;
    for batch in batches {
        writer.write(batch).map_err(encode)?;
    }
    writer.into_inner().map_err(encode)
}

fn read_parquet(path: &Path, schema: &SchemaRef) -> Result<Vec<RecordBatch>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let fields =
        |s: &SchemaRef| s.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>();
    if fields(reader.schema()) != fields(schema) {
        return Err("written with other columns than the feeds now read".to_owned());
    }
    let reader = reader.build().map_err(|e| e.to_string())?;
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        // The snapshot's schema may carry other metadata; the columns are the same.
        batches.push(RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(|e| e.to_string())?);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};

    fn schema() -> SchemaRef {
        let at = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false), Field::new(INGESTED_AT, at, true)]))
    }

    fn batch(rows: &[(i64, i64)]) -> RecordBatch {
        let n = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
        let at = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC");
        RecordBatch::try_new(schema(), vec![Arc::new(n), Arc::new(at)]).unwrap()
    }

    fn values(retained: &Retained) -> Vec<i64> {
        let mut values: Vec<i64> = retained.tables()[0]
            .1
            .iter()
            .flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
            .collect();
        values.sort_unstable();
        values
    }

    #[test]
    fn rows_before_the_cutoff_go_and_rows_at_it_stay() {
        let mut retained = Retained::new([("t".to_owned(), schema())]);
        retained.append("t", &[batch(&[(1, 100), (2, 200), (3, 300)]), batch(&[(4, 50)]), batch(&[(5, 400)])]);
        retained.append("not_read", &[batch(&[(9, 1)])]);
        assert_eq!(retained.evict_and_compact(200, 1).unwrap().evicted, 2);
        assert_eq!(values(&retained), [2, 3, 5]);
        assert_eq!(retained.batches(), 2, "a batch wholly before the cutoff is dropped");
        assert_eq!(retained.evict_and_compact(401, 1).unwrap().evicted, 3);
        assert_eq!(retained.rows(), 0);
    }

    #[test]
    fn many_small_batches_are_compacted_into_one() {
        let mut retained = Retained::new([("t".to_owned(), schema())]);
        for i in 0..=COMPACT_AFTER_BATCHES as i64 {
            retained.append("t", &[batch(&[(i, 1_000 + i)])]);
        }
        retained.evict_and_compact(0, 1).unwrap();
        assert_eq!(retained.batches(), 1);
        assert_eq!(retained.rows(), COMPACT_AFTER_BATCHES + 1);
    }

    #[test]
    fn repeated_sightings_are_dropped_at_compaction() {
        let mut retained = Retained::new([("t".to_owned(), schema())]);
        for i in 0..=COMPACT_AFTER_BATCHES as i64 {
            retained.append("t", &[batch(&[(-1, 1_000 + i), (i, 1_000 + i)])]);
        }
        let dropped = retained.evict_and_compact(0, 1_000_000).unwrap();
        // Row -1 keeps its first and latest sighting; every other value was seen once.
        assert_eq!(dropped.repeated, COMPACT_AFTER_BATCHES - 1);
        assert_eq!(retained.rows(), COMPACT_AFTER_BATCHES + 3);
    }

    #[test]
    fn a_snapshot_restores_the_rows_and_one_of_other_columns_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut retained = Retained::new([("t".to_owned(), schema())]);
        retained.append("t", &[batch(&[(1, 100), (2, 200)])]);
        retained.save(dir.path()).unwrap();
        let mut restored = Retained::new([("t".to_owned(), schema())]);
        assert!(restored.load(dir.path()).is_empty());
        assert_eq!(values(&restored), [1, 2]);

        let other = Arc::new(Schema::new(vec![Field::new("m", DataType::Utf8, true)]));
        let mut changed = Retained::new([("t".to_owned(), other)]);
        let skipped = changed.load(dir.path());
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].1.contains("t.parquet"), "{skipped:?}");
        assert_eq!(changed.rows(), 0);
    }
}
