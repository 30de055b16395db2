//! Kinesis partition keys: the value of a table's key column for each row, so one key's records
//! stay in order on one shard.

use arrow::array::{Array, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use xxhash_rust::xxh3::xxh3_64;

use std::collections::BTreeMap;

use super::KINESIS_MAX_KEY_CHARS;
use crate::sink::SinkError;
use crate::sink::lake::TableSpec;

/// The natural key of the default tables (`docs/data-contract.md`).
pub fn default_partition_key(table: &str) -> Option<&'static str> {
    Some(match table {
        "plays" => "user_id",
        "playlist_tracks" | "playlists" => "playlist_id",
        "tracks" | "track_artists" => "track_id",
        "albums" => "album_id",
        "artists" => "artist_id",
        _ => return None,
    })
}

/// The partition key column of every table: the configured one, which must exist, else the
/// table's natural key where the table has that column.
pub fn partition_keys(
    configured: &BTreeMap<String, String>,
    tables: &[TableSpec],
) -> Result<BTreeMap<String, String>, SinkError> {
    let mut keys = BTreeMap::new();
    let mut problems = Vec::new();
    for (table, column) in configured {
        match tables.iter().find(|t| &t.table == table) {
            Some(spec) if spec.schema.index_of(column).is_ok() => {
                keys.insert(table.clone(), column.clone());
            }
            Some(_) => problems.push(format!("partition_keys.{table}: `{column}` is not a column of table {table}")),
            None => problems.push(format!("partition_keys.{table}: no query produces a table `{table}`")),
        }
    }
    for spec in tables {
        if let Some(column) = default_partition_key(&spec.table)
            && !keys.contains_key(&spec.table)
            && spec.schema.index_of(column).is_ok()
        {
            keys.insert(spec.table.clone(), column.to_owned());
        }
    }
    if problems.is_empty() { Ok(keys) } else { Err(SinkError::Schema(problems.join("\n"))) }
}

/// The partition key of every row of one record batch.
pub struct RowKeys {
    keys: Vec<String>,
    fallback: String,
}

impl RowKeys {
    /// No keys: every row gets an empty one (Firehose).
    pub fn none() -> Self {
        Self { keys: Vec::new(), fallback: String::new() }
    }

    /// The keys of `batch` from `column`; rows with no value (or a table without a key column)
    /// take `batch_id`, so a micro-batch's rows stay together.
    pub fn new(batch: &RecordBatch, column: Option<&str>, batch_id: &str) -> Result<Self, String> {
        let fallback = batch_id.to_owned();
        let Some(column) = column else { return Ok(Self { keys: Vec::new(), fallback }) };
        let Some(array) = batch.column_by_name(column) else {
            return Err(format!("the partition key column `{column}` is not a column of the table"));
        };
        let formatter =
            ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).map_err(|e| e.to_string())?;
        let keys = (0..batch.num_rows())
            .map(|row| {
                if array.is_null(row) {
                    return fallback.clone();
                }
                let value = formatter.value(row).to_string();
                match value.chars().count() {
                    0 => fallback.clone(),
                    // Too long for Kinesis: a digest keeps equal values on one shard.
                    n if n > KINESIS_MAX_KEY_CHARS => format!("{:016x}", xxh3_64(value.as_bytes())),
                    _ => value,
                }
            })
            .collect();
        Ok(Self { keys, fallback })
    }

    pub fn key(&self, row: usize) -> String {
        self.keys.get(row).cloned().unwrap_or_else(|| self.fallback.clone())
    }
}
