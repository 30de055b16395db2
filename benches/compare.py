#!/usr/bin/env python3
"""One command for tunestream's headline numbers, written to docs/benchmarks.md by hand from its output.

  python3 benches/compare.py [--sizes 100,500,5000] [--pairs 3] [--latency-secs 40]

1. Whole-process runs of `tunestream replay` and the peers (DuckDB, Polars; ../shared/bench/peers.py)
   on the shared playlist-flatten workload at each size, alternating engines, `--pairs` times each:
   median wall time, rows/s, MB/s, peak RSS, and tunestream's median ratio to DuckDB.
2. The same replay with a user-edited query (extra computed columns and a filter), to show the speed
   comes from the engine, not from hard-coding the default SQL.
3. Streaming latency: `tunestream run` against the simulator at a steady play rate; for every play
   row, commit time of its Parquet file minus the page's fetch time (`_ingested_at`): p50 and p99.
4. benches/results/throughput.svg: throughput and peak memory against input size.
5. The largest replay into an S3 lake on a loopback S3 server (moto, from the test virtualenv that
   scripts/test creates) next to the same replay into a local lake, alternating, `--s3-pairs` times;
   then the same replay also sending every row to Firehose and to Kinesis on that server: records/s.

Peers run from the shared peers' virtualenv (created by ../shared/bench/run_peers.sh), or any
python with duckdb/polars/pyarrow given as --python. Nothing here asserts: numbers are reported.
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "bench"
BIN = REPO / "target" / "release" / "tunestream"


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS MiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as t:
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name, *map(str, cmd)],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(f"failed: {' '.join(map(str, cmd))}\n{out.stderr[-2000:]}")
        wall, rss = t.read().split()[-2:]
    return float(wall), int(rss) / 1024, out.stdout


def workload(cache, pages):
    path = cache / f"pages_{pages}.ndjson"
    if not path.exists() or path.stat().st_size == 0:
        subprocess.run([sys.executable, SHARED / "gen_playlist_pages.py", path, str(pages)], check=True)
    return path


def run_engine(engine, src, work, python, queries):
    out = work / f"out_{engine}"
    shutil.rmtree(out, ignore_errors=True)
    if engine == "tunestream":
        wall, rss, stdout = timed([BIN, "replay", src, "--lake", out, "--queries", queries],
                                  env={**os.environ, "RUST_LOG": "warn"})
        rows = int(re.search(r"playlist_tracks\s+(\d+)", stdout).group(1))
    else:
        out.mkdir(parents=True)
        wall, rss, stdout = timed([python, SHARED / "peers.py", engine, src, out])
        rows = int(stdout.split()[1])
    return wall, rss, rows


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def s3_replay(src, records_src, work, pairs, venv):
    """Median (wall, peak MiB, records sent) of replays of src into a local lake, into S3, and
    into a local lake while sending every row to Firehose and to Kinesis, all on loopback moto."""
    moto, python = venv / "bin" / "moto_server", venv / "bin" / "python"
    if not moto.exists():
        sys.exit(f"no moto at {moto}: run scripts/test once, or pass --s3-venv")
    port = free_port()
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RUST_LOG": "warn", "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "TUNESTREAM__S3__FORCE_PATH_STYLE": "true"}
    try:
        for _ in range(100):
            if subprocess.run([python, "-c", f"import urllib.request; urllib.request.urlopen('{endpoint}/moto-api/')"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        setup = f"""
import boto3
kw = dict(endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='b', aws_secret_access_key='b')
boto3.client('s3', **kw).create_bucket(Bucket='bench')
boto3.client('firehose', **kw).create_delivery_stream(DeliveryStreamName='bench', ExtendedS3DestinationConfiguration=dict(
    BucketARN='arn:aws:s3:::bench', RoleARN='arn:aws:iam::123456789012:role/bench'))
