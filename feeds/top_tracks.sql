-- top_tracks: the 20 most played tracks over the last hour and the last 24 hours (`span`),
-- with the rank each had in the window just before (NULL: not played then) and the change
-- (positive: climbed). Tied tracks share a rank; the first 20 by rank and id are listed.
WITH counted AS (
    SELECT
        s.span,
        p.track_id,
        count(*) FILTER (WHERE p.played_at > s.since) AS plays,
        count(*) FILTER (WHERE p.played_at <= s.since) AS previous_plays
    FROM _plays_once p
    CROSS JOIN _spans s
    WHERE p.played_at > s.previous_since AND p.played_at <= s.watermark
    GROUP BY s.span, p.track_id
),
current_ranks AS (
    SELECT
        span,
        track_id,
        plays,
        rank() OVER (PARTITION BY span ORDER BY plays DESC) AS rank,
        row_number() OVER (PARTITION BY span ORDER BY plays DESC, track_id) AS place
    FROM counted
    WHERE plays > 0
),
previous_ranks AS (
    SELECT span, track_id, rank() OVER (PARTITION BY span ORDER BY previous_plays DESC) AS previous_rank
    FROM counted
    WHERE previous_plays > 0
)
SELECT
    c.span,
    c.rank,
    c.track_id,
    n.track_name,
    c.plays,
    p.previous_rank,
    p.previous_rank - c.rank AS rank_change
FROM current_ranks c
LEFT JOIN previous_ranks p ON p.span = c.span AND p.track_id = c.track_id
LEFT JOIN _track_names n ON n.track_id = c.track_id
WHERE c.place <= 20
ORDER BY c.span, c.rank, c.track_id
