//! Latency histograms: fixed buckets in seconds, updated with atomics, read by `/metrics` and
//! the summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the latency buckets: from a fast refresh to a slow commit.
pub const LATENCY_BUCKETS: [f64; 18] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// A histogram of durations in [`LATENCY_BUCKETS`], updated with atomics.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket, not cumulative; the last counts those above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// A histogram as read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations at or below it)`, cumulative, as Prometheus exposes them.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(duration.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            buckets.push((*bound, cumulative));
        }
        let count = cumulative + self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        HistogramSnapshot { buckets, count, sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6 }
    }
}

impl HistogramSnapshot {
    /// The bound of the bucket holding quantile `q` (0 to 1): an upper estimate, as
    /// Prometheus's `histogram_quantile` gives without interpolation. `None` with no data or
    /// above every bound.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        (self.count > 0).then_some(())?;
        self.buckets.iter().find(|(_, at_or_below)| *at_or_below >= rank).map(|(bound, _)| *bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets_and_quantiles_read_them() {
        let histogram = Histogram::default();
        for ms in [3, 7, 40, 40, 900, 400_000] {
            histogram.observe(Duration::from_millis(ms));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 6);
        assert_eq!(snapshot.buckets[0], (0.005, 1));
        assert_eq!(snapshot.buckets[3], (0.05, 4));
        assert_eq!(snapshot.buckets[9], (1.0, 5));
        assert_eq!(snapshot.buckets.last(), Some(&(300.0, 5)));
        assert!((snapshot.sum_seconds - 400.99).abs() < 1e-9, "{}", snapshot.sum_seconds);
        assert_eq!(snapshot.quantile_bound(0.5), Some(0.05));
        assert_eq!(snapshot.quantile_bound(0.8), Some(1.0));
        assert_eq!(snapshot.quantile_bound(1.0), None, "above every bound");
        assert_eq!(Histogram::default().snapshot().quantile_bound(0.5), None);
    }
}
