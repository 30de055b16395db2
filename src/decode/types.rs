//! Checks a JSON value against a read schema before arrow-json decodes it, because arrow-json
//! coerces: a number where a timestamp belongs becomes a 1970 time, a fraction an integer. Only
//! lines the direct decoder gave up on come here, so the cost is paid by bad lines alone.
//!
//! The rules: `null` fits any field. A string field takes a string; a boolean field `true` or
//! `false`; an integer field an integer in i64's range, or a float whose value is a whole number
//! in that range (`215000.0` and `2.3024383E7` are taken, `215000.5` is rejected); a timestamp
//! field a string with a valid date and time; a list an array of fitting values; a struct an
//! object whose known keys fit (others are ignored). A key that a field reads may appear once in
//! its object: a line repeating one is rejected, whichever copy a reader would take.

use std::fmt;

use arrow::compute::kernels::cast_utils::string_to_datetime;
use arrow::datatypes::{DataType, Fields};
use chrono::Utc;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Reads `line` with serde_json's strict parser and checks every value `fields` names: its type,
/// and that its key appears once in its object. Returns what is wrong with the first value that
/// does not fit, with its path, or serde_json's own message when the line is not JSON.
pub fn check_line(line: &[u8], fields: &Fields) -> Result<(), String> {
    let root = DataType::Struct(fields.clone());
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    let checked = Expect { data_type: &root, path: String::new() }.deserialize(&mut deserializer);
    checked.and_then(|()| deserializer.end()).map_err(|e| {
        let text = e.to_string();
        // Our own messages carry the path; serde_json's say where in the line.
        if e.is_data() && !text.starts_with("invalid type") { text } else { format!("not JSON: {text}") }
    })
}

/// One value of `data_type` expected at `path`.
struct Expect<'a> {
    data_type: &'a DataType,
    path: String,
}

impl Expect<'_> {
    fn wrong(&self, found: &str) -> String {
        let at = if self.path.is_empty() { "the line".to_owned() } else { format!("field `{}`", self.path) };
        format!("{at}: expected {}, found {found}", expected(self.data_type))
    }

    fn fail<E: de::Error>(&self, found: &str) -> Result<(), E> {
        Err(E::custom(self.wrong(found)))
    }
}

impl<'de> DeserializeSeed<'de> for Expect<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Expect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(expected(self.data_type))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        if matches!(self.data_type, DataType::Boolean) { Ok(()) } else { self.fail(&format!("boolean {value}")) }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        match self.data_type {
            DataType::Int64 | DataType::Float64 => Ok(()),
            _ => self.fail(&format!("number {value}")),
        }
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        match self.data_type {
            DataType::Int64 if i64::try_from(value).is_ok() => Ok(()),
            DataType::Float64 => Ok(()),
            _ => self.fail(&format!("number {value}")),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        match self.data_type {
            DataType::Float64 => Ok(()),
            DataType::Int64 if integral(value) => Ok(()),
            _ => self.fail(&format!("number {value:?}")),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        match self.data_type {
            DataType::Utf8 | DataType::LargeUtf8 => Ok(()),
            DataType::Timestamp(..) if string_to_datetime(&Utc, value).is_ok() => Ok(()),
            _ => self.fail(&format!("string {}", shortened(value))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let DataType::List(item) = self.data_type else {
            self.fail::<A::Error>("an array")?;
            return Ok(());
        };
        let mut i = 0;
        while seq
            .next_element_seed(Expect { data_type: item.data_type(), path: format!("{}[{i}]", self.path) })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let DataType::Struct(fields) = self.data_type else {
            self.fail::<A::Error>("an object")?;
            return Ok(());
        };
        let mut seen = vec![false; fields.len()];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(index) = fields.iter().position(|f| f.name() == key.as_ref()) else {
                map.next_value_seed(Unread)?;
                continue;
            };
            let path = if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) };
            if std::mem::replace(&mut seen[index], true) {
                return Err(de::Error::custom(format!("field `{path}`: the key appears twice in its object")));
            }
            map.next_value_seed(Expect { data_type: fields[index].data_type(), path })?;
        }
        Ok(())
    }
}

