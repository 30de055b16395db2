-- View: every track object in the micro-batch, wherever it appeared, in one flat shape.
-- Sources: playlist entries (tracks only, not episodes), recently played, search results,
-- track pages, and album pages (whose simplified tracks belong to the page's album).
WITH entry_payloads AS (
    SELECT payload AS t, _fetched_at, _batch_id FROM _playlist_entries
),
full_tracks AS (
    SELECT play['track'] AS t, _fetched_at, _batch_id
    FROM (SELECT unnest(items) AS play, _fetched_at, _batch_id FROM recently_played)
    UNION ALL
    SELECT unnest(tracks['items']) AS t, _fetched_at, _batch_id FROM search
),
album_tracks AS (
    SELECT id AS album_id, unnest(tracks['items']) AS t, _fetched_at, _batch_id FROM album
)
SELECT t['id'] AS track_id, t['name'] AS track_name, t['duration_ms'] AS duration_ms, t['explicit'] AS explicit,
       t['popularity'] AS popularity, t['external_ids']['isrc'] AS isrc, t['album']['id'] AS album_id, t['album'] AS album,
       t['disc_number'] AS disc_number, t['track_number'] AS track_number, t['is_local'] AS is_local,
       t['uri'] AS track_uri, t['artists'] AS artists, _fetched_at, _batch_id
FROM entry_payloads
WHERE t IS NOT NULL AND coalesce(t['type'], 'track') = 'track'
UNION ALL
SELECT t['id'], t['name'], t['duration_ms'], t['explicit'], t['popularity'], t['external_ids']['isrc'], t['album']['id'],
       t['album'], t['disc_number'], t['track_number'], t['is_local'], t['uri'], t['artists'], _fetched_at, _batch_id
FROM full_tracks
WHERE t IS NOT NULL
UNION ALL
SELECT id, name, duration_ms, explicit, popularity, external_ids['isrc'], album['id'], album, disc_number, track_number,
       is_local, uri, artists, _fetched_at, _batch_id
FROM track
UNION ALL
SELECT t['id'], t['name'], t['duration_ms'], t['explicit'], NULL, NULL, album_id, NULL, t['disc_number'],
       t['track_number'], t['is_local'], t['uri'], t['artists'], _fetched_at, _batch_id
FROM album_tracks
WHERE t IS NOT NULL
