//! Opening the sinks' stores: each opened, locked (local directories) and recovered before
//! anything is written, then handed to its sink as it starts.

use std::path::Path;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Observed;
use super::barrier::SinkLink;
use super::commit::Committer;
use crate::Error;
use crate::config::Settings;
use crate::fs::{DirLock, lock_dir, lock_tree};
use crate::sink::lake::TableSpec;
use crate::sink::{SinkConfig, SinkContext, SinkError};
use crate::store::{Location, Store};

/// A running sink: its name and its task.
pub struct SinkTask {
    pub name: &'static str,
    pub task: JoinHandle<Result<(), SinkError>>,
}

/// Every sink's store, held for this process, with the committer that recovered them.
pub struct Outputs {
    /// Each sink to start with its store (for sinks that write objects).
    pub sinks: Vec<(SinkConfig, Option<Arc<Store>>)>,
    /// The lake's store: it also takes the rejects of every sink.
    pub lake: Arc<Store>,
    /// The raw zone's store, when it is not the lake's.
    pub raw: Option<Arc<Store>>,
    pub committer: Committer,
    _locks: Vec<DirLock>,
}

impl Outputs {
    /// Every store the sinks write to, each once.
    pub fn stores(&self) -> Vec<Arc<Store>> {
        Self::distinct(&self.lake, &self.sinks, self.raw.as_ref())
    }

    fn distinct(
        lake: &Arc<Store>,
        sinks: &[(SinkConfig, Option<Arc<Store>>)],
        raw: Option<&Arc<Store>>,
    ) -> Vec<Arc<Store>> {
        let mut stores = vec![lake.clone()];
        for store in sinks.iter().filter_map(|(_, store)| store.as_ref()).chain(raw) {
            if !stores.iter().any(|known| Arc::ptr_eq(known, store)) {
                stores.push(store.clone());
            }
        }
        stores
    }
}

/// Opens and locks every sink's store (and `state_dir`, for a live source), then completes an
/// interrupted commit and removes staged objects no commit will list.
///
/// S3 has no locks: one run at a time may write an `s3://` prefix, which the state directory's
/// lock ensures for runs that share it (`docs/s3.md`).
pub async fn open(
    settings: &Settings,
    configs: Vec<SinkConfig>,
    state_dir: Option<&Path>,
    cancel: &CancellationToken,
) -> Result<Outputs, Error> {
    let mut locks = Vec::new();
    let mut open_store = async |location: Location, what: &'static str| -> Result<Arc<Store>, Error> {
        if let Some(dir) = location.local() {
            locks.push(lock_tree(dir, what)?);
        }
        // At every start a store aborts the incomplete uploads below its prefix; at a bucket's
        // root those would include other applications'.
        if let Location::S3 { prefix, .. } = &location
            && prefix.is_empty()
        {
            let message = format!(
                "a {what} at the root of a bucket is refused: tunestream aborts the incomplete uploads below its prefix at every start, and at the root those include other applications'; use {location}/PREFIX"
            );
            return Err(crate::store::StoreError::S3 { url: location.to_string(), message }.into());
        }
        Ok(Arc::new(crate::store::open(&location, &settings.s3, cancel).await?))
    };
    let lake = open_store(settings.lake.path.clone(), "lake").await?;
    let mut sinks = Vec::new();
    for sink in configs {
        let store = match sink.store() {
            Some((root, _)) if root == settings.lake.path => Some(lake.clone()),
            Some((root, what)) => Some(open_store(root, what).await?),
            None => None,
        };
        sinks.push((sink, store));
    }
    let raw = match settings.lake.raw.clone() {
        Some(raw) => Some(open_store(raw, "raw zone").await?),
        None => None,
    };
    if let Some(dir) = state_dir {
        locks.push(lock_dir(dir, "state directory")?);
    }
    let stores = Outputs::distinct(&lake, &sinks, raw.as_ref());
    let state_dir = state_dir.map(Path::to_owned);
    // Recovery talks to the stores synchronously, as commits do: off the async threads.
    let committer = tokio::task::spawn_blocking(move || Committer::recover(stores, state_dir.as_deref()))
        .await
        .map_err(|e| Error::Bug(format!("recovery task failed: {e}")))??;
    Ok(Outputs { sinks, lake, raw, committer, _locks: locks })
}

/// What every sink shares at start, besides its own store.
pub struct Shared<'a> {
    pub tables: &'a [TableSpec],
    /// Where sinks keep what must survive a restart.
    pub state_dir: &'a Path,
    pub capacity: usize,
    pub observed: &'a Observed,
    pub cancel: &'a CancellationToken,
}

/// Starts every sink of `outputs`, handing each its store; returns the barrier's links and the
/// tasks to await.
pub async fn start(outputs: &Outputs, shared: Shared<'_>) -> Result<(Vec<SinkLink>, Vec<SinkTask>), Error> {
    let mut links = Vec::with_capacity(outputs.sinks.len());
    let mut tasks = Vec::with_capacity(outputs.sinks.len());
    for (config, store) in &outputs.sinks {
        let metrics = &shared.observed.metrics;
        let cx = SinkContext {
            tables: shared.tables.to_vec(),
            store: store.clone(),
            raw: outputs.raw.clone(),
            rejects: outputs.lake.clone(),
            state_dir: shared.state_dir.to_owned(),
            capacity: shared.capacity,
            counters: metrics.pipeline.clone(),
            delivered: metrics.delivery.clone(),
            published: shared.observed.feeds.clone(),
            feed_counters: metrics.feeds.clone(),
            cancel: shared.cancel.clone(),
        };
        let handle = match config.start(cx).await {
            Ok(handle) => handle,
            Err(e) => {
                // The sinks started so far end once their inputs close.
                drop(links);
                for started in tasks {
                    let SinkTask { task, .. } = started;
                    let _ = task.await;
                }
                return Err(Error::Sink(config.name(), e));
            }
        };
        links.push(SinkLink { name: handle.name, input: handle.input, prepared: handle.prepared });
        tasks.push(SinkTask { name: handle.name, task: handle.task });
    }
    Ok((links, tasks))
}

/// Forgets what the sinks remember of deliveries: a run ended with all of it committed.
pub fn forget_deliveries(sinks: &[(SinkConfig, Option<Arc<Store>>)], state_dir: &Path) -> Result<(), Error> {
    for (config, _) in sinks {
        config.forget_deliveries(state_dir).map_err(|e| Error::Sink(config.name(), e))?;
    }
    Ok(())
}

/// The error of a sink task that ended, or of its thread.
pub fn ended(name: &'static str, result: Result<Result<(), SinkError>, tokio::task::JoinError>) -> Result<(), Error> {
    match result {
        Ok(result) => result.map_err(|e| Error::Sink(name, e)),
        Err(e) => Err(Error::Bug(format!("sink {name} task failed: {e}"))),
    }
}
