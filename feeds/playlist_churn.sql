-- playlist_churn: what changed in each playlist over the last day, between the first and the
-- last snapshot fetched in it: tracks added, tracks removed, and tracks moved (kept tracks whose
-- order among the kept tracks changed). A playlist fetched once in the day shows no change.
WITH clock AS (
    SELECT watermark - INTERVAL '24 hours' AS since FROM feed_clock
),
entries AS (
    SELECT t.playlist_id, t.snapshot_id, t.track_id, min(t.position) AS position, min(t._ingested_at) AS seen_at
    FROM playlist_tracks t
    CROSS JOIN clock c
    WHERE t._ingested_at > c.since AND t.track_id IS NOT NULL
    GROUP BY t.playlist_id, t.snapshot_id, t.track_id
),
snapshots AS (
    SELECT
        playlist_id,
        snapshot_id,
        seen_at,
        row_number() OVER (PARTITION BY playlist_id ORDER BY seen_at, snapshot_id) AS from_first,
        row_number() OVER (PARTITION BY playlist_id ORDER BY seen_at DESC, snapshot_id DESC) AS from_last
    FROM (SELECT playlist_id, snapshot_id, min(seen_at) AS seen_at FROM entries GROUP BY playlist_id, snapshot_id)
),
first_entries AS (
    SELECT e.playlist_id, e.track_id, e.position
    FROM entries e JOIN snapshots s ON s.playlist_id = e.playlist_id AND s.snapshot_id = e.snapshot_id
    WHERE s.from_first = 1
),
last_entries AS (
    SELECT e.playlist_id, e.track_id, e.position
    FROM entries e JOIN snapshots s ON s.playlist_id = e.playlist_id AND s.snapshot_id = e.snapshot_id
    WHERE s.from_last = 1
),
compared AS (
    SELECT coalesce(f.playlist_id, l.playlist_id) AS playlist_id, f.position AS first_position, l.position AS last_position
    FROM first_entries f
    FULL OUTER JOIN last_entries l ON l.playlist_id = f.playlist_id AND l.track_id = f.track_id
),
kept AS (
    SELECT
        playlist_id,
        row_number() OVER (PARTITION BY playlist_id ORDER BY first_position) AS first_order,
        row_number() OVER (PARTITION BY playlist_id ORDER BY last_position) AS last_order
    FROM compared
    WHERE first_position IS NOT NULL AND last_position IS NOT NULL
),
counts AS (
    SELECT
        playlist_id,
        count(*) FILTER (WHERE first_position IS NULL) AS adds,
        count(*) FILTER (WHERE last_position IS NULL) AS removes
    FROM compared
    GROUP BY playlist_id
),
moves AS (
    SELECT playlist_id, count(*) FILTER (WHERE first_order <> last_order) AS moves FROM kept GROUP BY playlist_id
),
names AS (
    SELECT playlist_id, max(playlist_name) AS playlist_name FROM playlists GROUP BY playlist_id
)
SELECT
    c.playlist_id,
    n.playlist_name,
    (SELECT count(*) FROM snapshots s WHERE s.playlist_id = c.playlist_id) AS snapshots,
    c.adds,
    c.removes,
    coalesce(m.moves, 0) AS moves,
    (SELECT max(seen_at) FROM snapshots s WHERE s.playlist_id = c.playlist_id) AS last_seen_at
FROM counts c
LEFT JOIN moves m ON m.playlist_id = c.playlist_id
LEFT JOIN names n ON n.playlist_id = c.playlist_id
ORDER BY c.adds + c.removes + coalesce(m.moves, 0) DESC, c.playlist_id
