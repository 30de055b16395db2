//! `unnest` of lists without copying the unnested values.
//!
//! DataFusion's unnest builds one take index per output row and copies every value of the list
//! out of it, padding rows where lists differ in length. When no row needs padding or a null of
//! its own, the unnested column is simply the slice of the list's values between the first and
//! the last offset. For the playlist queries that copy was 5 % of a replay, since every entry
//! carries its whole track. [`SliceUnnest`] swaps each eligible [`UnnestExec`] for a
//! [`SliceUnnestExec`], which takes that path for every micro-batch it can and hands any other
//! batch to DataFusion's own unnest, so the result is always DataFusion's.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, UnnestOptions};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::unnest::UnnestExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
    collect,
};
use futures::TryStreamExt;

/// The physical optimizer rule that puts [`SliceUnnestExec`] in place of every [`UnnestExec`]
/// that unnests only `List` columns, each once and one level deep.
#[derive(Debug)]
pub struct SliceUnnest;

impl PhysicalOptimizerRule for SliceUnnest {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match node.downcast_ref::<UnnestExec>().filter(|unnest| slices_apply(unnest)) {
                Some(unnest) => Transformed::yes(Arc::new(SliceUnnestExec::new(unnest))),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "slice_unnest"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn slices_apply(unnest: &UnnestExec) -> bool {
    let input = unnest.input().schema();
    let lists = unnest.list_column_indices();
    unnest.struct_column_indices().is_empty()
        && !lists.is_empty()
        && lists.iter().enumerate().all(|(i, list)| {
            list.depth == 1
                && lists[..i].iter().all(|other| other.index_in_input_schema != list.index_in_input_schema)
                && matches!(input.field(list.index_in_input_schema).data_type(), DataType::List(_))
        })
}

/// An [`UnnestExec`] that slices instead of copying whenever a batch allows it.
#[derive(Debug)]
pub struct SliceUnnestExec {
    inner: Arc<UnnestExec>,
    /// The input columns that are lists to unnest.
    lists: Arc<[usize]>,
}

impl SliceUnnestExec {
    fn new(unnest: &UnnestExec) -> Self {
        let lists = unnest.list_column_indices().iter().map(|l| l.index_in_input_schema).collect();
        Self { inner: Arc::new(unnest.clone()), lists }
    }
}

impl DisplayAs for SliceUnnestExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "SliceUnnestExec")
    }
}

impl ExecutionPlan for SliceUnnestExec {
    fn name(&self) -> &str {
        "SliceUnnestExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.inner.input()]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.clone().replace_children(children, options)?;
        Ok(match plan.downcast_ref::<UnnestExec>() {
            Some(unnest) => Arc::new(SliceUnnestExec::new(unnest)),
            None => plan,
        })
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.inner.input().execute(partition, context.clone())?;
        let (unnest, lists) = (self.inner.clone(), self.lists.clone());
        let batches = input
            .and_then(move |batch| {
                let (unnest, lists, context) = (unnest.clone(), lists.clone(), context.clone());
                async move { unnest_batch(&unnest, &lists, batch, context).await }
            })
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.inner.schema(), batches)))
    }
}

async fn unnest_batch(
    unnest: &Arc<UnnestExec>,
    lists: &[usize],
    batch: RecordBatch,
    context: Arc<TaskContext>,
) -> Result<Vec<RecordBatch>> {
    if let Some(lengths) = common_row_lengths(&batch, lists, unnest.options()) {
        return sliced(unnest, &batch, lists, &lengths, context.session_config().batch_size());
    }
    let source = MemorySourceConfig::try_new_exec(&[vec![batch]], unnest.input().schema(), None)?;
    let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    collect(unnest.clone().replace_children(vec![source], options)?, context).await
}

/// How many rows each input row unnests to, if every list column agrees on it for every row
/// and no row needs a null of its own (a null or, where so configured, an empty list that is
/// kept as a row).
fn common_row_lengths(batch: &RecordBatch, lists: &[usize], options: &UnnestOptions) -> Option<Vec<u32>> {
    let mut common: Option<Vec<u32>> = None;
    for &column in lists {
        let list = batch.column(column).as_list::<i32>();
        let lengths = list
            .offsets()
            .lengths()
            .enumerate()
            .map(|(row, n)| match list.is_valid(row) {
                // A null row's values are not part of the output, so they must be empty to slice.
                false if options.preserve_nulls() || n != 0 => None,
                true if n == 0 && options.expand_empty_as_null() => None,
                _ => u32::try_from(n).ok(),
            })
            .collect::<Option<Vec<u32>>>()?;
        match &common {
            Some(common) if *common != lengths => return None,
            Some(_) => {}
            None => common = Some(lengths),
        }
    }
    common
}

