//! `max` and `min` over strings and booleans without a copy per group.
//!
//! The dedupe queries take `max()` of many string columns per key, and DataFusion's own
//! accumulator copies every new extreme into a `Vec` of its own per group, and builds booleans
//! through one boxed accumulator per group. Here a group's extreme is a reference (input array,
//! row) into the inputs, which are kept until the groups are emitted, and booleans are one byte
//! per group. Every other type, and everything but the grouped accumulators (names, types,
//! coercion, statistics, windows), is DataFusion's own function, delegated.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, StringBuilder};
use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature, StatisticsArgs,
};

/// Kept input bytes past which a string accumulator copies its extremes out and lets the
/// inputs go, so a long aggregation holds what it emits, not all it has read.
const RETAINED_INPUT_BYTES: usize = 64 << 20;

/// `max` and `min` with the faster grouped accumulators, to register over the built-in ones.
pub fn udafs() -> [AggregateUDF; 2] {
    [Extreme::Max, Extreme::Min].map(|extreme| {
        let builtin = match extreme {
            Extreme::Max => max_udaf(),
            Extreme::Min => min_udaf(),
        };
        AggregateUDF::new_from_impl(FastExtreme { extreme, builtin })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Extreme {
    Max,
    Min,
}

impl Extreme {
    /// Whether `new` replaces `current`.
    fn beats<T: PartialOrd + ?Sized>(self, new: &T, current: &T) -> bool {
        match self {
            Extreme::Max => new > current,
            Extreme::Min => new < current,
        }
    }
}

#[derive(Debug)]
struct FastExtreme {
    extreme: Extreme,
    builtin: Arc<AggregateUDF>,
}

impl PartialEq for FastExtreme {
    fn eq(&self, other: &Self) -> bool {
        self.extreme == other.extreme
    }
}

impl Eq for FastExtreme {}

impl std::hash::Hash for FastExtreme {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.extreme.hash(state);
    }
}

impl FastExtreme {
    fn inner(&self) -> &dyn AggregateUDFImpl {
        self.builtin.inner().as_ref()
    }
}

impl AggregateUDFImpl for FastExtreme {
    fn name(&self) -> &str {
        self.inner().name()
    }

    fn aliases(&self) -> &[String] {
        self.inner().aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner().signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner().return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.inner().return_field(arg_fields)
    }

    fn is_nullable(&self) -> bool {
        self.inner().is_nullable()
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner().accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner().state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        matches!(args.return_field.data_type(), DataType::Utf8 | DataType::Boolean)
            || self.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(match args.return_field.data_type() {
            DataType::Utf8 => Box::new(Grouped(StringExtremes::new(self.extreme))),
            DataType::Boolean => Box::new(Grouped(BoolExtremes { extreme: self.extreme, states: Vec::new() })),
            _ => return self.inner().create_groups_accumulator(args),
        })
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner().create_sliding_accumulator(args)
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner().order_sensitivity()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner().reverse_expr()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner().coerce_types(arg_types)
    }

    fn is_descending(&self) -> Option<bool> {
        self.inner().is_descending()
    }

    fn value_from_stats(&self, args: &StatisticsArgs) -> Option<ScalarValue> {
        self.inner().value_from_stats(args)
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner().default_value(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner().documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner().set_monotonicity(data_type)
    }
}

/// Per group, where its extreme string is: (index into `inputs`, row).
struct StringExtremes {
    extreme: Extreme,
    /// Inputs holding at least one extreme when they were read.
    inputs: Vec<StringArray>,
    /// Past this many bytes of `inputs`, the extremes are copied out and the inputs dropped.
    retained_limit: usize,
    input_bytes: usize,
    best: Vec<Option<(u32, u32)>>,
}

impl StringExtremes {
    fn new(extreme: Extreme) -> Self {
        Self { extreme, inputs: Vec::new(), retained_limit: RETAINED_INPUT_BYTES, input_bytes: 0, best: Vec::new() }
    }

    fn value(&self, (input, row): (u32, u32)) -> &str {
        self.inputs[input as usize].value(row as usize)
    }

    /// The extremes of `groups`, copied out.
    fn strings(&self, groups: &[Option<(u32, u32)>]) -> StringArray {
        let bytes = groups.iter().flatten().map(|&at| self.value(at).len()).sum();
        let mut builder = StringBuilder::with_capacity(groups.len(), bytes);
        for group in groups {
            builder.append_option(group.map(|at| self.value(at)));
        }
        builder.finish()
    }

    /// Copies the extremes into one array and drops the inputs they came from.
    fn compact(&mut self) {
        let extremes = self.strings(&self.best);
        self.input_bytes = extremes.get_buffer_memory_size();
        for (row, group) in self.best.iter_mut().enumerate() {
            if group.is_some() {
                *group = Some((0, row as u32));
            }
        }
        self.inputs = vec![extremes];
    }
}

impl Extremes for StringExtremes {
    fn update(&mut self, values: &ArrayRef, groups: &[usize], filter: Option<&BooleanArray>, total: usize) {
        self.best.resize(total, None);
        let values = values.as_string::<i32>();
        let input = self.inputs.len() as u32;
        // Pushed first: an extreme found earlier in this same input is compared against.
        self.inputs.push(values.clone());
        let mut kept = false;
        for (row, &group) in groups.iter().enumerate() {
            if values.is_null(row) || filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            let new = values.value(row);
            if self.best[group].is_none_or(|current| self.extreme.beats(new, self.value(current))) {
                self.best[group] = Some((input, row as u32));
                kept = true;
            }
        }
        if kept {
            self.input_bytes += values.get_buffer_memory_size();
        } else {
            self.inputs.pop();
        }
        if self.input_bytes > self.retained_limit {
            self.compact();
        }
    }

    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        let emitted = emit_to.take_needed(&mut self.best);
        let strings = self.strings(&emitted);
        if self.best.is_empty() {
            self.inputs.clear();
            self.input_bytes = 0;
        }
        Arc::new(strings)
    }

    fn size(&self) -> usize {
        self.input_bytes + self.best.capacity() * size_of::<Option<(u32, u32)>>()
    }
}

/// Per group: 0 while it has seen no value, else 1 for false and 2 for true.
struct BoolExtremes {
    extreme: Extreme,
    states: Vec<u8>,
}

impl Extremes for BoolExtremes {
    fn update(&mut self, values: &ArrayRef, groups: &[usize], filter: Option<&BooleanArray>, total: usize) {
        self.states.resize(total, 0);
        let values = values.as_boolean();
        for (row, &group) in groups.iter().enumerate() {
            if values.is_null(row) || filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            let new = 1 + u8::from(values.value(row));
            let current = &mut self.states[group];
            if *current == 0 || self.extreme.beats(&new, current) {
                *current = new;
            }
        }
    }

    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        let emitted = emit_to.take_needed(&mut self.states);
        Arc::new(emitted.into_iter().map(|state| (state != 0).then_some(state == 2)).collect::<BooleanArray>())
    }

    fn size(&self) -> usize {
        self.states.capacity()
    }
}

/// What the accumulators of one type do; the [`GroupsAccumulator`] around them is [`Grouped`].
trait Extremes: Send + 'static {
    /// Takes `values` into the extremes of `groups`, skipping nulls and rows `filter` drops.
    fn update(&mut self, values: &ArrayRef, groups: &[usize], filter: Option<&BooleanArray>, total: usize);
    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef;
    fn size(&self) -> usize;
}

