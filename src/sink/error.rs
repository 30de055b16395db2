//! How a sink fails, and who must act.

use std::path::PathBuf;

use crate::store::StoreError;
use crate::transform::QueryError;

/// A sink failed. Who must act is in each variant's text.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The store refused a write: the user must fix space or permissions.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A local file could not be written: the user must fix space or permissions.
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Parquet encoder failed: a bug in tunestream.
    #[error("cannot encode {path} as Parquet (a bug in tunestream)")]
    Encode {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    /// A query's output does not fit the sink: the user must fix the SQL.
    #[error("{0}")]
    Schema(String),
    /// A stream refused for good (no such stream, access denied): the user must fix it.
    #[error("{sink}: {message}")]
    Refused { sink: String, message: String },
    /// Records were still failing when the run stopped: the service is down. Nothing after the
    /// last checkpoint counts as delivered; the next start sends it again.
    #[error(
        "{sink}: {records} records not delivered when the run stopped ({message}); nothing after the last checkpoint was committed, and the next start sends it again"
    )]
    Undelivered { sink: String, records: usize, message: String },
    /// The feeds' SQL cannot be planned: the user must fix it.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// tunestream broke its own rules: a bug.
    #[error("{0} (a bug in tunestream)")]
    Bug(String),
}

impl SinkError {
    /// Who must act.
    pub fn blame(&self) -> crate::Blame {
        match self {
            SinkError::Store(e) => e.blame(),
            SinkError::Query(e) => e.blame(),
            SinkError::Io { .. } | SinkError::Schema(_) | SinkError::Refused { .. } => crate::Blame::User,
            SinkError::Undelivered { .. } => crate::Blame::Service,
            SinkError::Encode { .. } | SinkError::Bug(_) => crate::Blame::Bug,
        }
    }

    /// A Parquet encoder's failure on `path`: the file system's (a full disk, a permission), which
    /// the user must fix, when the encoder failed writing; a bug otherwise.
    pub fn encode(path: PathBuf, source: ::parquet::errors::ParquetError) -> Self {
        use ::parquet::errors::ParquetError;
        match source {
            ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => SinkError::Io { path, source: *io },
                Err(inner) => SinkError::Encode { path, source: ParquetError::External(inner) },
            },
            source => SinkError::Encode { path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_under_the_parquet_encoder_is_the_users_to_fix_and_a_broken_encoder_a_bug() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let e = SinkError::encode("lake/x.parquet".into(), ::parquet::errors::ParquetError::External(Box::new(full)));
        assert!(matches!(&e, SinkError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull), "{e}");
        let bug = SinkError::encode("lake/x.parquet".into(), ::parquet::errors::ParquetError::General("bad".into()));
        assert!(matches!(bug, SinkError::Encode { .. }));
        assert!(crate::Error::Sink("lake", e).blame() == crate::blame::Blame::User);
    }
}
