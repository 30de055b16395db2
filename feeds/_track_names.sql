-- _track_names: one name per retained track (tracks holds one row per track and micro-batch).
SELECT track_id, max(track_name) AS track_name
FROM tracks
GROUP BY track_id
