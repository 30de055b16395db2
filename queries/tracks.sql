-- tracks: one row per track id in the micro-batch. Attributes merge over every place the
-- track was seen, so a field one response lacks (popularity in development mode) is filled by
-- another that has it, and stays null when none does.
SELECT
    track_id,
    max(track_name) AS track_name,
    max(duration_ms) AS duration_ms,
    max(explicit) AS explicit,
    max(popularity) AS popularity,
    max(isrc) AS isrc,
    max(album_id) AS album_id,
    max(disc_number) AS disc_number,
    max(track_number) AS track_number,
    max(is_local) AS is_local,
    max(track_uri) AS track_uri,
    max(_fetched_at) AS _ingested_at,
    max(_batch_id) AS _batch_id
FROM _tracks_seen
WHERE track_id IS NOT NULL
GROUP BY track_id
