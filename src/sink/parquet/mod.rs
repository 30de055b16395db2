//! The Parquet lake sink: zstd Parquet files with microsecond UTC timestamps, in
//! `<table>/dt=YYYY-MM-DD/hour=HH/` folders, rolled on rows, bytes or age.
//!
//! A file is written under a hidden temporary name and committed by hard-linking it to its
//! final name, which fails if that name exists: a committed file is never overwritten, and a
//! re-run over the same input skips the files it already committed.

mod config;
pub(crate) mod layout;
#[cfg(test)]
mod tests;

pub use config::ParquetSinkConfig;
pub use layout::{INGESTED_AT, is_temp_name};

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use xxhash_rust::xxh3::Xxh3;

use super::SinkError;
use super::checkpoint::Checkpointer;
use super::raw::RawWriter;
use crate::source::Checkpoint;
use layout::HourPartition;

/// One output table as the lake sees it: where it goes and which SQL produced it.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub table: String,
    /// Fingerprint of the SQL text, part of every file name.
    pub fingerprint: u64,
    pub schema: SchemaRef,
}

/// What the lake did over a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LakeStats {
    pub files_committed: u64,
    /// Files whose final name already existed, from an earlier run over the same input.
    pub files_already_present: u64,
    pub bytes_committed: u64,
    pub rows_by_table: BTreeMap<String, u64>,
}

struct Table {
    spec: TableSpec,
    /// The schema as written: every timestamp is microsecond UTC.
    file_schema: SchemaRef,
    ingested_at: usize,
}

struct OpenFile {
    writer: ArrowWriter<File>,
    temp: PathBuf,
    dir: PathBuf,
    opened_at_micros: i64,
    rows: usize,
    digest: Xxh3,
}

/// Writes output tables into the lake, one open file per (table, hour partition).
pub struct LakeWriter {
    config: ParquetSinkConfig,
    properties: WriterProperties,
    tables: HashMap<String, Table>,
    open: BTreeMap<(String, HourPartition), OpenFile>,
    next_temp_id: u64,
    stats: LakeStats,
    /// Set for live sources: files commit only together with the source state they cover,
    /// and raw pages land in `_raw/`.
    live: Option<LiveCommit>,
}

/// What a live source adds to the lake: checkpointed commits and the raw landing zone.
struct LiveCommit {
    checkpoints: Checkpointer,
    raw: RawWriter,
}

