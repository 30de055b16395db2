//! Decodes JSON lines straight into Arrow arrays in one pass, driven by the schema.
//!
//! Every field of the schema gets a column builder; the bytes of each line are walked once,
//! kept values are appended where they belong and everything else is skipped unparsed. There is
//! no token tape and no intermediate copy, which is where the time went before.
//!
//! It accepts exactly what arrow-json accepts with the same result, or gives up: any value of an
//! unexpected type, a duplicated or escaped key, a number that is not a plain integer, a time it
//! cannot parse. The caller then decodes the line with arrow-json, so the two decoders always
//! agree and errors keep arrow-json's wording. `tests.rs` checks the agreement on every kind.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    ArrayRef, BooleanArray, BooleanBufferBuilder, ListArray, NullBufferBuilder, PrimitiveArray, StringArray,
    StructArray,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::kernels::cast_utils::string_to_datetime;
use arrow::datatypes::{DataType, FieldRef, Fields, Int64Type, SchemaRef, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;

use super::scan::{Scanner, same_bytes, unescape};
use super::skip::GiveUp;

/// Decodes `lines`, one row each, or gives up on the first line it cannot decode exactly.
pub fn decode(schema: &SchemaRef, lines: &[&[u8]]) -> Result<RecordBatch, GiveUp> {
    let mut root = StructColumn::new(schema.fields())?;
    for line in lines {
        let mut scan = Scanner::new(line);
        if scan.peek()? != b'{' {
            return Err(GiveUp);
        }
        root.object(&mut scan)?;
        if scan.peek().is_ok() {
            return Err(GiveUp);
        }
        debug_assert!(scan.at_end());
    }
    let columns = root.children.into_iter().map(Column::finish).collect::<Result<Vec<_>, _>>()?;
    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(lines.len()));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(|_| GiveUp)
}

enum Column {
    Utf8 { offsets: Vec<i32>, data: Vec<u8>, nulls: NullBufferBuilder },
    Int64 { values: Vec<i64>, nulls: NullBufferBuilder },
    Timestamp { values: Vec<i64>, nulls: NullBufferBuilder, tz: Tz, tz_name: Arc<str> },
    Boolean { values: BooleanBufferBuilder, nulls: NullBufferBuilder },
    Struct(StructColumn),
    List { item: FieldRef, offsets: Vec<i32>, values: Box<Column>, nulls: NullBufferBuilder },
}

struct StructColumn {
    fields: Fields,
    names: Vec<Box<[u8]>>,
    children: Vec<Column>,
    nulls: NullBufferBuilder,
    /// For the n-th key of an object, what it was last time: objects from one producer repeat
    /// their key order, so one comparison usually finds the field, or that there is none.
    hints: Vec<KeyHint>,
}

/// What a key at one position of the last object turned out to be.
#[derive(Clone)]
enum KeyHint {
    Unseen,
    Field(usize),
    /// A key no field has, whose value is skipped.
    Unread(Box<[u8]>),
}

