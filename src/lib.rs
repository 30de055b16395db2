//! tunestream: streaming ETL for Spotify listening data.
//!
//! Raw Spotify Web API pages flow through the modules in the order they are listed:
//! [`source`] → [`decode`] → [`transform`] → [`sink`], wired by [`pipeline`], configured by
//! [`config`] and observed through [`telemetry`]. Below every stage sit what they share: pages
//! and micro-batches ([`page`]), object stores ([`store`]), file helpers ([`fs`]) and fault
//! injection for tests ([`fault`]). [`snowflake`] renders the warehouse side (`sql/`), and
//! [`serve`] is the HTTP server of a running pipeline.

pub mod aws;
mod blame;
pub mod config;
pub mod decode;
pub mod fault;
pub mod fs;
pub mod memory;
pub mod page;
pub mod pipeline;
pub mod serve;
pub mod sink;
pub mod snowflake;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod transform;

pub use blame::{Blame, error_chain};

/// Locks a mutex, taking its data even if a thread panicked while holding it: every value
/// behind these locks (counters, caches, logs) stays usable after a panic elsewhere.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Any error a tunestream command can end with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Query(#[from] transform::QueryError),
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error("sink {0} failed")]
    Sink(&'static str, #[source] sink::SinkError),
    /// A sink ended without saying why; its own error, when it has one, is reported instead.
    #[error("sink {0} stopped before the run ended (a bug in tunestream)")]
    SinkStopped(&'static str),
    #[error("cannot commit")]
    Commit(#[from] pipeline::CommitError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Lock(#[from] fs::LockError),
    #[error(transparent)]
    Decode(#[from] decode::DecodeBug),
    #[error(transparent)]
    Execute(#[from] transform::ExecutionError),
    #[error(transparent)]
    Snowflake(#[from] snowflake::SnowflakeError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error("internal error (a bug in tunestream): {0}")]
    Bug(String),
}

impl Error {
    pub fn blame(&self) -> Blame {
        use source::SourceError;
        use source::spotify::{client::PullError, login::LoginError};
        match self {
            Error::Source(SourceError::Login(LoginError::Pull(PullError::Transient { .. }))) => Blame::Service,
            Error::Query(transform::QueryError::Internal { .. }) => Blame::Bug,
            Error::Store(e)
            | Error::Source(SourceError::Store(e))
            | Error::Commit(pipeline::CommitError::Store(e))
            | Error::Sink(_, sink::SinkError::Store(e)) => e.blame(),
            Error::Config(_) | Error::Query(_) | Error::Source(_) | Error::Lock(_) | Error::Snowflake(_) => Blame::User,
            Error::Serve(_) => Blame::User,
            Error::Commit(_) => Blame::User,
            Error::Sink(_, e) => match e {
                sink::SinkError::Store(_)
                | sink::SinkError::Io { .. }
                | sink::SinkError::Schema(_)
                | sink::SinkError::Refused { .. } => Blame::User,
                sink::SinkError::Undelivered { .. } => Blame::Service,
                sink::SinkError::Encode { .. } | sink::SinkError::Bug(_) => Blame::Bug,
            },
            Error::SinkStopped(_) | Error::Decode(_) | Error::Execute(_) | Error::Bug(_) => Blame::Bug,
        }
    }
}
