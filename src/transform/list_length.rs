//! `array_length(list)` read from the list offsets.
//!
//! DataFusion's own builds an array slice of every list to take its length, which for a list of
//! structs slices every nested child: for the playlist queries that was 2 % of a replay. The one
//! argument form over a `List` column is the difference of two offsets; every other form (a
//! dimension, large or fixed-size lists, scalars) is DataFusion's own, delegated.

use std::sync::Arc;

use arrow::array::{Array, AsArray, UInt64Array};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::functions_nested::length::array_length_udf;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature};

/// `array_length` with the offsets fast path, to register over the built-in one.
pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(FastArrayLength { builtin: array_length_udf() })
}

#[derive(Debug)]
struct FastArrayLength {
    builtin: Arc<ScalarUDF>,
}

impl PartialEq for FastArrayLength {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for FastArrayLength {}

impl std::hash::Hash for FastArrayLength {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl ScalarUDFImpl for FastArrayLength {
    fn name(&self) -> &str {
        self.builtin.name()
    }

    fn signature(&self) -> &Signature {
        self.builtin.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.builtin.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let [ColumnarValue::Array(array)] = args.args.as_slice()
            && let DataType::List(_) = array.data_type()
        {
            let list = array.as_list::<i32>();
            let lengths = list.offsets().lengths().map(|n| n as u64).collect::<Vec<_>>();
            return Ok(ColumnarValue::Array(Arc::new(UInt64Array::new(lengths.into(), list.nulls().cloned()))));
        }
        self.builtin.invoke_with_args(args)
    }

    fn aliases(&self) -> &[String] {
        self.builtin.aliases()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.builtin.documentation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, ListArray, RecordBatch, StructArray};
    use arrow::datatypes::{Field, Fields, Int64Type, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    async fn lengths(fast: bool, sql: &str) -> Vec<RecordBatch> {
        let ctx = SessionContext::new();
        if fast {
            ctx.register_udf(udf());
        }
        let ints = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(4)]),
        ]);
        // A list of structs, sliced so its offsets do not start at zero.
        let fields = Fields::from(vec![Field::new("id", DataType::Int64, true)]);
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..12));
        let structs = StructArray::new(fields.clone(), vec![ids], None);
        let item = Arc::new(Field::new("item", DataType::Struct(fields), true));
        let offsets = arrow::buffer::OffsetBuffer::from_lengths([2, 0, 3, 1, 4, 2]);
        let nulls = arrow::buffer::NullBuffer::from(vec![true, true, false, true, true, true]);
        let nested = ListArray::new(item, offsets, Arc::new(structs), Some(nulls)).slice(2, 4);
        let schema = Arc::new(Schema::new(vec![
            Field::new("ints", ints.data_type().clone(), true),
            Field::new("nested", nested.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ints), Arc::new(nested)]).unwrap();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx.sql(sql).await.unwrap().collect().await.unwrap()
    }

    #[tokio::test]
    async fn lengths_equal_datafusions_own() {
        let sql = "SELECT array_length(ints), array_length(nested), list_length(nested), array_length(ints, 1), \
                   array_length(ints, 2), array_length([1, 2]), array_length(arrow_cast(ints, 'LargeList(Int64)')) FROM t";
        let fast = lengths(true, sql).await;
        assert_eq!(fast, lengths(false, sql).await);
        let column = fast[0].column(1).as_primitive::<arrow::datatypes::UInt64Type>();
        assert_eq!(column.iter().collect::<Vec<_>>(), [None, Some(1), Some(4), Some(2)]);
    }
}
