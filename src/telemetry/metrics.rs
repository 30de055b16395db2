//! Every counter of a run in one place, and its Prometheus text exposition: `/metrics` reads
//! the same atomics the summary does, at scrape time.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::{Counters, DeliveryCounters, FeedCounters, HistogramSnapshot, SourceCounters};

/// The counters every stage updates, shared with the HTTP server.
#[derive(Debug, Default)]
pub struct Metrics {
    pub pipeline: Arc<Counters>,
    pub source: Arc<SourceCounters>,
    pub delivery: Arc<DeliveryCounters>,
    pub feeds: Arc<FeedCounters>,
}

/// The metrics in the Prometheus text format.
pub fn prometheus_text(metrics: &Arc<Metrics>) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("tunestream");
    registry.register_collector(Box::new(Scrape(metrics.clone())));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

#[derive(Debug)]
struct Scrape(Arc<Metrics>);

fn read(counter: &AtomicU64) -> u64 {
    Counters::get(counter)
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value as i64);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A family of `kind` (a counter or a gauge) with labels, one series per `(label values, value)`.
fn labelled<V: Into<i64>>(
    encoder: &mut DescriptorEncoder,
    kind: MetricType,
    (name, help): (&str, &str),
    labels: &[&str],
    series: impl IntoIterator<Item = (Vec<String>, V)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (values, value) in series {
        let label_set: Vec<(String, String)> = labels.iter().map(|l| (*l).to_owned()).zip(values).collect();
        let series = family.encode_family(&label_set)?;
        match kind {
            MetricType::Gauge => ConstGauge::new(value.into()).encode(series)?,
            _ => ConstCounter::new(value.into().max(0) as u64).encode(series)?,
        }
    }
    Ok(())
}

fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    snapshot: &HistogramSnapshot,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(
        name,
        help,
        Some(&prometheus_client::registry::Unit::Seconds),
        MetricType::Histogram,
    )?;
    // The encoder takes counts per bucket and adds them up itself.
    let mut before = 0;
    let mut buckets: Vec<(f64, u64)> = snapshot
        .buckets
        .iter()
        .map(|&(bound, cumulative)| {
            let own = cumulative - before;
            before = cumulative;
            (bound, own)
        })
        .collect();
    buckets.push((f64::INFINITY, snapshot.count - before));
    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        snapshot.sum_seconds,
        snapshot.count,
        &buckets,
        None,
    )
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Metrics { pipeline, source, delivery, feeds } = self.0.as_ref();
        let e = &mut encoder;
        encode_pipeline(e, pipeline)?;
        encode_source(e, source)?;
        encode_delivery(e, delivery)?;
        encode_feeds(e, feeds)
    }
}

/// Decoding, rows per table and sink, and commits.
fn encode_pipeline(e: &mut DescriptorEncoder, pipeline: &Counters) -> Result<(), std::fmt::Error> {
    counter(e, "batches", "Micro-batches decoded and transformed.", read(&pipeline.batches))?;
    counter(e, "pages", "Pages decoded.", read(&pipeline.pages))?;
    counter(e, "input_bytes", "Bytes of raw JSON decoded.", read(&pipeline.input_bytes))?;
    counter(e, "rejected_lines", "Raw lines rejected by decoding.", read(&pipeline.rejected_lines))?;
    let rejects =
        pipeline.rejects_by_reason().into_iter().map(|((reason, kind), n)| (vec![reason.to_owned(), kind], n as i64));
    let help =
        "Rejected lines by reason (envelope: not a page of a known kind; content: breaks the data contract) and kind.";
    labelled(e, MetricType::Counter, ("rejects", help), &["reason", "kind"], rejects)?;
    let rows = pipeline.rows_by_table().into_iter().map(|(table, n)| (vec![table], n as i64));
    labelled(e, MetricType::Counter, ("rows", "Rows written by each table's query."), &["table"], rows)?;
    let by_sink = pipeline
        .rows_by_sink()
        .into_iter()
        .flat_map(|(sink, tables)| tables.into_iter().map(move |(table, n)| (vec![sink.clone(), table], n as i64)));
    let help = "Rows each sink took of each table: written to its files, sent to its stream, or kept by the feeds.";
    labelled(e, MetricType::Counter, ("sink_rows", help), &["sink", "table"], by_sink)?;
    counter(e, "files_committed", "Objects this run created in the sinks' stores.", read(&pipeline.files_committed))?;
    counter(e, "committed_bytes", "Bytes of the objects this run created.", read(&pipeline.bytes_committed))?;
    let commits = pipeline.last_commit_by_table().into_iter().map(|(t, micros)| (vec![t], micros / 1_000_000));
    let help = "When each table last had an object committed.";
    labelled(e, MetricType::Gauge, ("last_commit_timestamp_seconds", help), &["table"], commits)?;
    Ok(())
}

