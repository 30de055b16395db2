//! Decodes JSON lines into one Arrow batch, isolating lines that do not fit.
//!
//! The fast path decodes all lines of a bucket in one pass with [`direct`]. When it gives up,
//! each line is decoded on its own: directly if it can be, else checked as JSON by serde_json and
//! decoded with arrow-json, so that a malformed page is rejected with a message naming what is
//! wrong and its neighbours are kept.

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::json::ReaderBuilder;
use arrow::record_batch::RecordBatch;

use super::direct;
use super::skip::GiveUp;

/// The outcome of decoding a set of lines: the rows of the good lines, in order, and the rest.
pub struct Decoded {
    pub batch: RecordBatch,
    /// Index (into the input) of the line each row came from.
    pub row_lines: Vec<usize>,
    /// Index of each failed line and why it failed.
    pub failures: Vec<(usize, String)>,
}

/// Decodes `lines` against `schema`, one row per line.
pub fn decode_lines(schema: &SchemaRef, lines: &[&[u8]]) -> Result<Decoded, ArrowError> {
    match direct::decode(schema, lines) {
        Ok(batch) => Ok(Decoded { batch, row_lines: (0..lines.len()).collect(), failures: Vec::new() }),
        Err(GiveUp) => decode_one_by_one(schema, lines),
    }
}

/// Decodes the lines with arrow-json alone: the reference the direct decoder must match.
#[cfg(test)]
pub fn decode_with_arrow_json(schema: &SchemaRef, lines: &[&[u8]]) -> Result<RecordBatch, ArrowError> {
    decode_together(schema, lines)
}

fn decoder(schema: &SchemaRef, rows: usize) -> Result<arrow::json::reader::Decoder, ArrowError> {
    ReaderBuilder::new(schema.clone()).with_batch_size(rows.max(1)).with_strict_mode(false).build_decoder()
}

fn decode_together(schema: &SchemaRef, lines: &[&[u8]]) -> Result<RecordBatch, ArrowError> {
    let mut decoder = decoder(schema, lines.len())?;
    for (i, line) in lines.iter().enumerate() {
        decode_exactly_one(&mut decoder, line, i + 1)?;
    }
    Ok(decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}

/// Feeds one line and checks that it held exactly one complete JSON value.
fn decode_exactly_one(
    decoder: &mut arrow::json::reader::Decoder,
    line: &[u8],
    rows_after: usize,
) -> Result<(), ArrowError> {
    let consumed = decoder.decode(line)?;
    if consumed != line.len() || decoder.has_partial_record() || decoder.len() != rows_after {
        return Err(ArrowError::JsonError("the line does not hold exactly one complete JSON object".into()));
    }
    Ok(())
}

fn decode_one_by_one(schema: &SchemaRef, lines: &[&[u8]]) -> Result<Decoded, ArrowError> {
    let mut batches = Vec::with_capacity(lines.len());
    let mut row_lines = Vec::with_capacity(lines.len());
    let mut failures = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line = std::slice::from_ref(line);
        let checked = |line: &[&[u8]]| strictly_typed(schema, line[0]).and_then(|()| decode_together(schema, line));
        match direct::decode(schema, line).or_else(|GiveUp| checked(line)) {
            Ok(batch) => {
                batches.push(batch);
                row_lines.push(i);
            }
            Err(e) => failures.push((i, clean_message(e))),
        }
    }
    let batch = concat_batches(schema, &batches)?;
    Ok(Decoded { batch, row_lines, failures })
}

/// arrow-json reads some lines that are not JSON (a missing comma between members) and coerces
/// values of the wrong type: a line the direct decoder gave up on must first be one JSON value by
/// serde_json's strict reading, with every value it holds for `schema` of the right type.
fn strictly_typed(schema: &SchemaRef, line: &[u8]) -> Result<(), ArrowError> {
    super::types::check_line(line, schema.fields()).map_err(ArrowError::JsonError)
}

fn clean_message(e: ArrowError) -> String {
    match e {
        ArrowError::JsonError(msg) | ArrowError::ParseError(msg) | ArrowError::CastError(msg) => msg,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]))
    }

    #[test]
    fn good_lines_decode_in_one_pass() {
        let lines: Vec<&[u8]> = vec![br#"{"n":1}"#, br#"{"n":2,"extra":[1,2]}"#, br#"{}"#];
        let d = decode_lines(&schema(), &lines).unwrap();
        assert!(d.failures.is_empty());
        assert_eq!(d.row_lines, vec![0, 1, 2]);
        let n = d.batch.column(0).as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(n, &Int64Array::from(vec![Some(1), Some(2), None]));
    }

    #[test]
    fn bad_lines_are_isolated_and_neighbours_kept() {
        let lines: Vec<&[u8]> =
            vec![br#"{"n":1}"#, br#"{"n":"not a number"}"#, br#"{"n":3} {"n":4}"#, br#"{"n":"#, br#"{"n":5}"#];
        let d = decode_lines(&schema(), &lines).unwrap();
        assert_eq!(d.row_lines, vec![0, 4]);
        assert_eq!(d.failures.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(d.failures[1].1.contains("not JSON: trailing characters"), "{}", d.failures[1].1);
        assert!(d.failures[2].1.contains("not JSON: EOF"), "{}", d.failures[2].1);
        let n = d.batch.column(0).as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(n.values().to_vec(), vec![1, 5]);
    }
}
