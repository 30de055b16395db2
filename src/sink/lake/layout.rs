//! Where lake files go: Hive-style hour partitions and deterministic, never-reused file names.

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::TimestampMicrosecondType;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};

/// The column every output row is partitioned by.
pub use crate::sink::INGESTED_AT;

pub const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// An hour partition, as hours since the epoch; `None` for rows without an ingest time.
pub type HourPartition = Option<i64>;

/// `dt=YYYY-MM-DD/hour=HH` for a partition.
pub fn partition_dir(partition: HourPartition) -> String {
    match partition.and_then(|h| DateTime::<Utc>::from_timestamp(h * 3600, 0)) {
        Some(t) => format!("dt={}/hour={}", t.format("%Y-%m-%d"), t.format("%H")),
        None => "dt=__HIVE_DEFAULT_PARTITION__/hour=__HIVE_DEFAULT_PARTITION__".to_owned(),
    }
}

/// Splits `batch` by the hour of its `_ingested_at` column (a microsecond timestamp).
pub fn split_by_hour(batch: &RecordBatch, column: usize) -> Result<Vec<(HourPartition, RecordBatch)>, ArrowError> {
    let times = batch.column(column).as_primitive::<TimestampMicrosecondType>();
    let hour_of = |row: usize| times.is_valid(row).then(|| times.value(row).div_euclid(MICROS_PER_HOUR));
    let mut hours: Vec<HourPartition> = (0..batch.num_rows()).map(hour_of).collect();
    hours.sort_unstable();
    hours.dedup();
    if hours.len() <= 1 {
        return Ok(hours.into_iter().map(|h| (h, batch.clone())).collect());
    }
    hours
        .into_iter()
        .map(|hour| {
            let mask = BooleanArray::from_iter((0..batch.num_rows()).map(|row| Some(hour_of(row) == hour)));
            Ok((hour, filter_record_batch(batch, &mask)?))
        })
        .collect()
}

/// The final name of a file: its first row's time for humans, then a digest of what the file
/// opens with (query text, table, partition and first micro-batch). Files open only between
/// micro-batches, so the same input names the same files, and a name is known before the
/// first byte is uploaded.
pub fn file_name(opened_at_micros: i64, digest: u64) -> String {
    let opened = DateTime::<Utc>::from_timestamp_micros(opened_at_micros).unwrap_or_default();
    format!("part-{}-{digest:016x}.parquet", opened.format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;

    #[test]
    fn partitions_are_hive_style_hours() {
        // 2026-03-04T05:06:07Z
        let hour = 1_772_600_767 / 3600;
        assert_eq!(partition_dir(Some(hour)), "dt=2026-03-04/hour=05");
        assert!(partition_dir(None).contains("__HIVE_DEFAULT_PARTITION__"));
        assert_eq!(file_name(1_772_600_767_000_000, 0xab), "part-20260304T050607Z-00000000000000ab.parquet");
    }

    #[test]
    fn batches_split_at_hour_boundaries_keeping_row_order() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        ]));
        let h = MICROS_PER_HOUR;
        let times =
            TimestampMicrosecondArray::from(vec![Some(h + 5), Some(2 * h), None, Some(h + 1)]).with_timezone("UTC");
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![0, 1, 2, 3])), Arc::new(times)]).unwrap();
        let parts = split_by_hour(&batch, 1).unwrap();
        let summary: Vec<(HourPartition, Vec<i64>)> = parts
            .iter()
            .map(|(hour, b)| (*hour, b.column(0).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec()))
            .collect();
        assert_eq!(summary, vec![(None, vec![2]), (Some(1), vec![0, 3]), (Some(2), vec![1])]);
    }
}
