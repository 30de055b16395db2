//! Sources: where raw Spotify pages come from, cut into micro-batches of lines.
//!
//! Every source produces [`PageBatch`]es on a bounded channel; the decode stage turns them into
//! Arrow. Live Spotify pulls and the simulator join [`SourceConfig`] as further variants.

mod buffer;
pub mod replay;
pub mod simulator;
pub mod spotify;
pub mod synthetic;

use std::path::PathBuf;
use std::sync::Arc;

use crate::decode::Kind;

pub use buffer::{BatchBuf, BufferPool};

/// The closed set of sources; the pipeline dispatches on it with a `match`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// Re-reads raw page files (NDJSON, plain or gzip).
    Replay(replay::ReplayConfig),
    /// Pulls the Spotify Web API (or the simulator) on a schedule.
    Spotify(Box<spotify::LiveConfig>),
}

/// State a source hands to the sink with a micro-batch: the sink writes `contents` to `path`
/// atomically once everything up to that micro-batch is committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

/// One input file, shared by all its lines.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as given or found, used in rejects and errors.
    pub path: PathBuf,
    /// Modification time in microseconds since the epoch: the fetch time of bare responses.
    pub modified_micros: i64,
    /// The kind of bare responses in this file, when the user named it.
    pub kind: Option<Kind>,
}

/// Where one raw line sits: in which file, at which line, and where in the batch buffer.
#[derive(Debug, Clone)]
pub struct LineRef {
    pub file: Arc<SourceFile>,
    /// 1-based line number in `file`.
    pub line_no: u64,
    pub start: usize,
    pub end: usize,
}

/// A micro-batch of raw lines: one contiguous buffer plus where each line is in it.
#[derive(Debug, Default)]
pub struct PageBatch {
    /// Order of this batch in the run, from 0.
    pub seq: u64,
    pub buf: BatchBuf,
    pub lines: Vec<LineRef>,
    /// The source's wall clock when it cut the batch (live sources), so files age on time.
    pub clock_micros: Option<i64>,
    /// Source state covering this and every earlier batch.
    pub checkpoint: Option<Checkpoint>,
    /// Land the raw lines in the lake's `_raw/` zone (live sources; replay input is already raw).
    pub keep_raw: bool,
}

impl PageBatch {
    /// A batch holding every non-blank line of `text`, as read from `file`: for tools, tests and
    /// benchmarks that have pages in memory.
    pub fn from_text(file: Arc<SourceFile>, text: &str) -> Self {
        let mut batch = Self::default();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let start = batch.buf.len();
            batch.buf.extend_from_slice(line.as_bytes());
            batch.lines.push(LineRef { file: file.clone(), line_no: i as u64 + 1, start, end: batch.buf.len() });
            batch.buf.push(b'\n');
        }
        batch
    }

    /// The bytes of one line, without its line ending.
    pub fn line(&self, line: &LineRef) -> &[u8] {
        &self.buf[line.start..line.end]
    }

    /// A lineage id derived only from the batch's content, so a re-run names the same batch
    /// the same way.
    pub fn content_id(&self) -> String {
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&self.buf))
    }
}

/// How big a micro-batch grows before it is handed on: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_pages: usize,
    pub max_bytes: usize,
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
}
