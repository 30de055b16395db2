-- MANUAL. Backfill: loads Parquet that the pipes never saw (files older than Snowpipe's reach, or
-- a lake rebuilt with `tunestream replay`) from a prefix apart from the live lake.
--
-- Never COPY from the live lake prefix: COPY and a pipe keep separate load histories, so a COPY
-- over a pipe's prefix loads files the pipe loads too (and the pipe would load the COPY's files
-- again). Instead, write the backfill to its own prefix:
--   tunestream replay <raw pages...> --lake {{backfill_url}}
-- and run this script. COPY's own load history (64 days) skips files it already loaded, and the
-- merges are idempotent, so rows the live lake also holds merge to the same single row.
-- `tunestream snowflake render --check` refuses a backfill_url inside lake_url or around it.
CREATE STAGE IF NOT EXISTS {{raw}}.backfill
  URL = '{{backfill_url}}'
  STORAGE_INTEGRATION = {{integration}}
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet');

COPY INTO {{raw}}.plays
  FROM @{{raw}}.backfill/plays/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

COPY INTO {{raw}}.playlist_tracks
  FROM @{{raw}}.backfill/playlist_tracks/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

COPY INTO {{raw}}.tracks
  FROM @{{raw}}.backfill/tracks/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

COPY INTO {{raw}}.albums
  FROM @{{raw}}.backfill/albums/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

COPY INTO {{raw}}.artists
  FROM @{{raw}}.backfill/artists/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

COPY INTO {{raw}}.track_artists
  FROM @{{raw}}.backfill/track_artists/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

COPY INTO {{raw}}.playlists
  FROM @{{raw}}.backfill/playlists/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

-- The streams now hold the backfilled rows; merge them now rather than at the next schedule.
EXECUTE TASK {{core}}.merge_root;
