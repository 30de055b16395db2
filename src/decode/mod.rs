//! Decode: raw page lines to Arrow record batches, one raw table per [`Kind`].
//!
//! Lines are grouped by kind and form (enveloped or bare), decoded with the kind's nested schema,
//! normalised to the raw table layout (envelope columns, then response fields) and checked to be
//! a response of their kind. Lines that fail any step become [`Reject`]s; the rest are kept.

mod direct;
mod envelope;
#[cfg(test)]
mod fuzz;
mod json;
mod read_schema;
mod scan;
pub mod schema;
mod skip;
#[cfg(test)]
mod tests;
mod types;

pub use crate::page::{Kind, UnknownKind};
pub use envelope::{Form, Probe, ProbeError, probe};
pub use read_schema::{NestedFields, ReadSchemas};

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, TimestampMicrosecondArray};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::page::{LineRef, PageBatch};

/// One line that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: LineRef,
    pub kind: Option<Kind>,
    pub error: String,
    /// The line itself, kept so it can be written out, fixed and replayed.
    pub record: Vec<u8>,
}

impl Reject {
    /// Why, in a word, for metrics: the line is not a page of a known kind (`envelope`), or it
    /// is one whose content breaks the data contract (`content`).
    pub fn reason(&self) -> &'static str {
        if self.kind.is_some() { "content" } else { "envelope" }
    }
}

/// A micro-batch after decoding: one record batch per kind that had pages.
#[derive(Debug)]
pub struct DecodedBatch {
    pub seq: u64,
    pub id: Arc<str>,
    /// Raw tables in [`Kind::ALL`] order; kinds without pages are absent.
    pub tables: Vec<(Kind, RecordBatch)>,
    pub rejects: Vec<Reject>,
    /// Pages decoded and kept.
    pub pages: usize,
    /// Input bytes of the micro-batch.
    pub bytes: usize,
}

impl DecodedBatch {
    /// The latest fetch time in this batch, in microseconds: the event clock of the pipeline.
    pub fn max_fetched_at(&self) -> Option<i64> {
        self.tables
            .iter()
            .filter_map(|(_, batch)| {
                let column = batch.column_by_name(schema::FETCHED_AT)?;
                arrow::compute::max(column.as_primitive::<arrow::datatypes::TimestampMicrosecondType>())
            })
            .max()
    }
}

/// An error that is a bug in tunestream, never the input's fault: the schemas disagree.
#[derive(Debug, thiserror::Error)]
#[error("internal error while decoding {kind} pages (a bug in tunestream)")]
pub struct DecodeBug {
    kind: Kind,
    #[source]
    source: ArrowError,
}

/// Decodes every line of `batch` into raw tables of `schemas`.
pub fn decode_batch(batch: PageBatch, schemas: &ReadSchemas) -> Result<DecodedBatch, DecodeBug> {
    let id: Arc<str> = batch.content_id().into();
    let mut rejects = Vec::new();
    let mut buckets: BTreeMap<(Kind, bool), Vec<usize>> = BTreeMap::new();
    for (i, line) in batch.lines.iter().enumerate() {
        if let Some(length) = line.too_long {
            let error = format!(
                "the line is {length} bytes, longer than pipeline.max_line_bytes; the record holds its first {} bytes",
                line.end - line.start
            );
            rejects.push(reject_line(&batch, i, None, error));
            continue;
        }
        match probe(batch.line(line), line.file.kind) {
            Ok(p) => buckets.entry((p.kind, p.form == Form::Envelope)).or_default().push(i),
            Err(e) => rejects.push(reject_line(&batch, i, None, e.to_string())),
        }
    }

    let mut per_kind: BTreeMap<Kind, Vec<RecordBatch>> = BTreeMap::new();
    let mut pages = 0;
    for ((kind, enveloped), indices) in buckets {
        let form = if enveloped { Form::Envelope } else { Form::Bare };
        let bug = |source| DecodeBug { kind, source };
        let lines: Vec<&[u8]> = indices.iter().map(|&i| batch.line(&batch.lines[i])).collect();
        let decoded = json::decode_lines(schemas.line(kind, form), &lines).map_err(bug)?;
        let reject = |i: usize, error: String| reject_line(&batch, i, Some(kind), error);
        rejects.extend(decoded.failures.into_iter().map(|(j, e)| reject(indices[j], e)));

        let line_refs: Vec<&LineRef> = decoded.row_lines.iter().map(|&j| &batch.lines[indices[j]]).collect();
        let raw = schemas.raw(kind);
        let table = match form {
            Form::Envelope => unwrap_envelope(raw, &decoded.batch, &id),
            Form::Bare => add_envelope(raw, &decoded.batch, &line_refs, &id),
        }
        .map_err(bug)?;
        let (table, problems) = check_kind(kind, table.0, table.1).map_err(bug)?;
        for (row, error) in problems {
            rejects.push(reject(indices[decoded.row_lines[row]], error));
        }
        pages += table.num_rows();
        per_kind.entry(kind).or_default().push(table);
    }

    let mut tables = Vec::with_capacity(per_kind.len());
    for (kind, batches) in per_kind {
        let table = concat_batches(schemas.raw(kind), &batches).map_err(|source| DecodeBug { kind, source })?;
        tables.push((kind, table));
    }
    rejects.sort_by_key(|r| (r.line.start, r.line.line_no));
    Ok(DecodedBatch { seq: batch.seq, id, tables, rejects, pages, bytes: batch.buf.len() })
}

