//! The lake's tables: zstd Parquet files with microsecond UTC timestamps, one open file per
//! (table, hour partition), sealed when it reaches its rows, bytes or age.
//!
//! A file is uploaded to its final name while it is encoded, and staged in the store when sealed;
//! it becomes visible only when the pipeline commits it. Its name is fixed when it opens, from
//! what it starts with, so the same input always names the same file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use xxhash_rust::xxh3::Xxh3;

use super::LakeSettings;
use super::layout::{self, HourPartition, INGESTED_AT};
use crate::sink::SinkError;
use crate::store::{Pending, Store, Upload};

/// One output table as the lake sees it: where it goes and which SQL produced it.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub table: String,
    /// Fingerprint of the SQL text, part of every file name.
    pub fingerprint: u64,
    pub schema: SchemaRef,
}

struct Table {
    spec: TableSpec,
    /// The schema as written: every timestamp is microsecond UTC.
    file_schema: SchemaRef,
    ingested_at: usize,
}

struct OpenFile {
    writer: ArrowWriter<Upload>,
    /// Where the bytes go until the file is committed, for errors.
    staging: std::path::PathBuf,
    opened_at_micros: i64,
    rows: usize,
    /// Which micro-batches' rows the file holds, and how many of each: written into the file's
    /// metadata, so its content can be told from another file's without reading the rows.
    content: Xxh3,
}

use crate::store::s3::CONTENT_ENTRY as CONTENT_KEY;

type FileKey = (Arc<str>, HourPartition);

/// The open Parquet files of every table.
pub struct TableFiles {
    settings: LakeSettings,
    properties: WriterProperties,
    tables: HashMap<String, Table>,
    open: BTreeMap<FileKey, OpenFile>,
}

