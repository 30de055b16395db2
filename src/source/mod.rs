//! Sources: where raw Spotify pages come from, cut into micro-batches of lines.
//!
//! Every source produces [`PageBatch`]es on a bounded channel; the decode stage turns them into
//! Arrow. [`SourceConfig`] is the closed set: a replay of raw page files ([`replay`]) or live
//! pulls of the Web API ([`spotify`]), real or the built-in [`crate::simulator`].

pub mod replay;
pub mod spotify;
pub mod synthetic;

use std::path::PathBuf;

pub use crate::page::{BatchBuf, BatchLimits, BufferPool, Checkpoint, CommitPoint, LineRef, PageBatch, SourceFile};

/// The closed set of sources; the pipeline dispatches on it with a `match`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// Re-reads raw page files (NDJSON, plain or gzip).
    Replay(replay::ReplayConfig),
    /// Pulls the Spotify Web API (or the simulator) on a schedule.
    Spotify(Box<spotify::LiveConfig>),
}

/// A source failed in a way that stops it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The user named an input that cannot be read.
    #[error("cannot read input {path}")]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An `s3://` input cannot be listed or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// An input file a complete replay into this lake read has changed since: its rows are in
    /// the lake, and reading it again would add them twice.
    #[error(
        "{name} changed since a replay into this lake read it (then {was}, now {now}); its rows are in the lake already and tunestream will not add them twice: put the changed file under a new name, or replay into a new lake (the list of inputs read is {ledger})",
        ledger = ledger.display()
    )]
    InputChanged { name: String, was: String, now: String, ledger: PathBuf },
    /// The replay ledger in the state directory cannot be read or written.
    #[error("replay ledger {path}: {message}")]
    Ledger { path: PathBuf, message: String },
    /// The user named inputs, but none of them holds a page file.
    #[error("no raw page files (*.ndjson, *.jsonl, *.json, optionally .gz) under {0}")]
    NoFiles(String),
    /// The state directory cannot be used.
    #[error(transparent)]
    State(#[from] spotify::state::StateError),
    /// A login did not complete.
    #[error(transparent)]
    Login(#[from] spotify::login::LoginError),
    /// The HTTP client cannot start (TLS setup): the environment must be fixed.
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    /// The simulator cannot start.
    #[error("cannot start the Spotify simulator on 127.0.0.1")]
    Simulator(#[source] std::io::Error),
    /// The jobs need more requests per day than the budget allows.
    #[error("the jobs need more requests than the daily budget allows (pass --force to run anyway):\n{0}")]
    OverBudget(String),
    /// tunestream broke its own rules.
    #[error("{0} (a bug in tunestream)")]
    Bug(String),
}

impl SourceError {
    /// Who must act.
    pub fn blame(&self) -> crate::Blame {
        match self {
            SourceError::Store(e) => e.blame(),
            SourceError::Login(e) => e.blame(),
            SourceError::Bug(_) => crate::Blame::Bug,
            SourceError::Input { .. }
            | SourceError::InputChanged { .. }
            | SourceError::Ledger { .. }
            | SourceError::NoFiles(_)
            | SourceError::State(_)
            | SourceError::Client(_)
            | SourceError::Simulator(_)
            | SourceError::OverBudget(_) => crate::Blame::User,
        }
    }
}