/// The unnested rows, `batch_size` at a time: list columns as slices of their values, every
/// other column repeated once per unnested row.
fn sliced(
    unnest: &UnnestExec,
    batch: &RecordBatch,
    lists: &[usize],
    lengths: &[u32],
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let total: usize = lengths.iter().map(|&n| n as usize).sum();
    if total == 0 {
        return Ok(Vec::new());
    }
    let rows = u32::try_from(batch.num_rows())
        .map_err(|_| DataFusionError::Internal(format!("{} rows are too many to unnest", batch.num_rows())))?;
    let repeats = UInt32Array::from_iter_values(
        (0..rows).zip(lengths).flat_map(|(row, &n)| std::iter::repeat_n(row, n as usize)),
    );
    let columns = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(index, column)| match lists.contains(&index) {
            true => Ok(list_values(column.as_list::<i32>())),
            false => take(column, &repeats, None),
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    let out = RecordBatch::try_new(unnest.schema(), columns)?;
    Ok((0..total).step_by(batch_size.max(1)).map(|start| out.slice(start, batch_size.min(total - start))).collect())
}

/// The values of every row of `list`, in order: one contiguous run, since list offsets only grow.
fn list_values(list: &ListArray) -> ArrayRef {
    let offsets = list.value_offsets();
    let (first, last) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
    list.values().slice(first, last - first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::buffer::{NullBuffer, OffsetBuffer};
    use arrow::datatypes::{Field, Schema, SchemaRef};
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::common::NullHandling;
    use datafusion::physical_plan::unnest::ListUnnest;
    use datafusion::prelude::SessionContext;

    fn list(offsets: &[i32], values: &[i64], valid: Option<&[bool]>) -> ListArray {
        let item = Arc::new(Field::new("item", DataType::Int64, true));
        let nulls = valid.map(|v| NullBuffer::from(v.to_vec()));
        ListArray::new(
            item,
            OffsetBuffer::new(offsets.to_vec().into()),
            Arc::new(Int64Array::from(values.to_vec())),
            nulls,
        )
    }

    /// Rows `id`, lists `a` and `b`.
    fn batch(a: ListArray, b: ListArray) -> RecordBatch {
        let ids = StringArray::from_iter_values((0..a.len()).map(|i| format!("row{i}")));
        let schema = Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("a", a.data_type().clone(), true),
            Field::new("b", b.data_type().clone(), true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ids), Arc::new(a), Arc::new(b)]).unwrap()
    }

    /// DataFusion's unnest of `a` and `b` in `batches`, and the same plan after [`SliceUnnest`].
    fn unnest_plans(batches: &[RecordBatch], options: UnnestOptions) -> [Arc<dyn ExecutionPlan>; 2] {
        let input: SchemaRef = batches[0].schema();
        let source = MemorySourceConfig::try_new_exec(&[batches.to_vec()], input.clone(), None).unwrap();
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        for index in [1, 2] {
            fields[index] = Field::new(fields[index].name(), DataType::Int64, true);
        }
        let lists =
            vec![ListUnnest { index_in_input_schema: 1, depth: 1 }, ListUnnest { index_in_input_schema: 2, depth: 1 }];
        let theirs: Arc<dyn ExecutionPlan> =
            Arc::new(UnnestExec::new(source, lists, vec![], Arc::new(Schema::new(fields)), options).unwrap());
        let ours = SliceUnnest.optimize(theirs.clone(), &ConfigOptions::default()).unwrap();
        assert_eq!(ours.name(), "SliceUnnestExec");
        [ours, theirs]
    }

    async fn run(plan: Arc<dyn ExecutionPlan>) -> String {
        let ctx = SessionContext::new();
        pretty_format_batches(&collect(plan, ctx.task_ctx()).await.unwrap()).unwrap().to_string()
    }

    #[tokio::test]
    async fn every_batch_unnests_as_datafusion_does() {
        let batches = [
            // Sliceable: equal lengths, an empty list, null rows without values.
            batch(
                list(&[0, 2, 2, 2, 5], &[1, 2, 3, 4, 5], Some(&[true, true, false, true])),
                list(&[3, 5, 5, 5, 8], &[0, 0, 0, 10, 20, 30, 40, 50], Some(&[true, true, false, true])),
            ),
            // Lengths differ, so the shorter list is padded with nulls.
            batch(list(&[0, 1, 3], &[1, 2, 3], None), list(&[0, 2, 3], &[7, 8, 9], None)),
            // A null row whose offsets still span values.
            batch(
                list(&[0, 2, 3], &[1, 2, 3], Some(&[false, true])),
                list(&[0, 2, 3], &[4, 5, 6], Some(&[false, true])),
            ),
        ];
        let handling = [NullHandling::Drop, NullHandling::Preserve, NullHandling::PreserveAndExpandEmpty];
        for null_handling in handling {
            for one in &batches {
                let options = UnnestOptions::new().with_null_handling(null_handling);
                let [ours, theirs] = unnest_plans(std::slice::from_ref(one), options);
                assert_eq!(run(ours).await, run(theirs).await, "{null_handling:?}\n{one:?}");
            }
        }
    }

    #[tokio::test]
    async fn sliced_values_are_the_lists_own_buffer() {
        let a = list(&[0, 2, 2, 5], &[1, 2, 3, 4, 5], None);
        let b = list(&[0, 2, 2, 5], &[6, 7, 8, 9, 10], None);
        let input_values = a.values().to_data().buffers()[0].clone();
        let [ours, _] = unnest_plans(&[batch(a, b)], UnnestOptions::new().with_preserve_nulls(false));
        let ctx = SessionContext::new();
        let out = collect(ours, ctx.task_ctx()).await.unwrap();
        let unnested = out[0].column(1).to_data();
        assert_eq!(unnested.buffers()[0].as_ptr(), input_values.as_ptr(), "values were copied");
        let repeated = out[0].column(0).as_string::<i32>().iter().flatten().collect::<Vec<_>>();
        assert_eq!(repeated, ["row0", "row0", "row2", "row2", "row2"]);
    }

    #[tokio::test]
    async fn sql_unnest_of_lists_is_planned_with_slices() {
        let ctx = super::super::session().unwrap();
        super::super::tables::register_raw(&ctx, &crate::decode::ReadSchemas::full()).unwrap();
        let df = ctx.sql("SELECT unnest(items) AS entry FROM playlist_items").await.unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let text = datafusion::physical_plan::displayable(plan.as_ref()).indent(false).to_string();
        assert!(text.contains("SliceUnnestExec"), "{text}");
    }
}