impl TableFiles {
    /// Prepares `tables`, reporting every table that cannot be partitioned at once.
    pub fn new(settings: LakeSettings, tables: Vec<TableSpec>) -> Result<Self, SinkError> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(settings.zstd_level).unwrap_or_default()))
            .set_max_row_group_row_count(Some(settings.row_group_rows))
            .set_dictionary_enabled(settings.dictionary)
            .set_created_by(format!("tunestream {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self { settings, properties, tables: prepare_tables(tables)?, open: BTreeMap::new() })
    }

    /// Appends one micro-batch's output of `table`, tagged with its lineage id, then seals the
    /// files it filled up into `sealed`.
    ///
    /// A micro-batch's rows of one hour partition are never split across files: files open and
    /// seal only between micro-batches, so a file's name, fixed by the micro-batch it opens with,
    /// always covers the same rows when the same input is run again, even where a query without
    /// ORDER BY returns them in another order. A file may therefore exceed `max_file_rows` by
    /// less than one micro-batch's rows.
    pub fn write(
        &mut self,
        store: &Store,
        table: &Arc<str>,
        batch_id: &str,
        batches: &[RecordBatch],
        sealed: &mut Vec<Pending>,
    ) -> Result<(), SinkError> {
        let Some(t) = self.tables.get(table.as_ref()) else {
            return Err(SinkError::Bug(format!("no lake table `{table}`")));
        };
        let (file_schema, ingested_at) = (t.file_schema.clone(), t.ingested_at);
        let mut touched = BTreeSet::new();
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            let batch = conform(batch, &file_schema).map_err(|e| SinkError::Schema(format!("table {table}: {e}")))?;
            let parts = layout::split_by_hour(&batch, ingested_at)
                .map_err(|e| SinkError::Schema(format!("table {table}: {e}")))?;
            for (hour, part) in parts {
                let key = (table.clone(), hour);
                self.append(store, &key, batch_id, &part)?;
                touched.insert(key);
            }
        }
        let full: Vec<FileKey> = touched.into_iter().filter(|key| self.is_full(key)).collect();
        self.seal(store, &full, sealed)
    }

    /// Appends rows of one micro-batch and hour partition to its file, opening it if needed.
    fn append(&mut self, store: &Store, key: &FileKey, batch_id: &str, part: &RecordBatch) -> Result<(), SinkError> {
        if !self.open.contains_key(key) {
            let file = self.open_file(store, key, batch_id, part)?;
            self.open.insert(key.clone(), file);
        }
        let Some(file) = self.open.get_mut(key) else { return Ok(()) };
        file.content.update(batch_id.as_bytes());
        file.content.update(&(part.num_rows() as u64).to_le_bytes());
        let encode = |source| SinkError::encode(file.staging.clone(), source);
        file.writer.write(part).map_err(encode)?;
        file.rows += part.num_rows();
        if file.writer.in_progress_size() >= self.settings.row_group_bytes {
            let encode = |source| SinkError::encode(file.staging.clone(), source);
            file.writer.flush().map_err(encode)?;
        }
        Ok(())
    }

    fn is_full(&self, key: &FileKey) -> bool {
        self.open.get(key).is_some_and(|file| {
            let size = file.writer.bytes_written() + file.writer.in_progress_size();
            file.rows >= self.settings.max_file_rows || size >= self.settings.max_file_bytes
        })
    }

    /// Seals every file opened at or before `now_micros - max_file_age`.
    pub fn seal_aged(&mut self, store: &Store, now_micros: i64, sealed: &mut Vec<Pending>) -> Result<(), SinkError> {
        let max_age = self.settings.max_file_age.as_micros() as i64;
        let aged: Vec<FileKey> = self
            .open
            .iter()
            .filter(|(_, f)| now_micros.saturating_sub(f.opened_at_micros) >= max_age)
            .map(|(k, _)| k.clone())
            .collect();
        self.seal(store, &aged, sealed)
    }

    /// Seals every open file.
    pub fn seal_all(&mut self, store: &Store, sealed: &mut Vec<Pending>) -> Result<(), SinkError> {
        let keys: Vec<FileKey> = self.open.keys().cloned().collect();
        self.seal(store, &keys, sealed)
    }

    /// Abandons every open file and what it wrote.
    pub fn abort(&mut self) {
        for file in std::mem::take(&mut self.open).into_values() {
            if let Ok(upload) = file.writer.into_inner() {
                upload.abort();
            }
        }
    }

    /// Opens the file of `key` that starts with micro-batch `batch_id`, named after it.
    fn open_file(
        &self,
        store: &Store,
        key: &FileKey,
        batch_id: &str,
        part: &RecordBatch,
    ) -> Result<OpenFile, SinkError> {
        let (table, hour) = key;
        let t = &self.tables[table.as_ref()];
        let mut name = Xxh3::new();
        name.update(&t.spec.fingerprint.to_le_bytes());
        name.update(table.as_bytes());
        name.update(&hour.unwrap_or(i64::MIN).to_le_bytes());
        let content = name.clone();
        name.update(batch_id.as_bytes());
        let opened_at_micros = earliest_ingested_at(part, t.ingested_at);
        let file_name = layout::file_name(opened_at_micros, name.digest());
        let upload = store.upload(format!("{table}/{}/{file_name}", layout::partition_dir(*hour)))?;
        let staging = upload.describe();
        let writer = ArrowWriter::try_new(upload, t.file_schema.clone(), Some(self.properties.clone()))
            .map_err(|source| SinkError::encode(staging.clone(), source))?;
        Ok(OpenFile { writer, staging, opened_at_micros, rows: 0, content })
    }

    /// Seals the files of `keys`. Their last row groups are encoded and synced side by side,
    /// since at a checkpoint or the end of a run nothing else is left to do. If one fails, the
    /// others are discarded too: a failed run leaves no partial file behind.
    fn seal(&mut self, store: &Store, keys: &[FileKey], sealed: &mut Vec<Pending>) -> Result<(), SinkError> {
        let files: Vec<OpenFile> = keys.iter().filter_map(|key| self.open.remove(key)).collect();
        let results: Vec<Result<Pending, SinkError>> = match files.len() {
            0 | 1 => files.into_iter().map(|file| seal_file(store, file)).collect(),
            _ => std::thread::scope(|scope| {
                let sealing: Vec<_> =
                    files.into_iter().map(|file| scope.spawn(move || seal_file(store, file))).collect();
                sealing
                    .into_iter()
                    .map(|thread| {
                        thread.join().unwrap_or_else(|_| Err(SinkError::Bug("a sealing thread panicked".into())))
                    })
                    .collect()
            }),
        };
        let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let ok = ok.into_iter().flatten();
        if let Some(Err(e)) = failed.into_iter().next() {
            ok.for_each(|pending| store.discard(&pending));
            return Err(e);
        }
        sealed.extend(ok);
        Ok(())
    }
}