/// Requests to the Spotify Web API, the budget and the circuit.
fn encode_source(e: &mut DescriptorEncoder, source: &SourceCounters) -> Result<(), std::fmt::Error> {
    counter(e, "api_requests", "Requests sent to the Spotify Web API.", read(&source.requests))?;
    let responses =
        source.responses().into_iter().map(|((endpoint, status), n)| (vec![endpoint, status.to_string()], n as i64));
    let help = "API responses by endpoint and status.";
    labelled(e, MetricType::Counter, ("api_responses", help), &["endpoint", "status"], responses)?;
    gauge(
        e,
        "api_budget_used",
        "Requests counted against the daily budget over the last 24 hours.",
        read(&source.budget_used),
    )?;
    gauge(e, "api_budget", "Requests allowed per rolling 24 hours.", read(&source.budget))?;
    let until = read(&source.circuit_open_until);
    gauge(e, "api_circuit_open", "1 while the account's circuit holds pulls back after a 429.", u64::from(until > 0))?;
    gauge(e, "api_circuit_open_until_timestamp_seconds", "When pulls resume; 0 while the circuit is closed.", until)?;
    counter(e, "api_retries", "Requests sent again after a failure.", read(&source.retries))?;
    counter(e, "api_rate_limited", "Responses with status 429.", read(&source.rate_limited))?;
    counter(e, "api_server_errors", "Responses with a 5xx status.", read(&source.server_errors))?;
    counter(e, "pages_fetched", "Pages fetched from the API.", read(&source.pages))?;
    counter(e, "pages_set_aside", "Pages that never decoded, set aside as rejects.", read(&source.set_aside))?;
    counter(
        e,
        "playlists_metadata_only",
        "Playlists whose metadata landed while Spotify refused their entries.",
        read(&source.metadata_only_playlists),
    )?;
    counter(
        e,
        "pull_targets_failed",
        "Targets that failed a pull, read again at the next.",
        read(&source.failed_targets),
    )?;
    Ok(())
}

/// Records sent to Firehose and Kinesis.
fn encode_delivery(e: &mut DescriptorEncoder, delivery: &DeliveryCounters) -> Result<(), std::fmt::Error> {
    let sent = delivery
        .snapshot()
        .0
        .into_iter()
        .flat_map(|(sink, tables)| tables.into_iter().map(move |(table, d)| (sink.clone(), table, d)));
    let sent: Vec<_> = sent.collect();
    let series = |pick: fn(&super::Delivered) -> u64| {
        sent.iter().map(move |(sink, table, d)| (vec![sink.clone(), table.clone()], pick(d) as i64)).collect::<Vec<_>>()
    };
    let (by_stream, counters) = (["sink", "table"], MetricType::Counter);
    labelled(e, counters, ("records_sent", "Records a stream accepted."), &by_stream, series(|d| d.sent))?;
    let help = "Records sent again after the service failed them.";
    labelled(e, counters, ("records_retried", help), &by_stream, series(|d| d.retried))?;
    let help = "Records too large to send, set aside.";
    labelled(e, counters, ("records_rejected", help), &by_stream, series(|d| d.rejected))?;
    Ok(())
}

/// The trend feeds' refreshes and retained rows.
fn encode_feeds(e: &mut DescriptorEncoder, feeds: &FeedCounters) -> Result<(), std::fmt::Error> {
    counter(e, "feed_refreshes", "Refreshes of the trend feeds.", read(&feeds.refreshes))?;
    counter(
        e,
        "feed_refresh_failures",
        "Refreshes that failed; the last results stayed up.",
        read(&feeds.failed_refreshes),
    )?;
    counter(e, "feed_evicted_rows", "Rows that left the feeds' retention window.", read(&feeds.evicted_rows))?;
    let help = "Repeated sightings of a row (overlapping pulls) dropped when the feeds compacted.";
    counter(e, "feed_repeated_rows", help, read(&feeds.repeated_rows))?;
    gauge(e, "feed_retained_rows", "Rows the feeds hold now.", read(&feeds.retained_rows))?;
    histogram(e, "feed_refresh", "Time one refresh of every feed took.", &feeds.refresh.snapshot())?;
    histogram(
        e,
        "fetch_to_feed",
        "From a page's fetch to the feed refresh that shows it.",
        &feeds.fetch_to_feed.snapshot(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_counters_by_convention_and_labels_rejects_and_responses() {
        let metrics = Arc::new(Metrics::default());
        metrics.pipeline.record_batch(3, 1000, 2, [("plays".to_owned(), 7)]);
        metrics.pipeline.record_rejects([("content", "recently_played"), ("envelope", "unknown")]);
        metrics.source.record_response("https://api.spotify.com/v1/playlists/abc/items?offset=0", 429);
        metrics.feeds.fetch_to_feed.observe(std::time::Duration::from_millis(120));
        let text = prometheus_text(&metrics).unwrap();
        for line in [
            "tunestream_pages_total 3",
            "tunestream_rows_total{table=\"plays\"} 7",
            "tunestream_rejects_total{reason=\"content\",kind=\"recently_played\"} 1",
            "tunestream_rejects_total{reason=\"envelope\",kind=\"unknown\"} 1",
            "tunestream_api_responses_total{endpoint=\"/v1/playlists/{id}/items\",status=\"429\"} 1",
            "tunestream_fetch_to_feed_seconds_bucket{le=\"0.2\"} 1",
            "tunestream_fetch_to_feed_seconds_bucket{le=\"+Inf\"} 1",
            "tunestream_fetch_to_feed_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
