-- plays: one row per recently-played event of a user.
-- Pulls overlap on purpose; (user_id, played_at) identifies a play downstream.
WITH events AS (
    SELECT _user_id, unnest(items) AS play, _fetched_at, _batch_id
    FROM recently_played
)
SELECT
    _user_id AS user_id,
    play['played_at'] AS played_at,
    play['track']['id'] AS track_id,
    play['context']['type'] AS context_type,
    play['context']['uri'] AS context_uri,
    _fetched_at AS _ingested_at,
    _batch_id
FROM events
WHERE play['played_at'] IS NOT NULL
