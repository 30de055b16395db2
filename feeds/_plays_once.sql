-- _plays_once: each retained play once. Pulls of recently-played overlap on purpose, and a
-- restart may fetch a page again, so (user_id, played_at) identifies a play.
SELECT user_id, played_at, min(track_id) AS track_id
FROM plays
WHERE track_id IS NOT NULL AND played_at IS NOT NULL
GROUP BY user_id, played_at
