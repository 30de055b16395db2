-- Trend views that work on development-mode data (no popularity, followers or genres), and the
-- ones that use those where Spotify sends them. Safe to re-run: views hold no data.

-- Rising tracks: a day's plays plus playlist additions (entries added that day, once per
-- playlist however many snapshots show them), against the day before; only tracks that grew.
CREATE OR REPLACE VIEW {{mart}}.rising_tracks AS
WITH plays AS (
  SELECT date_day, track_id, COUNT(*) AS plays
  FROM {{core}}.fact_play
  WHERE track_id IS NOT NULL
  GROUP BY date_day, track_id
), adds AS (
  SELECT CAST(added_at AS DATE) AS date_day, track_id, COUNT(*) AS playlist_adds
  FROM (SELECT DISTINCT playlist_id, track_id, added_at
        FROM {{core}}.fact_playlist_entry
        WHERE track_id IS NOT NULL AND added_at IS NOT NULL) AS added
  GROUP BY CAST(added_at AS DATE), track_id
), scores AS (
  SELECT COALESCE(p.date_day, a.date_day) AS date_day, COALESCE(p.track_id, a.track_id) AS track_id,
         COALESCE(p.plays, 0) AS plays, COALESCE(a.playlist_adds, 0) AS playlist_adds,
         COALESCE(p.plays, 0) + COALESCE(a.playlist_adds, 0) AS score
  FROM plays AS p
  FULL OUTER JOIN adds AS a ON a.date_day = p.date_day AND a.track_id = p.track_id
)
SELECT s.date_day, s.track_id, s.plays, s.playlist_adds, s.score, COALESCE(prev.score, 0) AS previous_score,
       s.score - COALESCE(prev.score, 0) AS growth
FROM scores AS s
LEFT JOIN scores AS prev ON prev.track_id = s.track_id AND prev.date_day = DATEADD(DAY, -1, s.date_day)
WHERE s.score > COALESCE(prev.score, 0);

-- Popularity movers: the change since the track's previous snapshot. Empty on development-mode
-- data, which has no popularity (never read as 0).
CREATE OR REPLACE VIEW {{mart}}.popularity_movers AS
SELECT track_id, snapshot_date, popularity, previous_popularity, popularity - previous_popularity AS change
FROM (
  SELECT track_id, snapshot_date, popularity,
         LAG(popularity) OVER (PARTITION BY track_id ORDER BY snapshot_date) AS previous_popularity
  FROM {{core}}.fact_track_popularity
  WHERE popularity IS NOT NULL
) AS snapshots
WHERE previous_popularity IS NOT NULL;

-- Genre share per day: a play counts for each genre of its track's first credited artist; the
-- share is of the day's plays whose artist has genres. Empty without genres.
CREATE OR REPLACE VIEW {{mart}}.genre_share_daily AS
WITH genre_plays AS (
  SELECT f.date_day, g.genre, COUNT(*) AS plays
  FROM {{core}}.fact_play AS f
  JOIN {{core}}.bridge_track_artist AS b ON b.track_id = f.track_id AND b.artist_position = 0
  JOIN {{core}}.bridge_artist_genre AS g ON g.artist_id = b.artist_id
  GROUP BY f.date_day, g.genre
)
SELECT date_day, genre, plays, plays / SUM(plays) OVER (PARTITION BY date_day) AS share
FROM genre_plays;

-- The listening clock: plays by ISO weekday (1 = Monday) and hour, in UTC.
CREATE OR REPLACE VIEW {{mart}}.listening_clock AS
SELECT DAYOFWEEKISO(played_at) AS day_of_week, HOUR(played_at) AS hour, COUNT(*) AS plays
FROM {{core}}.fact_play
GROUP BY DAYOFWEEKISO(played_at), HOUR(played_at);

-- Release velocity: per release month, how many albums were seen, how many were played, and the
-- average number of days from release to first play.
CREATE OR REPLACE VIEW {{mart}}.release_velocity AS
WITH first_play AS (
  SELECT t.album_id, MIN(f.played_at) AS first_played_at
  FROM {{core}}.fact_play AS f
  JOIN {{core}}.dim_track AS t ON t.track_id = f.track_id
  GROUP BY t.album_id
)
SELECT DATE_TRUNC('MONTH', a.release_date_start) AS release_month,
       COUNT(*) AS albums,
       COUNT(fp.album_id) AS albums_played,
       AVG(DATEDIFF(DAY, a.release_date_start, CAST(fp.first_played_at AS DATE))) AS avg_days_to_first_play
