//! `run`'s HTTP server end to end, against an in-process simulator: the feeds as JSON and as
//! server-sent events, `/metrics` parsed by Python's `prometheus_client` and checked against the
//! run's summary, health, and the dashboard in headless Chromium.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tunestream::simulator::{SimConfig, Simulator};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` on 127.0.0.1:`port`: the status and the body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Follows the event stream of `feed`, sending each refresh with the time it arrived.
fn follow(port: u16, feed: &str) -> mpsc::Receiver<(Instant, Value)> {
    let (tx, rx) = mpsc::channel();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /api/feeds/{feed}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    std::thread::spawn(move || {
        // The body is chunked; event lines arrive whole inside chunks, so reading lines and
        // keeping the `data:` ones is enough.
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ")
                && let Ok(event) = serde_json::from_str(data)
                && tx.send((Instant::now(), event)).is_err()
            {
                return;
            }
        }
    });
    rx
}

fn micros(iso: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso.as_str().unwrap()).unwrap().timestamp_micros()
}

fn python(args: &[&str]) -> std::process::Output {
    let python = std::env::var("TUNESTREAM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(python).arg(common::repo().join("tests/tools/dashboard.py")).args(args).output().unwrap()
}

/// The number after `label` on the summary line that starts with it.
fn summary_number(summary: &str, label: &str) -> u64 {
    let line =
        summary.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}: {summary}"));
    line.trim_start()[label.len()..].split_whitespace().next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_events_metrics_and_the_dashboard_follow_a_live_run() {
    if !common::has(&[common::Needs::Python, common::Needs::Chromium]) {
        return;
    }
    // One artist (24 tracks) and short histories: every track played in the test fits the top 20.
    let world = SimConfig { artists: 1, history_limit: 5, plays_per_minute: 12.0, ..SimConfig::default() };
    let sim = Simulator::start(world, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let port = free_port();
    // A JSON-lines sink of the plays only: its rows are counted apart from the lake's.
    let jsonl = dir.path().join("jsonl");
    let extra = format!(
        "[serve]\nlinger_secs = 8\n[feeds]\nmin_refresh_ms = 200\n[[sinks]]\ntype = \"jsonl\"\npath = \"{}\"\ntables = [\"plays\"]\n",
        jsonl.display()
    );
    let config = common::config_with_jobs(&sim, dir.path(), 200_000, &extra);
    let listen = format!("127.0.0.1:{port}");
    let mut child = common::run(&config)
        .args(["--for", "30s", "--listen", &listen])
        .env("RUST_LOG", "tunestream=info")
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (log_tx, log_rx) = mpsc::channel();
    let log_reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = log_tx.send(line);
        }
        all
    });

    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/readyz").is_none_or(|(status, _)| status != 200) {
        if let Some(status) = child.try_wait().unwrap() {
            let log: Vec<String> = log_rx.try_iter().collect();
            panic!("the run ended ({status}) before it was ready:\n{}", log.join("\n"));
        }
        assert!(Instant::now() < deadline, "the server was not ready within 60 s");
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(100)));
    }
    assert_eq!(get(port, "/healthz").map(|(s, _)| s), Some(200));
    let (status, body) = get(port, "/api/feeds/no_such_feed").unwrap();
    assert!(status == 404 && body.contains("no_such_feed"), "{status} {body}");

    // A play the simulator makes from now on reaches the feed's events within a bound: the job
    // pulls every second, the batch is cut, the feeds refresh at most every 200 ms.
    let events = follow(port, "top_tracks");
    let started = chrono::Utc::now().timestamp_millis();
    let newest = || sim.truth().plays().into_iter().filter(|p| p.played_at_ms > started).max();
    common::wait_until("the simulator makes a new play", || newest().is_some());
    let (play, seen) = (newest().unwrap(), Instant::now());
    let (arrived, event) = loop {
        let (at, event) = events.recv_timeout(Duration::from_secs(30)).expect("no refresh within 30 s");
        let covers = micros(&event["watermark"]) >= play.played_at_ms * 1000;
        let listed = event["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["span"] == "1h" && r["track_id"] == play.track_id.as_str());
        if covers && listed {
            break (at, event);
        }
    };
    let delay = arrived.duration_since(seen);
    assert!(delay < Duration::from_secs(5), "the play reached the feed after {delay:?}: {event}");

    let (status, listing) = get(port, "/api/feeds").unwrap();
    let listing: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(status, 200);
    let names: Vec<&str> = listing["feeds"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    for feed in ["top_tracks", "top_artists", "rising_tracks", "listening_clock", "playlist_churn", "new_releases"] {
        assert!(names.contains(&feed), "{feed} missing from {names:?}");
    }

    // The dashboard, in a real browser, shows a track the simulator just played.
    let latest = sim.truth().plays().into_iter().max().unwrap();
    let screenshot = common::repo().join("target/dashboard.png");
    let url = format!("http://127.0.0.1:{port}/");
    let browser = python(&["browser", &url, &latest.track_id, screenshot.to_str().unwrap()]);
    assert!(
        browser.status.success(),
        "browser: {}{}",
        String::from_utf8_lossy(&browser.stdout),
        String::from_utf8_lossy(&browser.stderr)
    );

    // After the run, the server lingers: a last scrape reads the counters the summary prints.
    let lingering = log_rx.iter().any(|line| line.contains("serving its final metrics"));
    assert!(lingering, "the run never reached its linger");
    let scrape = python(&["metrics", &format!("http://127.0.0.1:{port}/metrics")]);
    assert!(scrape.status.success(), "metrics: {}", String::from_utf8_lossy(&scrape.stderr));
    let metrics: Value = serde_json::from_slice(&scrape.stdout).unwrap();
    let output = child.wait_with_output().unwrap();
    let log = log_reader.join().unwrap();
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{summary}\n{log}");
    let metric = |name: &str| metrics[name].as_f64().unwrap_or_else(|| panic!("{name} missing: {metrics}")) as u64;
    assert_eq!(metric("tunestream_pages_total"), summary_number(&summary, "pages"));
    assert_eq!(metric("tunestream_api_requests_total"), summary_number(&summary, "spotify"));
    assert_eq!(metric("tunestream_rejected_lines_total"), summary_number(&summary, "rejected lines"));
    assert_eq!(metric("tunestream_feed_refreshes_total"), summary_number(&summary, "feeds"));
    for table in ["plays", "tracks", "track_artists"] {
        let rows = metric(&format!("tunestream_rows_total{{table=\"{table}\"}}"));
        assert_eq!(rows, summary_number(&summary, table), "{table}");
        assert!(rows > 0, "{table}");
    }
    assert!(metric("tunestream_fetch_to_feed_seconds_count") > 0, "{metrics}");

    // Rows per sink: the lake takes every table, the jsonl sink only the plays, each row of which
    // is a line of its committed files.
    let sink_rows = |sink: &str, table: &str| {
        metrics.get(format!("tunestream_sink_rows_total{{sink=\"{sink}\",table=\"{table}\"}}"))
    };
    let line = summary.lines().find(|l| l.contains("sink rows") && l.contains("jsonl:")).expect("a jsonl sink line");
    let (label, counts) = line.trim_start().trim_start_matches("sink rows").trim().rsplit_once(": ").unwrap();
    let plays = metric("tunestream_rows_total{table=\"plays\"}");
    assert_eq!(counts, format!("{plays} (plays {plays})"), "{line}");
    assert_eq!(sink_rows(label, "plays").and_then(Value::as_f64), Some(plays as f64), "{metrics}");
    assert!(sink_rows(label, "tracks").is_none(), "the jsonl sink took tracks: {metrics}");
    let tracks = metric("tunestream_rows_total{table=\"tracks\"}");
    assert_eq!(sink_rows("lake", "tracks").and_then(Value::as_f64), Some(tracks as f64), "{metrics}");
    let written: usize = std::fs::read_dir(jsonl.join("plays"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .map(|path| std::fs::read_to_string(path).unwrap().lines().count())
        .sum();
    assert_eq!(written as u64, plays, "lines in {}", jsonl.display());
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_is_capped_and_timed_out_and_the_run_keeps_committing() {
    let sim = Simulator::start(SimConfig { plays_per_minute: 120.0, ..SimConfig::default() }, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let port = free_port();
    let config = common::config_with_jobs(&sim, dir.path(), 1_000_000, "[serve]\nmax_connections = 20\n");
    // Few descriptors, as under a small `ulimit -n`: the cap must leave the lake its share.
    let mut command = Command::new("sh");
    command.arg("-c").arg(r#"ulimit -n 128 && exec "$@""#).arg("sh");
    command.arg(common::BIN).arg("--config").arg(&config).arg("run").arg("--for").arg("14s");
    command.arg("--queries").arg(common::repo().join("queries")).arg("--listen").arg(format!("127.0.0.1:{port}"));
    command.env("RUST_LOG", "warn").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let run = command.spawn().unwrap();
    common::wait_until("the server", || get(port, "/healthz").is_some());

    // 300 idle connections: 20 are held, the rest are told 503 and closed.
    let idle: Vec<TcpStream> = (0..300).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    let mut refused = 0;
    for mut stream in idle.iter().skip(20).map(|s| s.try_clone().unwrap()) {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        refused += usize::from(reply.starts_with("HTTP/1.1 503"));
    }
    assert!(refused >= 250, "connections past the cap are answered 503: {refused}");
    // The held ones never sent a request: they are closed once the deadline passes.
    let mut first = idle[0].try_clone().unwrap();
    first.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(first.read(&mut [0; 16]).unwrap_or(0), 0, "a connection that sends nothing is closed");
    assert!(get(port, "/healthz").is_some_and(|(status, _)| status == 200), "freed slots serve again");

    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary_number(&summary, "committed") > 0, "{summary}");
    common::assert_plays_exactly_once(&dir.path().join("lake"), &sim);
    drop(idle);
    sim.stop().await;
}
