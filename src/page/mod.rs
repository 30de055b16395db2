//! What every stage shares: a raw page line, a micro-batch of them, the page kinds, and the
//! commit points a source marks in its stream. It sits below every stage and imports none.

mod buffer;
mod kind;

pub use buffer::{BatchBuf, BufferPool};
pub use kind::{Kind, UnknownKind};

use std::path::PathBuf;
use std::sync::Arc;

/// State a live source hands on with a micro-batch: `contents` is written to `path` atomically,
/// in the same commit as every row up to that micro-batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

/// A point in a source's stream where everything before it may become durable together.
///
/// Only here may anything a sink staged be committed: anywhere else, part of a pull (or of a
/// replay) would land under a name that reading it again would not reproduce.
#[derive(Debug, Clone, PartialEq)]
pub enum CommitPoint {
    /// A live source between pulls: this state (cursors, snapshots) covers every page up to here.
    State(Checkpoint),
    /// Every line up to here comes from input whose integrity is established: plain files,
    /// and gzip files read to their checksum. Files sealed by their own limits may be committed
    /// here (their names are deterministic); open files wait for the end of the input.
    Verified,
    /// A finite input read to its end: a rerun over it ends at the same point.
    EndOfInput,
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
    /// Set when the line was longer than the limit: its length in bytes. `start..end` then
    /// holds only its first [`LONG_LINE_EXCERPT_BYTES`].
    pub too_long: Option<u64>,
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
    /// Set when everything up to and including this batch may be committed.
    pub commit_point: Option<CommitPoint>,
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
            let end = batch.buf.len();
            batch.lines.push(LineRef { file: file.clone(), line_no: i as u64 + 1, start, end, too_long: None });
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
    /// The longest line read; a longer one is rejected as it is read, keeping an excerpt, so
    /// one line never holds more memory than this.
    pub max_line_bytes: usize,
}

/// The default longest line: far above any real page (a 100-entry playlist page is ~0.5 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

/// How much of a line that is too long is kept, for the rejected output.
pub const LONG_LINE_EXCERPT_BYTES: usize = 4 << 10;