/// A value no field reads. It is still read, not scanned as `IgnoredAny` would, so serde_json
/// checks it as strictly as a value it builds: UTF-8, paired surrogates, finite numbers.
struct Unread;

impl<'de> DeserializeSeed<'de> for Unread {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unread {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unread)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Unread)?.is_some() {
            map.next_value_seed(Unread)?;
        }
        Ok(())
    }
}

/// Whether a float is an exact integer in i64's range: `1.0` and `2.3024383E7` are, as Spotify
/// sent integers for weeks in its 2024 incident; `1.5` and `1e19` are not.
pub fn integral(value: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value)
}

fn expected(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => "a string",
        DataType::Boolean => "true or false",
        DataType::Int64 => "an integer in i64's range (a float only when its value is a whole number)",
        DataType::Float64 => "a number",
        DataType::Timestamp(..) => "a string holding a valid date and time",
        DataType::List(_) => "an array",
        DataType::Struct(_) => "an object",
        _ => "a value",
    }
}

fn shortened(text: &str) -> String {
    let cut = (0..=text.len().min(40)).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let ellipsis = if cut < text.len() { "…" } else { "" };
    format!("{:?}{ellipsis}", &text[..cut])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, TimeUnit};

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

    fn check(text: &str) -> Result<(), String> {
        check_line(text.as_bytes(), &fields())
    }

    #[test]
    fn values_of_the_wrong_json_type_are_named_by_their_path() {
        let good = r#"{"offset":0,"items":[{"added_at":"2026-02-28T10:00:00Z","is_local":false,
                       "duration_ms":215000,"name":"x","unread":[1,"two",{"a":1,"a":2}]},null]}"#;
        assert_eq!(check(good), Ok(()));
        let bad = |item: &str| check(&format!(r#"{{"items":[{{}},{item}]}}"#)).unwrap_err();
        assert_eq!(
            bad(r#"{"added_at":1764547200}"#),
            "field `items[1].added_at`: expected a string holding a valid date and time, found number 1764547200 at line 1 column 35"
        );
        assert!(bad(r#"{"added_at":"2026-02-30T10:00:00Z"}"#).starts_with("field `items[1].added_at`"));
        assert!(bad(r#"{"is_local":"false"}"#).contains("expected true or false, found string \"false\""));
        assert!(bad(r#"{"duration_ms":215000.5}"#).contains("a float only when its value is a whole number"));
        assert!(bad(r#"{"duration_ms":1e19}"#).starts_with("field `items[1].duration_ms`"));
        for whole in ["215000.0", "2.3024383E7", "-0", "1e2"] {
            assert_eq!(check(&format!(r#"{{"items":[{{"duration_ms":{whole}}}]}}"#)), Ok(()), "{whole}");
        }
        assert!(bad(r#"{"duration_ms":9223372036854775808}"#).starts_with("field `items[1].duration_ms`"));
        assert!(bad(r#"{"name":7}"#).contains("expected a string, found number 7"));
        assert!(
            check(r#"{"items":{"a":1}}"#).unwrap_err().starts_with("field `items`: expected an array, found an object")
        );
    }

    #[test]
    fn a_key_a_field_reads_may_appear_once_and_the_line_must_be_json() {
        let twice = check(r#"{"offset":0,"items":[],"offset":5}"#).unwrap_err();
        assert!(twice.starts_with("field `offset`: the key appears twice in its object"), "{twice}");
        let nested = check(r#"{"items":[{"name":"a","name":"b"}]}"#).unwrap_err();
        assert!(nested.starts_with("field `items[0].name`: the key appears twice"), "{nested}");
        for not_json in [
            r#"{"offset":0 "items":[]}"#,
            r#"{"items":[tru]}"#,
            "{\"name\":\"a\u{1}\"}",
            r#"{"a":1} {"b":2}"#,
            // Values no field reads are held to the same rules.
            r#"{"unread":1e400}"#,
            r#"{"unread":["\ud83c"]}"#,
            r#"{"unread":{"\udfb5":1}}"#,
        ] {
            assert!(check(not_json).unwrap_err().starts_with("not JSON"), "{not_json}");
        }
    }
}
