-- _ranked: plays of each track and each artist (`kind`) over the last hour and the last 24
-- hours (`span`, from _spans), ranked, with the rank in the window just before (NULL: not
-- played then) and the change (positive: climbed). A play counts once for its track and once
-- for each artist of it. Tied ids share a rank; `place` orders them by id.
WITH credits AS (
    SELECT DISTINCT track_id, artist_id FROM track_artists WHERE artist_id IS NOT NULL
),
played AS (
    SELECT 'track' AS kind, track_id AS id, played_at FROM _plays_once
    UNION ALL
    SELECT 'artist', c.artist_id, p.played_at FROM _plays_once p JOIN credits c ON c.track_id = p.track_id
),
counted AS (
    SELECT
        p.kind,
        s.span,
        p.id,
        count(*) FILTER (WHERE p.played_at > s.since) AS plays,
        count(*) FILTER (WHERE p.played_at <= s.since) AS previous_plays
    FROM played p
    CROSS JOIN _spans s
    WHERE p.played_at > s.previous_since AND p.played_at <= s.watermark
    GROUP BY p.kind, s.span, p.id
),
current_ranks AS (
    SELECT
        kind,
        span,
        id,
        plays,
        rank() OVER (PARTITION BY kind, span ORDER BY plays DESC) AS rank,
        row_number() OVER (PARTITION BY kind, span ORDER BY plays DESC, id) AS place
    FROM counted
    WHERE plays > 0
),
previous_ranks AS (
    SELECT kind, span, id, rank() OVER (PARTITION BY kind, span ORDER BY previous_plays DESC) AS previous_rank
    FROM counted
    WHERE previous_plays > 0
)
SELECT
    c.kind,
    c.span,
    c.id,
    c.rank,
    c.place,
    c.plays,
    p.previous_rank,
    CAST(p.previous_rank AS BIGINT) - CAST(c.rank AS BIGINT) AS rank_change
FROM current_ranks c
LEFT JOIN previous_ranks p ON p.kind = c.kind AND p.span = c.span AND p.id = c.id
