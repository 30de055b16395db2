//! Copies of one row kept by the feeds: pulls overlap on purpose, so the same play, track or
//! album arrives again with every pull. Rows equal in every column whose name does not start
//! with `_` are sightings of one row; the feeds keep its first sighting in each slice of the
//! retention window and its latest, and drop the rest at compaction.
//!
//! What the feed SQL can read stays the same: the latest sighting (so eviction and
//! `max(_ingested_at)` are exact), the first sighting while it is retained, and after it is
//! evicted a sighting at most one slice younger than the retention edge (so `min(_ingested_at)`
//! of a row seen all along never looks new). A filter on `_ingested_at` inside the window finds a
//! row's first sighting after it to within one slice. Memory grows with the distinct rows, not
//! the pulls.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use arrow::array::{
    Array, ArrayRef, DynComparator, RecordBatch, TimestampMicrosecondArray, UInt32Array, make_comparator,
};
use arrow::compute::{SortOptions, take_record_batch};
use arrow::error::ArrowError;
use datafusion::common::hash_utils::{RandomState, create_hashes};

/// The retention window is cut into this many slices; a row keeps one sighting per slice.
pub const SLICES_PER_RETENTION: i64 = 24;

/// `batch` with one sighting per row and slice of `slice_micros` of `times` (its
/// `_ingested_at`), plus each row's latest, in their order in `batch`.
pub fn keep_sightings(
    batch: &RecordBatch,
    times: &TimestampMicrosecondArray,
    slice_micros: i64,
) -> Result<RecordBatch, ArrowError> {
    let key_columns: Vec<ArrayRef> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(field, _)| !field.name().starts_with('_'))
        .map(|(_, column)| column.clone())
        .collect();
    if key_columns.is_empty() || batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    // A column type the hashing or comparison kernels do not take (a user's query may make one)
    // keeps every sighting: more memory, never a failed pipeline.
    let distinct = match Distinct::new(&key_columns) {
        Ok(distinct) => distinct,
        Err(e) => {
            tracing::debug!("feeds: repeated rows are kept, as they cannot be compared: {e}");
            return Ok(batch.clone());
        }
    };
    let rows = distinct.ids(batch.num_rows())?;
    let slice = slice_micros.max(1);
    let time = |i: usize| if times.is_null(i) { i64::MIN } else { times.value(i) };
    // (row, slice) → its first sighting there; row → its latest sighting.
    let mut first_in_slice: HashMap<(u32, i64), usize, RandomState> = HashMap::with_hasher(RandomState::with_seed(0));
    let mut latest: Vec<usize> = Vec::new();
    for (i, &row) in rows.iter().enumerate() {
        match first_in_slice.entry((row, time(i).div_euclid(slice))) {
            Entry::Vacant(vacant) => {
                vacant.insert(i);
            }
            Entry::Occupied(mut kept) if time(i) < time(*kept.get()) => {
                kept.insert(i);
            }
            Entry::Occupied(_) => {}
        }
        let row = row as usize;
        if row == latest.len() {
            latest.push(i);
        } else if time(i) >= time(latest[row]) {
            latest[row] = i;
        }
    }
    let mut kept: Vec<u32> = first_in_slice.into_values().chain(latest).map(|i| i as u32).collect();
    kept.sort_unstable();
    kept.dedup();
    if kept.len() == batch.num_rows() {
        return Ok(batch.clone());
    }
    take_record_batch(batch, &UInt32Array::from(kept))
}

/// Numbers the distinct rows of some columns by hashing, with every hash match confirmed by
/// comparing the values.
struct Distinct {
    hashes: Vec<u64>,
    compare: Vec<DynComparator>,
}

impl Distinct {
    fn new(columns: &[ArrayRef]) -> Result<Self, ArrowError> {
        let rows = columns.first().map_or(0, |c| c.len());
        let mut hashes = vec![0; rows];
        create_hashes(columns, &RandomState::with_seed(0), &mut hashes)
            .map_err(|e| ArrowError::ComputeError(e.to_string()))?;
        let compare = columns
            .iter()
            .map(|c| make_comparator(c.as_ref(), c.as_ref(), SortOptions::default()))
            .collect::<Result<_, _>>()?;
        Ok(Self { hashes, compare })
    }

