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
    /// A replay, already reading, and the JSON bytes of its inputs where they are known.
    Reading(JoinHandle<Result<(), Error>>, Option<u64>),
    /// A replay whose inputs cannot be listed.
    Missing(Option<Error>),
    /// A live source, waiting for [`SourceStart::start`].
    Live(Box<spotify::LiveConfig>, BatchLimits, mpsc::Sender<PageBatch>),
}

impl SourceStart {
    /// Starts reading a replay's inputs, less those its `ledger` says were read before.
    pub fn new(
        config: SourceConfig,
        limits: BatchLimits,
        pages: mpsc::Sender<PageBatch>,
        cancel: &CancellationToken,
        ledger: Option<Arc<replay::Ledger>>,
    ) -> Self {
        match config {
            SourceConfig::Replay(config) => {
                let listed = replay::list_files(&config, cancel);
                let files = match (listed, &ledger) {
                    (Ok(files), Some(ledger)) => replay::unread(files, ledger),
                    (listed, _) => listed,
                };
                match files {
                    Ok(files) => {
                        let total = replay::total_bytes(&files);
                        let (cancel, kind, s3) = (cancel.clone(), config.kind, config.s3);
                        let task = tokio::task::spawn_blocking(move || {
                            replay::read_files(&files, kind, &s3, limits, &pages, &cancel, ledger.as_deref())
                                .map_err(Error::from)
                        });
                        Self::Reading(task, total)
                    }
                    Err(e) => Self::Missing(Some(e.into())),
                }
            }
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

    /// The JSON bytes a replay will read, when its inputs tell them: what progress counts against.
    pub fn total_bytes(&self) -> Option<u64> {
        match self {
            Self::Reading(_, total) => *total,
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
            Self::Reading(task, _) => Some(task),
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
            Self::Reading(task, _) => Ok(task),
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