/// A `max` or `min` state is the extreme itself, so evaluating, the state, updating and merging
/// are all the same two operations.
struct Grouped<E>(E);

impl<E: Extremes> GroupsAccumulator for Grouped<E> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total: usize,
    ) -> Result<()> {
        self.0.update(&values[0], groups, filter, total);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.0.emit(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.0.emit(emit_to)])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.0.update(&values[0], groups, None, total);
        Ok(())
    }

    fn convert_to_state(&self, values: &[ArrayRef], filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        values_as_state(&values[0], filter)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

/// The state of one row on its own is its value, or null where the filter drops it.
fn values_as_state(values: &ArrayRef, filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
    let Some(filter) = filter else {
        return Ok(vec![values.clone()]);
    };
    let dropped = arrow::compute::not(&arrow::compute::prep_null_mask_filter(filter))?;
    Ok(vec![arrow::compute::nullif(values, &dropped)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::execution::FunctionRegistry;
    use datafusion::prelude::SessionContext;

    /// Keys, strings and booleans with nulls, in several input batches, so extremes move
    /// between batches and some groups only ever see nulls.
    fn batches() -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
        ]));
        (0..5i64)
            .map(|part| {
                let rows = 0..40i64;
                let k: Int64Array = rows.clone().map(|r| (r % 7 != 6).then_some((r * 3 + part) % 11)).collect();
                let s: StringArray = rows
                    .clone()
                    .map(|r| {
                        (r % 5 != 0 && (r * 3 + part) % 11 != 4)
                            .then(|| format!("{}é{}", (r * 17 + part * 5) % 23, r % 3))
                    })
                    .collect();
                let b: BooleanArray = rows.map(|r| (r % 4 != 0).then_some((r + part) % 3 == 0)).collect();
                RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(s), Arc::new(b)]).unwrap()
            })
            .collect()
    }

    async fn run(fast: bool, sql: &str) -> Vec<RecordBatch> {
        let ctx = SessionContext::new();
        if fast {
            for udaf in udafs() {
                ctx.register_udaf(udaf);
            }
        }
        let data = batches();
        let table = MemTable::try_new(data[0].schema(), vec![data]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    }

    #[tokio::test]
    async fn grouped_results_equal_datafusions_own() {
        let sql = "SELECT k, max(s), min(s), max(b), min(b), max(s) FILTER (WHERE b), min(b) FILTER (WHERE s > '1'), \
                   max(k) FROM t GROUP BY k ORDER BY k NULLS FIRST";
        let (fast, builtin) = (run(true, sql).await, run(false, sql).await);
        assert!(fast.iter().map(RecordBatch::num_rows).sum::<usize>() > 5);
        assert_eq!(fast, builtin);
    }

    #[tokio::test]
    async fn the_fast_accumulators_are_the_ones_planned() {
        let ctx = SessionContext::new();
        for udaf in udafs() {
            ctx.register_udaf(udaf);
        }
        let max = ctx.udaf("max").unwrap();
        let inner: &dyn std::any::Any = max.inner().as_ref();
        assert!(inner.downcast_ref::<FastExtreme>().is_some());
        assert_eq!(ctx.udaf("min").unwrap().name(), "min");
    }

    /// The plain answer for `groups` of `values`, ignoring nulls.
    fn naive(extreme: Extreme, values: &[&StringArray], groups: &[Vec<usize>], total: usize) -> Vec<Option<String>> {
        let mut best: Vec<Option<String>> = vec![None; total];
        for (array, groups) in values.iter().zip(groups) {
            for (row, &g) in groups.iter().enumerate() {
                if array.is_valid(row) && best[g].as_deref().is_none_or(|b| extreme.beats(array.value(row), b)) {
                    best[g] = Some(array.value(row).to_owned());
                }
            }
        }
        best
    }

    #[test]
    fn emitting_the_first_groups_and_compacting_keep_every_extreme() {
        for extreme in [Extreme::Max, Extreme::Min] {
            let arrays: Vec<StringArray> = (0..6)
                .map(|i| (0..50).map(|r| (r % 9 != 0).then(|| format!("v{}", (r * 31 + i * 7) % 97))).collect())
                .collect();
            let groups: Vec<Vec<usize>> = (0..6).map(|i| (0..50).map(|r| (r * 7 + i) % 13).collect()).collect();
            let mut acc = Grouped(StringExtremes::new(extreme));
            acc.0.retained_limit = 300;
            for (array, groups) in arrays.iter().zip(&groups) {
                let values: ArrayRef = Arc::new(array.clone());
                acc.update_batch(&[values], groups, None, 13).unwrap();
                assert!(acc.0.inputs.len() <= 2, "compaction keeps the inputs few");
            }
            let expected = naive(extreme, &arrays.iter().collect::<Vec<_>>(), &groups, 13);
            let first = acc.evaluate(EmitTo::First(4)).unwrap();
            let rest = acc.evaluate(EmitTo::All).unwrap();
            let got: Vec<Option<String>> = [first, rest]
                .iter()
                .flat_map(|a| a.as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>())
                .collect();
            assert_eq!(got, expected, "{extreme:?}");
            assert!(acc.0.inputs.is_empty() && acc.0.best.is_empty());
        }
    }

    #[test]
    fn a_row_on_its_own_is_its_value_unless_filtered_out() {
        let values: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("c"), Some("d")]));
        let filter = BooleanArray::from(vec![Some(true), Some(true), Some(false), None]);
        let state = Grouped(StringExtremes::new(Extreme::Max))
            .convert_to_state(std::slice::from_ref(&values), Some(&filter))
            .unwrap();
        assert_eq!(state[0].as_string::<i32>().iter().collect::<Vec<_>>(), [Some("a"), None, None, None]);
        let unfiltered =
            Grouped(StringExtremes::new(Extreme::Max)).convert_to_state(std::slice::from_ref(&values), None).unwrap();
        assert_eq!(&unfiltered[0], &values);
    }
}
