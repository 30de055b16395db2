//! Exposes a micro-batch's tables to DataFusion without re-planning.
//!
//! Raw tables and views are registered once as streaming tables whose partitions read their
//! data from the executing task's context. A planned query can therefore run on any
//! micro-batch, and several micro-batches can run through the same plans at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;

use crate::decode::{Kind, ReadSchemas};

/// The tables of one micro-batch, carried to the scans as a task-context extension: the raw
/// tables from decode, and each view's result once it has been computed.
#[derive(Debug, Default)]
pub struct BatchTables {
    raw: [Option<RecordBatch>; Kind::ALL.len()],
    views: Mutex<HashMap<String, Vec<RecordBatch>>>,
}

impl BatchTables {
    pub fn new(tables: &[(Kind, RecordBatch)]) -> Self {
        let mut batch = Self::default();
        for (kind, table) in tables {
            batch.raw[kind.index()] = Some(table.clone());
        }
        batch
    }

    /// Whether the micro-batch has any row of `kind`.
    pub fn has_rows(&self, kind: Kind) -> bool {
        self.raw[kind.index()].as_ref().is_some_and(|b| b.num_rows() > 0)
    }

    /// Stores a view's result for the queries that read it.
    pub fn set_view(&self, name: &str, batches: Vec<RecordBatch>) {
        // A poisoned lock only means another query panicked; the map itself is intact.
        crate::lock(&self.views).insert(name.to_owned(), batches);
    }

    fn read(&self, table: &TableRef) -> Vec<RecordBatch> {
        match table {
            TableRef::Raw(kind) => self.raw[kind.index()].iter().cloned().collect(),
            TableRef::View(name) => {
                let views = crate::lock(&self.views);
                views.get(name).cloned().unwrap_or_default()
            }
        }
    }
}

#[derive(Debug, Clone)]
enum TableRef {
    Raw(Kind),
    View(String),
}

#[derive(Debug)]
struct BatchPartition {
    table: TableRef,
    schema: SchemaRef,
}

impl PartitionStream for BatchPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batches = ctx
            .session_config()
            .get_extension::<BatchTables>()
            .map(|tables| tables.read(&self.table))
            .unwrap_or_default();
        let stream = futures::stream::iter(batches.into_iter().map(Ok));
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

fn register(ctx: &SessionContext, name: &str, table: TableRef, schema: SchemaRef) -> Result<()> {
    let partition = Arc::new(BatchPartition { table, schema: schema.clone() });
    ctx.register_table(name, Arc::new(StreamingTable::try_new(schema, vec![partition])?))?;
    Ok(())
}

/// Registers every raw table under its kind name, with its schema in `schemas`.
pub fn register_raw(ctx: &SessionContext, schemas: &ReadSchemas) -> Result<()> {
    Kind::ALL
        .into_iter()
        .try_for_each(|kind| register(ctx, kind.name(), TableRef::Raw(kind), schemas.raw(kind).clone()))
}

/// Registers a view's result under its name, for the queries planned after it.
pub fn register_view(ctx: &SessionContext, name: &str, schema: SchemaRef) -> Result<()> {
    register(ctx, name, TableRef::View(name.to_owned()), schema)
}
