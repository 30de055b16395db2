-- Raw tables: one per table of the data contract (docs/data-contract.md), columns named and typed
-- as the lake's Parquet holds them, plus load metadata (_file, _row, _loaded_at).
-- Types: Parquet int64 -> NUMBER(38,0), timestamp(us, UTC) -> TIMESTAMP_TZ(6), date32 -> DATE,
-- list<string> -> ARRAY, bool -> BOOLEAN, string -> VARCHAR. tests/snowflake.rs checks these
-- against the Parquet the lake writes.
-- Safe to re-run: IF NOT EXISTS never replaces a table with data. Add columns with ALTER TABLE.

CREATE TABLE IF NOT EXISTS {{raw}}.plays (
  user_id VARCHAR,
  played_at TIMESTAMP_TZ(6),
  track_id VARCHAR,
  context_type VARCHAR,
  context_uri VARCHAR,
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE TABLE IF NOT EXISTS {{raw}}.playlist_tracks (
  playlist_id VARCHAR,
  snapshot_id VARCHAR,
  position NUMBER(38,0),
  added_at TIMESTAMP_TZ(6),
  added_by_id VARCHAR,
  item_type VARCHAR,
  track_id VARCHAR,
  track_uri VARCHAR,
  is_local BOOLEAN,
  track_name VARCHAR,
  duration_ms NUMBER(38,0),
  explicit BOOLEAN,
  popularity NUMBER(38,0),
  isrc VARCHAR,
  album_id VARCHAR,
  track_number NUMBER(38,0),
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE TABLE IF NOT EXISTS {{raw}}.tracks (
  track_id VARCHAR,
  track_name VARCHAR,
  duration_ms NUMBER(38,0),
  explicit BOOLEAN,
  popularity NUMBER(38,0),
  isrc VARCHAR,
  album_id VARCHAR,
  disc_number NUMBER(38,0),
  track_number NUMBER(38,0),
  is_local BOOLEAN,
  track_uri VARCHAR,
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE TABLE IF NOT EXISTS {{raw}}.albums (
  album_id VARCHAR,
  album_name VARCHAR,
  album_type VARCHAR,
  release_date VARCHAR,
  release_date_precision VARCHAR,
  release_date_start DATE,
  total_tracks NUMBER(38,0),
  label VARCHAR,
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE TABLE IF NOT EXISTS {{raw}}.artists (
  artist_id VARCHAR,
  artist_name VARCHAR,
  followers NUMBER(38,0),
  popularity NUMBER(38,0),
  genres ARRAY,
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE TABLE IF NOT EXISTS {{raw}}.track_artists (
  track_id VARCHAR,
  artist_id VARCHAR,
  artist_position NUMBER(38,0),
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);

CREATE TABLE IF NOT EXISTS {{raw}}.playlists (
  playlist_id VARCHAR,
  snapshot_id VARCHAR,
  playlist_name VARCHAR,
  owner_id VARCHAR,
  collaborative BOOLEAN,
  public BOOLEAN,
  total_items NUMBER(38,0),
  _ingested_at TIMESTAMP_TZ(6),
  _batch_id VARCHAR,
  _file VARCHAR,
  _row NUMBER(38,0),
  _loaded_at TIMESTAMP_LTZ(6)
);