FROM {{core}}.dim_album AS a
LEFT JOIN first_play AS fp ON fp.album_id = a.album_id
WHERE a.release_date_start IS NOT NULL
GROUP BY DATE_TRUNC('MONTH', a.release_date_start);

-- Playlist churn per snapshot against the playlist's previous snapshot (by when each was first
-- seen). An entry is its track URI and its occurrence among equal URIs; adds are entries only in
-- this snapshot, removes entries only in the previous one, moves kept entries whose place among
-- the kept entries changed.
CREATE OR REPLACE VIEW {{mart}}.playlist_churn AS
WITH snapshots AS (
  SELECT playlist_id, snapshot_id, MIN(first_seen_at) AS seen_at
  FROM {{core}}.fact_playlist_entry
  GROUP BY playlist_id, snapshot_id
), ordered AS (
  SELECT playlist_id, snapshot_id, seen_at,
         LAG(snapshot_id) OVER (PARTITION BY playlist_id ORDER BY seen_at, snapshot_id) AS previous_snapshot_id
  FROM snapshots
), entries AS (
  SELECT playlist_id, snapshot_id, position, track_uri,
         ROW_NUMBER() OVER (PARTITION BY playlist_id, snapshot_id, track_uri ORDER BY position) AS occurrence
  FROM {{core}}.fact_playlist_entry
  WHERE track_uri IS NOT NULL
), pairs AS (
  SELECT o.playlist_id, o.snapshot_id, c.position AS position, p.position AS previous_position
  FROM ordered AS o
  JOIN entries AS c ON c.playlist_id = o.playlist_id AND c.snapshot_id = o.snapshot_id
  LEFT JOIN entries AS p ON p.playlist_id = o.playlist_id AND p.snapshot_id = o.previous_snapshot_id
    AND p.track_uri = c.track_uri AND p.occurrence = c.occurrence
  WHERE o.previous_snapshot_id IS NOT NULL
  UNION ALL
  SELECT o.playlist_id, o.snapshot_id, NULL AS position, p.position AS previous_position
  FROM ordered AS o
  JOIN entries AS p ON p.playlist_id = o.playlist_id AND p.snapshot_id = o.previous_snapshot_id
  LEFT JOIN entries AS c ON c.playlist_id = o.playlist_id AND c.snapshot_id = o.snapshot_id
    AND c.track_uri = p.track_uri AND c.occurrence = p.occurrence
  WHERE c.track_uri IS NULL
), kept AS (
  SELECT playlist_id, snapshot_id,
         ROW_NUMBER() OVER (PARTITION BY playlist_id, snapshot_id ORDER BY position) AS place,
         ROW_NUMBER() OVER (PARTITION BY playlist_id, snapshot_id ORDER BY previous_position) AS previous_place
  FROM pairs
  WHERE position IS NOT NULL AND previous_position IS NOT NULL
), counts AS (
  SELECT playlist_id, snapshot_id,
         COUNT_IF(previous_position IS NULL) AS adds,
         COUNT_IF(position IS NULL) AS removes
  FROM pairs
  GROUP BY playlist_id, snapshot_id
), moves AS (
  SELECT playlist_id, snapshot_id, COUNT_IF(place <> previous_place) AS moves
  FROM kept
  GROUP BY playlist_id, snapshot_id
)
SELECT o.playlist_id, o.snapshot_id, o.previous_snapshot_id, o.seen_at,
       COALESCE(c.adds, 0) AS adds, COALESCE(c.removes, 0) AS removes, COALESCE(m.moves, 0) AS moves
FROM ordered AS o
LEFT JOIN counts AS c ON c.playlist_id = o.playlist_id AND c.snapshot_id = o.snapshot_id
LEFT JOIN moves AS m ON m.playlist_id = o.playlist_id AND m.snapshot_id = o.snapshot_id
WHERE o.previous_snapshot_id IS NOT NULL;
