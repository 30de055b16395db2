-- track_artists: which artists play on each track, in credit order (artist_position from 0).
WITH credits AS (
    SELECT track_id, unnest(artists) AS a, unnest(range(CAST(array_length(artists) AS BIGINT))) AS artist_position,
           _fetched_at, _batch_id
    FROM _tracks_seen
    WHERE track_id IS NOT NULL
)
SELECT
    track_id,
    a['id'] AS artist_id,
    artist_position,
    max(_fetched_at) AS _ingested_at,
    max(_batch_id) AS _batch_id
FROM credits
WHERE a['id'] IS NOT NULL
GROUP BY track_id, a['id'], artist_position
