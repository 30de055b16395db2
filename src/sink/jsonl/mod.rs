//! The JSON-lines sink: each output row as one JSON object on its own line, with `_table` and
//! `_batch_id`, timestamps as ISO 8601 UTC with microseconds and lists as arrays, in
//! `<path>/<table>/part-<digest of its first micro-batch>.jsonl`. Files are staged like the lake's and commit in the same
//! checkpoint, so a local consumer sees each row once. The record encoding is the one Firehose
//! and Kinesis records will use.

mod config;

pub use config::{JsonlSection, JsonlSettings, parse_flag};

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use super::json_rows::json_lines;
use super::run::start_blocking;
use super::{SinkBatch, SinkContext, SinkError, SinkHandle, WriteSink};
use crate::store::{Pending, Store, Upload};

/// Writes the chosen tables of every micro-batch as JSON lines.
pub struct JsonlSink {
    store: Arc<Store>,
    tables: Option<Vec<String>>,
    open: BTreeMap<Arc<str>, Upload>,
    /// Reused between batches: one micro-batch's lines of one table.
    lines: Vec<u8>,
}

impl JsonlSink {
    pub fn new(settings: JsonlSettings, store: Arc<Store>) -> Self {
        Self { store, tables: settings.tables, open: BTreeMap::new(), lines: Vec::new() }
    }

    /// Whether the sink writes the rows of `table`.
    pub fn wants(&self, table: &str) -> bool {
        super::chosen(self.tables.as_deref(), table)
    }

    /// The directory it writes to, as its store names it.
    pub fn root(&self) -> String {
        self.store.root()
    }

    /// Appends the chosen tables of `batch` to their open files.
    pub fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        for output in &batch.outputs {
            if !self.wants(&output.table) {
                continue;
            }
            self.lines.clear();
            for part in &output.batches {
                json_lines(&output.table, &batch.id, part, &mut self.lines)?;
            }
            if self.lines.is_empty() {
                continue;
            }
            if !self.open.contains_key(&output.table) {
                // Named by the micro-batch it opens with: files close only at seal barriers,
                // so the same input names the same files.
                let key = format!("{}/part-{:016x}.jsonl", output.table, xxh3_64(batch.id.as_bytes()));
                let upload = self.store.upload(key)?;
                self.open.insert(output.table.clone(), upload);
            }
            let Some(upload) = self.open.get_mut(&output.table) else { continue };
            let path = upload.describe();
            upload.write_all(&self.lines).map_err(|source| SinkError::Io { path, source })?;
        }
        Ok(())
    }

    /// With `seal`, finishes every open file and hands them over; without, keeps writing: a
    /// file closes only where the input may commit, so a rerun of the same input cuts the same files.
    pub fn prepare(&mut self, seal: bool) -> Result<Vec<Pending>, SinkError> {
        if !seal {
            return Ok(Vec::new());
        }
        let mut staged = Vec::with_capacity(self.open.len());
        for upload in std::mem::take(&mut self.open).into_values() {
            match self.store.stage(upload) {
                Ok(pending) => staged.push(pending),
                Err(e) => {
                    staged.iter().for_each(|p: &Pending| self.store.discard(p));
                    return Err(e.into());
                }
            }
        }
        Ok(staged)
    }
}

impl WriteSink for JsonlSink {
    fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        JsonlSink::write(self, batch)
    }

    fn prepare(&mut self, seal: bool) -> Result<Vec<Pending>, SinkError> {
        JsonlSink::prepare(self, seal)
    }
}

/// Starts a JSON-lines sink into the directory store `cx` holds.
pub fn start(settings: &JsonlSettings, cx: SinkContext) -> Result<SinkHandle, SinkError> {
    let store = cx.store.clone().ok_or_else(|| SinkError::Bug("a jsonl sink was started without its store".into()))?;
    let sink = JsonlSink::new(settings.clone(), store);
    let label = format!("jsonl:{}", sink.root());
    let tables = settings.tables.clone();
    Ok(start_blocking("jsonl", label, |table| super::chosen(tables.as_deref(), table), &cx, sink))
}

impl Drop for JsonlSink {
    /// Files still open belong to a stopped run: their rows are written again by the next.
    fn drop(&mut self) {
        for upload in std::mem::take(&mut self.open).into_values() {
            upload.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;
    use crate::transform::TableOutput;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(id: &str, tables: &[&str]) -> SinkBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let part = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        let outputs = tables.iter().map(|t| TableOutput { table: (*t).into(), batches: vec![part.clone()] }).collect();
        SinkBatch { id: id.into(), outputs, ..SinkBatch::default() }
    }

    #[test]
    fn chosen_tables_stay_open_until_a_sealing_barrier_and_are_named_by_their_first_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::Local(LocalStore::open(dir.path().to_owned()).unwrap()));
        let settings = JsonlSettings { path: dir.path().to_owned(), tables: Some(vec!["plays".into()]) };
        let staged = |ids: &[&str]| {
            let mut sink = JsonlSink::new(settings.clone(), store.clone());
            for id in ids {
                sink.write(&batch(id, &["plays", "tracks"])).unwrap();
            }
            assert!(sink.prepare(false).unwrap().is_empty(), "no barrier without seal closes a file");
            sink.prepare(true).unwrap()
        };
        let first = staged(&["b1", "b2"]);
        assert_eq!(first.len(), 1, "only the chosen table");
        assert!(first[0].key.starts_with("plays/part-") && first[0].key.ends_with(".jsonl"), "{}", first[0].key);
        assert_eq!(staged(&["b1", "b2"])[0].key, first[0].key, "the same batches, the same name");
        assert_ne!(staged(&["b3", "b2"])[0].key, first[0].key);
        store.commit(&first[0]).unwrap();
        let text = String::from_utf8(store.read(&first[0].key).unwrap()).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.starts_with(r#"{"_table":"plays","_batch_id":"b1","n":1}"#), "{text}");
    }
}
