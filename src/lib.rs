//! tunestream: streaming ETL for Spotify listening data.
//!
//! Raw Spotify Web API pages flow through the modules in the order they are listed:
//! [`source`] → [`decode`] → [`transform`] → [`sink`], wired by [`pipeline`], configured by
//! [`config`] and observed through [`telemetry`].

pub mod config;
pub mod decode;
pub mod fs;
pub mod memory;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod telemetry;
pub mod transform;

/// Who has to act on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The user: fix the input, the SQL, the config or the environment.
    User,
    /// A bug in tunestream: please report it.
    Bug,
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
    #[error(transparent)]
    Sink(#[from] sink::SinkError),
    #[error(transparent)]
    Decode(#[from] decode::DecodeBug),
    #[error(transparent)]
    Execute(#[from] transform::ExecutionError),
    #[error("internal error (a bug in tunestream): {0}")]
    Bug(String),
}

impl Error {
    pub fn blame(&self) -> Blame {
        match self {
            Error::Config(_) | Error::Query(_) | Error::Source(_) => Blame::User,
            Error::Sink(
                sink::SinkError::Io { .. } | sink::SinkError::Schema(_) | sink::SinkError::Checkpoint { .. },
            ) => Blame::User,
            Error::Sink(sink::SinkError::Encode { .. }) | Error::Decode(_) | Error::Execute(_) | Error::Bug(_) => {
                Blame::Bug
            }
        }
    }
}
