-- top_artists: the 20 most played artists over the last hour and the last 24 hours (`span`),
-- a play counting once for each artist of its track, with the rank in the window just before
-- (NULL: not played then) and the change (positive: climbed). Tied artists share a rank;
-- the first 20 by rank and id are listed.
WITH credits AS (
    SELECT DISTINCT track_id, artist_id FROM track_artists WHERE artist_id IS NOT NULL
),
artist_names AS (
    SELECT artist_id, max(artist_name) AS artist_name FROM artists GROUP BY artist_id
),
counted AS (
    SELECT
        s.span,
        a.artist_id,
        count(*) FILTER (WHERE p.played_at > s.since) AS plays,
        count(*) FILTER (WHERE p.played_at <= s.since) AS previous_plays
    FROM _plays_once p
    JOIN credits a ON a.track_id = p.track_id
    CROSS JOIN _spans s
    WHERE p.played_at > s.previous_since AND p.played_at <= s.watermark
    GROUP BY s.span, a.artist_id
),
current_ranks AS (
    SELECT
        span,
        artist_id,
        plays,
        rank() OVER (PARTITION BY span ORDER BY plays DESC) AS rank,
        row_number() OVER (PARTITION BY span ORDER BY plays DESC, artist_id) AS place
    FROM counted
    WHERE plays > 0
),
previous_ranks AS (
    SELECT span, artist_id, rank() OVER (PARTITION BY span ORDER BY previous_plays DESC) AS previous_rank
    FROM counted
    WHERE previous_plays > 0
)
SELECT
    c.span,
    c.rank,
    c.artist_id,
    n.artist_name,
    c.plays,
    p.previous_rank,
    p.previous_rank - c.rank AS rank_change
FROM current_ranks c
LEFT JOIN previous_ranks p ON p.span = c.span AND p.artist_id = c.artist_id
LEFT JOIN artist_names n ON n.artist_id = c.artist_id
WHERE c.place <= 20
ORDER BY c.span, c.rank, c.artist_id
