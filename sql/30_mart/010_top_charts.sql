-- Top tracks and artists per day and per ISO week, with the rank change against the previous
-- period (positive: moved up; NULL: not ranked in the previous period). Ties share a rank.
-- Views hold no data, so CREATE OR REPLACE is safe to re-run.

CREATE OR REPLACE VIEW {{mart}}.top_tracks_daily AS
WITH counted AS (
  SELECT date_day AS period_start, track_id, COUNT(*) AS plays
  FROM {{core}}.fact_play
  WHERE track_id IS NOT NULL
  GROUP BY date_day, track_id
), ranked AS (
  SELECT period_start, track_id, plays, RANK() OVER (PARTITION BY period_start ORDER BY plays DESC) AS rank
  FROM counted
)
SELECT r.period_start, r.track_id, t.track_name, r.plays, r.rank, p.rank AS previous_rank, p.rank - r.rank AS rank_change
FROM ranked AS r
LEFT JOIN ranked AS p ON p.track_id = r.track_id AND p.period_start = DATEADD(DAY, -1, r.period_start)
LEFT JOIN {{core}}.dim_track AS t ON t.track_id = r.track_id;

CREATE OR REPLACE VIEW {{mart}}.top_tracks_weekly AS
WITH counted AS (
  SELECT DATE_TRUNC('WEEK', date_day) AS period_start, track_id, COUNT(*) AS plays
  FROM {{core}}.fact_play
  WHERE track_id IS NOT NULL
  GROUP BY DATE_TRUNC('WEEK', date_day), track_id
), ranked AS (
  SELECT period_start, track_id, plays, RANK() OVER (PARTITION BY period_start ORDER BY plays DESC) AS rank
  FROM counted
)
SELECT r.period_start, r.track_id, t.track_name, r.plays, r.rank, p.rank AS previous_rank, p.rank - r.rank AS rank_change
FROM ranked AS r
LEFT JOIN ranked AS p ON p.track_id = r.track_id AND p.period_start = DATEADD(WEEK, -1, r.period_start)
LEFT JOIN {{core}}.dim_track AS t ON t.track_id = r.track_id;

-- A play counts for every artist credited on its track.
CREATE OR REPLACE VIEW {{mart}}.top_artists_daily AS
WITH counted AS (
  SELECT f.date_day AS period_start, b.artist_id, COUNT(*) AS plays
  FROM {{core}}.fact_play AS f
  JOIN {{core}}.bridge_track_artist AS b ON b.track_id = f.track_id
  GROUP BY f.date_day, b.artist_id
), ranked AS (
  SELECT period_start, artist_id, plays, RANK() OVER (PARTITION BY period_start ORDER BY plays DESC) AS rank
  FROM counted
)
SELECT r.period_start, r.artist_id, a.artist_name, r.plays, r.rank, p.rank AS previous_rank, p.rank - r.rank AS rank_change
FROM ranked AS r
LEFT JOIN ranked AS p ON p.artist_id = r.artist_id AND p.period_start = DATEADD(DAY, -1, r.period_start)
LEFT JOIN {{core}}.dim_artist AS a ON a.artist_id = r.artist_id AND a.is_current;

CREATE OR REPLACE VIEW {{mart}}.top_artists_weekly AS
WITH counted AS (
  SELECT DATE_TRUNC('WEEK', f.date_day) AS period_start, b.artist_id, COUNT(*) AS plays
  FROM {{core}}.fact_play AS f
  JOIN {{core}}.bridge_track_artist AS b ON b.track_id = f.track_id
  GROUP BY DATE_TRUNC('WEEK', f.date_day), b.artist_id
), ranked AS (
  SELECT period_start, artist_id, plays, RANK() OVER (PARTITION BY period_start ORDER BY plays DESC) AS rank
  FROM counted
)
SELECT r.period_start, r.artist_id, a.artist_name, r.plays, r.rank, p.rank AS previous_rank, p.rank - r.rank AS rank_change
FROM ranked AS r
LEFT JOIN ranked AS p ON p.artist_id = r.artist_id AND p.period_start = DATEADD(WEEK, -1, r.period_start)
LEFT JOIN {{core}}.dim_artist AS a ON a.artist_id = r.artist_id AND a.is_current;
