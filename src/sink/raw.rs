//! The raw landing zone of live pulls: every fetched page, enveloped, in gzip NDJSON under
//! `<lake>/_raw/dt=YYYY-MM-DD/hour=HH/`, committed with the same checkpoints as the tables, so
//! `tunestream replay <lake>/_raw` rebuilds every table after a SQL change.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use xxhash_rust::xxh3::Xxh3;

use super::SinkError;
use super::parquet::layout::{partition_dir, temp_path_with};

/// The folder below the lake root that holds raw pages.
pub const RAW_DIR: &str = "_raw";
const MICROS_PER_HOUR: i64 = 3_600_000_000;

struct OpenRaw {
    encoder: GzEncoder<File>,
    temp: PathBuf,
    dir: PathBuf,
    first_micros: i64,
    digest: Xxh3,
}

/// Open raw files, one per hour of fetch time.
pub struct RawWriter {
    root: PathBuf,
    open: BTreeMap<i64, OpenRaw>,
    next_id: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SinkError + use<> {
    let path = path.to_owned();
    move |source| SinkError::Io { path, source }
}

impl RawWriter {
    pub fn new(lake: &Path) -> Self {
        Self { root: lake.join(RAW_DIR), open: BTreeMap::new(), next_id: u64::from(std::process::id()) << 32 }
    }

    /// Appends one enveloped page fetched at `fetched_micros`.
    pub fn append(&mut self, fetched_micros: i64, line: &[u8]) -> Result<(), SinkError> {
        let hour = fetched_micros.div_euclid(MICROS_PER_HOUR);
        if !self.open.contains_key(&hour) {
            let dir = self.root.join(partition_dir(Some(hour)));
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            self.next_id += 1;
            let temp = temp_path_with(&dir, self.next_id, "ndjson.gz");
            let file = File::create(&temp).map_err(io(&temp))?;
            let encoder = GzEncoder::new(file, Compression::fast());
            self.open.insert(hour, OpenRaw { encoder, temp, dir, first_micros: fetched_micros, digest: Xxh3::new() });
        }
        let Some(raw) = self.open.get_mut(&hour) else { return Ok(()) };
        raw.digest.update(line);
        raw.encoder.write_all(line).and_then(|()| raw.encoder.write_all(b"\n")).map_err(io(&raw.temp))
    }

    /// Finishes every open file, returning (temporary, final, bytes) for the checkpoint to commit.
    pub fn finish_all(&mut self) -> Result<Vec<(PathBuf, PathBuf, u64)>, SinkError> {
        let mut finished = Vec::with_capacity(self.open.len());
        for raw in std::mem::take(&mut self.open).into_values() {
            let file = raw.encoder.finish().map_err(io(&raw.temp))?;
            file.sync_all().map_err(io(&raw.temp))?;
            let bytes = file.metadata().map_err(io(&raw.temp))?.len();
            let opened = chrono::DateTime::from_timestamp_micros(raw.first_micros).unwrap_or_default();
            let name = format!("pages-{}-{:016x}.ndjson.gz", opened.format("%Y%m%dT%H%M%SZ"), raw.digest.digest());
            finished.push((raw.temp, raw.dir.join(name), bytes));
        }
        Ok(finished)
    }
}

impl Drop for RawWriter {
    /// Files still open at drop belong to a failed run; their pages are pulled again.
    fn drop(&mut self) {
        for raw in std::mem::take(&mut self.open).into_values() {
            let _ = std::fs::remove_file(&raw.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn pages_land_per_fetch_hour_and_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = RawWriter::new(dir.path());
        let hour = 1_772_600_767_000_000 / MICROS_PER_HOUR * MICROS_PER_HOUR;
        raw.append(hour + 1, b"{\"kind\":\"track\"}").unwrap();
        raw.append(hour + 2, b"{\"kind\":\"album\"}").unwrap();
        raw.append(hour + MICROS_PER_HOUR, b"{\"kind\":\"artist\"}").unwrap();
        let files = raw.finish_all().unwrap();
        assert_eq!(files.len(), 2);
        let (temp, target, _) = &files[0];
        assert!(target.to_string_lossy().contains("_raw/dt=2026-03-04/hour=05/pages-"), "{}", target.display());
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(temp).unwrap()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"kind\":\"track\"}\n{\"kind\":\"album\"}\n");
    }
}
