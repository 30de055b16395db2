//! Transform: runs the SQL of `queries/` over every micro-batch with DataFusion.
//!
//! `queries/<table>.sql` is an output table. `queries/_<name>.sql` is a view: computed once per
//! micro-batch and readable as `_<name>` by the other queries, but not written out.
//!
//! Every query is planned once, when the transform starts (and so whenever `check` runs),
//! against the fixed raw table schemas. Every micro-batch then executes the same physical
//! plans; nothing is planned per batch.

mod extremes;
mod feeds;
mod fields;
mod list_length;
mod query;
mod tables;
mod unnest;

pub use feeds::{DEFAULT_FEEDS_DIR, FEED_CLOCK, Feeds, built_in_feeds, resolve_feeds};
pub use query::{DEFAULT_QUERIES_DIR, Query, QueryError, built_in_queries, load_queries, resolve_queries};
pub use tables::BatchTables;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, collect, execution_plan::reset_plan_states};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::decode::{DecodedBatch, Kind, NestedFields, ReadSchemas};

/// One planned query.
#[derive(Debug)]
pub struct PlannedQuery {
    pub query: Query,
    pub schema: SchemaRef,
    /// The raw tables the query reads, directly or through views; it is skipped when all of
    /// them are empty.
    pub inputs: Vec<Kind>,
    /// The tables and views the query scans by name.
    pub reads: Vec<String>,
    plan: Arc<dyn ExecutionPlan>,
}

/// A query's output for one micro-batch.
#[derive(Debug)]
pub struct TableOutput {
    pub table: Arc<str>,
    pub batches: Vec<RecordBatch>,
}

impl TableOutput {
    /// Rows over every batch.
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

/// A query failed while running on data: a bug in the SQL engine or in tunestream, since the
/// SQL was checked against the schemas before any data was read.
#[derive(Debug, thiserror::Error)]
#[error(
    "query {path} failed on micro-batch {batch_id} (a bug in tunestream or its SQL engine: the query was checked against the schemas before any data was read)"
)]
pub struct ExecutionError {
    path: String,
    batch_id: Arc<str>,
    #[source]
    source: DataFusionError,
}

/// The planned queries of `queries/`, ready to run on micro-batches.
pub struct Transform {
    state: SessionState,
    /// The raw schemas the queries were planned against.
    schemas: Arc<ReadSchemas>,
    /// Views in an order where each comes after the views it reads.
    views: Vec<PlannedQuery>,
    tables: Vec<PlannedQuery>,
}

impl Transform {
    /// Plans every query, reporting the first one that does not plan with its file and line.
    /// Runs inside a Tokio runtime: the table queries are planned as tasks.
    pub async fn plan(queries: Vec<Query>) -> Result<Self, QueryError> {
        let schemas = Self::read_schemas_for(&queries).await?;
        Self::plan_with(queries, schemas).await
    }

    /// The raw schemas to decode with for `queries`: only the nested fields they read. This is
    /// learnt from logical plans against the full raw schemas, a small part of planning, so
    /// decoding can start before [`Transform::plan_with`] is done.
    pub async fn read_schemas_for(queries: &[Query]) -> Result<Arc<ReadSchemas>, QueryError> {
        let (nested, reason) = nested_fields_read(queries).await?;
        if let Some(reason) = reason {
            tracing::debug!(%reason, "every raw field is decoded");
        }
        Ok(if nested == NestedFields::All { ReadSchemas::full() } else { Arc::new(ReadSchemas::new(nested)) })
    }

    /// Plans every query against raw tables of `schemas`, the schemas micro-batches will then
    /// be decoded with.
    pub async fn plan_with(queries: Vec<Query>, schemas: Arc<ReadSchemas>) -> Result<Self, QueryError> {
        let ctx = session()?;
        tables::register_raw(&ctx, &schemas).map_err(|e| bug("raw tables", e))?;
        let (views, tables) = plan_all(&ctx, queries).await?;
        Ok(Self { state: ctx.state(), schemas, views, tables })
    }