boto3.client('kinesis', **kw).create_stream(StreamName='bench', ShardCount=2)
"""
        subprocess.run([python, "-c", setup], check=True)
        runs = {"local": [], "s3": [], "records: local": [], "records: local + firehose": [],
                "records: local + kinesis": []}
        for i in range(pairs):
            for where, lake, extra in [("local", work / "out_local", []), ("s3", f"s3://bench/run-{i}", []),
                                       ("records: local", work / "out_local", []),
                                       ("records: local + firehose", work / "out_local", ["--firehose", "bench"]),
                                       ("records: local + kinesis", work / "out_local", ["--kinesis", "bench"])]:
                shutil.rmtree(work / "out_local", ignore_errors=True)
                # moto's Kinesis is slow (a 500-page replay's records took over four minutes), so
                # the record runs use a smaller input.
                input_file = records_src if where.startswith("records") else src
                wall, rss, stdout = timed([BIN, "replay", input_file, "--lake", lake, "--queries", REPO / "queries", *extra],
                                          env=env)
                sent = re.search(r"delivered +\S+: (\d+) sent", stdout)
                runs[where].append((wall, rss, int(sent.group(1)) if sent else 0))
        return {k: tuple(statistics.median(r[j] for r in v) for j in range(3)) for k, v in runs.items()}
    finally:
        server.terminate()
        server.wait()


def edited_queries(work):
    """The default queries with playlist_tracks edited as a user would: new columns, a filter."""
    target = work / "edited_queries"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "queries", target)
    sql = (target / "playlist_tracks.sql").read_text()
    sql = sql.replace("payload['duration_ms'] AS duration_ms,", "payload['duration_ms'] AS duration_ms,\n"
                      "    round(payload['duration_ms'] / 60000.0, 2) AS duration_min,\n"
                      "    lower(payload['name']) AS track_name_lower,")
    sql = sql.replace("WHERE payload IS NOT NULL", "WHERE payload IS NOT NULL AND coalesce(payload['duration_ms'], 0) >= 0")
    assert "duration_min" in sql and "duration_ms'], 0) >= 0" in sql, "playlist_tracks.sql changed shape; update the edit"
    (target / "playlist_tracks.sql").write_text(sql)
    return target


def latency(work, secs, reader_python):
    """p50/p99 seconds from page fetch to committed Parquet, over every play row of a live run."""
    run_dir = work / "latency"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    config = run_dir / "tunestream.toml"
    config.write_text(f"""state_dir = "{run_dir}/state"
[lake]
path = "{run_dir}/lake"
max_file_age_secs = 5
[spotify]
daily_budget = 1000000
requests_per_second = 50
[simulator]
plays_per_minute = 600
users = ["alice", "bob", "carol"]
[[jobs]]
type = "recently_played"
user = "alice"
every_secs = 1
[[jobs]]
type = "recently_played"
user = "bob"
every_secs = 1
[[jobs]]
type = "recently_played"
user = "carol"
every_secs = 1
""")
    subprocess.run([BIN, "--config", config, "run", "--for", f"{secs}s", "--queries", REPO / "queries"],
                   check=True, capture_output=True, env={**os.environ, "RUST_LOG": "warn"})
    script = r"""
