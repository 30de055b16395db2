-- File formats and the external stages over the lake and the Firehose output.
-- Safe to re-run: IF NOT EXISTS. To change a format's options, use ALTER FILE FORMAT.

-- The lake's Parquet: zstd, microsecond UTC timestamps. Logical types make those TIMESTAMP_TZ
-- and DATE columns load as such; the vectorized scanner reads them faster and keeps microseconds.
CREATE FILE FORMAT IF NOT EXISTS {{raw}}.lake_parquet
  TYPE = PARQUET
  USE_LOGICAL_TYPE = TRUE
  USE_VECTORIZED_SCANNER = TRUE;

-- Firehose output: one JSON object per line (each record ends in a newline).
CREATE FILE FORMAT IF NOT EXISTS {{raw}}.firehose_json
  TYPE = JSON
  STRIP_OUTER_ARRAY = FALSE
  COMPRESSION = AUTO;

CREATE STAGE IF NOT EXISTS {{raw}}.lake
  URL = '{{lake_url}}'
  STORAGE_INTEGRATION = {{integration}}
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet');

CREATE STAGE IF NOT EXISTS {{raw}}.firehose
  URL = '{{firehose_url}}'
  STORAGE_INTEGRATION = {{integration}}
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.firehose_json');