    /// The schemas micro-batches must be decoded with before they are run.
    pub fn read_schemas(&self) -> &Arc<ReadSchemas> {
        &self.schemas
    }

    /// The output tables, in name order.
    pub fn tables(&self) -> &[PlannedQuery] {
        &self.tables
    }

    /// The views, in the order they run.
    pub fn views(&self) -> &[PlannedQuery] {
        &self.views
    }

    /// Runs every view, then every table query, on `batch`. Queries whose raw tables are all
    /// empty in this micro-batch are skipped.
    pub async fn run(&self, batch: &DecodedBatch) -> Result<Vec<TableOutput>, ExecutionError> {
        let tables = Arc::new(BatchTables::new(&batch.tables));
        let task = task_context(&self.state, &tables);
        for view in &self.views {
            if view.inputs.iter().any(|&kind| tables.has_rows(kind)) {
                tables.set_view(&view.query.table, execute(view, &task, &batch.id).await?);
            }
        }
        let mut outputs = Vec::with_capacity(self.tables.len());
        for planned in &self.tables {
            if planned.inputs.iter().any(|&kind| tables.has_rows(kind)) {
                let batches = execute(planned, &task, &batch.id).await?;
                outputs.push(TableOutput { table: planned.query.table.as_str().into(), batches });
            }
        }
        Ok(outputs)
    }
}

/// A task context whose scans read `tables`.
fn task_context(state: &SessionState, tables: &Arc<BatchTables>) -> Arc<TaskContext> {
    let config = state.config().clone().with_extension(tables.clone());
    Arc::new(TaskContext::from(state).with_session_config(config))
}

/// Plans the views in the order they read each other, each registered for the queries after
/// it, then the other queries side by side.
async fn plan_all(
    ctx: &SessionContext,
    queries: Vec<Query>,
) -> Result<(Vec<PlannedQuery>, Vec<PlannedQuery>), QueryError> {
    let (views, table_queries): (Vec<Query>, Vec<Query>) = queries.into_iter().partition(Query::is_view);
    let mut view_inputs: HashMap<String, Vec<Kind>> = HashMap::new();
    let views = in_view_order(views, async |view: Query| {
        let planned = plan_one(ctx, view, &view_inputs).await?;
        tables::register_view(ctx, &planned.query.table, planned.schema.clone())
            .map_err(|e| query::invalid(&planned.query, &e))?;
        view_inputs.insert(planned.query.table.clone(), planned.inputs.clone());
        Ok(planned)
    })
    .await?;
    // Table queries only read inputs and views, so they plan side by side; the first failure
    // in name order is the one reported.
    let view_inputs = Arc::new(view_inputs);
    let planning: Vec<_> = table_queries
        .into_iter()
        .map(|query| {
            let (ctx, view_inputs) = (ctx.clone(), view_inputs.clone());
            tokio::spawn(async move { plan_one(&ctx, query, &view_inputs).await })
        })
        .collect();
    let mut tables = Vec::with_capacity(planning.len());
    for task in planning {
        tables.push(task.await.map_err(|e| bug("query planner", e))??);
    }
    Ok((views, tables))
}

async fn execute(
    planned: &PlannedQuery,
    task: &Arc<TaskContext>,
    batch_id: &Arc<str>,
) -> Result<Vec<RecordBatch>, ExecutionError> {
    let failed =
        |source| ExecutionError { path: planned.query.path.display().to_string(), batch_id: batch_id.clone(), source };
    let plan = reset_plan_states(planned.plan.clone()).map_err(failed)?;
    collect(plan, task.clone()).await.map_err(failed)
}

async fn plan_one(
    ctx: &SessionContext,
    query: Query,
    view_inputs: &HashMap<String, Vec<Kind>>,
) -> Result<PlannedQuery, QueryError> {
    let logical = ctx.state().create_logical_plan(&query.sql).await.map_err(|e| query::invalid(&query, &e))?;
    let inputs = scanned_inputs(&logical, view_inputs);
    let reads = scanned_tables(&logical);
    let df = ctx.execute_logical_plan(logical).await.map_err(|e| query::invalid(&query, &e))?;
    let plan = df.create_physical_plan().await.map_err(|e| query::invalid(&query, &e))?;
    Ok(PlannedQuery { schema: plan.schema(), query, inputs, reads, plan })
}

