-- View: one row per playlist entry in the micro-batch, null entries included, so the entries are
-- unnested once and shared by every query that reads them.
-- Entries arrive under `item` (development-mode apps) or `track` (extended-quota apps): `payload`
-- is whichever is present. position = page offset + index in the page, counting null entries,
-- as Spotify numbers them.
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
)
SELECT
    playlist_id,
    snapshot_id,
    page_offset + idx AS position,
    entry,
    coalesce(entry['item'], entry['track']) AS payload,
    _fetched_at,
    _batch_id
FROM entries
