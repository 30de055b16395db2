//! The feeds sink: keeps the output rows the feeds read for the retention window, reruns the
//! feeds' SQL after micro-batches (at most every `min_refresh_ms`), and publishes each result
//! as JSON for the HTTP server. It stages no objects: feeds are derived, and a snapshot in the
//! state directory lets a restart resume them.

mod config;
mod sightings;
mod state;

pub use config::{FeedsSection, FeedsSettings, parse_duration};
pub use state::{Dropped, INGESTED_AT, Retained};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::json_rows::json_array;
use super::lake::TableSpec;
use super::run::{self, Channels};
use super::{Prepared, SinkBatch, SinkContext, SinkError, SinkHandle, SinkInput};
use crate::telemetry::FeedCounters;
use crate::transform::{Feeds, QueryError, resolve_feeds};

/// The folder below the state directory that holds the snapshots.
pub const SNAPSHOT_DIR: &str = "feeds";

/// Every feed's latest result, as served.
#[derive(Debug, Default)]
pub struct Published {
    /// Counts refreshes; 0 before the first.
    pub version: u64,
    /// When the refresh ran (microseconds since the epoch, UTC).
    pub as_of_micros: i64,
    /// The event-time watermark the windows ended at: the latest fetch time seen.
    pub watermark_micros: Option<i64>,
    pub feeds: BTreeMap<String, FeedRows>,
}

/// One feed's rows.
#[derive(Debug)]
pub struct FeedRows {
    /// A JSON array of one object per row.
    pub json: Arc<str>,
    pub rows: usize,
    /// Rows the feed's SQL returned beyond `max_rows`, left out.
    pub truncated: usize,
}

impl FeedRows {
    /// A feed before its first refresh.
    fn empty() -> Self {
        Self { json: Arc::from("[]"), rows: 0, truncated: 0 }
    }
}

/// Keeps the retained rows and publishes the feeds.
pub struct FeedsSink {
    feeds: Arc<Feeds>,
    settings: FeedsSettings,
    snapshot_dir: PathBuf,
    retained: Retained,
    watermark: Option<i64>,
    /// Fetch time of the oldest micro-batch not yet in a published refresh.
    pending_since: Option<i64>,
    last_refresh: Option<Instant>,
    last_snapshot: Instant,
    changed_since_snapshot: bool,
    published: Arc<watch::Sender<Arc<Published>>>,
    counters: Arc<FeedCounters>,
}

impl FeedsSink {
    /// A sink for `feeds`, resuming from the snapshot in `state_dir` if there is one.
    pub fn new(
        feeds: Arc<Feeds>,
        schemas: &[(String, arrow::datatypes::SchemaRef)],
        settings: FeedsSettings,
        state_dir: &std::path::Path,
        published: Arc<watch::Sender<Arc<Published>>>,
        counters: Arc<FeedCounters>,
    ) -> Self {
        let read = schemas.iter().filter(|(name, _)| feeds.inputs().contains(name)).cloned();
        let mut retained = Retained::new(read);
        let snapshot_dir = state_dir.join(SNAPSHOT_DIR);
        for (table, why) in retained.load(&snapshot_dir) {
            tracing::warn!(table, "feeds: the snapshot of {table} is not used, so its trends start empty: {why}");
        }
        let restored = retained.rows();
        if restored > 0 {
            tracing::info!(rows = restored, dir = %snapshot_dir.display(), "feeds: resumed from the snapshot");
        }
        // The clock may have moved past the latest row (a live source ticks without new
        // rows): the windows resume where they stood.
        let watermark = retained.latest_ingested().max(state::load_clock(&snapshot_dir));
        let pending_since = (restored > 0).then_some(watermark).flatten();
        // The set of feeds is known now: list them, empty, until the first refresh fills them.
        published.send_if_modified(|current| {
            let first = current.version == 0;
            if first {
                let empty = feeds.feeds().iter().map(|feed| (feed.query.table.clone(), FeedRows::empty()));
                *current = Arc::new(Published { feeds: empty.collect(), ..Published::default() });
            }
            first
        });
        Self {
            feeds,
            settings,
            snapshot_dir,
            retained,
            watermark,
            pending_since,
            last_refresh: None,
            last_snapshot: Instant::now(),
            changed_since_snapshot: false,
            published,
            counters,
        }
    }