fn reject_line(batch: &PageBatch, index: usize, kind: Option<Kind>, error: String) -> Reject {
    let line = batch.lines[index].clone();
    let record = batch.line(&line).to_vec();
    Reject { line, kind, error, record }
}

/// Rows of a normalised table plus, per row, the reason it must be rejected (if any).
type Checked = (RecordBatch, Vec<Option<String>>);

/// Turns `{kind,url,fetched_at,user_id,snapshot_id,body}` rows into raw table rows.
fn unwrap_envelope(raw: &SchemaRef, decoded: &RecordBatch, batch_id: &str) -> Result<Checked, ArrowError> {
    let body = decoded.column(5).as_struct();
    let fetched_at = decoded.column(2);
    let problems = (0..decoded.num_rows())
        .map(|row| {
            if body.is_null(row) {
                Some("envelope has no `body` object".to_owned())
            } else if fetched_at.is_null(row) {
                Some("envelope has no `fetched_at` time".to_owned())
            } else {
                None
            }
        })
        .collect();
    let envelope = [decoded.column(1), decoded.column(2), decoded.column(3), decoded.column(4)];
    let mut columns: Vec<ArrayRef> = envelope.into_iter().cloned().collect();
    columns.push(constant_string(batch_id, decoded.num_rows()));
    columns.extend(body.columns().iter().cloned());
    Ok((RecordBatch::try_new(raw.clone(), columns)?, problems))
}

/// Gives bare response rows the envelope columns: their `href`, and their file's time.
fn add_envelope(
    raw: &SchemaRef,
    decoded: &RecordBatch,
    lines: &[&LineRef],
    batch_id: &str,
) -> Result<Checked, ArrowError> {
    let rows = decoded.num_rows();
    let url: ArrayRef = match decoded.column_by_name("href") {
        Some(href) => href.clone(),
        None => Arc::new(StringArray::new_null(rows)),
    };
    let fetched_at =
        TimestampMicrosecondArray::from_iter_values(lines.iter().map(|l| l.file.modified_micros)).with_timezone("UTC");
    let mut columns: Vec<ArrayRef> = vec![
        url,
        Arc::new(fetched_at),
        Arc::new(StringArray::new_null(rows)),
        Arc::new(StringArray::new_null(rows)),
        constant_string(batch_id, rows),
    ];
    columns.extend(decoded.columns().iter().cloned());
    Ok((RecordBatch::try_new(raw.clone(), columns)?, vec![None; rows]))
}

fn constant_string(value: &str, rows: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, rows)))
}

/// Drops rows that are not a response of `kind`, returning each dropped row with its reason.
fn check_kind(
    kind: Kind,
    table: RecordBatch,
    mut problems: Vec<Option<String>>,
) -> Result<(RecordBatch, Vec<(usize, String)>), ArrowError> {
    for (row, problem) in problems.iter_mut().enumerate() {
        if problem.is_none() {
            *problem = kind_mismatch(kind, &table, row);
        }
    }
    if problems.iter().all(Option::is_none) {
        return Ok((table, Vec::new()));
    }
    let keep = BooleanArray::from_iter(problems.iter().map(|p| Some(p.is_none())));
    let kept = filter_record_batch(&table, &keep)?;
    let dropped = problems.into_iter().enumerate().filter_map(|(row, p)| p.map(|p| (row, p))).collect();
    Ok((kept, dropped))
}

/// The result keys of a search answer, one per type the Web API searches.
const SEARCH_RESULTS: [&str; 7] = ["tracks", "artists", "albums", "playlists", "shows", "episodes", "audiobooks"];

fn kind_mismatch(kind: Kind, table: &RecordBatch, row: usize) -> Option<String> {
    let present = |name: &str| table.column_by_name(name).is_some_and(|c| c.is_valid(row));
    match kind {
        Kind::PlaylistItems | Kind::RecentlyPlayed | Kind::ArtistAlbums => {
            (!present("items")).then(|| format!("not a {kind} page: it has no `items` list"))
        }
        Kind::Track | Kind::Album | Kind::Artist | Kind::Playlist => {
            let object_type = table
                .column_by_name("type")
                .map(|c| c.as_string::<i32>())
                .filter(|c| c.is_valid(row))
                .map(|c| c.value(row));
            (object_type != Some(kind.name())).then(|| match object_type {
                Some(other) => format!("not a {kind} object: its `type` is \"{other}\""),
                None => format!("not a {kind} object: it has no `type`"),
            })
        }
        Kind::FollowedArtists => {
            (!present("artists")).then(|| "not a followed-artists page: it has no `artists` paging object".to_owned())
        }
        Kind::Search => (!SEARCH_RESULTS.iter().any(|k| present(k))).then(|| {
            format!("not a search response: it has none of {}", SEARCH_RESULTS.map(|k| format!("`{k}`")).join(", "))
        }),
    }
}
