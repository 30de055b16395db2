-- The task graph that MERGEs the raw tables' streams into the star schema.
--   merge_root (scheduled; runs only WHEN a stream has data; merges dim_date)
--     └─ every other merge_* task (AFTER merge_root), each reading its own stream
-- Every MERGE dedupes its batch (QUALIFY ROW_NUMBER() ... = 1 per natural key, the latest
-- _ingested_at winning, ties broken by _file and _row) and is idempotent: the same files loaded
-- twice, or a batch merged twice, leave one row per key.
-- Safe to re-run: the root is suspended first (a graph's tasks can only change while its root is
-- suspended), CREATE OR ALTER TASK updates bodies in place, and 040_resume_tasks.sql resumes the
-- graph. A task holds no data, so this never loses a stream's offset.
ALTER TASK IF EXISTS {{core}}.merge_root SUSPEND;

CREATE OR ALTER TASK {{core}}.merge_root
  {{task_compute}}
  SCHEDULE = '{{schedule}}'
  COMMENT = 'tunestream: root of the merge graph; merges dim_date'
  WHEN SYSTEM$STREAM_HAS_DATA('{{raw}}.plays_to_fact_play')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.plays_to_dim_user')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.plays_to_dim_date')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.tracks_to_dim_track')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.tracks_to_fact_track_popularity')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.albums_to_dim_album')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.artists_to_dim_artist')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.artists_to_bridge_artist_genre')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.artists_to_fact_artist_snapshot')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.track_artists_to_bridge_track_artist')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.playlists_to_dim_playlist')
    OR SYSTEM$STREAM_HAS_DATA('{{raw}}.playlist_tracks_to_fact_playlist_entry')
