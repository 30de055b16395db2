-- _spans: the windows the top-N feeds rank over, each with the window before it, ending at the
-- event-time watermark (feed_clock).
SELECT '1h' AS span, watermark - INTERVAL '1 hour' AS since, watermark - INTERVAL '2 hours' AS previous_since, watermark
FROM feed_clock
UNION ALL
SELECT '24h', watermark - INTERVAL '24 hours', watermark - INTERVAL '48 hours', watermark
FROM feed_clock
