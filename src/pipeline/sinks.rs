//! Starting the sinks: one task per configured sink, each with its input and barrier channels,
//! and the lake's store, locked and recovered before anything is written.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::barrier::SinkLink;
use super::commit::Committer;
use crate::Error;
use crate::config::Settings;
use crate::fs::{DirLock, lock_dir};
use crate::sink::lake::{LakeSink, TableSpec};
use crate::sink::{Prepared, Sink, SinkConfig, SinkError, SinkInput};
use crate::store::{LocalStore, Store};

/// A running sink: its name and its task.
pub struct SinkTask {
    pub name: &'static str,
    pub task: JoinHandle<Result<(), SinkError>>,
}

/// The lake's store, held for this process, with the committer that recovered it.
pub struct LakeStore {
    pub store: Arc<Store>,
    pub committer: Committer,
    _locks: Vec<DirLock>,
}

/// Locks the lake (and `state_dir`, for a live source), then completes an interrupted commit
/// and removes staged objects no commit will list.
pub fn open_lake(settings: &Settings, state_dir: Option<&Path>) -> Result<LakeStore, Error> {
    let mut locks = vec![lock_dir(&settings.lake.path, "lake")?];
    if let Some(dir) = state_dir {
        locks.push(lock_dir(dir, "state directory")?);
    }
    let store = Arc::new(Store::Local(LocalStore::open(settings.lake.path.clone())?));
    let committer = Committer::recover(store.clone(), state_dir)?;
    Ok(LakeStore { store, committer, _locks: locks })
}

/// Builds every configured sink for `tables`, reporting the first that cannot start.
pub fn build(settings: &Settings, store: &Arc<Store>, tables: Vec<TableSpec>) -> Result<Vec<Sink>, Error> {
    let mut sinks = Vec::new();
    for sink in settings.sinks() {
        sinks.push(match sink {
            SinkConfig::Lake(lake) => {
                let lake = LakeSink::new(lake, store.clone(), tables.clone()).map_err(|e| Error::Sink("lake", e))?;
                Sink::Lake(lake)
            }
        });
    }
    Ok(sinks)
}

/// Starts one task per sink, each reading at most `capacity` inputs ahead.
pub fn start(sinks: Vec<Sink>, capacity: usize) -> (Vec<SinkLink>, Vec<SinkTask>) {
    let mut links = Vec::with_capacity(sinks.len());
    let mut tasks = Vec::with_capacity(sinks.len());
    for sink in sinks {
        let name = sink.name();
        let (input_tx, input_rx) = mpsc::channel(capacity);
        // One barrier is answered at a time: the barrier waits for every answer before the next.
        let (prepared_tx, prepared_rx) = mpsc::channel(1);
        let task = match sink {
            // The lake encodes and writes files: blocking work, on its own thread.
            Sink::Lake(_) => tokio::task::spawn_blocking(move || run_blocking(sink, input_rx, prepared_tx)),
        };
        links.push(SinkLink { name, input: input_tx, prepared: prepared_rx });
        tasks.push(SinkTask { name, task });
    }
    (links, tasks)
}

/// Feeds a sink its inputs in order until they end; a failure ends the task and drops the
/// channels, which the barrier sees.
pub fn run_blocking(
    mut sink: Sink,
    mut input: mpsc::Receiver<SinkInput>,
    prepared: mpsc::Sender<Prepared>,
) -> Result<(), SinkError> {
    while let Some(message) = input.blocking_recv() {
        let span = tracing::debug_span!("sink", name = sink.name());
        let _enter = span.enter();
        if let Some(answer) = sink.handle(message)?
            && prepared.blocking_send(answer).is_err()
        {
            break;
        }
    }
    Ok(())
}
