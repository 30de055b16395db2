//! Settings of the replay source.

use std::path::PathBuf;

use crate::page::Kind;

/// What to replay and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Files and directories of raw pages; directories are read recursively in name order.
    pub paths: Vec<PathBuf>,
    /// The kind of bare responses, when their `href` does not tell it.
    pub kind: Option<Kind>,
}

impl ReplayConfig {
    pub fn new(paths: Vec<PathBuf>, kind: Option<Kind>) -> Self {
        Self { paths, kind }
    }
}
