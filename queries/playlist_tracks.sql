-- playlist_tracks: one row per non-null playlist entry (tracks and podcast episodes).
-- Entries arrive under `item` (development-mode apps) or `track` (extended-quota apps).
-- position = page offset + index in the page, counting null entries, as Spotify numbers them.
WITH pages AS (
    SELECT
        regexp_match(_url, '/playlists/([^/?]+)')[1] AS playlist_id,
        _snapshot_id AS snapshot_id,
        coalesce("offset", 0) AS page_offset,
        items,
        _fetched_at,
        _batch_id
    FROM playlist_items
),
entries AS (
    SELECT
        playlist_id,
        snapshot_id,
        page_offset,
        unnest(items) AS entry,
        unnest(range(CAST(array_length(items) AS BIGINT))) AS idx,
        _fetched_at,
        _batch_id
    FROM pages
),
payloads AS (
    SELECT *, coalesce(entry['item'], entry['track']) AS it
    FROM entries
)
SELECT
    playlist_id,
    snapshot_id,
    page_offset + idx AS position,
    entry['added_at'] AS added_at,
    entry['added_by']['id'] AS added_by_id,
    coalesce(it['type'], 'track') AS item_type,
    it['id'] AS track_id,
    it['uri'] AS track_uri,
    coalesce(it['is_local'], entry['is_local'], false) AS is_local,
    it['name'] AS track_name,
    it['duration_ms'] AS duration_ms,
    it['explicit'] AS explicit,
    it['popularity'] AS popularity,
    it['external_ids']['isrc'] AS isrc,
    it['album']['id'] AS album_id,
    it['track_number'] AS track_number,
    _fetched_at AS _ingested_at,
    _batch_id
FROM payloads
WHERE it IS NOT NULL
