//! Checks a JSON value against a read schema before arrow-json decodes it, because arrow-json
//! coerces: a number where a timestamp belongs becomes a 1970 time, a fraction an integer. Only
//! lines the direct decoder gave up on come here, so the cost is paid by bad lines alone.
//!
//! The rules: `null` fits any field. A string field takes a string; a boolean field `true` or
//! `false`; an integer field an integer in i64's range, written without a fraction or exponent
//! (`215000.0` is rejected); a timestamp field a string with a valid date and time; a list an
//! array of fitting values; a struct an object whose known keys fit (others are ignored).

use arrow::compute::kernels::cast_utils::string_to_datetime;
use arrow::datatypes::{DataType, Fields};
use chrono::Utc;
use serde_json::Value;

/// The first value of `object` that does not fit `fields`, as `path: what was expected and found`.
pub fn check_object(object: &Value, fields: &Fields) -> Result<(), String> {
    check(object, &DataType::Struct(fields.clone()), &mut String::new())
}

fn check(value: &Value, data_type: &DataType, path: &mut String) -> Result<(), String> {
    let fits = match (data_type, value) {
        (_, Value::Null) => true,
        (DataType::Utf8 | DataType::LargeUtf8, Value::String(_)) => true,
        (DataType::Boolean, Value::Bool(_)) => true,
        (DataType::Int64, Value::Number(n)) => n.as_i64().is_some(),
        (DataType::Float64, Value::Number(_)) => true,
        (DataType::Timestamp(..), Value::String(text)) => string_to_datetime(&Utc, text).is_ok(),
        (DataType::List(item), Value::Array(items)) => {
            for (i, item_value) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check(item_value, item.data_type(), path)?;
                path.truncate(len);
            }
            true
        }
        (DataType::Struct(fields), Value::Object(members)) => {
            for field in fields {
                let Some(member) = members.get(field.name()) else { continue };
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(field.name());
                check(member, field.data_type(), path)?;
                path.truncate(len);
            }
            true
        }
        // Types no read schema uses are left to arrow-json.
        (other, _) => !matches!(
            other,
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Boolean
                | DataType::Int64
                | DataType::Float64
                | DataType::Timestamp(..)
                | DataType::List(_)
                | DataType::Struct(_)
        ),
    };
    if fits {
        return Ok(());
    }
    let at = if path.is_empty() { "the line".to_owned() } else { format!("field `{path}`") };
    Err(format!("{at}: expected {}, found {}", expected(data_type), found(value)))
}

fn expected(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => "a string",
        DataType::Boolean => "true or false",
        DataType::Int64 => "an integer in i64's range, without a fraction or exponent",
        DataType::Float64 => "a number",
        DataType::Timestamp(..) => "a string holding a valid date and time",
        DataType::List(_) => "an array",
        DataType::Struct(_) => "an object",
        _ => "another type",
    }
}

fn found(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 40 {
        let cut = (0..=40).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => format!("boolean {text}"),
        Value::Number(_) => format!("number {text}"),
        Value::String(_) => format!("string {text}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, TimeUnit};
    use serde_json::json;

    use super::*;

    fn fields() -> Fields {
        let item = Fields::from(vec![
            Field::new("added_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("is_local", DataType::Boolean, true),
            Field::new("duration_ms", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]);
        let list = DataType::List(Arc::new(Field::new("item", DataType::Struct(item), true)));
        Fields::from(vec![Field::new("items", list, true), Field::new("offset", DataType::Int64, true)])
    }

    #[test]
    fn values_of_the_wrong_json_type_are_named_by_their_path() {
        let good = json!({"offset": 0, "items": [{"added_at": "2026-02-28T10:00:00Z", "is_local": false,
                           "duration_ms": 215000, "name": "x", "unread": [1, "two"]}, null]});
        assert_eq!(check_object(&good, &fields()), Ok(()));
        let bad = |item: Value| check_object(&json!({"items": [{}, item]}), &fields()).unwrap_err();
        assert_eq!(
            bad(json!({"added_at": 1764547200})),
            "field `items[1].added_at`: expected a string holding a valid date and time, found number 1764547200"
        );
        assert!(bad(json!({"added_at": "2026-02-30T10:00:00Z"})).starts_with("field `items[1].added_at`"));
        assert!(bad(json!({"is_local": "false"})).contains("expected true or false, found string \"false\""));
        assert!(bad(json!({"duration_ms": 215000.0})).contains("without a fraction or exponent"));
        assert!(bad(json!({"duration_ms": 9_223_372_036_854_775_808u64})).starts_with("field `items[1].duration_ms`"));
        assert!(bad(json!({"name": 7})).contains("expected a string, found number 7"));
        let not_a_list = check_object(&json!({"items": {"a": 1}}), &fields()).unwrap_err();
        assert_eq!(not_a_list, "field `items`: expected an array, found an object");
    }
}
