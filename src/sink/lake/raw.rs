//! The raw landing zone of live pulls: every fetched page, enveloped, in gzip NDJSON under
//! `_raw/dt=YYYY-MM-DD/hour=HH/`, committed with the same checkpoints as the tables, so
//! `tunestream replay <lake>/_raw` rebuilds every table after a SQL change.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use xxhash_rust::xxh3::xxh3_64;

use super::layout::{MICROS_PER_HOUR, partition_dir};
use crate::sink::SinkError;
use crate::store::{Pending, Store, Upload};

/// The folder below the lake root that holds raw pages.
pub const RAW_DIR: &str = "_raw";

struct OpenRaw {
    encoder: GzEncoder<Upload>,
}

/// Open raw files, one per hour of fetch time.
pub struct RawWriter {
    /// The folder of the raw zone in its store: `_raw` in the lake, or its own store's root.
    root: &'static str,
    open: BTreeMap<i64, OpenRaw>,
}

fn io(upload: &Upload) -> impl FnOnce(std::io::Error) -> SinkError + use<> {
    let path = upload.describe();
    move |source| SinkError::Io { path, source }
}

impl RawWriter {
    pub fn new(root: &'static str) -> Self {
        Self { root, open: BTreeMap::new() }
    }

    /// Appends one enveloped page fetched at `fetched_micros`.
    pub fn append(&mut self, store: &Store, fetched_micros: i64, line: &[u8]) -> Result<(), SinkError> {
        let hour = fetched_micros.div_euclid(MICROS_PER_HOUR);
        let raw = match self.open.entry(hour) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(slot) => {
                // Named by its first page, enveloped with its fetch time: never the same twice.
                let opened = chrono::DateTime::from_timestamp_micros(fetched_micros).unwrap_or_default();
                let name = format!("pages-{}-{:016x}.ndjson.gz", opened.format("%Y%m%dT%H%M%SZ"), xxh3_64(line));
                let dir = partition_dir(Some(hour));
                let key =
                    if self.root.is_empty() { format!("{dir}/{name}") } else { format!("{}/{dir}/{name}", self.root) };
                slot.insert(OpenRaw { encoder: GzEncoder::new(store.upload(key)?, Compression::fast()) })
            }
        };
        let written = raw.encoder.write_all(line).and_then(|()| raw.encoder.write_all(b"\n"));
        written.map_err(io(raw.encoder.get_ref()))
    }

    /// Finishes and stages every open file into `sealed`.
    pub fn seal_all(&mut self, store: &Store, sealed: &mut Vec<Pending>) -> Result<(), SinkError> {
        for raw in std::mem::take(&mut self.open).into_values() {
            let on_error = io(raw.encoder.get_ref());
            let upload = raw.encoder.finish().map_err(on_error)?;
            sealed.push(store.stage(upload)?);
        }
        Ok(())
    }

    /// Abandons every open file.
    pub fn abort(&mut self) {
        for raw in std::mem::take(&mut self.open).into_values() {
            if let Ok(upload) = raw.encoder.finish() {
                upload.abort();
            }
        }
    }
}

impl Drop for RawWriter {
    /// Files still open at drop belong to a stopped run; their pages are pulled again.
    fn drop(&mut self) {
        self.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LocalStore, Staged};
    use std::io::Read;

    #[test]
    fn pages_land_per_fetch_hour_and_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::open(dir.path().to_owned()).unwrap());
        let mut raw = RawWriter::new(RAW_DIR);
        let hour = 1_772_600_767_000_000 / MICROS_PER_HOUR * MICROS_PER_HOUR;
        raw.append(&store, hour + 1, b"{\"kind\":\"track\"}").unwrap();
        raw.append(&store, hour + 2, b"{\"kind\":\"album\"}").unwrap();
        raw.append(&store, hour + MICROS_PER_HOUR, b"{\"kind\":\"artist\"}").unwrap();
        let mut files = Vec::new();
        raw.seal_all(&store, &mut files).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].key.starts_with("_raw/dt=2026-03-04/hour=05/pages-"), "{}", files[0].key);
        let Staged::Local { temp } = &files[0].staged else { panic!("a local store stages files") };
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(temp).unwrap()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"kind\":\"track\"}\n{\"kind\":\"album\"}\n");
    }
}