    /// Whether the feeds read the rows of `table`.
    pub fn reads(&self, table: &str) -> bool {
        self.feeds.inputs().iter().any(|t| t == table)
    }

    /// Keeps the rows of `batch` the feeds read and evicts what fell out of the window.
    pub fn write(&mut self, batch: &SinkBatch) -> Result<(), SinkError> {
        for output in &batch.outputs {
            self.retained.append(&output.table, &output.batches);
        }
        if let Some(clock) = batch.clock_micros {
            self.watermark = Some(self.watermark.map_or(clock, |w| w.max(clock)));
            self.pending_since.get_or_insert(clock);
        }
        if let Some(watermark) = self.watermark {
            let retention = self.settings.retention.as_micros() as i64;
            let slice = retention / sightings::SLICES_PER_RETENTION;
            let dropped = self.retained.evict_and_compact(watermark - retention, slice)?;
            crate::telemetry::add(&self.counters.evicted_rows, dropped.evicted as u64);
            crate::telemetry::add(&self.counters.repeated_rows, dropped.repeated as u64);
        }
        crate::telemetry::set(&self.counters.retained_rows, self.retained.rows() as u64);
        self.changed_since_snapshot = true;
        Ok(())
    }

    /// When the next refresh is due, if one is waiting.
    pub fn refresh_due(&self) -> Option<Instant> {
        self.pending_since?;
        Some(self.last_refresh.map_or_else(Instant::now, |last| last + self.settings.min_refresh))
    }

    /// Reruns every feed and publishes the result. A failing feed keeps its last result and
    /// is logged: the pipeline goes on.
    pub async fn refresh(&mut self) {
        let Some(watermark) = self.watermark else { return };
        let started = Instant::now();
        self.last_refresh = Some(started);
        let version = self.published.borrow().version + 1;
        let name: Arc<str> = format!("feed refresh {version}").into();
        let tables = self.retained.tables();
        let outputs = match self.feeds.run(&tables, watermark, &name).await {
            Ok(outputs) => outputs,
            Err(e) => {
                crate::telemetry::add(&self.counters.failed_refreshes, 1);
                tracing::warn!("feeds: refresh failed, the last results stay up: {}", crate::error_chain(&e));
                return;
            }
        };
        let mut feeds = BTreeMap::new();
        for output in outputs {
            match self.rows(&output.batches) {
                Ok(rows) => feeds.insert(output.table.to_string(), rows),
                Err(e) => {
                    tracing::warn!(feed = %output.table, "feeds: cannot write the rows as JSON: {e}");
                    continue;
                }
            };
        }
        let now = chrono::Utc::now().timestamp_micros();
        if let Some(since) = self.pending_since.take() {
            self.counters.fetch_to_feed.observe(Duration::from_micros(now.saturating_sub(since).max(0) as u64));
        }
        self.counters.refresh.observe(started.elapsed());
        crate::telemetry::add(&self.counters.refreshes, 1);
        let published = Published { version, as_of_micros: now, watermark_micros: Some(watermark), feeds };
        self.published.send_replace(Arc::new(published));
        tracing::debug!(version, elapsed_ms = started.elapsed().as_millis() as u64, "feeds refreshed");
    }

    fn rows(&self, batches: &[arrow::array::RecordBatch]) -> Result<FeedRows, arrow::error::ArrowError> {
        let total: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut left = self.settings.max_rows;
        let kept: Vec<_> = batches
            .iter()
            .map_while(|b| {
                (left > 0).then(|| {
                    let take = b.num_rows().min(left);
                    left -= take;
                    b.slice(0, take)
                })
            })
            .collect();
        let mut json = Vec::new();
        json_array(&kept, &mut json)?;
        let rows = total.min(self.settings.max_rows);
        Ok(FeedRows { json: String::from_utf8_lossy(&json).into(), rows, truncated: total - rows })
    }

