//! The error any tunestream command can end with, and who must act on it.

use crate::{Blame, config, decode, fs, pipeline, serve, sink, snowflake, source, store, transform};

#[cfg(test)]
mod tests;

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
    /// Who must act: each error says so itself; configuration, locks, the warehouse's values
    /// and the server's address are always the user's to fix.
    pub fn blame(&self) -> Blame {
        match self {
            Error::Query(e) => e.blame(),
            Error::Source(e) => e.blame(),
            Error::Sink(_, e) => e.blame(),
            Error::Commit(e) => e.blame(),
            Error::Store(e) => e.blame(),
            Error::Config(_) | Error::Lock(_) | Error::Snowflake(_) | Error::Serve(_) => Blame::User,
            Error::SinkStopped(_) | Error::Decode(_) | Error::Execute(_) | Error::Bug(_) => Blame::Bug,
        }
    }
}
