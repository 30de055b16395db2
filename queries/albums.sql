-- albums: one row per album id in the micro-batch. release_date is kept as Spotify gives it
-- (YYYY, YYYY-MM or YYYY-MM-DD); release_date_start is the first day of that period.
WITH merged AS (
    SELECT
        album_id,
        max(album_name) AS album_name,
        max(album_type) AS album_type,
        max(release_date) AS release_date,
        max(release_date_precision) AS release_date_precision,
        max(total_tracks) AS total_tracks,
        max(label) AS label,
        max(_fetched_at) AS _ingested_at,
        max(_batch_id) AS _batch_id
    FROM _albums_seen
    WHERE album_id IS NOT NULL
    GROUP BY album_id
)
SELECT
    album_id,
    album_name,
    album_type,
    release_date,
    release_date_precision,
    CASE coalesce(release_date_precision, CASE length(release_date) WHEN 4 THEN 'year' WHEN 7 THEN 'month' ELSE 'day' END)
        WHEN 'year' THEN TRY_CAST(concat(substr(release_date, 1, 4), '-01-01') AS DATE)
        WHEN 'month' THEN TRY_CAST(concat(substr(release_date, 1, 7), '-01') AS DATE)
        ELSE TRY_CAST(release_date AS DATE)
    END AS release_date_start,
    total_tracks,
    label,
    _ingested_at,
    _batch_id
FROM merged
