-- top_artists: the 20 most played artists over the last hour and the last 24 hours (`span`),
-- a play counting once for each artist of its track, with the rank in the window just before
-- (NULL: not played then) and the change (positive: climbed). Tied artists share a rank; the
-- first 20 by rank and id are listed.
WITH artist_names AS (
    SELECT artist_id, max(artist_name) AS artist_name FROM artists GROUP BY artist_id
)
SELECT
    r.span,
    r.rank,
    r.id AS artist_id,
    n.artist_name,
    r.plays,
    r.previous_rank,
    r.rank_change
FROM _ranked r
LEFT JOIN artist_names n ON n.artist_id = r.id
WHERE r.kind = 'artist' AND r.place <= 20
ORDER BY r.span, r.rank, r.id
