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

/// A counter with one label, one series per `(label value, value)`.
fn labelled(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    labels: &[&str],
    series: impl IntoIterator<Item = (Vec<String>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (values, value) in series {
        let label_set: Vec<(String, String)> = labels.iter().map(|l| (*l).to_owned()).zip(values).collect();
        ConstCounter::new(value).encode(family.encode_family(&label_set)?)?;
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
    buckets.push((f64::MAX, snapshot.count - before));
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
        counter(e, "batches", "Micro-batches decoded and transformed.", read(&pipeline.batches))?;
        counter(e, "pages", "Pages decoded.", read(&pipeline.pages))?;
        counter(e, "input_bytes", "Bytes of raw JSON decoded.", read(&pipeline.input_bytes))?;
        counter(e, "rejected_lines", "Raw lines rejected by decoding.", read(&pipeline.rejected_lines))?;
        let rows = pipeline.rows_by_table().into_iter().map(|(table, n)| (vec![table], n));
        labelled(e, "rows", "Rows written by each table's query.", &["table"], rows)?;
        counter(e, "api_requests", "Requests sent to the Spotify Web API.", read(&source.requests))?;
        counter(e, "api_retries", "Requests sent again after a failure.", read(&source.retries))?;
        counter(e, "api_rate_limited", "Responses with status 429.", read(&source.rate_limited))?;
        counter(e, "api_server_errors", "Responses with a 5xx status.", read(&source.server_errors))?;
        counter(e, "pages_fetched", "Pages fetched from the API.", read(&source.pages))?;
        counter(e, "pages_set_aside", "Pages that never decoded, set aside as rejects.", read(&source.set_aside))?;
        let sent = delivery
            .snapshot()
            .0
            .into_iter()
            .flat_map(|(sink, tables)| tables.into_iter().map(move |(table, d)| (sink.clone(), table, d)));
        let sent: Vec<_> = sent.collect();
        let series = |pick: fn(&super::Delivered) -> u64| {
            sent.iter().map(move |(sink, table, d)| (vec![sink.clone(), table.clone()], pick(d))).collect::<Vec<_>>()
        };
        labelled(e, "records_sent", "Records a stream accepted.", &["sink", "table"], series(|d| d.sent))?;
        labelled(
            e,
            "records_retried",
            "Records sent again after the service failed them.",
            &["sink", "table"],
            series(|d| d.retried),
        )?;
        labelled(
            e,
            "records_rejected",
            "Records too large to send, set aside.",
            &["sink", "table"],
            series(|d| d.rejected),
        )?;
        counter(e, "feed_refreshes", "Refreshes of the trend feeds.", read(&feeds.refreshes))?;
        counter(
            e,
            "feed_refresh_failures",
            "Refreshes that failed; the last results stayed up.",
            read(&feeds.failed_refreshes),
        )?;
        counter(e, "feed_evicted_rows", "Rows that left the feeds' retention window.", read(&feeds.evicted_rows))?;
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
}
