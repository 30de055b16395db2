-- listening_clock: retained plays by weekday (0 = Sunday) and hour of day, in UTC.
SELECT
    CAST(date_part('dow', played_at) AS INT) AS weekday,
    CAST(date_part('hour', played_at) AS INT) AS hour,
    count(*) AS plays
FROM _plays_once
GROUP BY 1, 2
ORDER BY weekday, hour
