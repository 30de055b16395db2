#!/usr/bin/env python3
"""Compares a tunestream lake with a peer's output of the playlist-flatten workload.

Usage: compare_with_peer.py LAKE PEER_OUT_DIR
Both sides are read with DuckDB, independently of tunestream's code. playlist_tracks must hold
the same rows (as a multiset); albums, artists and track_artists the same distinct rows, since
tunestream's dimension tables are distinct per micro-batch, not over the whole run.
Prints one line per table and exits 1 on any difference.
"""
import sys
import duckdb

lake, peer = sys.argv[1], sys.argv[2]
TABLES = {
    "playlist_tracks": ("track_id, track_name, duration_ms, explicit, popularity, isrc, album_id, "
                        "added_at, track_number, position", False),
    "albums": ("album_id, album_name, album_type, release_date, release_date_precision, total_tracks", True),
    "artists": ("artist_id, artist_name", True),
    "track_artists": ("track_id, artist_id, artist_position", True),
}
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
failed = False
for table, (cols, distinct) in TABLES.items():
    d = "DISTINCT" if distinct else ""
    ours = f"SELECT {d} {cols} FROM read_parquet('{lake}/{table}/**/*.parquet', hive_partitioning = false)"
    theirs = f"SELECT {d} {cols} FROM read_parquet('{peer}/{table}.parquet')"
    n_ours = con.execute(f"SELECT count(*) FROM ({ours})").fetchone()[0]
    n_theirs = con.execute(f"SELECT count(*) FROM ({theirs})").fetchone()[0]
    missing = con.execute(f"SELECT count(*) FROM ({theirs} EXCEPT ALL {ours})").fetchone()[0]
    extra = con.execute(f"SELECT count(*) FROM ({ours} EXCEPT ALL {theirs})").fetchone()[0]
    ok = n_ours == n_theirs and missing == 0 and extra == 0
    failed |= not ok
    print(f"{table}: {'same rows' if ok else 'DIFFERENT'} (tunestream {n_ours}, peer {n_theirs}, "
          f"missing {missing}, extra {extra})")
    if not ok:
        print(con.execute(f"({theirs} EXCEPT ALL {ours}) LIMIT 3").fetchall())
        print(con.execute(f"({ours} EXCEPT ALL {theirs}) LIMIT 3").fetchall())
sys.exit(1 if failed else 0)
