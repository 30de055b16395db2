//! Feeds: `feeds/<name>.sql`, SQL over the retained rows of the output tables, planned once
//! and run on every refresh.
//!
//! A feed reads the output tables by name (`plays`, `tracks`, …) and `feed_clock`, one row
//! whose `watermark` is the event-time watermark, so windows end where the data does and the
//! same rows always give the same feed. `_<name>.sql` files are views, as in `queries/`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::TimestampMicrosecondArray;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::execution::session_state::SessionState;

use super::query::{self, Query, QueryError};
use super::{
    BatchTables, ExecutionError, PlannedQuery, TableOutput, bug, execute, plan_all, session, tables, task_context,
};

/// The folder of feeds used when none is configured, relative to the working directory.
pub const DEFAULT_FEEDS_DIR: &str = "feeds";

/// The one-row table feeds read the watermark from.
pub const FEED_CLOCK: &str = "feed_clock";

/// The default feeds, built into the binary: the files of the repository's `feeds/`.
const BUILT_IN: [(&str, &str); 11] = [
    ("_plays_once", include_str!("../../feeds/_plays_once.sql")),
    ("_ranked", include_str!("../../feeds/_ranked.sql")),
    ("_spans", include_str!("../../feeds/_spans.sql")),
    ("_track_names", include_str!("../../feeds/_track_names.sql")),
    ("listening_clock", include_str!("../../feeds/listening_clock.sql")),
    ("new_releases", include_str!("../../feeds/new_releases.sql")),
    ("play_timeline", include_str!("../../feeds/play_timeline.sql")),
    ("playlist_churn", include_str!("../../feeds/playlist_churn.sql")),
    ("rising_tracks", include_str!("../../feeds/rising_tracks.sql")),
    ("top_artists", include_str!("../../feeds/top_artists.sql")),
    ("top_tracks", include_str!("../../feeds/top_tracks.sql")),
];

/// The built-in default feeds.
pub fn built_in_feeds() -> Vec<Query> {
    query::built_in(&BUILT_IN)
}

/// The feeds to run: from `configured`, else from `./feeds` when it exists, else built in.
pub fn resolve_feeds(configured: Option<&Path>) -> Result<Vec<Query>, QueryError> {
    query::resolve(configured, DEFAULT_FEEDS_DIR, built_in_feeds)
}

/// The planned feeds.
pub struct Feeds {
    state: SessionState,
    views: Vec<PlannedQuery>,
    feeds: Vec<PlannedQuery>,
    /// The output tables some feed reads, directly or through views.
    inputs: Vec<String>,
}

impl Feeds {
    /// Plans every feed against the output `tables` (name and schema), reporting the first
    /// that does not plan with its file and line.
    pub async fn plan(queries: Vec<Query>, tables: &[(String, SchemaRef)]) -> Result<Self, QueryError> {
        let ctx = session()?;
        for (name, schema) in tables {
            tables::register_view(&ctx, name, schema.clone()).map_err(|e| bug("feed inputs", e))?;
        }
        tables::register_view(&ctx, FEED_CLOCK, clock_schema()).map_err(|e| bug("feed clock", e))?;
        let (views, feeds) = plan_all(&ctx, queries).await?;
        let known: BTreeSet<&str> = tables.iter().map(|(name, _)| name.as_str()).collect();
        let inputs = views
            .iter()
            .chain(&feeds)
            .flat_map(|planned| &planned.reads)
            .filter(|name| known.contains(name.as_str()))
            .map(String::clone)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(Self { state: ctx.state(), views, feeds, inputs })
    }

    /// The feeds, in name order.
    pub fn feeds(&self) -> &[PlannedQuery] {
        &self.feeds
    }

    /// The views, in the order they run.
    pub fn views(&self) -> &[PlannedQuery] {
        &self.views
    }

    /// The output tables the feeds read: the only ones worth retaining.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Runs every view, then every feed, over `tables` with the clock at `watermark_micros`.
    /// `refresh` names the run in errors.
    pub async fn run(
        &self,
        tables: &[(String, Vec<RecordBatch>)],
        watermark_micros: i64,
        refresh: &Arc<str>,
    ) -> Result<Vec<TableOutput>, ExecutionError> {
        let batch_tables = Arc::new(BatchTables::default());
        for (name, batches) in tables {
            batch_tables.set_view(name, batches.clone());
        }
        batch_tables.set_view(FEED_CLOCK, vec![clock_row(watermark_micros)]);
        let task = task_context(&self.state, &batch_tables);
        for view in &self.views {
            batch_tables.set_view(&view.query.table, execute(view, &task, refresh).await?);
        }
        let mut outputs = Vec::with_capacity(self.feeds.len());
        for feed in &self.feeds {
            let batches = execute(feed, &task, refresh).await?;
            outputs.push(TableOutput { table: feed.query.table.as_str().into(), batches });
        }
        Ok(outputs)
    }
}

fn clock_schema() -> SchemaRef {
    let watermark = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![Field::new("watermark", watermark, false)]))
}

fn clock_row(watermark_micros: i64) -> RecordBatch {
    let column = TimestampMicrosecondArray::from(vec![watermark_micros]).with_timezone("UTC");
    // The column matches the schema by construction.
    RecordBatch::try_new(clock_schema(), vec![Arc::new(column)])
        .unwrap_or_else(|_| RecordBatch::new_empty(clock_schema()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_feeds_are_exactly_the_repository_feeds() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_FEEDS_DIR);
        let on_disk: Vec<(String, String)> =
            query::load_queries(&dir).unwrap().into_iter().map(|q| (q.table, q.sql)).collect();
        let built_in: Vec<(String, String)> = built_in_feeds().into_iter().map(|q| (q.table, q.sql)).collect();
        assert_eq!(on_disk, built_in, "add new feed files to BUILT_IN");
    }
}
