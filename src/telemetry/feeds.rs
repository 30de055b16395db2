//! Counters of the trend feeds, read by `/metrics` and the summary.

use std::sync::atomic::AtomicU64;

use super::Histogram;

/// What the feeds sink did over a run.
#[derive(Debug, Default)]
pub struct FeedCounters {
    pub refreshes: AtomicU64,
    pub failed_refreshes: AtomicU64,
    pub evicted_rows: AtomicU64,
    /// Repeated sightings of a row dropped at compaction.
    pub repeated_rows: AtomicU64,
    /// Rows held now (a gauge).
    pub retained_rows: AtomicU64,
    /// How long each refresh took.
    pub refresh: Histogram,
    /// From the fetch of the oldest page in a refresh to its publication.
    pub fetch_to_feed: Histogram,
}