/// The nested fields `queries` read, from their logical plans against the full raw schemas,
/// and why all are read if they are.
async fn nested_fields_read(queries: &[Query]) -> Result<(NestedFields, Option<String>), QueryError> {
    let ctx = session()?;
    tables::register_raw(&ctx, &ReadSchemas::full()).map_err(|e| bug("raw tables", e))?;
    let (views, tables): (Vec<&Query>, Vec<&Query>) = queries.iter().partition(|q| q.is_view());
    let logical =
        async |query: &Query| ctx.state().create_logical_plan(&query.sql).await.map_err(|e| query::invalid(query, &e));
    let mut plans = in_view_order(views, async |view: &Query| {
        let plan = logical(view).await?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        tables::register_view(&ctx, &view.table, schema).map_err(|e| query::invalid(view, &e))?;
        Ok((plan, false))
    })
    .await?;
    for table in tables {
        plans.push((logical(table).await?, true));
    }
    Ok(fields::nested_fields_read(plans.iter().map(|(plan, output)| (plan, *output))))
}

/// Plans `views` in rounds, since views may read views: each round plans those whose inputs
/// are planned, until none is left or a round makes no progress (then its first error is
/// returned).
async fn in_view_order<Q: Clone, T>(
    mut pending: Vec<Q>,
    mut plan: impl AsyncFnMut(Q) -> Result<T, QueryError>,
) -> Result<Vec<T>, QueryError> {
    let mut planned = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let planned_before = planned.len();
        let mut failed = Vec::new();
        let mut first_error = None;
        for view in std::mem::take(&mut pending) {
            match plan(view.clone()).await {
                Ok(done) => planned.push(done),
                Err(e) => {
                    first_error.get_or_insert(e);
                    failed.push(view);
                }
            }
        }
        if planned.len() == planned_before
            && let Some(e) = first_error
        {
            return Err(e);
        }
        pending = failed;
    }
    Ok(planned)
}

fn bug(location: &str, error: impl std::fmt::Display) -> QueryError {
    QueryError::Internal { location: location.into(), message: error.to_string() }
}

/// A session with tunestream's settings and functions, and no tables yet.
fn session() -> Result<SessionContext, QueryError> {
    let mut config = SessionConfig::new()
        // Parallelism comes from running micro-batches side by side, not from splitting one.
        .with_target_partitions(1)
        .with_information_schema(false);
    let options = config.options_mut();
    options.sql_parser.collect_spans = true;
    // Keep SQL string types as plain Utf8, like every decoded column.
    options.sql_parser.map_string_types_to_utf8view = false;
    // Dynamic filters hold per-execution state, which would leak between reused plans.
    options.optimizer.enable_dynamic_filter_pushdown = false;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(unnest::SliceUnnest))
        .build();
    let ctx = SessionContext::new_with_state(state);
    for udaf in extremes::udafs() {
        ctx.register_udaf(udaf);
    }
    ctx.register_udf(list_length::udf());
    Ok(ctx)
}

/// The raw tables a logical plan reads, directly or through the views it scans.
fn scanned_inputs(plan: &LogicalPlan, view_inputs: &HashMap<String, Vec<Kind>>) -> Vec<Kind> {
    let mut kinds = Vec::new();
    for name in scanned_tables(plan) {
        let found = match name.parse::<Kind>() {
            Ok(kind) => vec![kind],
            Err(_) => view_inputs.get(&name).cloned().unwrap_or_default(),
        };
        for kind in found {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    kinds.sort();
    kinds
}

/// The names of the tables a logical plan scans, subqueries included, each once.
fn scanned_tables(plan: &LogicalPlan) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    // The closure never fails, so neither can the walk.
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && !names.iter().any(|n| n == scan.table_name.table())
        {
            names.push(scan.table_name.table().to_owned());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}
