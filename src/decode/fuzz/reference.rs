//! The reference the fuzzer holds the decoder to, written apart from it: serde_json reads the
//! line into an ordered tree, the tree is checked against the read schema by the documented
//! rules, and arrow-json builds the values of the lines that pass.

use arrow::compute::kernels::cast_utils::string_to_datetime;
use arrow::datatypes::{DataType, Fields};
use chrono::Utc;

use super::tree::Tree;

/// Whether `line` must be accepted under `fields`, and if not, why.
pub fn judge(line: &[u8], fields: &Fields) -> Result<(), String> {
    match serde_json::from_slice::<Tree>(line) {
        Ok(Tree::Object(members)) => fits_object(&members, fields, ""),
        Ok(_) => Err("not an object".to_owned()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

fn fits_object(members: &[(String, Tree)], fields: &Fields, path: &str) -> Result<(), String> {
    for field in fields {
        let mut copies = members.iter().filter(|(key, _)| key == field.name());
        let child = format!("{path}.{}", field.name());
        if let Some((_, value)) = copies.next() {
            if copies.next().is_some() {
                return Err(format!("{child}: the key appears twice"));
            }
            fits(value, field.data_type(), &child)?;
        }
    }
    Ok(())
}

fn fits(value: &Tree, data_type: &DataType, path: &str) -> Result<(), String> {
    let fits = match (value, data_type) {
        (Tree::Null, _) => true,
        (Tree::Str(_), DataType::Utf8) | (Tree::Bool(_), DataType::Boolean) | (Tree::Int(_), DataType::Int64) => true,
        (Tree::UInt(n), DataType::Int64) => i64::try_from(*n).is_ok(),
        // An exact integer written as a float, as Spotify sent them in its 2024 incident.
        (Tree::Float(x), DataType::Int64) => x.fract() == 0.0 && *x >= -(2f64.powi(63)) && *x < 2f64.powi(63),
        (Tree::Int(_) | Tree::UInt(_) | Tree::Float(_), DataType::Float64) => true,
        (Tree::Str(s), DataType::Timestamp(..)) => string_to_datetime(&Utc, s).is_ok(),
        (Tree::Array(items), DataType::List(item)) => {
            for (i, value) in items.iter().enumerate() {
                fits(value, item.data_type(), &format!("{path}[{i}]"))?;
            }
            true
        }
        (Tree::Object(members), DataType::Struct(fields)) => {
            fits_object(members, fields, path)?;
            true
        }
        _ => false,
    };
    let found = match value {
        Tree::Str(_) => "a string",
        Tree::Bool(_) => "a boolean",
        Tree::Int(_) | Tree::UInt(_) => "an integer",
        Tree::Float(_) => "a fraction",
        Tree::Array(_) => "an array",
        _ => "an object",
    };
    if fits { Ok(()) } else { Err(format!("{path}: {found} does not fit {data_type}")) }
}
