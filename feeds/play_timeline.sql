-- play_timeline: plays per 5-minute bin over the last 24 hours, for a live chart.
SELECT
    date_bin(INTERVAL '5 minutes', p.played_at) AS bin_start,
    count(*) AS plays,
    count(DISTINCT p.track_id) AS tracks
FROM _plays_once p
CROSS JOIN feed_clock c
WHERE p.played_at > c.watermark - INTERVAL '24 hours' AND p.played_at <= c.watermark
GROUP BY 1
ORDER BY bin_start
