-- playlist_tracks: one row per non-null playlist entry (tracks and podcast episodes), at its
-- position in the playlist.
SELECT
    playlist_id,
    snapshot_id,
    position,
    entry['added_at'] AS added_at,
    entry['added_by']['id'] AS added_by_id,
    coalesce(payload['type'], 'track') AS item_type,
    payload['id'] AS track_id,
    payload['uri'] AS track_uri,
    coalesce(payload['is_local'], entry['is_local'], false) AS is_local,
    payload['name'] AS track_name,
    payload['duration_ms'] AS duration_ms,
    payload['explicit'] AS explicit,
    payload['popularity'] AS popularity,
    payload['external_ids']['isrc'] AS isrc,
    payload['album']['id'] AS album_id,
    payload['track_number'] AS track_number,
    _fetched_at AS _ingested_at,
    _batch_id
FROM _playlist_entries
WHERE payload IS NOT NULL
