//! Run counters, updated once per micro-batch and read by the summary (and a metrics endpoint).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by the pipeline stages.
#[derive(Debug, Default)]
pub struct Counters {
    pub batches: AtomicU64,
    pub pages: AtomicU64,
    pub input_bytes: AtomicU64,
    pub rejected_lines: AtomicU64,
    /// Objects this run created in the sinks' stores, and their bytes.
    pub files_committed: AtomicU64,
    pub bytes_committed: AtomicU64,
    /// Decode and transform of each micro-batch.
    pub batch_seconds: super::Histogram,
    /// From the fetch of the oldest page in a commit to the commit.
    pub fetch_to_commit: super::Histogram,
    /// Micro-batches transformed and waiting for the barrier (a gauge).
    pub queued_batches: AtomicU64,
    /// Inputs waiting in the fullest sink's channel (a gauge).
    pub queued_sink_inputs: AtomicU64,
    rows_by_table: Mutex<BTreeMap<String, u64>>,
    /// Rows each sink took, by sink label and table.
    rows_by_sink: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Rejected lines by reason and page kind.
    rejects_by_reason: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// When each table (the first segment of an object's key) last had an object committed,
    /// in microseconds since the epoch.
    last_commit_by_table: Mutex<BTreeMap<String, i64>>,
}

impl Counters {
    /// Records one micro-batch that went through decode and transform.
    pub fn record_batch(
        &self,
        pages: usize,
        input_bytes: usize,
        rejected: usize,
        rows: impl IntoIterator<Item = (String, u64)>,
    ) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.pages.fetch_add(pages as u64, Ordering::Relaxed);
        self.input_bytes.fetch_add(input_bytes as u64, Ordering::Relaxed);
        self.rejected_lines.fetch_add(rejected as u64, Ordering::Relaxed);
        // A poisoned lock only means another thread panicked mid-update; the counts stay usable.
        let mut by_table = crate::lock(&self.rows_by_table);
        for (table, n) in rows {
            *by_table.entry(table).or_default() += n;
        }
    }

    /// Records one object committed under `key`: `created` by this run, or already present.
    pub fn record_commit(&self, key: &str, created: bool, bytes: u64) {
        if created {
            super::add(&self.files_committed, 1);
            super::add(&self.bytes_committed, bytes);
        }
        let table = key.split('/').next().unwrap_or_default().to_owned();
        let now = chrono::Utc::now().timestamp_micros();
        crate::lock(&self.last_commit_by_table).insert(table, now);
    }

    pub fn last_commit_by_table(&self) -> BTreeMap<String, i64> {
        crate::lock(&self.last_commit_by_table).clone()
    }

    /// Counts rejected lines by `(reason, kind)`.
    pub fn record_rejects<'a>(&self, rejects: impl IntoIterator<Item = (&'static str, &'a str)>) {
        let mut by_reason = crate::lock(&self.rejects_by_reason);
        for (reason, kind) in rejects {
            *by_reason.entry((reason, kind.to_owned())).or_default() += 1;
        }
    }

    pub fn rejects_by_reason(&self) -> BTreeMap<(&'static str, String), u64> {
        crate::lock(&self.rejects_by_reason).clone()
    }

    /// Counts the rows `sink` took of each table.
    pub fn record_sink_rows<'a>(&self, sink: &str, rows: impl IntoIterator<Item = (&'a str, u64)>) {
        let mut by_sink = crate::lock(&self.rows_by_sink);
        let tables = by_sink.entry(sink.to_owned()).or_default();
        for (table, n) in rows {
            *tables.entry(table.to_owned()).or_default() += n;
        }
    }

    pub fn rows_by_sink(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        crate::lock(&self.rows_by_sink).clone()
    }

    pub fn rows_by_table(&self) -> BTreeMap<String, u64> {
        crate::lock(&self.rows_by_table).clone()
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Counters of the live Spotify source, updated per request and per pull.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub malformed: AtomicU64,
    pub token_refreshes: AtomicU64,
    pub pulls: AtomicU64,
    pub pulls_paused: AtomicU64,
    pub pages: AtomicU64,
    pub unchanged_playlists: AtomicU64,
    pub gaps: AtomicU64,
    /// Pages whose body stayed malformed, set aside in the rejected output.
    pub set_aside: AtomicU64,
    /// Playlists whose metadata landed without their entries, which Spotify refused.
    pub metadata_only_playlists: AtomicU64,
    /// Targets (or an artist's album pages) that failed a pull and are read again at the next.
    pub failed_targets: AtomicU64,
    /// Requests counted against the daily budget in the rolling 24 hours (a gauge).
    pub budget_used: AtomicU64,
    /// The daily budget (a gauge).
    pub budget: AtomicU64,
    /// When the account's circuit closes, in seconds since the epoch; 0 while it is closed.
    pub circuit_open_until: AtomicU64,
    /// Responses by endpoint (ids replaced by `{id}`) and HTTP status.
    responses: Mutex<BTreeMap<(String, u16), u64>>,
    /// The latest problem of each job (skips, failures, an open circuit, a needed login).
    problems: Mutex<BTreeMap<String, String>>,
}

