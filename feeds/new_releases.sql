-- new_releases: albums first seen in the last 24 hours of the retained rows, newest release
-- first.
WITH seen AS (
    SELECT
        album_id,
        max(album_name) AS album_name,
        max(album_type) AS album_type,
        max(release_date) AS release_date,
        max(release_date_start) AS release_date_start,
        min(_ingested_at) AS first_seen_at
    FROM albums
    GROUP BY album_id
)
SELECT s.album_id, s.album_name, s.album_type, s.release_date, s.first_seen_at
FROM seen s
CROSS JOIN feed_clock c
WHERE s.first_seen_at > c.watermark - INTERVAL '24 hours'
ORDER BY s.release_date_start DESC NULLS LAST, s.first_seen_at DESC, s.album_id
LIMIT 50