import glob, json, os, sys
import pyarrow.parquet as pq
lat = []
for f in glob.glob(sys.argv[1] + "/plays/**/*.parquet", recursive=True):
    committed = os.stat(f).st_mtime
    for t in pq.read_table(f, columns=["_ingested_at"]).column(0).to_pylist():
        lat.append(committed - t.timestamp())
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(json.dumps({"rows": len(lat), "p50": q(0.5), "p99": q(0.99), "max": lat[-1]}))
"""
    out = subprocess.run([reader_python, "-c", script, run_dir / "lake"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def svg(results, path):
    """Two panels: MB/s and peak MiB against input MB, one line per engine."""
    colors = {"tunestream": "#d62728", "duckdb": "#1f77b4", "polars": "#2ca02c"}
    w, h, pad = 420, 280, 50
    sizes = sorted({r["mb"] for r in results})
    def panel(x0, key, title):
        top = max(r[key] for r in results) * 1.15
        sx = lambda mb: x0 + pad + (sizes.index(mb) / max(1, len(sizes) - 1)) * (w - 2 * pad)
        sy = lambda v: h - pad + 10 - v / top * (h - 2 * pad)
        parts = [f'<text x="{x0 + w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
                 f'<line x1="{x0 + pad}" y1="{h - pad + 10}" x2="{x0 + w - pad}" y2="{h - pad + 10}" stroke="black"/>',
                 f'<line x1="{x0 + pad}" y1="{h - pad + 10}" x2="{x0 + pad}" y2="30" stroke="black"/>']
        for mb in sizes:
            parts.append(f'<text x="{sx(mb)}" y="{h - pad + 28}" text-anchor="middle" font-size="11">{mb:.0f} MB</text>')
        for i in range(5):
            v = top * i / 4
            parts.append(f'<text x="{x0 + pad - 6}" y="{sy(v) + 4}" text-anchor="end" font-size="10">{v:.0f}</text>')
        for engine, color in colors.items():
            pts = sorted((r["mb"], r[key]) for r in results if r["engine"] == engine)
            if pts:
                d = " ".join(f"{sx(mb):.1f},{sy(v):.1f}" for mb, v in pts)
                parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
                parts += [f'<circle cx="{sx(mb):.1f}" cy="{sy(v):.1f}" r="3" fill="{color}"/>' for mb, v in pts]
        return parts
    body = panel(0, "mb_s", "throughput (MB/s of JSON)") + panel(w, "rss", "peak memory (MiB)")
    for i, (engine, color) in enumerate(colors.items()):
        body.append(f'<text x="{pad + 110 * i}" y="{h + 12}" fill="{color}" font-size="12">■ {engine}</text>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{h + 20}" '
                    f'font-family="sans-serif">{"".join(body)}</svg>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,500", help="pages per input (100 entries, ~0.39 MB a page)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--engines", default="duckdb,polars")
    ap.add_argument("--python", default=str(Path.home() / ".cache/spotify-peers/venv/bin/python"))
    ap.add_argument("--latency-secs", type=int, default=40, help="0 skips the latency run")
    ap.add_argument("--s3-pairs", type=int, default=3, help="0 skips the replay into S3")
    ap.add_argument("--records-pages", type=int, default=20,
                    help="pages of the replays that also send to Firehose and Kinesis (moto is slow)")
    ap.add_argument("--s3-venv", default=str(Path.home() / ".cache/tunestream/venv"),
                    help="virtualenv with moto and boto3 (scripts/test creates it)")
    args = ap.parse_args()
    if not Path(args.python).exists():
        sys.exit(f"no peers' python at {args.python}: run ../shared/bench/run_peers.sh 1 once, or pass --python")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    cache = Path(os.environ.get("PEERS_CACHE", Path.home() / ".cache/spotify-peers"))
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tunestream-bench-"))
    engines = ["tunestream", *[e for e in args.engines.split(",") if e]]
    results = []
    for pages in map(int, args.sizes.split(",")):
        src = workload(cache, pages)
        mb = src.stat().st_size / 1e6
        runs = {e: [] for e in engines}
        for _ in range(args.pairs):
            for e in engines:
                runs[e].append(run_engine(e, src, work, args.python, REPO / "queries"))
        for e in engines:
            wall = statistics.median(r[0] for r in runs[e])
            rss = statistics.median(r[1] for r in runs[e])
            rows = runs[e][0][2]
            results.append({"engine": e, "pages": pages, "mb": mb, "wall": wall, "rss": rss, "rows": rows,
                            "mb_s": mb / wall, "rows_s": rows / wall})
        ratios = [t[0] / d[0] for t, d in zip(runs["tunestream"], runs.get("duckdb", []))]
        if ratios:
            print(f"{pages} pages: tunestream / DuckDB wall time, median of {len(ratios)} pairs: {statistics.median(ratios):.2f}")
    print(f"\n{'engine':<11} {'pages':>6} {'MB':>7} {'wall s':>7} {'rows/s':>10} {'MB/s':>7} {'peak MiB':>9}")
    for r in results:
        print(f"{r['engine']:<11} {r['pages']:>6} {r['mb']:>7.1f} {r['wall']:>7.2f} {r['rows_s']:>10.0f} {r['mb_s']:>7.1f} {r['rss']:>9.0f}")
    largest = max(map(int, args.sizes.split(",")))
    src = workload(cache, largest)
    edited = edited_queries(work)
    default = statistics.median(run_engine("tunestream", src, work, args.python, REPO / "queries")[0] for _ in range(args.pairs))
    custom = statistics.median(run_engine("tunestream", src, work, args.python, edited)[0] for _ in range(args.pairs))
    print(f"\nedited playlist_tracks.sql on {largest} pages: {custom:.2f} s against {default:.2f} s for the default queries")
    plot = REPO / "benches" / "results" / "throughput.svg"
    svg(results, plot)
    print(f"plot: {plot}")
    if args.s3_pairs > 0:
        records_src = workload(cache, args.records_pages)
        s3 = s3_replay(src, records_src, work, args.s3_pairs, Path(args.s3_venv))
        for where, (wall, rss, sent) in s3.items():
            pages = args.records_pages if where.startswith("records") else largest
            mb = (records_src if where.startswith("records") else src).stat().st_size / 1e6
            records = f", {sent / wall:.0f} records/s ({sent:.0f} records)" if sent else ""
            print(f"replay of {pages} pages, {where}: {wall:.2f} s, {mb / wall:.1f} MB/s, peak {rss:.0f} MiB{records} "
                  f"(median of {args.s3_pairs})")
    if args.latency_secs > 0:
        lat = latency(work, args.latency_secs, args.python)
        print(f"latency, page fetch to committed Parquet (flush age 5 s), {lat['rows']} play rows: "
              f"p50 {lat['p50']:.2f} s, p99 {lat['p99']:.2f} s, max {lat['max']:.2f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
