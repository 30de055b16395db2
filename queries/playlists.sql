-- playlists: one row per playlist and snapshot seen in the micro-batch, from playlist objects
-- and from playlist search results. Playlists renamed `tracks` to `items` in 2026: read both.
WITH found AS (
    SELECT id, snapshot_id, name, owner['id'] AS owner_id, collaborative, public,
           coalesce(items['total'], tracks['total']) AS total_items, _fetched_at, _batch_id
    FROM playlist
    UNION ALL
    SELECT p['id'], p['snapshot_id'], p['name'], p['owner']['id'], p['collaborative'], p['public'],
           coalesce(p['items']['total'], p['tracks']['total']), _fetched_at, _batch_id
    FROM (SELECT unnest(playlists['items']) AS p, _fetched_at, _batch_id FROM search)
)
SELECT
    id AS playlist_id,
    snapshot_id,
    max(name) AS playlist_name,
    max(owner_id) AS owner_id,
    max(collaborative) AS collaborative,
    max(public) AS public,
    max(total_items) AS total_items,
    max(_fetched_at) AS _ingested_at,
    max(_batch_id) AS _batch_id
FROM found
WHERE id IS NOT NULL
GROUP BY id, snapshot_id