impl Column {
    fn new(data_type: &DataType) -> Result<Self, GiveUp> {
        let nulls = NullBufferBuilder::new(0);
        Ok(match data_type {
            DataType::Utf8 => Column::Utf8 { offsets: vec![0], data: Vec::new(), nulls },
            DataType::Int64 => Column::Int64 { values: Vec::new(), nulls },
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz_name)) => {
                let tz = tz_name.parse().map_err(|_| GiveUp)?;
                Column::Timestamp { values: Vec::new(), nulls, tz, tz_name: tz_name.clone() }
            }
            DataType::Boolean => Column::Boolean { values: BooleanBufferBuilder::new(0), nulls },
            DataType::Struct(fields) => Column::Struct(StructColumn::new(fields)?),
            DataType::List(item) => {
                let values = Box::new(Column::new(item.data_type())?);
                Column::List { item: item.clone(), offsets: vec![0], values, nulls }
            }
            _ => return Err(GiveUp),
        })
    }

    fn append_null(&mut self) {
        match self {
            Column::Utf8 { offsets, nulls, .. } | Column::List { offsets, nulls, .. } => {
                offsets.push(offsets[offsets.len() - 1]);
                nulls.append_null();
            }
            Column::Int64 { values, nulls } | Column::Timestamp { values, nulls, .. } => {
                values.push(0);
                nulls.append_null();
            }
            Column::Boolean { values, nulls } => {
                values.append(false);
                nulls.append_null();
            }
            Column::Struct(column) => column.append_null(),
        }
    }

    fn value(&mut self, scan: &mut Scanner<'_>) -> Result<(), GiveUp> {
        if scan.peek()? == b'n' {
            scan.literal(b"null")?;
            self.append_null();
            return Ok(());
        }
        match self {
            Column::Utf8 { offsets, data, nulls } => {
                let (raw, escaped) = scan.string()?;
                if escaped {
                    unescape(raw, data)?;
                } else {
                    data.extend_from_slice(raw);
                }
                offsets.push(i32::try_from(data.len()).map_err(|_| GiveUp)?);
                nulls.append_non_null();
            }
            Column::Int64 { values, nulls } => {
                values.push(scan.integer()?);
                nulls.append_non_null();
            }
            Column::Timestamp { values, nulls, tz, .. } => {
                let (raw, escaped) = scan.string()?;
                if escaped {
                    return Err(GiveUp);
                }
                let text = std::str::from_utf8(raw).map_err(|_| GiveUp)?;
                values.push(string_to_datetime(tz, text).map_err(|_| GiveUp)?.timestamp_micros());
                nulls.append_non_null();
            }
            Column::Boolean { values, nulls } => {
                let truth = scan.peek()? == b't';
                scan.literal(if truth { b"true" } else { b"false" })?;
                values.append(truth);
                nulls.append_non_null();
            }
            Column::Struct(column) => {
                if scan.peek()? != b'{' {
                    return Err(GiveUp);
                }
                column.object(scan)?;
            }
            Column::List { offsets, values, nulls, .. } => {
                scan.expect(b'[')?;
                let mut count = 0i32;
                if !scan.eat(b']')? {
                    loop {
                        values.value(scan)?;
                        count += 1;
                        if scan.eat(b']')? {
                            break;
                        }
                        scan.expect(b',')?;
                    }
                }
                offsets.push(offsets[offsets.len() - 1].checked_add(count).ok_or(GiveUp)?);
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, GiveUp> {
        let offsets = |offsets: Vec<i32>| OffsetBuffer::new(ScalarBuffer::from(offsets));
        Ok(match self {
            Column::Utf8 { offsets: o, data, mut nulls } => {
                Arc::new(StringArray::try_new(offsets(o), Buffer::from_vec(data), nulls.finish()).map_err(|_| GiveUp)?)
            }
            Column::Int64 { values, mut nulls } => {
                Arc::new(PrimitiveArray::<Int64Type>::new(ScalarBuffer::from(values), nulls.finish()))
            }
            Column::Timestamp { values, mut nulls, tz_name, .. } => Arc::new(
                PrimitiveArray::<TimestampMicrosecondType>::new(ScalarBuffer::from(values), nulls.finish())
                    .with_timezone(tz_name),
            ),
            Column::Boolean { mut values, mut nulls } => Arc::new(BooleanArray::new(values.finish(), nulls.finish())),
            Column::Struct(column) => Arc::new(column.finish()?),
            Column::List { item, offsets: o, values, mut nulls } => {
                let values = values.finish()?;
                Arc::new(ListArray::try_new(item, offsets(o), values, nulls.finish()).map_err(|_| GiveUp)?)
            }
        })
    }
}

impl StructColumn {
    fn new(fields: &Fields) -> Result<Self, GiveUp> {
        // Fields seen in an object are tracked in one u64.
        if fields.len() > 64 {
            return Err(GiveUp);
        }
        let children = fields.iter().map(|f| Column::new(f.data_type())).collect::<Result<_, _>>()?;
        let names = fields.iter().map(|f| f.name().as_bytes().into()).collect();
        Ok(Self { fields: fields.clone(), names, children, nulls: NullBufferBuilder::new(0), hints: Vec::new() })
    }

    fn append_null(&mut self) {
        self.children.iter_mut().for_each(Column::append_null);
        self.nulls.append_null();
    }

    /// The field named `key`, if the schema has one, for the `ordinal`-th key of an object.
    #[inline]
    fn field_of(&mut self, key: &[u8], ordinal: usize) -> Option<usize> {
        match self.hints.get(ordinal) {
            Some(&KeyHint::Field(index)) if same_bytes(&self.names[index], key) => return Some(index),
            Some(KeyHint::Unread(unread)) if same_bytes(unread, key) => return None,
            _ => {}
        }
        let found = self.names.iter().position(|name| same_bytes(name, key));
        if ordinal >= self.hints.len() {
            self.hints.resize(ordinal + 1, KeyHint::Unseen);
        }
        self.hints[ordinal] = found.map_or_else(|| KeyHint::Unread(key.into()), KeyHint::Field);
        found
    }

    /// Decodes the object at the cursor into one row.
    fn object(&mut self, scan: &mut Scanner<'_>) -> Result<(), GiveUp> {
        scan.expect(b'{')?;
        let mut seen = 0u64;
        if !scan.eat(b'}')? {
            let mut ordinal = 0;
            loop {
                let (key, escaped) = scan.string()?;
                if escaped {
                    // An escaped key may equal a field's name once unescaped.
                    return Err(GiveUp);
                }
                scan.expect(b':')?;
                match self.field_of(key, ordinal) {
                    Some(index) => {
                        let bit = 1u64 << index;
                        if seen & bit != 0 {
                            return Err(GiveUp);
                        }
                        seen |= bit;
                        self.children[index].value(scan)?;
                    }
                    None => scan.skip_value()?,
                }
                ordinal += 1;
                if scan.eat(b'}')? {
                    break;
                }
                scan.expect(b',')?;
            }
        }
        for (index, child) in self.children.iter_mut().enumerate() {
            if seen & (1u64 << index) == 0 {
                child.append_null();
            }
        }
        self.nulls.append_non_null();
        Ok(())
    }

    fn finish(self) -> Result<StructArray, GiveUp> {
        let mut nulls = self.nulls;
        let children = self.children.into_iter().map(Column::finish).collect::<Result<Vec<_>, _>>()?;
        StructArray::try_new(self.fields, children, nulls.finish()).map_err(|_| GiveUp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use arrow::datatypes::{Field, Schema};

    /// Strings, integers, booleans, times, a struct, a list of structs and a list of strings.
    fn schema() -> SchemaRef {
        let inner = Fields::from(vec![Field::new("id", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]);
        let list = |item: DataType| DataType::List(Arc::new(Field::new("item", item, true)));
        Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("t", super::super::schema::timestamp_type(), true),
            Field::new("o", DataType::Struct(inner.clone()), true),
            Field::new("l", list(DataType::Struct(inner)), true),
            Field::new("g", list(DataType::Utf8), true),
        ]))
    }

    fn both(lines: &[&str]) -> (Result<RecordBatch, GiveUp>, RecordBatch) {
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        let reference = super::super::json::decode_with_arrow_json(&schema(), &lines).expect("arrow-json decodes");
        (decode(&schema(), &lines), reference)
    }

    #[test]
    fn decodes_what_arrow_json_decodes() {
        let lines = [
            r#"{"s":"a\"\u00e9\ud83c\udfb5","i":-7,"b":true,"t":"2026-11-27T08:00:00.123456Z","o":{"id":"x","n":1,"skip":[{"]":"["}]},"l":[{"id":"y"},null,{}],"g":["rock","pop"]}"#,
            r#" { "s" : null , "o" : null , "l" : null , "g" : [ ] , "b" : false , "available_markets" : ["AD","AE"] } "#,
            r#"{}"#,
            r#"{"l":[],"t":"2026-01-01T00:00:00+02:00","extra":{"deep":[[{"x":"}"}]]},"i":0}"#,
        ];
        let (direct, reference) = both(&lines);
        assert_eq!(direct.expect("decodes directly"), reference);
    }

    #[test]
    fn gives_up_on_what_arrow_json_must_judge() {
        for line in [
            r#"{"i":"12"}"#,
            r#"{"i":1.5}"#,
            r#"{"s":1}"#,
            r#"{"b":"true"}"#,
            r#"{"o":[1]}"#,
            r#"{"l":{"id":"x"}}"#,
            r#"{"s":"a","s":"b"}"#,
            r#"{"\u0073":"escaped key"}"#,
            r#"{"t":"yesterday"}"#,
            r#"{"s":"a"} {"s":"b"}"#,
            r#"{"s":"a""#,
            r#"[{"s":"a"}]"#,
            r#"null"#,
        ] {
            assert_eq!(decode(&schema(), &[line.as_bytes()]).err(), Some(GiveUp), "{line}");
        }
    }

    #[test]
    fn rows_line_up_across_nulls_and_missing_fields() {
        let (direct, _) = both(&[r#"{"o":{"n":5}}"#, r#"{"o":null}"#, r#"{"l":[{"n":1},{"n":2}]}"#]);
        let batch = direct.unwrap();
        let o = batch.column(4).as_any().downcast_ref::<StructArray>().unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!((o.is_valid(0), o.is_valid(1), o.is_valid(2)), (true, false, false));
        let l = batch.column(5).as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(l.value_offsets(), &[0, 0, 0, 2]);
    }
}
