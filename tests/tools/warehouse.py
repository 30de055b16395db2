"""Checks the rendered sql/ tree offline, for tests/snowflake.rs.

  warehouse.py parse DIR
      Parses every statement of every file with sqlglot's Snowflake dialect. Where sqlglot has no
      grammar (PIPE, STREAM, TASK, ALTER TASK), the statement's head is checked by pattern and its
      COPY or MERGE body parsed on its own. Prints a JSON report; exits 1 naming the file and the
      statement that does not parse.

  warehouse.py load DIR ROUNDS
      Deploys DIR's numbered folders on fakesnow and runs ROUNDS (JSON: a list of rounds, each a
      list of lake folders). Each round loads every Parquet file of its lakes through the pipes'
      COPY (a folder listed twice loads its files twice), then runs the merge graph's task bodies,
      root first. Streams are emulated as tables the loads append to and the merges empty.
      Prints a JSON report: the statements executed, emulated and only parsed, and per round the
      row counts and duplicate keys of the star schema, the plays in fact_play and dim_artist.

  warehouse.py views DIR
      Creates the star schema and the trend views on fakesnow, inserts a small fixture and checks
      every view's rows against answers worked out by hand below. Exits 1 on a difference.
"""

import datetime
import glob
import json
import os
import re
import sys

import sqlglot

DEPLOY = re.compile(r"^\d\d_")


def statements(text):
    """The statements of a file, without comments, split at semicolons outside quotes."""
    out, current, i, quoted = [], [], 0, False
    while i < len(text):
        c = text[i]
        if not quoted and text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if c == "'":
            quoted = not quoted
        if c == ";" and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    tail = "".join(current).strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def files(root, deploy_only=False):
    found = sorted(glob.glob(os.path.join(root, "**", "*.sql"), recursive=True))
    rel = [os.path.relpath(f, root) for f in found]
    return [(r, open(os.path.join(root, r)).read()) for r in rel if not deploy_only or DEPLOY.match(r)]


def head(statement):
    """The statement's kind and object, e.g. `CREATE TABLE IF NOT EXISTS DB.RAW.PLAYS`."""
    words = statement.replace("(", " ( ").split()
    kept = []
    for word in words:
        if word in ("(", "AS", "ON", "AUTO_INGEST", "TYPE", "URL", "SET") or len(kept) == 8:
            break
        kept.append(word)
    return " ".join(kept)


# Statements sqlglot parses only as an opaque command: their head by pattern, their body apart.
HEADS = [
    ("pipe", re.compile(r"^CREATE PIPE IF NOT EXISTS [\w.]+\s+AUTO_INGEST = TRUE\s+COMMENT = '[^']*'\s+AS\s+(COPY .*)$", re.S)),
    ("stream", re.compile(r"^CREATE STREAM IF NOT EXISTS [\w.]+ ON TABLE [\w.]+ APPEND_ONLY = TRUE$")),
    ("task", re.compile(r"^CREATE OR ALTER TASK [\w.]+\s+(?:WAREHOUSE = \w+|USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = '\w+')\s+"
                        r"(?:SCHEDULE = '[^']+'\s+COMMENT = '[^']*'\s+WHEN .*?|AFTER [\w.]+)\s+AS\s+(MERGE .*)$", re.S)),
    ("alter task", re.compile(r"^ALTER TASK IF EXISTS [\w.]+ (?:SUSPEND|RESUME)$")),
    ("execute task", re.compile(r"^EXECUTE TASK [\w.]+$")),
    ("alter pipe", re.compile(r"^ALTER PIPE IF EXISTS [\w.]+ (?:SET PIPE_EXECUTION_PAUSED = (?:TRUE|FALSE)|REFRESH)$")),
]