    fn equal(&self, a: usize, b: usize) -> bool {
        self.compare.iter().all(|compare| compare(a, b) == Ordering::Equal)
    }

    /// The id of every row: ids count up from 0 in order of first appearance.
    fn ids(&self, rows: usize) -> Result<Vec<u32>, ArrowError> {
        const NONE: u32 = u32::MAX;
        let too_many = || ArrowError::ComputeError("more than 2^32 rows to compact".into());
        // The first row of each hash, and from each first row of an id the next of another id
        // with the same hash: no allocation per row.
        let mut first_by_hash: HashMap<u64, u32, RandomState> = HashMap::with_hasher(RandomState::with_seed(0));
        let mut next_same_hash = vec![NONE; rows];
        let mut ids = Vec::with_capacity(rows);
        let mut next_id = 0u32;
        for i in 0..rows {
            let row = u32::try_from(i).map_err(|_| too_many())?;
            let mut new_id = || {
                let id = next_id;
                next_id += 1;
                id
            };
            let id = match first_by_hash.entry(self.hashes[i]) {
                Entry::Vacant(vacant) => {
                    vacant.insert(row);
                    new_id()
                }
                Entry::Occupied(first) => {
                    let mut candidate = *first.get() as usize;
                    loop {
                        if self.equal(candidate, i) {
                            break ids[candidate];
                        }
                        if next_same_hash[candidate] == NONE {
                            next_same_hash[candidate] = row;
                            break new_id();
                        }
                        candidate = next_same_hash[candidate] as usize;
                    }
                }
            };
            ids.push(id);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn batch(rows: &[(&str, i64, &str)]) -> (RecordBatch, TimestampMicrosecondArray) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, true),
            Field::new("_ingested_at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("_batch_id", DataType::Utf8, true),
        ]));
        let times = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(times.clone()),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        ];
        (RecordBatch::try_new(schema, columns).unwrap(), times)
    }

    fn kept(batch: &RecordBatch) -> Vec<(String, i64)> {
        let ids = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let times = batch.column(1).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
        (0..batch.num_rows()).map(|i| (ids.value(i).to_owned(), times.value(i))).collect()
    }

    #[test]
    fn a_row_keeps_its_first_sighting_per_slice_and_its_latest() {
        // Slices of 10: a at 1, 3, 5 (slice 0), 12, 18 (slice 1), 25 (slice 2); b once.
        let rows = [
            ("a", 3, "x"),
            ("a", 1, "y"),
            ("b", 4, "z"),
            ("a", 5, "x"),
            ("a", 18, "w"),
            ("a", 12, "v"),
            ("a", 25, "u"),
        ];
        let (input, times) = batch(&rows);
        let out = keep_sightings(&input, &times, 10).unwrap();
        assert_eq!(kept(&out), [("a", 1), ("b", 4), ("a", 12), ("a", 25)].map(|(s, t)| (s.to_owned(), t)));
    }

    #[test]
    fn the_latest_sighting_stays_when_it_shares_a_slice_with_the_first() {
        let (input, times) = batch(&[("a", 1, "x"), ("a", 2, "x"), ("a", 7, "y")]);
        let out = keep_sightings(&input, &times, 10).unwrap();
        assert_eq!(kept(&out), [("a".to_owned(), 1), ("a".to_owned(), 7)]);
    }

    #[test]
    fn rows_differing_in_any_column_are_kept_and_equal_hashes_are_checked() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("_ingested_at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let times = TimestampMicrosecondArray::from_iter_values([1, 2, 3, 4]);
        let n = Int64Array::from(vec![Some(1), None, Some(2), None]);
        let input = RecordBatch::try_new(schema, vec![Arc::new(n), Arc::new(times.clone())]).unwrap();
        let out = keep_sightings(&input, &times, 100).unwrap();
        assert_eq!(out.num_rows(), 4, "two nulls in one slice are one row seen twice, kept as first and latest");

        // Every row hashed alike: only the comparison tells them apart.
        let distinct =
            Distinct { hashes: vec![7; 4], compare: Distinct::new(&[input.column(0).clone()]).unwrap().compare };
        assert_eq!(distinct.ids(4).unwrap(), [0, 1, 2, 1]);
    }
}
