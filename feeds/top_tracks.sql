-- top_tracks: the 20 most played tracks over the last hour and the last 24 hours (`span`),
-- with the rank each had in the window just before (NULL: not played then) and the change
-- (positive: climbed). Tied tracks share a rank; the first 20 by rank and id are listed.
SELECT
    r.span,
    r.rank,
    r.id AS track_id,
    n.track_name,
    r.plays,
    r.previous_rank,
    r.rank_change
FROM _ranked r
LEFT JOIN _track_names n ON n.track_id = r.id
WHERE r.kind = 'track' AND r.place <= 20
ORDER BY r.span, r.rank, r.id