def parse_statement(statement):
    """How the statement parsed: 'parsed', or 'head and body' for PIPE/STREAM/TASK and friends."""
    for kind, pattern in HEADS:
        match = pattern.match(statement)
        if match:
            if match.groups():
                sqlglot.parse_one(match.group(1), read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
            return f"{kind}: head by pattern, body parsed" if match.groups() else f"{kind}: head by pattern"
    expression = sqlglot.parse_one(statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    if isinstance(expression, sqlglot.exp.Command):
        raise ValueError("sqlglot parses it only as an opaque command, and no pattern knows its head")
    return "parsed"


def parse(root):
    report, failures = [], []
    for name, text in files(root):
        for statement in statements(text):
            try:
                report.append({"file": name, "head": head(statement), "how": parse_statement(statement)})
            except Exception as e:  # noqa: BLE001 - every parser error is reported with its place
                failures.append(f"{name}: {head(statement)}...: {e}")
    print(json.dumps({"statements": report, "failures": failures}))
    return 1 if failures else 0


class Deployment:
    """The numbered folders on fakesnow: what runs, what is emulated, what is only parsed."""

    def __init__(self, cursor, root):
        self.cursor = cursor
        self.executed, self.emulated, self.parsed_only = [], [], []
        self.copies = {}  # raw table -> the pipe's COPY, as fakesnow runs it
        self.patterns = {}  # raw table -> the pipe's PATTERN
        self.streams = {}  # stream -> raw table
        self.tasks = []  # (task, MERGE body), root first
        for name, text in files(root, deploy_only=True):
            for statement in statements(text):
                self.deploy(name, statement)

    def run(self, statement):
        return self.cursor.execute(statement).fetchall()

    def deploy(self, name, statement):
        where = f"{name}: {head(statement)}"
        upper = statement.upper()
        if upper.startswith("CREATE STORAGE INTEGRATION") or upper.startswith("SELECT") or upper.startswith("ALTER TASK"):
            self.parsed_only.append(where)
        elif upper.startswith("CREATE STAGE"):
            stage = statement.split()[5]
            self.run(f"CREATE STAGE IF NOT EXISTS {stage}")
            self.emulated.append(f"{where} (an internal stage stands for the S3 one)")
        elif upper.startswith("CREATE PIPE"):
            copy = statement[statement.index("COPY INTO"):]
            table = copy.split()[2]
            # fakesnow has no INCLUDE_METADATA (the load fills _file and _loaded_at itself) and no
            # PATTERN (the load checks each file's path against it itself).
            copy = re.sub(r"\s+INCLUDE_METADATA = \(.*\)$", "", copy, flags=re.S)
            pattern = re.search(r"\s+PATTERN = '([^']*)'", copy)
            self.patterns[table] = re.compile(pattern.group(1) if pattern else ".*")
            self.copies[table] = copy.replace(pattern.group(0), "") if pattern else copy
            self.parsed_only.append(f"{where} (its COPY runs for each load)")
        elif upper.startswith("CREATE STREAM"):
            words = statement.split()
            stream, table = words[5], words[8]
            self.run(f"CREATE TABLE {stream} AS SELECT * FROM {table} LIMIT 0")
            self.streams[stream] = table
            self.emulated.append(f"{where} (a table the loads append to and the merge empties)")
        elif upper.startswith("CREATE OR ALTER TASK"):
            task = statement.split()[4]
            body = statement[re.search(r"\sAS\s+MERGE", statement).start():].strip()[2:].strip()
            self.tasks.append((task, body))
            self.parsed_only.append(f"{where} (its MERGE runs as the task would)")
        elif upper.startswith("CREATE TABLE") and "PRIMARY KEY" in upper:
            # Snowflake does not enforce primary keys and DuckDB does: left out, the duplicate-key
            # counts below see what Snowflake would hold.
            unenforced = re.sub(r",\s*PRIMARY KEY \([^)]*\)", "", statement)
            self.run(unenforced.replace(" PRIMARY KEY", ""))
            self.executed.append(f"{where} (PRIMARY KEY left out: Snowflake does not enforce it)")
        else:
            self.run(statement)
            self.executed.append(where)

    def load(self, lake, tag):
        for table, copy in self.copies.items():
            short = table.split(".")[-1]
            stage = copy.split("FROM @")[1].split()[0].rstrip("/")
            for n, path in enumerate(sorted(glob.glob(os.path.join(lake, short, "**", "*.parquet"), recursive=True))):
                relative = os.path.relpath(path, os.path.join(lake, short))
                if not self.patterns[table].fullmatch(relative):
                    raise ValueError(f"the pipe of {table} would not load {relative} (PATTERN)")
                place = f"{stage}/{tag}/{n}/"
                self.run(f"PUT 'file://{path}' @{place} AUTO_COMPRESS=FALSE")
                self.run(copy.replace(f"@{stage}/", f"@{place}", 1))
                file_name = f"{short}/{tag}/{n}/{os.path.basename(path)}"
                self.run(f"UPDATE {table} SET _file = '{file_name}', _loaded_at = CURRENT_TIMESTAMP() WHERE _file IS NULL")
                for stream, source in self.streams.items():
                    if source == table:
                        self.run(f"INSERT INTO {stream} SELECT * FROM {table} WHERE _file = '{file_name}'")

    def merge(self):
        for _, body in self.tasks:
            self.run(body)
        for stream in self.streams:
            self.run(f"DELETE FROM {stream}")


KEYS = {
    "dim_track": ["track_id"], "dim_album": ["album_id"], "dim_artist": ["artist_id", "valid_from"],
    "dim_playlist": ["playlist_id"], "dim_user": ["user_id"], "dim_date": ["date_day"],
    "bridge_track_artist": ["track_id", "artist_id", "artist_position"], "bridge_artist_genre": ["artist_id", "genre"],
    "fact_play": ["user_id", "played_at"], "fact_playlist_entry": ["playlist_id", "snapshot_id", "position"],
    "fact_track_popularity": ["track_id", "snapshot_date"], "fact_artist_snapshot": ["artist_id", "snapshot_date"],
}


def millis(value):
    return None if value is None else int(value.timestamp() * 1000)


def state(deployment, core):
    run = deployment.run
    counts = {t: run(f"SELECT COUNT(*) FROM {core}.{t}")[0][0] for t in KEYS}
    duplicates = {}
    for table, key in KEYS.items():
        cols = ", ".join(key)
        duplicates[table] = run(f"SELECT COUNT(*) FROM (SELECT {cols} FROM {core}.{table} GROUP BY {cols} HAVING COUNT(*) > 1)")[0][0]
    duplicates["dim_artist current"] = run(
        f"SELECT COUNT(*) FROM (SELECT artist_id FROM {core}.dim_artist WHERE is_current GROUP BY artist_id HAVING COUNT(*) > 1)")[0][0]
    plays = [[u, millis(at), t] for u, at, t in run(f"SELECT user_id, played_at, track_id FROM {core}.fact_play ORDER BY 1, 2")]
    artists = [[a, n, millis(f), millis(t), c] for a, n, f, t, c in run(
        f"SELECT artist_id, artist_name, valid_from, valid_to, is_current FROM {core}.dim_artist ORDER BY 1, 3")]
    nulls = run(f"SELECT COUNT(*) FROM {core}.fact_track_popularity WHERE popularity = 0")[0][0]
    return {"counts": counts, "duplicate_keys": duplicates, "fact_play": plays, "dim_artist": artists, "zero_popularity": nulls}


CONNECTION = None


def connect():
    import fakesnow
    import snowflake.connector

    # The patch and the connection live as long as the process: a collected connection closes.
    global CONNECTION
    patch = fakesnow.patch()
    patch.__enter__()
    CONNECTION = (patch, snowflake.connector.connect())
    return CONNECTION[1].cursor()


def names(root):
    """The database and schemas the render filled in, read back from 020_database.sql."""
    text = open(os.path.join(root, "00_account", "020_database.sql")).read()
    schemas = re.findall(r"CREATE SCHEMA IF NOT EXISTS ([\w.]+);", text)
    return schemas[1], schemas[2]  # core, mart


def load(root, rounds):
    deployment = Deployment(connect(), root)
    core, _ = names(root)
    report = {"executed": deployment.executed, "emulated": deployment.emulated, "parsed_only": deployment.parsed_only,
              "task_bodies_run": [t for t, _ in deployment.tasks], "rounds": []}
    try:
        for r, lakes in enumerate(rounds):
            for n, lake in enumerate(lakes):
                deployment.load(lake, f"round{r}-{n}")
            deployment.merge()
            report["rounds"].append(state(deployment, core))
    except Exception as e:  # noqa: BLE001 - reported with the round it happened in
        report["error"] = f"round {len(report['rounds']) + 1}: {e}"
    print(json.dumps(report))
    return 1 if "error" in report else 0


def day(d):
    return datetime.date.fromisoformat(d)


def views(root):
    """Each trend view on a fixture small enough to work out by hand."""
    cursor = connect()
    deployment = Deployment.__new__(Deployment)
    deployment.cursor, deployment.executed, deployment.emulated, deployment.parsed_only = cursor, [], [], []
    deployment.copies, deployment.patterns, deployment.streams, deployment.tasks = {}, {}, {}, []
    for name, text in files(root, deploy_only=True):
        if name.startswith(("00_account/020", "20_core/010", "30_mart")):
            for statement in statements(text):
                deployment.deploy(name, statement)
    core, mart = names(root)
    run = deployment.run
    # Plays: Monday 2026-11-30 and Tuesday 2026-12-01 (UTC).
    #   Mon: t1 x3 (10:00, 10:05, 11:00), t2 x1 (10:10)
    #   Tue: t2 x3 (09:00, 09:05, 21:00), t1 x1 (09:10), t3 x1 (22:00)
    plays = [
        ("u1", "2026-11-30 10:00:00", "t1"), ("u1", "2026-11-30 10:05:00", "t1"), ("u2", "2026-11-30 11:00:00", "t1"),
        ("u2", "2026-11-30 10:10:00", "t2"),
        ("u1", "2026-12-01 09:00:00", "t2"), ("u2", "2026-12-01 09:05:00", "t2"), ("u1", "2026-12-01 21:00:00", "t2"),
        ("u2", "2026-12-01 09:10:00", "t1"), ("u1", "2026-12-01 22:00:00", "t3"),
    ]
    for user, at, track in plays:
        run(f"INSERT INTO {core}.fact_play (user_id, played_at, date_day, track_id) "
            f"VALUES ('{user}', '{at}+00:00', '{at[:10]}', '{track}')")
    for track, name, album in [("t1", "One", "al1"), ("t2", "Two", "al1"), ("t3", "Three", "al2")]:
        run(f"INSERT INTO {core}.dim_track (track_id, track_name, album_id) VALUES ('{track}', '{name}', '{album}')")
    # t1 and t2 by artist a1, t3 by a2 with a1 featured.
    for track, artist, position in [("t1", "a1", 0), ("t2", "a1", 0), ("t3", "a2", 0), ("t3", "a1", 1)]:
        run(f"INSERT INTO {core}.bridge_track_artist VALUES ('{track}', '{artist}', {position})")
    for artist, name in [("a1", "Alpha"), ("a2", "Beta")]:
        run(f"INSERT INTO {core}.dim_artist (artist_id, artist_name, valid_from, is_current) "
            f"VALUES ('{artist}', '{name}', '2026-01-01 00:00:00+00:00', TRUE)")
    run(f"INSERT INTO {core}.bridge_artist_genre (artist_id, genre) VALUES ('a1', 'pop'), ('a1', 'rock'), ('a2', 'jazz')")
    # Albums: al1 released 2026-11-20 (first play 11-30: 10 days), al2 2026-11-25 (first play
    # 12-01: 6 days), al3 2026-11-02 never played.
    for album, released in [("al1", "2026-11-20"), ("al2", "2026-11-25"), ("al3", "2026-11-02")]:
        run(f"INSERT INTO {core}.dim_album (album_id, release_date_start) VALUES ('{album}', '{released}')")
    # Playlist p1: snapshot s1 [A, B, C] seen Mon; s2 [C, A, D] seen Tue: D added, B removed,
    # and of the kept A and C, C moved before A (both change place).
    entries = [("s1", 0, "A", "2026-11-30 08:00:00"), ("s1", 1, "B", "2026-11-30 08:00:00"), ("s1", 2, "C", "2026-11-30 08:00:00"),
               ("s2", 0, "C", "2026-12-01 08:00:00"), ("s2", 1, "A", "2026-12-01 08:00:00"), ("s2", 2, "D", "2026-12-01 08:00:00")]
    for snapshot, position, uri, seen in entries:
        run(f"INSERT INTO {core}.fact_playlist_entry (playlist_id, snapshot_id, position, track_uri, first_seen_at) "
            f"VALUES ('p1', '{snapshot}', {position}, 'spotify:track:{uri}', '{seen}+00:00')")
    # t3 added to playlist p2 on Tuesday (seen in two snapshots, counted once).
    for snapshot in ["x1", "x2"]:
        run(f"INSERT INTO {core}.fact_playlist_entry (playlist_id, snapshot_id, position, track_id, track_uri, added_at, first_seen_at) "
            f"VALUES ('p2', '{snapshot}', 0, 't3', 'spotify:track:t3', '2026-12-01 12:00:00+00:00', '2026-12-01 12:00:00+00:00')")
    # Popularity: t1 40 -> 55; t2 only one snapshot; none anywhere else.
    run(f"INSERT INTO {core}.fact_track_popularity VALUES ('t1', '2026-11-30', 40, '2026-11-30 00:00:00+00:00'), "
        f"('t1', '2026-12-01', 55, '2026-12-01 00:00:00+00:00'), ('t2', '2026-12-01', 70, '2026-12-01 00:00:00+00:00')")

    expected = {
        # Mon: t1 3 plays rank 1, t2 1 play rank 2. Tue: t2 3 (rank 1, was 2: +1), t1 1 and t3 1
        # tie at rank 2 (t1 was 1: -1; t3 new: NULL).
        "top_tracks_daily": (
            "SELECT period_start, track_id, track_name, plays, rank, previous_rank, rank_change FROM {mart}.top_tracks_daily ORDER BY 1, 5, 2",
            [[day("2026-11-30"), "t1", "One", 3, 1, None, None], [day("2026-11-30"), "t2", "Two", 1, 2, None, None],
             [day("2026-12-01"), "t2", "Two", 3, 1, 2, 1], [day("2026-12-01"), "t1", "One", 1, 2, 1, -1],
             [day("2026-12-01"), "t3", "Three", 1, 2, None, None]]),
        # Both days are in the ISO week of Monday 2026-11-30: t1 4, t2 4 (tie at 1), t3 1.
        "top_tracks_weekly": (
            "SELECT period_start, track_id, plays, rank, rank_change FROM {mart}.top_tracks_weekly ORDER BY 1, 4, 2",
            [[day("2026-11-30"), "t1", 4, 1, None], [day("2026-11-30"), "t2", 4, 1, None], [day("2026-11-30"), "t3", 1, 3, None]]),
        # a1 is on every play: Mon 4, Tue 5 (t3's play counts for a1 too); a2 only Tue, 1.
        "top_artists_daily": (
            "SELECT period_start, artist_id, artist_name, plays, rank, rank_change FROM {mart}.top_artists_daily ORDER BY 1, 5, 2",
            [[day("2026-11-30"), "a1", "Alpha", 4, 1, None], [day("2026-12-01"), "a1", "Alpha", 5, 1, 0],
             [day("2026-12-01"), "a2", "Beta", 1, 2, None]]),
        "top_artists_weekly": (
            "SELECT period_start, artist_id, plays, rank FROM {mart}.top_artists_weekly ORDER BY 1, 4, 2",
            [[day("2026-11-30"), "a1", 9, 1], [day("2026-11-30"), "a2", 1, 2]]),
        # Scores (plays + adds): Mon t1 3, t2 1. Tue t2 3 (+2), t1 1 (-2), t3 1 play + 1 add = 2 (+2).
        # Rising: Mon t1 and t2 (nothing the day before), Tue t2 and t3.
        "rising_tracks": (
            "SELECT date_day, track_id, plays, playlist_adds, score, previous_score, growth FROM {mart}.rising_tracks ORDER BY 1, 2",
            [[day("2026-11-30"), "t1", 3, 0, 3, 0, 3], [day("2026-11-30"), "t2", 1, 0, 1, 0, 1],
             [day("2026-12-01"), "t2", 3, 0, 3, 1, 2], [day("2026-12-01"), "t3", 1, 1, 2, 0, 2]]),
        # Only t1 has two snapshots: 40 -> 55.
        "popularity_movers": (
            "SELECT track_id, snapshot_date, popularity, previous_popularity, change FROM {mart}.popularity_movers ORDER BY 1, 2",
            [["t1", day("2026-12-01"), 55, 40, 15]]),
        # First credited artists: t1, t2 -> a1 (pop, rock); t3 -> a2 (jazz).
        # Mon: 4 plays of a1 -> pop 4, rock 4 (share 0.5 each). Tue: a1 4 plays -> pop 4, rock 4;
        # a2 1 play -> jazz 1; total 9: 4/9, 4/9, 1/9.
        "genre_share_daily": (
            "SELECT date_day, genre, plays, ROUND(share, 4) FROM {mart}.genre_share_daily ORDER BY 1, 2",
            [[day("2026-11-30"), "pop", 4, 0.5], [day("2026-11-30"), "rock", 4, 0.5],
             [day("2026-12-01"), "jazz", 1, 0.1111], [day("2026-12-01"), "pop", 4, 0.4444], [day("2026-12-01"), "rock", 4, 0.4444]]),
        # Monday (1): 10h 3 plays (10:00, 10:05, 10:10), 11h 1. Tuesday (2): 9h 3, 21h 1, 22h 1.
        "listening_clock": (
            "SELECT day_of_week, hour, plays FROM {mart}.listening_clock ORDER BY 1, 2",
            [[1, 10, 3], [1, 11, 1], [2, 9, 3], [2, 21, 1], [2, 22, 1]]),
        # November 2026: 3 albums, 2 played, after 10 and 6 days: 8 on average.
        "release_velocity": (
            "SELECT release_month, albums, albums_played, avg_days_to_first_play FROM {mart}.release_velocity ORDER BY 1",
            [[day("2026-11-01"), 3, 2, 8.0]]),
        # p1 s2 against s1: D added, B removed, A and C swapped places among the kept. p2's x2
        # against x1: nothing changed.
        "playlist_churn": (
            "SELECT playlist_id, snapshot_id, previous_snapshot_id, adds, removes, moves FROM {mart}.playlist_churn ORDER BY 1, 2",
            [["p1", "s2", "s1", 1, 1, 2], ["p2", "x2", "x1", 0, 0, 0]]),
    }
    differences, checked = [], []
    for view, (query, rows) in expected.items():
        got = [list(row) for row in run(query.format(mart=mart))]
        got = [[v.date() if isinstance(v, datetime.datetime) else (float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, (int, bool)) else v) for v in row] for row in got]
        if got != rows:
            differences.append({"view": view, "expected": rows, "got": got})
        checked.append(view)
    print(json.dumps({"checked": checked, "differences": differences}, default=str))
    return 1 if differences else 0


def main():
    command, root = sys.argv[1], sys.argv[2]
    if command == "parse":
        return parse(root)
    if command == "load":
        return load(root, json.loads(sys.argv[3]))
    if command == "views":
        return views(root)
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main())
