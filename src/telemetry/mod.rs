//! Telemetry: logging setup, run counters, and the summary printed at the end of every run.

mod counters;
mod delivery;
mod feeds;
mod histogram;
mod metrics;
pub mod progress;
mod summary;

pub use counters::{CommitStats, Counters, SourceCounters, StoreCommits};
pub use delivery::{Delivered, DeliveryCounters, DeliveryReport};
pub use feeds::FeedCounters;
pub use histogram::{Histogram, HistogramSnapshot, LATENCY_BUCKETS};
pub use metrics::{Metrics, prometheus_text};
pub use summary::{FeedSummary, RunSummary, SourceSummary};

/// Adds `n` to a counter.
pub fn add(counter: &std::sync::atomic::AtomicU64, n: u64) {
    counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// Sets a gauge.
pub fn set(gauge: &std::sync::atomic::AtomicU64, value: u64) {
    gauge.store(value, std::sync::atomic::Ordering::Relaxed);
}

/// Starts logging to stderr. `RUST_LOG` wins over `default_level` when set.
pub fn init(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("tunestream={default_level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
