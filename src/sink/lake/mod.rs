//! The lake: a layout of tables, the raw zone and rejects over a [`Store`].
//!
//! Everything the lake writes is staged first and handed to the pipeline as [`Pending`]
//! objects at a barrier; the pipeline's one commit path makes them visible, together with the
//! source state they cover.

mod config;
pub mod layout;
pub mod raw;
pub mod rejects;
mod tables;
#[cfg(test)]
mod tests;

pub use config::{LakeSection, LakeSettings};
pub use layout::INGESTED_AT;
pub use raw::RAW_DIR;
pub use rejects::REJECTED_DIR;
pub use tables::{TableSpec, check_tables};

use std::sync::Arc;

use super::run::start_blocking;
use super::{SinkBatch, SinkContext, SinkError, SinkHandle, WriteSink};
use crate::store::{Pending, Store};
use raw::RawWriter;
use tables::TableFiles;

/// The lake sink: writes each micro-batch into open files and stages what is ready.
pub struct LakeSink {
    store: Arc<Store>,
    /// Where raw pages go: the lake's store (below `_raw/`) or a store of their own.
    raw_store: Arc<Store>,
    tables: TableFiles,
    raw: RawWriter,
    /// Staged objects waiting for the next barrier.
    sealed: Vec<Pending>,
    /// The latest fetch time seen: files age by it, so a replay rolls files exactly as the live
    /// run that fetched the pages did, and the same input always gives the same files.
    clock_micros: i64,
}

impl LakeSink {
    /// Prepares the lake for `tables` over `store`, with the raw zone in `raw_store` if given.
    pub fn new(
        settings: LakeSettings,
        store: Arc<Store>,
        raw_store: Option<Arc<Store>>,
        tables: Vec<TableSpec>,
    ) -> Result<Self, SinkError> {
        let tables = TableFiles::new(settings, tables)?;
        let raw = RawWriter::new(if raw_store.is_some() { "" } else { RAW_DIR });
        let raw_store = raw_store.unwrap_or_else(|| store.clone());
        Ok(Self { store, raw_store, tables, raw, sealed: Vec::new(), clock_micros: i64::MIN })
    }

    /// Writes one micro-batch: its rejects, its tables and its raw pages.
    pub fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        let store = self.store.as_ref();
        if let Some(rejects) = rejects::stage_rejects(store, &batch.id, &batch.rejects)? {
            tracing::warn!(rejected = batch.rejects.len(), key = %rejects.key, "rejected lines staged");
            self.sealed.push(rejects);
        }
        for output in &batch.outputs {
            self.tables.write(store, &output.table, &batch.id, &output.batches, &mut self.sealed)?;
        }
        for (fetched_micros, line) in &batch.raw {
            self.raw.append(&self.raw_store, *fetched_micros, line)?;
        }
        self.clock_micros = self.clock_micros.max(batch.clock_micros.unwrap_or(i64::MIN));
        self.tables.seal_aged(store, self.clock_micros, &mut self.sealed)
    }

    /// Hands over everything staged since the last barrier; with `seal_open`, every open file
    /// is sealed first, so all rows written so far are in the objects returned.
    pub fn prepare(&mut self, seal_open: bool) -> Result<Vec<Pending>, SinkError> {
        if seal_open {
            self.tables.seal_all(&self.store, &mut self.sealed)?;
            self.raw.seal_all(&self.raw_store, &mut self.sealed)?;
        }
        Ok(std::mem::take(&mut self.sealed))
    }
}

impl WriteSink for LakeSink {
    fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        LakeSink::write(self, batch)
    }

    fn prepare(&mut self, seal: bool) -> Result<Vec<Pending>, SinkError> {
        LakeSink::prepare(self, seal)
    }
}

/// Starts the lake over the store and raw zone `cx` holds.
pub fn start(settings: &LakeSettings, cx: SinkContext) -> Result<SinkHandle, SinkError> {
    let store = cx.store.clone().ok_or_else(|| SinkError::Bug("the lake was started without its store".into()))?;
    let sink = LakeSink::new(settings.clone(), store, cx.raw.clone(), cx.tables.clone())?;
    Ok(start_blocking("lake", "lake".to_owned(), |_| true, &cx, sink))
}

impl Drop for LakeSink {
    /// Staged objects never handed over belong to a stopped run: a rerun stages them again.
    fn drop(&mut self) {
        for pending in self.sealed.drain(..) {
            let store = if pending.store == self.store.root() { &self.store } else { &self.raw_store };
            store.discard(&pending);
        }
    }
}
