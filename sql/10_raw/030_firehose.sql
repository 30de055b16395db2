-- Firehose's JSON records (rendered only when snowflake.firehose_url is set): their format, the
-- stage over the delivery prefix, a raw table of records and their pipe. The records carry the
-- same rows as the lake's Parquet (`_table`, `_batch_id`, the columns); use one load path per
-- table in the star schema, or both with MERGE deduping by key.
-- Safe to re-run: IF NOT EXISTS everywhere.

-- Firehose output: one JSON object per line (each record ends in a newline).
CREATE FILE FORMAT IF NOT EXISTS {{raw}}.firehose_json
  TYPE = JSON
  STRIP_OUTER_ARRAY = FALSE
  COMPRESSION = AUTO;

CREATE STAGE IF NOT EXISTS {{raw}}.firehose
  URL = '{{firehose_url}}'
  STORAGE_INTEGRATION = {{integration}}
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.firehose_json');

-- Firehose delivers the same rows as JSON records (`_table`, `_batch_id`, the table's columns).
CREATE TABLE IF NOT EXISTS {{raw}}.firehose_records (
  record VARIANT,
  _table VARCHAR,
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE PIPE IF NOT EXISTS {{raw}}.firehose_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: Firehose JSON records'
AS
COPY INTO {{raw}}.firehose_records (record, _table, _batch_id, _file, _row, _loaded_at)
  FROM (
    SELECT $1, $1:_table::VARCHAR, $1:_batch_id::VARCHAR, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER, METADATA$START_SCAN_TIME
    FROM @{{raw}}.firehose
  )
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.firehose_json');