AS
MERGE INTO {{core}}.dim_date AS t
USING (
  SELECT CAST(played_at AS DATE) AS date_day
  FROM {{raw}}.plays_to_dim_date
  WHERE played_at IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY CAST(played_at AS DATE) ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.date_day = s.date_day
WHEN NOT MATCHED THEN INSERT (date_day, year, month, day_of_month, day_of_week, week_start, month_start)
  VALUES (s.date_day, YEAR(s.date_day), MONTH(s.date_day), DAYOFMONTH(s.date_day), DAYOFWEEKISO(s.date_day),
          DATE_TRUNC('WEEK', s.date_day), DATE_TRUNC('MONTH', s.date_day));

CREATE OR ALTER TASK {{core}}.merge_dim_user
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.dim_user AS t
USING (
  SELECT user_id, MIN(played_at) OVER (PARTITION BY user_id) AS first_seen_at
  FROM {{raw}}.plays_to_dim_user
  WHERE user_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.user_id = s.user_id
WHEN MATCHED AND s.first_seen_at < t.first_seen_at THEN UPDATE SET first_seen_at = s.first_seen_at
WHEN NOT MATCHED THEN INSERT (user_id, first_seen_at) VALUES (s.user_id, s.first_seen_at);

CREATE OR ALTER TASK {{core}}.merge_dim_track
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.dim_track AS t
USING (
  SELECT track_id, track_name, duration_ms, explicit, isrc, album_id, disc_number, track_number, is_local,
         track_uri, _ingested_at
  FROM {{raw}}.tracks_to_dim_track
  WHERE track_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY track_id ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.track_id = s.track_id
WHEN MATCHED AND s._ingested_at >= t._ingested_at THEN UPDATE SET
  track_name = s.track_name, duration_ms = s.duration_ms, explicit = s.explicit, isrc = s.isrc,
  album_id = s.album_id, disc_number = s.disc_number, track_number = s.track_number, is_local = s.is_local,
  track_uri = s.track_uri, _ingested_at = s._ingested_at
WHEN NOT MATCHED THEN INSERT (track_id, track_name, duration_ms, explicit, isrc, album_id, disc_number, track_number,
                              is_local, track_uri, _ingested_at)
  VALUES (s.track_id, s.track_name, s.duration_ms, s.explicit, s.isrc, s.album_id, s.disc_number, s.track_number,
          s.is_local, s.track_uri, s._ingested_at);

CREATE OR ALTER TASK {{core}}.merge_dim_album
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.dim_album AS t
USING (
  SELECT album_id, album_name, album_type, release_date, release_date_precision, release_date_start, total_tracks,
         label, _ingested_at
  FROM {{raw}}.albums_to_dim_album
  WHERE album_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY album_id ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.album_id = s.album_id
WHEN MATCHED AND s._ingested_at >= t._ingested_at THEN UPDATE SET
  album_name = s.album_name, album_type = s.album_type, release_date = s.release_date,
  release_date_precision = s.release_date_precision, release_date_start = s.release_date_start,
  total_tracks = s.total_tracks, label = COALESCE(s.label, t.label), _ingested_at = s._ingested_at
WHEN NOT MATCHED THEN INSERT (album_id, album_name, album_type, release_date, release_date_precision,
                              release_date_start, total_tracks, label, _ingested_at)
  VALUES (s.album_id, s.album_name, s.album_type, s.release_date, s.release_date_precision, s.release_date_start,
          s.total_tracks, s.label, s._ingested_at);

-- Type 2: each changed artist matches its current version (closed) through merge_key, and a
-- copy with a NULL merge_key never matches (inserted as the new current version).
CREATE OR ALTER TASK {{core}}.merge_dim_artist
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.dim_artist AS t
USING (
  WITH latest AS (
    SELECT artist_id, artist_name, genres, _ingested_at
    FROM {{raw}}.artists_to_dim_artist
    WHERE artist_id IS NOT NULL
    QUALIFY ROW_NUMBER() OVER (PARTITION BY artist_id ORDER BY _ingested_at DESC, _file, _row) = 1
  ),
  compared AS (
    SELECT l.artist_id, l.artist_name, COALESCE(l.genres, c.genres) AS genres, l._ingested_at,
           c.artist_id IS NULL AS is_new,
           c.artist_id IS NOT NULL AND l._ingested_at > c.valid_from
             AND (l.artist_name IS DISTINCT FROM c.artist_name
                  OR (l.genres IS NOT NULL
                      AND ARRAY_TO_STRING(l.genres, '|') IS DISTINCT FROM ARRAY_TO_STRING(c.genres, '|'))) AS is_change
    FROM latest AS l
    LEFT JOIN {{core}}.dim_artist AS c ON c.artist_id = l.artist_id AND c.is_current
  )
  SELECT artist_id AS merge_key, artist_id, artist_name, genres, _ingested_at FROM compared WHERE is_new OR is_change
  UNION ALL
  SELECT NULL AS merge_key, artist_id, artist_name, genres, _ingested_at FROM compared WHERE is_change
) AS s
ON t.artist_id = s.merge_key AND t.is_current
WHEN MATCHED THEN UPDATE SET valid_to = s._ingested_at, is_current = FALSE
WHEN NOT MATCHED THEN INSERT (artist_id, artist_name, genres, valid_from, valid_to, is_current)
  VALUES (s.artist_id, s.artist_name, s.genres, s._ingested_at, NULL, TRUE);

CREATE OR ALTER TASK {{core}}.merge_dim_playlist
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.dim_playlist AS t
USING (
  SELECT playlist_id, snapshot_id, playlist_name, owner_id, collaborative, public, total_items, _ingested_at
  FROM {{raw}}.playlists_to_dim_playlist
  WHERE playlist_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY playlist_id ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.playlist_id = s.playlist_id
WHEN MATCHED AND s._ingested_at >= t._ingested_at THEN UPDATE SET
  snapshot_id = s.snapshot_id, playlist_name = s.playlist_name, owner_id = s.owner_id,
  collaborative = s.collaborative, public = s.public, total_items = s.total_items, _ingested_at = s._ingested_at
WHEN NOT MATCHED THEN INSERT (playlist_id, snapshot_id, playlist_name, owner_id, collaborative, public, total_items,
                              _ingested_at)
  VALUES (s.playlist_id, s.snapshot_id, s.playlist_name, s.owner_id, s.collaborative, s.public, s.total_items,
          s._ingested_at);

CREATE OR ALTER TASK {{core}}.merge_bridge_track_artist
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.bridge_track_artist AS t
USING (
  SELECT track_id, artist_id, artist_position
  FROM {{raw}}.track_artists_to_bridge_track_artist
  WHERE track_id IS NOT NULL AND artist_id IS NOT NULL AND artist_position IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY track_id, artist_id, artist_position ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.track_id = s.track_id AND t.artist_id = s.artist_id AND t.artist_position = s.artist_position
WHEN NOT MATCHED THEN INSERT (track_id, artist_id, artist_position) VALUES (s.track_id, s.artist_id, s.artist_position);

CREATE OR ALTER TASK {{core}}.merge_bridge_artist_genre
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.bridge_artist_genre AS t
USING (
  SELECT a.artist_id, g.value::VARCHAR AS genre, a._ingested_at AS first_seen_at
  FROM {{raw}}.artists_to_bridge_artist_genre AS a, LATERAL FLATTEN(input => a.genres) AS g
  WHERE a.artist_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY a.artist_id, g.value::VARCHAR ORDER BY a._ingested_at DESC, a._file, a._row) = 1
) AS s
ON t.artist_id = s.artist_id AND t.genre = s.genre
WHEN NOT MATCHED THEN INSERT (artist_id, genre, first_seen_at) VALUES (s.artist_id, s.genre, s.first_seen_at);

CREATE OR ALTER TASK {{core}}.merge_fact_play
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.fact_play AS t
USING (
  SELECT user_id, played_at, CAST(played_at AS DATE) AS date_day, track_id, context_type, context_uri, _batch_id,
         _ingested_at
  FROM {{raw}}.plays_to_fact_play
  WHERE user_id IS NOT NULL AND played_at IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id, played_at ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.user_id = s.user_id AND t.played_at = s.played_at
WHEN NOT MATCHED THEN INSERT (user_id, played_at, date_day, track_id, context_type, context_uri, _batch_id, _ingested_at)
  VALUES (s.user_id, s.played_at, s.date_day, s.track_id, s.context_type, s.context_uri, s._batch_id, s._ingested_at);

CREATE OR ALTER TASK {{core}}.merge_fact_playlist_entry
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.fact_playlist_entry AS t
USING (
  -- Bare pages carry no snapshot: their entries share the empty snapshot id.
  SELECT playlist_id, COALESCE(snapshot_id, '') AS snapshot_id, position, track_id, track_uri, item_type, added_at,
         added_by_id, _ingested_at AS first_seen_at
  FROM {{raw}}.playlist_tracks_to_fact_playlist_entry
  WHERE playlist_id IS NOT NULL AND position IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY playlist_id, COALESCE(snapshot_id, ''), position
                             ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.playlist_id = s.playlist_id AND t.snapshot_id = s.snapshot_id AND t.position = s.position
WHEN NOT MATCHED THEN INSERT (playlist_id, snapshot_id, position, track_id, track_uri, item_type, added_at, added_by_id,
                              first_seen_at)
  VALUES (s.playlist_id, s.snapshot_id, s.position, s.track_id, s.track_uri, s.item_type, s.added_at, s.added_by_id,
          s.first_seen_at);

CREATE OR ALTER TASK {{core}}.merge_fact_track_popularity
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.fact_track_popularity AS t
USING (
  SELECT track_id, CAST(_ingested_at AS DATE) AS snapshot_date, popularity, _ingested_at AS observed_at
  FROM {{raw}}.tracks_to_fact_track_popularity
  WHERE track_id IS NOT NULL AND popularity IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY track_id, CAST(_ingested_at AS DATE) ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.track_id = s.track_id AND t.snapshot_date = s.snapshot_date
WHEN MATCHED AND s.observed_at > t.observed_at THEN UPDATE SET popularity = s.popularity, observed_at = s.observed_at
WHEN NOT MATCHED THEN INSERT (track_id, snapshot_date, popularity, observed_at)
  VALUES (s.track_id, s.snapshot_date, s.popularity, s.observed_at);

CREATE OR ALTER TASK {{core}}.merge_fact_artist_snapshot
  {{task_compute}}
  AFTER {{core}}.merge_root
AS
MERGE INTO {{core}}.fact_artist_snapshot AS t
USING (
  SELECT artist_id, CAST(_ingested_at AS DATE) AS snapshot_date, followers, popularity, _ingested_at AS observed_at
  FROM {{raw}}.artists_to_fact_artist_snapshot
  WHERE artist_id IS NOT NULL AND (followers IS NOT NULL OR popularity IS NOT NULL)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY artist_id, CAST(_ingested_at AS DATE) ORDER BY _ingested_at DESC, _file, _row) = 1
) AS s
ON t.artist_id = s.artist_id AND t.snapshot_date = s.snapshot_date
WHEN MATCHED AND s.observed_at > t.observed_at THEN UPDATE SET
  followers = s.followers, popularity = s.popularity, observed_at = s.observed_at
WHEN NOT MATCHED THEN INSERT (artist_id, snapshot_date, followers, popularity, observed_at)
  VALUES (s.artist_id, s.snapshot_date, s.followers, s.popularity, s.observed_at);
