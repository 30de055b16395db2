//! What every sink entry shares: a flag's `TARGET[:TABLE,...]`, the choice of tables, and the
//! names AWS allows for streams.

/// Splits a sink flag, `TARGET[:TABLE,...]`, into its target and its tables (`None`: every
/// table). A `:` followed by a path is part of the target.
pub fn split_flag(value: &str) -> (&str, Option<Vec<String>>) {
    match value.rsplit_once(':').filter(|(target, tables)| !target.is_empty() && !tables.contains(['/', '\\'])) {
        Some((target, tables)) => {
            (target, Some(tables.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()))
        }
        None => (value, None),
    }
}

/// Whether a sink whose entry chose `tables` (`None`: every table) takes `table`.
pub fn chosen(tables: Option<&[String]>, table: &str) -> bool {
    tables.is_none_or(|tables| tables.iter().any(|t| t == table))
}

/// The problem of a sink entry's `tables`, if it has one; `at` names the entry.
pub fn tables_problem(at: &str, tables: Option<&Vec<String>>) -> Option<String> {
    tables.is_some_and(Vec::is_empty).then(|| format!("{at}.tables is empty; leave it out to take every table"))
}

/// The problem of a stream name, if it has one: AWS allows 1 to `max` letters, digits, `_`, `.`
/// and `-` in Firehose and Kinesis stream names. `at` names the entry, `what` the kind of stream.
pub fn stream_name_problem(at: &str, what: &str, name: &str, max: usize) -> Option<String> {
    let valid = (1..=max).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    (!valid).then(|| format!("{at}.stream `{name}` is not a {what} name (1 to {max} letters, digits, `_`, `.`, `-`)"))
}
