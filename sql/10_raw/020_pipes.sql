-- Snowpipe auto-ingest: one pipe per table over that table's prefix of the lake. Each file name loads once (Snowpipe keeps 14 days of load history per pipe), and
-- the lake never rewrites a name, so a file is never skipped nor loaded twice by its pipe.
-- Safe to re-run: CREATE PIPE IF NOT EXISTS. Never CREATE OR REPLACE a pipe: a replaced pipe
-- loses its load history and loads every file of the last 14 days again. To change a pipe's COPY,
-- see sql/README.md ("Changing a pipe").
-- PATTERN keeps staged temp names and other tables' prefixes out; INCLUDE_METADATA fills the load
-- metadata columns.

CREATE PIPE IF NOT EXISTS {{raw}}.plays_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: plays Parquet from the lake'
AS
COPY INTO {{raw}}.plays
  FROM @{{raw}}.lake/plays/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

CREATE PIPE IF NOT EXISTS {{raw}}.playlist_tracks_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: playlist_tracks Parquet from the lake'
AS
COPY INTO {{raw}}.playlist_tracks
  FROM @{{raw}}.lake/playlist_tracks/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

CREATE PIPE IF NOT EXISTS {{raw}}.tracks_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: tracks Parquet from the lake'
AS
COPY INTO {{raw}}.tracks
  FROM @{{raw}}.lake/tracks/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

CREATE PIPE IF NOT EXISTS {{raw}}.albums_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: albums Parquet from the lake'
AS
COPY INTO {{raw}}.albums
  FROM @{{raw}}.lake/albums/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

CREATE PIPE IF NOT EXISTS {{raw}}.artists_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: artists Parquet from the lake'
AS
COPY INTO {{raw}}.artists
  FROM @{{raw}}.lake/artists/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

CREATE PIPE IF NOT EXISTS {{raw}}.track_artists_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: track_artists Parquet from the lake'
AS
COPY INTO {{raw}}.track_artists
  FROM @{{raw}}.lake/track_artists/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);

CREATE PIPE IF NOT EXISTS {{raw}}.playlists_pipe
  AUTO_INGEST = TRUE
  COMMENT = 'tunestream: playlists Parquet from the lake'
AS
COPY INTO {{raw}}.playlists
  FROM @{{raw}}.lake/playlists/
  PATTERN = '.*/part-[^/]*[.]parquet'
  FILE_FORMAT = (FORMAT_NAME = '{{raw}}.lake_parquet')
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
  INCLUDE_METADATA = (_file = METADATA$FILENAME, _row = METADATA$FILE_ROW_NUMBER, _loaded_at = METADATA$START_SCAN_TIME);
