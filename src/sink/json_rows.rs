//! Rows as JSON records: one object per row, `_table` and `_batch_id` first when the query does
//! not select them, timestamps as ISO 8601 UTC with microseconds, lists as arrays, nulls kept.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::json::writer::{JsonArray, LineDelimited, WriterBuilder};

use crate::sink::SinkError;

/// How every timestamp is written: UTC, microseconds, `Z`.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Appends the rows of `batch` (table `table`, micro-batch `batch_id`) to `out`, one JSON object
/// and a newline per row.
pub fn json_lines(table: &str, batch_id: &str, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), SinkError> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    let batch = with_lineage(table, batch_id, batch).map_err(|e| SinkError::Bug(format!("table {table}: {e}")))?;
    let mut writer = builder().build::<_, LineDelimited>(out);
    writer.write(&batch).map_err(|e| SinkError::Schema(format!("table {table} cannot be written as JSON: {e}")))?;
    writer.finish().map_err(|e| SinkError::Schema(format!("table {table} cannot be written as JSON: {e}")))
}

/// Appends `batches` to `out` as one JSON array of objects, encoded as [`json_lines`] encodes
/// rows but without lineage columns.
pub fn json_array(batches: &[RecordBatch], out: &mut Vec<u8>) -> Result<(), arrow::error::ArrowError> {
    let mut writer = builder().build::<_, JsonArray>(out);
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()
}

fn builder() -> WriterBuilder {
    WriterBuilder::new()
        .with_explicit_nulls(true)
        .with_timestamp_format(TIMESTAMP_FORMAT.to_owned())
        .with_timestamp_tz_format(TIMESTAMP_FORMAT.to_owned())
}

/// `batch` with `_table` (and `_batch_id`, unless selected) in front.
fn with_lineage(table: &str, batch_id: &str, batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let rows = batch.num_rows();
    let constant = |value: &str| Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, rows))) as ArrayRef;
    let mut fields = vec![Arc::new(Field::new("_table", DataType::Utf8, false))];
    let mut columns = vec![constant(table)];
    if batch.schema().index_of("_batch_id").is_err() {
        fields.push(Arc::new(Field::new("_batch_id", DataType::Utf8, false)));
        columns.push(constant(batch_id));
    }
    fields.extend(batch.schema().fields().iter().filter(|f| f.name() != "_table").cloned());
    let schema = batch.schema();
    columns.extend(
        schema.fields().iter().zip(batch.columns()).filter(|(f, _)| f.name() != "_table").map(|(_, c)| c.clone()),
    );
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, ListArray, TimestampNanosecondArray};
    use arrow::datatypes::Int64Type;

    #[test]
    fn rows_become_one_json_object_a_line_with_lineage_utc_microseconds_and_arrays() {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1), Some(2)]), None]);
        let schema = Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("at", DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())), true),
            Field::new("list", list.data_type().clone(), true),
        ]);
        let at = TimestampNanosecondArray::from(vec![Some(1_764_547_200_123_456_789), None]).with_timezone("UTC");
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Int64Array::from(vec![Some(7), None])), Arc::new(at), Arc::new(list)];
        let batch = RecordBatch::try_new(Arc::new(schema), columns).unwrap();
        let mut out = Vec::new();
        json_lines("plays", "b1", &batch, &mut out).unwrap();
        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            lines,
            vec![
                serde_json::json!({"_table": "plays", "_batch_id": "b1", "n": 7, "at": "2025-12-01T00:00:00.123456Z", "list": [1, 2]}),
                serde_json::json!({"_table": "plays", "_batch_id": "b1", "n": null, "at": null, "list": null}),
            ]
        );
    }
}
