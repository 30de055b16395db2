-- artists: one row per artist id in the micro-batch, from every artist reference (on tracks
-- and albums) and every full artist object (artist pages, search, followed artists). followers, popularity and
-- genres come only from full objects, and only extended-quota apps receive the first two.
WITH refs AS (
    SELECT unnest(artists) AS a, _fetched_at, _batch_id FROM _tracks_seen
    UNION ALL
    SELECT unnest(artists) AS a, _fetched_at, _batch_id FROM _albums_seen
),
seen AS (
    SELECT a['id'] AS artist_id, a['name'] AS artist_name, CAST(NULL AS BIGINT) AS followers,
           CAST(NULL AS BIGINT) AS popularity, CAST(NULL AS VARCHAR[]) AS genres, _fetched_at, _batch_id
    FROM refs
    UNION ALL
    SELECT id, name, followers['total'], popularity, genres, _fetched_at, _batch_id FROM artist
    UNION ALL
    SELECT a['id'], a['name'], a['followers']['total'], a['popularity'], a['genres'], _fetched_at, _batch_id
    FROM (SELECT unnest(artists['items']) AS a, _fetched_at, _batch_id FROM search)
    UNION ALL
    SELECT a['id'], a['name'], a['followers']['total'], a['popularity'], a['genres'], _fetched_at, _batch_id
    FROM (SELECT unnest(artists['items']) AS a, _fetched_at, _batch_id FROM followed_artists)
)
SELECT
    artist_id,
    max(artist_name) AS artist_name,
    max(followers) AS followers,
    max(popularity) AS popularity,
    -- Sorted: the order array_agg meets rows in is not fixed, and the same input must give the
    -- same bytes.
    array_sort(array_distinct(flatten(array_agg(genres) FILTER (WHERE genres IS NOT NULL)))) AS genres,
    max(_fetched_at) AS _ingested_at,
    max(_batch_id) AS _batch_id
FROM seen
WHERE artist_id IS NOT NULL
GROUP BY artist_id
