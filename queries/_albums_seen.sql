-- View: every album object in the micro-batch in one flat shape: albums of tracks, artists'
-- album pages, album search results, and full album pages (the only ones with a label).
WITH simplified AS (
    SELECT album AS a, _fetched_at, _batch_id FROM _tracks_seen WHERE album IS NOT NULL
    UNION ALL
    SELECT unnest(items) AS a, _fetched_at, _batch_id FROM artist_albums
    UNION ALL
    SELECT unnest(albums['items']) AS a, _fetched_at, _batch_id FROM search
)
SELECT a['id'] AS album_id, a['name'] AS album_name, a['album_type'] AS album_type, a['release_date'] AS release_date,
       a['release_date_precision'] AS release_date_precision, a['total_tracks'] AS total_tracks,
       CAST(NULL AS VARCHAR) AS label, a['artists'] AS artists, _fetched_at, _batch_id
FROM simplified
WHERE a IS NOT NULL
UNION ALL
SELECT id, name, album_type, release_date, release_date_precision, total_tracks, label, artists, _fetched_at, _batch_id
FROM album
