#!/usr/bin/env python3
"""The DuckDB peer of the shared playlist-flatten workload, for the parity test in any clone.

A verbatim copy of `run_duckdb` from ../shared/bench/peers.py (which also holds the Polars and
pandas peers for benchmarks): the test suite must run where the shared folder is absent, as in
CI's clean clone. Refresh it from there if the shared workload changes.

Usage: duckdb_peer.py IN.ndjson OUTDIR
"""
import os, sys

def run_duckdb(src, out):
    import duckdb
    con = duckdb.connect()
    cols = ("{'offset': 'BIGINT', 'items': 'STRUCT(added_at VARCHAR, track STRUCT(id VARCHAR, name VARCHAR, duration_ms BIGINT, "
            "explicit BOOLEAN, popularity BIGINT, track_number BIGINT, external_ids STRUCT(isrc VARCHAR), album STRUCT(id VARCHAR, "
            "name VARCHAR, album_type VARCHAR, release_date VARCHAR, release_date_precision VARCHAR, total_tracks BIGINT), "
            "artists STRUCT(id VARCHAR, name VARCHAR)[]))[]'}")
    con.execute(f"""CREATE TEMP TABLE items AS SELECT p."offset" + u.pos - 1 AS position, u.it AS it
        FROM read_json('{src}', format='newline_delimited', maximum_object_size=100000000, columns={cols}) p,
        LATERAL (SELECT unnest(p.items) AS it, generate_subscripts(p.items, 1) AS pos) u WHERE u.it.track IS NOT NULL""")
    con.execute(f"""COPY (SELECT it.track.id AS track_id, it.track.name AS track_name, it.track.duration_ms AS duration_ms,
        it.track.explicit AS explicit, it.track.popularity AS popularity, it.track.external_ids.isrc AS isrc,
        it.track.album.id AS album_id, CAST(it.added_at AS TIMESTAMPTZ) AS added_at, it.track.track_number AS track_number,
        position FROM items) TO '{out}/playlist_tracks.parquet' (FORMAT parquet, COMPRESSION zstd)""")
    con.execute(f"""COPY (SELECT it.track.album.id AS album_id, any_value(it.track.album.name) AS album_name,
        any_value(it.track.album.album_type) AS album_type, any_value(it.track.album.release_date) AS release_date,
        any_value(it.track.album.release_date_precision) AS release_date_precision,
        any_value(it.track.album.total_tracks) AS total_tracks FROM items GROUP BY 1)
        TO '{out}/albums.parquet' (FORMAT parquet, COMPRESSION zstd)""")
    con.execute("""CREATE TEMP TABLE ta AS SELECT it.track.id AS track_id, a.ar.id AS artist_id, a.ar.name AS artist_name,
        a.pos - 1 AS artist_position
        FROM items, LATERAL (SELECT unnest(it.track.artists) AS ar, generate_subscripts(it.track.artists, 1) AS pos) a""")
    con.execute(f"COPY (SELECT track_id, artist_id, artist_position FROM ta) TO '{out}/track_artists.parquet' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"COPY (SELECT artist_id, any_value(artist_name) AS artist_name FROM ta GROUP BY 1) TO '{out}/artists.parquet' (FORMAT parquet, COMPRESSION zstd)")
    return con.execute(f"SELECT count(*) FROM '{out}/playlist_tracks.parquet'").fetchone()[0]


if __name__ == "__main__":
    src, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    print("duckdb", run_duckdb(src, out))