impl SourceCounters {
    /// Adds `n` to one of these counters.
    pub fn add(counter: &AtomicU64, n: u64) {
        super::add(counter, n);
    }

    /// Records `problem` as the latest of `job`; `None` clears it after a clean pull.
    pub fn set_problem(&self, job: &str, problem: Option<String>) {
        let mut problems = crate::lock(&self.problems);
        match problem {
            Some(p) => problems.insert(job.to_owned(), p),
            None => problems.remove(job),
        };
    }

    /// Counts a response of `status` to `url`.
    pub fn record_response(&self, url: &str, status: u16) {
        let mut responses = crate::lock(&self.responses);
        *responses.entry((endpoint(url), status)).or_default() += 1;
    }

    /// Responses by endpoint and status.
    pub fn responses(&self) -> BTreeMap<(String, u16), u64> {
        crate::lock(&self.responses).clone()
    }

    pub fn problems(&self) -> BTreeMap<String, String> {
        crate::lock(&self.problems).clone()
    }
}

/// The path of `url` with the id after each collection replaced by `{id}`, so a metric has one
/// series per endpoint, not per playlist or user.
pub fn endpoint(url: &str) -> String {
    const COLLECTIONS: [&str; 7] = ["users", "playlists", "artists", "albums", "tracks", "shows", "episodes"];
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out = Vec::new();
    let mut after_collection = false;
    for segment in path.split('/') {
        out.push(if after_collection && !segment.is_empty() { "{id}" } else { segment });
        after_collection = COLLECTIONS.contains(&segment);
    }
    out.join("/")
}

/// What the pipeline's commits did over a run, in all and per store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommitStats {
    /// Objects created by this run.
    pub files_committed: u64,
    /// Objects whose key already existed, from an earlier run over the same input; kept as they were.
    pub files_already_present: u64,
    pub bytes_committed: u64,
    /// The same counts for each store, by its root.
    pub by_store: BTreeMap<String, StoreCommits>,
    /// Checkpoints that saved a live source's state with the objects it covers.
    pub checkpoints: u64,
    /// The run stopped between commit points (interrupted, or a failure): rows after the last
    /// commit are not in the lake, and the next run reads them again.
    pub stopped_mid_stream: bool,
}

/// What the commits did in one store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StoreCommits {
    pub files_committed: u64,
    pub files_already_present: u64,
    pub bytes_committed: u64,
}

impl CommitStats {
    /// Counts one object committed to `store`: `created`, or found already present.
    pub fn record(&mut self, store: &str, created: bool, bytes: u64) {
        let in_store = self.by_store.entry(store.to_owned()).or_default();
        if created {
            (self.files_committed, in_store.files_committed) = (self.files_committed + 1, in_store.files_committed + 1);
            (self.bytes_committed, in_store.bytes_committed) =
                (self.bytes_committed + bytes, in_store.bytes_committed + bytes);
        } else {
            self.files_already_present += 1;
            in_store.files_already_present += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hide_ids_and_queries() {
        assert_eq!(
            endpoint("http://127.0.0.1:9/v1/me/player/recently-played?limit=50"),
            "/v1/me/player/recently-played"
        );
        assert_eq!(
            endpoint("https://api.spotify.com/v1/playlists/37i9dQZF/items?offset=100"),
            "/v1/playlists/{id}/items"
        );
        assert_eq!(endpoint("https://api.spotify.com/v1/users/alice/playlists"), "/v1/users/{id}/playlists");
        assert_eq!(endpoint("https://api.spotify.com/v1/search?q=love"), "/v1/search");
    }
}
