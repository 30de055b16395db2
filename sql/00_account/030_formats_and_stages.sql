-- The lake's file format and the external stage over it (Firehose's are in 10_raw/030_firehose.sql).
-- Safe to re-run: IF NOT EXISTS. To change a format's options, use ALTER FILE FORMAT.

-- The lake's Parquet: zstd, microsecond UTC timestamps. Logical types make those TIMESTAMP_TZ
-- and DATE columns load as such; the vectorized scanner reads them faster and keeps microseconds.
CREATE FILE FORMAT IF NOT EXISTS {{raw}}.lake_parquet
  TYPE = PARQUET
  USE_LOGICAL_TYPE = TRUE
  USE_VECTORIZED_SCANNER = TRUE;

CREATE STAGE IF NOT EXISTS {{raw}}.lake
  URL = '{{lake_url}}'
  STORAGE_INTEGRATION = {{integration}}
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet');