/// Writes the file's last row group and footer, and stages it in the store.
fn seal_file(store: &Store, mut file: OpenFile) -> Result<Pending, SinkError> {
    let content = format!("{:016x}", file.content.digest());
    file.writer.append_key_value_metadata(KeyValue::new(CONTENT_KEY.to_owned(), content.clone()));
    let upload = file.writer.into_inner().map_err(|source| SinkError::encode(file.staging, source))?;
    Ok(Pending { content: Some(content), ..store.stage(upload)? })
}

impl Drop for TableFiles {
    /// Files still open at drop belong to a stopped run: remove their partial data.
    fn drop(&mut self) {
        self.abort();
    }
}

/// Checks that every table can be written to the lake, reporting all that cannot at once.
pub fn check_tables(tables: &[TableSpec]) -> Result<(), SinkError> {
    prepare_tables(tables.to_vec()).map(drop)
}

fn prepare_tables(tables: Vec<TableSpec>) -> Result<HashMap<String, Table>, SinkError> {
    let mut problems = Vec::new();
    let mut prepared = HashMap::new();
    for spec in tables {
        match prepare_table(spec) {
            Ok(table) => {
                prepared.insert(table.spec.table.clone(), table);
            }
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(prepared) } else { Err(SinkError::Schema(problems.join("\n"))) }
}

fn prepare_table(spec: TableSpec) -> Result<Table, String> {
    let fields: Vec<Field> =
        spec.schema.fields().iter().map(|f| f.as_ref().clone().with_data_type(micros_utc(f.data_type()))).collect();
    let file_schema = Arc::new(Schema::new(fields));
    let ingested_at = match file_schema.index_of(INGESTED_AT) {
        Ok(i) if matches!(file_schema.field(i).data_type(), DataType::Timestamp(..)) => i,
        Ok(i) => {
            return Err(format!(
                "table {}: `{INGESTED_AT}` must be a timestamp, not {}",
                spec.table,
                file_schema.field(i).data_type()
            ));
        }
        Err(_) => {
            return Err(format!(
                "table {}: the query must select an `{INGESTED_AT}` timestamp column; the lake is partitioned by it",
                spec.table
            ));
        }
    };
    Ok(Table { spec, file_schema, ingested_at })
}

/// Snowflake mis-loads nanosecond and second precision: write every timestamp as microsecond UTC.
fn micros_utc(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Timestamp(_, tz) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz.clone().unwrap_or_else(|| "UTC".into())))
        }
        other => other.clone(),
    }
}

fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
    if batch.schema().fields() == schema.fields() {
        return RecordBatch::try_new(schema.clone(), batch.columns().to_vec());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| cast(column, field.data_type()))
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// The earliest ingest time of `batch`: the smallest, not the first, since a query without
/// ORDER BY may return the same rows in another order, and the time is part of the file name.
fn earliest_ingested_at(batch: &RecordBatch, column: usize) -> i64 {
    use arrow::array::AsArray;
    let times = batch.column(column).as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    arrow::compute::min(times).unwrap_or(0)
}
