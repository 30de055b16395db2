-- rising_tracks: tracks gaining the most over the last hour against the hour before, by plays
-- plus playlist additions (by added_at). Only tracks that gained are listed, 20 at most.
WITH clock AS (
    SELECT watermark, watermark - INTERVAL '1 hour' AS since, watermark - INTERVAL '2 hours' AS previous_since
    FROM feed_clock
),
events AS (
    SELECT track_id, played_at AS at, 1 AS is_play FROM _plays_once
    UNION ALL
    SELECT track_id, added_at, 0
    FROM (SELECT DISTINCT playlist_id, track_id, added_at FROM playlist_tracks WHERE item_type = 'track')
),
counted AS (
    SELECT
        e.track_id,
        count(*) FILTER (WHERE e.at > c.since) AS score,
        count(*) FILTER (WHERE e.at <= c.since) AS previous_score,
        count(*) FILTER (WHERE e.at > c.since AND e.is_play = 1) AS plays,
        count(*) FILTER (WHERE e.at > c.since AND e.is_play = 0) AS additions
    FROM events e
    CROSS JOIN clock c
    WHERE e.track_id IS NOT NULL AND e.at > c.previous_since AND e.at <= c.watermark
    GROUP BY e.track_id
)
SELECT
    c.track_id,
    n.track_name,
    c.plays,
    c.additions,
    c.score,
    c.previous_score,
    c.score - c.previous_score AS rise
FROM counted c
LEFT JOIN _track_names n ON n.track_id = c.track_id
WHERE c.score > c.previous_score
ORDER BY rise DESC, c.score DESC, c.track_id
LIMIT 20
