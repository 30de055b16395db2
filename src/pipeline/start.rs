//! Starting the source: a replay reads at once, since reading needs no schema; a live source
//! starts only once the queries are planned and the lake is recovered, so a broken query or an
//! interrupted commit never costs a request.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::page::{BatchLimits, PageBatch};
use crate::source::{SourceConfig, replay, spotify};
use crate::telemetry::SourceCounters;

/// A source on its way to running.
pub enum SourceStart {
    /// A replay, already reading.
    Reading(JoinHandle<Result<(), Error>>),
    /// A replay whose inputs cannot be listed.
    Missing(Option<Error>),
    /// A live source, waiting for [`SourceStart::start`].
    Live(Box<spotify::LiveConfig>, BatchLimits, mpsc::Sender<PageBatch>),
}

impl SourceStart {
    pub fn new(
        config: SourceConfig,
        limits: BatchLimits,
        pages: mpsc::Sender<PageBatch>,
        cancel: &CancellationToken,
    ) -> Self {
        match config {
            SourceConfig::Replay(config) => match replay::list_files(&config) {
                Ok(files) => {
                    let (cancel, kind, s3) = (cancel.clone(), config.kind, config.s3);
                    Self::Reading(tokio::task::spawn_blocking(move || {
                        replay::read_files(&files, kind, &s3, limits, &pages, &cancel).map_err(Error::from)
                    }))
                }
                Err(e) => Self::Missing(Some(e.into())),
            },
            SourceConfig::Spotify(config) => Self::Live(config, limits, pages),
        }
    }

    /// Where a live source keeps the state that commits with the data.
    pub fn state_dir(&self) -> Option<&std::path::Path> {
        match self {
            Self::Live(config, ..) => Some(&config.state_dir),
            _ => None,
        }
    }

    /// Why the source cannot start, if it cannot.
    pub fn take_error(&mut self) -> Option<Error> {
        match self {
            Self::Missing(error) => error.take(),
            _ => None,
        }
    }

    /// Stops a source that must not run (a query or an input is broken) and returns `error`.
    pub async fn abandon(self, pages: mpsc::Receiver<PageBatch>, cancel: &CancellationToken, error: Error) -> Error {
        cancel.cancel();
        // Dropping the receiver stops a reader waiting for room in the channel.
        drop(pages);
        if let Some(task) = self.into_task() {
            let _ = task.await;
        }
        error
    }

    /// The task of a source that is already reading.
    pub fn into_task(self) -> Option<JoinHandle<Result<(), Error>>> {
        match self {
            Self::Reading(task) => Some(task),
            _ => None,
        }
    }

    /// Starts a live source (connecting and, on the simulator, logging in), or hands over the
    /// replay already reading.
    pub async fn start(
        self,
        counters: Arc<SourceCounters>,
        cancel: &CancellationToken,
    ) -> Result<JoinHandle<Result<(), Error>>, Error> {
        match self {
            Self::Reading(task) => Ok(task),
            Self::Missing(error) => Err(error.unwrap_or_else(|| Error::Bug("a missing input was started".into()))),
            Self::Live(config, limits, pages) => {
                let client = Arc::new(spotify::connect(&config, counters, cancel.clone())?);
                if config.auto_login {
                    spotify::log_in_simulated_users(&client, &config.jobs).await?;
                }
                let cancel = cancel.clone();
                Ok(tokio::spawn(async move {
                    spotify::run_source(client, &config, limits, pages, cancel).await.map_err(Error::from)
                }))
            }
        }
    }
}
