//! tunestream: streaming ETL for Spotify listening data.
//!
//! Raw Spotify Web API pages flow through the modules in the order they are listed:
//! [`source`] → [`decode`] → [`transform`] → [`sink`], wired by [`pipeline`], configured by
//! [`config`] and observed through [`telemetry`]. Below every stage sit what they share: pages
//! and micro-batches ([`page`]), object stores ([`store`]), file helpers ([`fs`]) and fault
//! injection for tests ([`fault`]).

pub mod config;
pub mod decode;
pub mod fault;
pub mod fs;
pub mod memory;
pub mod page;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod transform;

/// Who has to act on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The user: fix the input, the SQL, the config or the environment, then run again.
    User,
    /// An external service failed after retries: run again once it is back.
    Service,
    /// A bug in tunestream: please report it.
    Bug,
}

impl Blame {
    /// The exit status of a run that ended with an error of this class.
    pub fn exit_code(self) -> u8 {
        match self {
            Blame::User => 2,
            // EX_TEMPFAIL: try again later.
            Blame::Service => 75,
            // EX_SOFTWARE: an internal error.
            Blame::Bug => 70,
        }
    }

    /// What the person reading the error should do, in one line.
    pub fn advice(self) -> &'static str {
        match self {
            Blame::User => "Fix the input, config or SQL named above and run again.",
            Blame::Service => "An external service kept failing; run again once it is back. Nothing committed is lost.",
            Blame::Bug => "This is a bug in tunestream; please report it with the message above.",
        }
    }
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
    #[error("internal error (a bug in tunestream): {0}")]
    Bug(String),
}

impl Error {
    pub fn blame(&self) -> Blame {
        use source::SourceError;
        use source::spotify::{client::PullError, login::LoginError};
        match self {
            Error::Source(SourceError::Login(LoginError::Pull(PullError::Transient { .. }))) => Blame::Service,
            Error::Config(_) | Error::Query(_) | Error::Source(_) | Error::Lock(_) | Error::Store(_) => Blame::User,
            Error::Commit(_) => Blame::User,
            Error::Sink(_, e) => match e {
                sink::SinkError::Store(_) | sink::SinkError::Io { .. } | sink::SinkError::Schema(_) => Blame::User,
                sink::SinkError::Encode { .. } | sink::SinkError::Bug(_) => Blame::Bug,
            },
            Error::SinkStopped(_) | Error::Decode(_) | Error::Execute(_) | Error::Bug(_) => Blame::Bug,
        }
    }
}
