-- The star schema the tasks MERGE into. Safe to re-run: IF NOT EXISTS never replaces a table
-- with data. Development-mode data has no popularity, followers or genres: those columns and the
-- snapshot facts built on them stay NULL (or empty), never 0.

-- Dimensions (type 1: the latest values by _ingested_at, except dim_artist).
CREATE TABLE IF NOT EXISTS {{core}}.dim_track (
  track_id VARCHAR NOT NULL PRIMARY KEY,
  track_name VARCHAR,
  duration_ms NUMBER(38,0),
  explicit BOOLEAN,
  isrc VARCHAR,
  album_id VARCHAR,
  disc_number NUMBER(38,0),
  track_number NUMBER(38,0),
  is_local BOOLEAN,
  track_uri VARCHAR,
  _ingested_at TIMESTAMP_TZ(6)
);

CREATE TABLE IF NOT EXISTS {{core}}.dim_album (
  album_id VARCHAR NOT NULL PRIMARY KEY,
  album_name VARCHAR,
  album_type VARCHAR,
  release_date VARCHAR,
  release_date_precision VARCHAR,
  release_date_start DATE,
  total_tracks NUMBER(38,0),
  label VARCHAR,
  _ingested_at TIMESTAMP_TZ(6)
);

-- Type 2 on name and genres: one row per version, valid_from inclusive, valid_to exclusive (NULL
-- for the current version). Genres are only known from full artist objects; a version without
-- them (NULL) is never a change.
CREATE TABLE IF NOT EXISTS {{core}}.dim_artist (
  artist_id VARCHAR NOT NULL,
  artist_name VARCHAR,
  genres ARRAY,
  valid_from TIMESTAMP_TZ(6) NOT NULL,
  valid_to TIMESTAMP_TZ(6),
  is_current BOOLEAN NOT NULL,
  PRIMARY KEY (artist_id, valid_from)
);

-- The latest snapshot read of each playlist.
CREATE TABLE IF NOT EXISTS {{core}}.dim_playlist (
  playlist_id VARCHAR NOT NULL PRIMARY KEY,
  snapshot_id VARCHAR,
  playlist_name VARCHAR,
  owner_id VARCHAR,
  collaborative BOOLEAN,
  public BOOLEAN,
  total_items NUMBER(38,0),
  _ingested_at TIMESTAMP_TZ(6)
);

CREATE TABLE IF NOT EXISTS {{core}}.dim_user (
  user_id VARCHAR NOT NULL PRIMARY KEY,
  first_seen_at TIMESTAMP_TZ(6)
);

CREATE TABLE IF NOT EXISTS {{core}}.dim_date (
  date_day DATE NOT NULL PRIMARY KEY,
  year NUMBER(4,0),
  month NUMBER(2,0),
  day_of_month NUMBER(2,0),
  day_of_week NUMBER(1,0),
  week_start DATE,
  month_start DATE
);

-- Bridges.
CREATE TABLE IF NOT EXISTS {{core}}.bridge_track_artist (
  track_id VARCHAR NOT NULL,
  artist_id VARCHAR NOT NULL,
  artist_position NUMBER(38,0) NOT NULL,
  PRIMARY KEY (track_id, artist_id, artist_position)
);

CREATE TABLE IF NOT EXISTS {{core}}.bridge_artist_genre (
  artist_id VARCHAR NOT NULL,
  genre VARCHAR NOT NULL,
  first_seen_at TIMESTAMP_TZ(6),
  PRIMARY KEY (artist_id, genre)
);

-- Facts.
-- One row per play: (user_id, played_at) identifies it.
CREATE TABLE IF NOT EXISTS {{core}}.fact_play (
  user_id VARCHAR NOT NULL,
  played_at TIMESTAMP_TZ(6) NOT NULL,
  date_day DATE,
  track_id VARCHAR,
  context_type VARCHAR,
  context_uri VARCHAR,
  _batch_id VARCHAR,
  _ingested_at TIMESTAMP_TZ(6),
  PRIMARY KEY (user_id, played_at)
);

-- Each entry of each playlist snapshot, at its position.
CREATE TABLE IF NOT EXISTS {{core}}.fact_playlist_entry (
  playlist_id VARCHAR NOT NULL,
  snapshot_id VARCHAR NOT NULL,
  position NUMBER(38,0) NOT NULL,
  track_id VARCHAR,
  track_uri VARCHAR,
  item_type VARCHAR,
  added_at TIMESTAMP_TZ(6),
  added_by_id VARCHAR,
  first_seen_at TIMESTAMP_TZ(6),
  PRIMARY KEY (playlist_id, snapshot_id, position)
);

-- Popularity as observed, one row per track and day; only rows where Spotify sent popularity.
CREATE TABLE IF NOT EXISTS {{core}}.fact_track_popularity (
  track_id VARCHAR NOT NULL,
  snapshot_date DATE NOT NULL,
  popularity NUMBER(38,0),
  observed_at TIMESTAMP_TZ(6),
  PRIMARY KEY (track_id, snapshot_date)
);

-- Followers and popularity as observed, one row per artist and day; only where either was sent.
CREATE TABLE IF NOT EXISTS {{core}}.fact_artist_snapshot (
  artist_id VARCHAR NOT NULL,
  snapshot_date DATE NOT NULL,
  followers NUMBER(38,0),
  popularity NUMBER(38,0),
  observed_at TIMESTAMP_TZ(6),
  PRIMARY KEY (artist_id, snapshot_date)
);