impl LakeWriter {
    /// Prepares the lake for `tables`, checking that every table can be partitioned.
    ///
    /// Reports every table that cannot, at once, before any data is read.
    pub fn new(config: ParquetSinkConfig, tables: Vec<TableSpec>) -> Result<Self, SinkError> {
        let prepared = prepare_tables(tables)?;
        std::fs::create_dir_all(&config.path).map_err(|source| SinkError::Io { path: config.path.clone(), source })?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(config.zstd_level).unwrap_or_default()))
            .set_max_row_group_row_count(Some(config.row_group_rows))
            .set_dictionary_enabled(config.dictionary)
            .set_created_by(format!("tunestream {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            config,
            properties,
            tables: prepared,
            open: BTreeMap::new(),
            next_temp_id: std::process::id() as u64 * 1_000_000_007,
            stats: LakeStats::default(),
            live: None,
        })
    }

    /// Commits files only at checkpoints, together with source state kept in `state_dir`,
    /// first completing a checkpoint an earlier run was cut off in.
    pub fn enable_checkpoints(&mut self, state_dir: &Path) -> Result<(), SinkError> {
        let checkpoints = Checkpointer::recover(state_dir, &self.config.path, &mut self.stats)?;
        self.live = Some(LiveCommit { checkpoints, raw: RawWriter::new(&self.config.path) });
        Ok(())
    }

    /// Lands raw pages (enveloped lines with their fetch time) in `_raw/`, with checkpoints only.
    pub fn write_raw<'a>(&mut self, pages: impl IntoIterator<Item = (i64, &'a [u8])>) -> Result<(), SinkError> {
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        pages.into_iter().try_for_each(|(fetched_micros, line)| live.raw.append(fetched_micros, line))
    }

    /// Records the source state the next checkpoint saves (live sources only).
    pub fn set_checkpoint(&mut self, checkpoint: Checkpoint) {
        if let Some(live) = self.live.as_mut() {
            live.checkpoints.set(checkpoint);
        }
    }

    pub fn stats(&self) -> &LakeStats {
        &self.stats
    }

    pub fn root(&self) -> &Path {
        &self.config.path
    }

    /// Appends one micro-batch's output of `table`, tagged with its lineage id.
    pub fn write(&mut self, table: &str, batch_id: &str, batch: &RecordBatch) -> Result<(), SinkError> {
        let Some(t) = self.tables.get(table) else {
            return Err(SinkError::Schema(format!("no lake table `{table}` (a bug in tunestream)")));
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = conform(batch, &t.file_schema).map_err(|e| SinkError::Schema(format!("table {table}: {e}")))?;
        let parts = layout::split_by_hour(&batch, t.ingested_at)
            .map_err(|e| SinkError::Schema(format!("table {table}: {e}")))?;
        for (hour, part) in parts {
            self.append(table, hour, batch_id, &part)?;
        }
        Ok(())
    }

    /// Appends rows of one hour partition, committing the file whenever it is full, so a file
    /// never holds more than `max_file_rows` rows.
    fn append(
        &mut self,
        table: &str,
        hour: HourPartition,
        batch_id: &str,
        part: &RecordBatch,
    ) -> Result<(), SinkError> {
        let key = (table.to_owned(), hour);
        let mut offset = 0;
        while offset < part.num_rows() {
            if !self.open.contains_key(&key) {
                let opened_at = first_ingested_at(part, self.tables[table].ingested_at);
                let file = self.open_file(table, hour, opened_at)?;
                self.open.insert(key.clone(), file);
            }
            let Some(file) = self.open.get_mut(&key) else { break };
            let take = (self.config.max_file_rows - file.rows).min(part.num_rows() - offset);
            let slice = part.slice(offset, take);
            // Which rows of which micro-batch: two slices of one batch must not share a name.
            file.digest.update(batch_id.as_bytes());
            file.digest.update(&(offset as u64).to_le_bytes());
            file.digest.update(&(take as u64).to_le_bytes());
            offset += take;
            file.writer.write(&slice).map_err(|source| SinkError::Encode { path: file.temp.clone(), source })?;
            file.rows += take;
            *self.stats.rows_by_table.entry(table.to_owned()).or_default() += take as u64;
            if file.writer.in_progress_size() >= self.config.row_group_bytes {
                file.writer.flush().map_err(|source| SinkError::Encode { path: file.temp.clone(), source })?;
            }
            let size = file.writer.bytes_written() + file.writer.in_progress_size();
            if file.rows >= self.config.max_file_rows || size >= self.config.max_file_bytes {
                self.commit(&key)?;
            }
        }
        Ok(())
    }

    /// Commits every file opened at or before `now_micros - max_file_age`. With checkpoints,
    /// an aged file commits every open file and the state with it, and with no file open the
    /// latest state is saved at once.
    pub fn roll_aged(&mut self, now_micros: i64) -> Result<(), SinkError> {
        let max_age = self.config.max_file_age.as_micros() as i64;
        let aged: Vec<_> = self
            .open
            .iter()
            .filter(|(_, f)| now_micros.saturating_sub(f.opened_at_micros) >= max_age)
            .map(|(k, _)| k.clone())
            .collect();
        if self.live.is_none() {
            return self.commit_all(&aged);
        }
        if !aged.is_empty() || self.open.is_empty() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Commits every open file (and, with checkpoints, the latest state).
    pub fn finish(&mut self) -> Result<LakeStats, SinkError> {
        self.checkpoint()?;
        Ok(self.stats.clone())
    }

    fn checkpoint(&mut self) -> Result<(), SinkError> {
        let keys: Vec<_> = self.open.keys().cloned().collect();
        self.commit_all(&keys)?;
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        for (temp, target, bytes) in live.raw.finish_all()? {
            live.checkpoints.defer(temp, target, bytes);
        }
        live.checkpoints.commit(&mut self.stats)
    }

    fn open_file(&mut self, table: &str, hour: HourPartition, opened_at_micros: i64) -> Result<OpenFile, SinkError> {
        let t = &self.tables[table];
        let dir = self.config.path.join(table).join(layout::partition_dir(hour));
        std::fs::create_dir_all(&dir).map_err(|source| SinkError::Io { path: dir.clone(), source })?;
        self.next_temp_id += 1;
        let temp = layout::temp_path(&dir, self.next_temp_id);
        let file = File::create(&temp).map_err(|source| SinkError::Io { path: temp.clone(), source })?;
        let writer = ArrowWriter::try_new(file, t.file_schema.clone(), Some(self.properties.clone()))
            .map_err(|source| SinkError::Encode { path: temp.clone(), source })?;
        let mut digest = Xxh3::new();
        digest.update(&t.spec.fingerprint.to_le_bytes());
        digest.update(table.as_bytes());
        digest.update(&hour.unwrap_or(i64::MIN).to_le_bytes());
        Ok(OpenFile { writer, temp, dir, opened_at_micros, rows: 0, digest })
    }

    fn commit(&mut self, key: &(String, HourPartition)) -> Result<(), SinkError> {
        self.commit_all(std::slice::from_ref(key))
    }

    /// Commits the files of `keys`. Their last row groups are encoded and synced side by side,
    /// since at a checkpoint or the end of a run nothing else is left to do.
    fn commit_all(&mut self, keys: &[(String, HourPartition)]) -> Result<(), SinkError> {
        let files: Vec<OpenFile> = keys.iter().filter_map(|key| self.open.remove(key)).collect();
        let results: Vec<Result<Sealed, SinkError>> = match files.len() {
            0 | 1 => files.into_iter().map(seal).collect(),
            _ => std::thread::scope(|scope| {
                let sealing: Vec<_> =
                    files.into_iter().map(|file| (file.temp.clone(), scope.spawn(move || seal(file)))).collect();
                sealing
                    .into_iter()
                    .map(|(temp, thread)| thread.join().unwrap_or_else(|_| Err(panicked(temp))))
                    .collect()
            }),
        };
        let mut sealed = Vec::with_capacity(results.len());
        let mut first_error = None;
        for result in results {
            match result {
                Ok(file) => sealed.push(file),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            // A failed run leaves no partial file behind, sealed or not.
            sealed.iter().for_each(|file| drop(std::fs::remove_file(&file.temp)));
            return Err(e);
        }
        sealed.into_iter().try_for_each(|file| self.publish(file))
    }

    fn publish(&mut self, sealed: Sealed) -> Result<(), SinkError> {
        let Sealed { temp, target, bytes, rows } = sealed;
        if let Some(live) = self.live.as_mut() {
            live.checkpoints.defer(temp, target, bytes);
            return Ok(());
        }
        if super::commit::commit_no_clobber(&temp, &target)? {
            self.stats.files_committed += 1;
            self.stats.bytes_committed += bytes;
            tracing::debug!(path = %target.display(), rows, bytes, "committed lake file");
        } else {
            self.stats.files_already_present += 1;
            tracing::debug!(path = %target.display(), "lake file already present from an earlier run; kept it");
        }
        Ok(())
    }
}

/// A complete file, synced under its temporary name, and the name it is committed under.
struct Sealed {
    temp: PathBuf,
    target: PathBuf,
    bytes: u64,
    rows: usize,
}

/// Writes the file's last row group and footer, and syncs it.
fn seal(file: OpenFile) -> Result<Sealed, SinkError> {
    let temp = file.temp;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SinkError::Io { path, source }
    };
    let written = match file.writer.into_inner() {
        Ok(written) => written,
        Err(source) => {
            let _ = std::fs::remove_file(&temp);
            return Err(SinkError::Encode { path: temp, source });
        }
    };
    let synced = written.sync_all().and_then(|()| written.metadata());
    let bytes = match synced {
        Ok(metadata) => metadata.len(),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(io(&temp)(e));
        }
    };
    let target = file.dir.join(layout::file_name(file.opened_at_micros, file.digest.digest()));
    Ok(Sealed { temp, target, bytes, rows: file.rows })
}

fn panicked(temp: PathBuf) -> SinkError {
    let source = parquet::errors::ParquetError::General("the thread sealing the file panicked".into());
    SinkError::Encode { path: temp, source }
}

impl Drop for LakeWriter {
    /// Files still open at drop belong to a failed run: remove their partial data.
    fn drop(&mut self) {
        for file in std::mem::take(&mut self.open).into_values() {
            let _ = std::fs::remove_file(&file.temp);
        }
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

fn first_ingested_at(batch: &RecordBatch, column: usize) -> i64 {
    use arrow::array::{Array, AsArray};
    let times = batch.column(column).as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    (0..times.len()).find(|&i| times.is_valid(i)).map_or(0, |i| times.value(i))
}