    /// Snapshots the retained rows when they changed and the interval has passed, or with
    /// `now` whenever they changed.
    pub async fn snapshot(&mut self, now: bool) -> Result<(), SinkError> {
        let due = self.last_snapshot.elapsed() >= self.settings.snapshot_interval;
        if !self.changed_since_snapshot || !(now || due) {
            return Ok(());
        }
        let started = Instant::now();
        let (tables, watermark) = (self.retained.clone(), self.watermark);
        let dir = self.snapshot_dir.clone();
        let save = move || {
            tables.save(&dir)?;
            watermark.map_or(Ok(()), |clock| state::save_clock(&dir, clock))
        };
        tokio::task::spawn_blocking(save)
            .await
            .map_err(|e| SinkError::Bug(format!("feeds snapshot task failed: {e}")))??;
        self.last_snapshot = Instant::now();
        self.changed_since_snapshot = false;
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "feeds snapshot written");
        Ok(())
    }

    /// Takes inputs until they end, refreshing between them when due, and answers barriers
    /// (with no objects: feeds commit nothing); `taken` sees each batch once its rows are kept.
    /// Ends with a final refresh and snapshot.
    pub async fn run(
        mut self,
        mut input: mpsc::Receiver<SinkInput>,
        prepared: mpsc::Sender<Prepared>,
        taken: impl Fn(&SinkBatch),
    ) -> Result<(), SinkError> {
        loop {
            let due = self.refresh_due();
            tokio::select! {
                message = input.recv() => match message {
                    None => break,
                    Some(SinkInput::Batch(batch)) => {
                        self.write(&batch)?;
                        taken(&batch);
                    }
                    Some(SinkInput::Barrier { seq, .. }) => {
                        // Only when due: a snapshot of many rows takes a while, and seals are
                        // frequent; the end of the run always writes one.
                        self.snapshot(false).await?;
                        if prepared.send(Prepared { seq, ..Prepared::default() }).await.is_err() {
                            break;
                        }
                    }
                },
                () = sleep_until(due), if due.is_some() => self.refresh().await,
            }
        }
        if self.pending_since.is_some() {
            self.refresh().await;
        }
        self.snapshot(true).await
    }
}

/// The feeds of `settings`, planned against the output `tables`.
pub async fn plan(settings: &FeedsSettings, tables: &[TableSpec]) -> Result<Feeds, QueryError> {
    let queries = resolve_feeds(settings.path.as_deref())?;
    let schemas: Vec<_> = tables.iter().map(|spec| (spec.table.clone(), spec.schema.clone())).collect();
    Feeds::plan(queries, &schemas).await
}

/// Plans the feeds and starts keeping them, resuming from the snapshot in the state directory,
/// publishing where `cx` says.
pub async fn start(settings: &FeedsSettings, cx: SinkContext) -> Result<SinkHandle, SinkError> {
    let planned = Arc::new(plan(settings, &cx.tables).await?);
    let schemas: Vec<_> = cx.tables.iter().map(|spec| (spec.table.clone(), spec.schema.clone())).collect();
    let inputs = planned.inputs().to_vec();
    let (settings, state_dir) = (settings.clone(), cx.state_dir.clone());
    let (published, counters) = (cx.published.clone(), cx.feed_counters.clone());
    // Reading the snapshot is file work: off the async threads.
    let sink = tokio::task::spawn_blocking(move || {
        FeedsSink::new(planned, &schemas, settings, &state_dir, published, counters)
    })
    .await
    .map_err(|e| SinkError::Bug(format!("feeds sink setup failed: {e}")))?;
    let takes = |table: &str| inputs.iter().any(|t| t == table);
    // It refreshes between inputs: an async task of its own.
    Ok(run::start("feeds", "feeds".to_owned(), takes, &cx, move |Channels { input, prepared, rows }| {
        tokio::spawn(sink.run(input, prepared, move |batch| rows.taken(batch)))
    }))
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}
