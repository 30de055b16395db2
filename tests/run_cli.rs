//! End to end: the built `tunestream run` against the simulator, killed mid-run and restarted,
//! must leave every play exactly once in the lake; `plan` and the budget gate.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{interrupt, lake_plays, repo, requests_sent, run, wait_until};
use tunestream::simulator::{SimConfig, Simulator};

async fn log_in(sim: &Simulator, dir: &Path) {
    common::log_in(sim, dir, &["alice", "bob"]).await;
}

fn config_for(sim: &Simulator, dir: &Path, budget: u32) -> PathBuf {
    common::config_with_jobs(sim, dir, budget, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_and_restarted_has_every_play_exactly_once() {
    let sim = Simulator::start(SimConfig { plays_per_minute: 120.0, ..SimConfig::default() }, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    log_in(&sim, dir.path()).await;
    let config = config_for(&sim, dir.path(), 1_000_000);

    let mut first = run(&config).spawn().unwrap();
    wait_until("a first commit", || !lake_plays(&dir.path().join("lake")).is_empty());
    first.kill().unwrap(); // SIGKILL: no drain, no final commit
    first.wait().unwrap();
    let after_kill = lake_plays(&dir.path().join("lake")).len();

    let second = run(&config).arg("--for").arg("6s").output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "restart failed: {stderr}");
    let summary = String::from_utf8_lossy(&second.stdout);
    assert!(summary.contains("spotify") && summary.contains("plays"), "{summary}");

    let plays = lake_plays(&dir.path().join("lake"));
    assert!(plays.len() > after_kill, "the restarted run added plays ({after_kill} before)");
    common::assert_plays_exactly_once(&dir.path().join("lake"), &sim);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_over_the_daily_budget_is_refused_unless_forced() {
    let sim = Simulator::start(SimConfig::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    log_in(&sim, dir.path()).await;
    // Two jobs every second: 172,800 requests a day against a budget of 1,000.
    let config = config_for(&sim, dir.path(), 1000);

    let plan = common::bin().arg("--config").arg(&config).arg("plan").output().unwrap();
    let table = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success());
    assert!(
        table.contains("recently_played(alice)") && table.contains("172800") && table.contains("OVER BUDGET"),
        "{table}"
    );

    assert!(!table.contains("circuit"), "{table}");

    // With the account's circuit open (a QUOTA_EXCEEDED), the plan says when pulls resume.
    let until = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let account =
        serde_json::json!({"circuit_until_ms": until, "circuit_reason": "QUOTA_EXCEEDED", "requests_by_hour": {}});
    std::fs::write(dir.path().join("state/account.json"), account.to_string()).unwrap();
    let plan = common::bin().arg("--config").arg(&config).arg("plan").output().unwrap();
    let table = String::from_utf8_lossy(&plan.stdout);
    assert!(table.contains("circuit is open until") && table.contains("QUOTA_EXCEEDED"), "{table}");
    std::fs::remove_file(dir.path().join("state/account.json")).unwrap();

    let before = sim.requests();
    let refused = run(&config).arg("--for").arg("1s").output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("daily budget") && stderr.contains("--force"), "{stderr}");
    assert_eq!(sim.requests(), before, "a refused plan sends nothing");

    let forced = run(&config).arg("--force").spawn().unwrap();
    wait_until("a forced run's first request", || sim.requests() > before);
    let forced = interrupt(forced);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    sim.stop().await;
}

/// A live run in `dir` that has pulled both users' plays, its files aging for 60 s: only a drain
/// on a signal can have committed them.
async fn run_with_plays_in_flight(dir: &Path) -> (Simulator, std::process::Child) {
    let sim = Simulator::start(SimConfig { plays_per_minute: 120.0, ..SimConfig::default() }, 0).await.unwrap();
    log_in(&sim, dir).await;
    let config = config_for(&sim, dir, 1_000_000);
    let mut command = run(&config);
    command.env("TUNESTREAM__LAKE__MAX_FILE_AGE_SECS", "60");
    let child = command.spawn().unwrap();
    wait_until("both users' plays pulled", || requests_sent(dir) >= 6);
    (sim, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_commits_the_state_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, child) = run_with_plays_in_flight(dir.path()).await;
    let out = interrupt(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plays = lake_plays(&dir.path().join("lake"));
    assert!(!plays.is_empty(), "the drain committed the plays in flight");
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state/checkpoint.json")).unwrap()).unwrap();
    let newest_alice = plays.iter().filter(|(u, _)| u == "alice").map(|(_, t)| *t).max().unwrap();
    assert_eq!(checkpoint["played_cursor"]["alice"], newest_alice, "the saved cursor is the newest committed play");

    // The raw landing zone holds every page: replaying it rebuilds the same plays.
    let replayed = dir.path().join("replayed");
    let out = common::bin()
        .arg("replay")
        .arg(dir.path().join("lake/_raw"))
        .arg("--lake")
        .arg(&replayed)
        .arg("--queries")
        .arg(repo().join("queries"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sorted = |mut v: Vec<(String, i64)>| {
        v.sort();
        v
    };
    assert_eq!(sorted(lake_plays(&replayed)), sorted(plays), "replaying _raw gives the same plays");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_prints_the_url_receives_the_loopback_redirect_and_stores_tokens() {
    use std::io::BufRead;
    let sim = Simulator::start(SimConfig::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&sim, dir.path(), 1000);
    let mut child = common::bin()
        .arg("--config")
        .arg(&config)
        .args(["auth", "login", "--user", "bob", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    let mut printed = String::new();
    while url.is_empty() {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no authorize URL printed: {printed}");
        printed.push_str(&line);
        if line.trim_start().starts_with(&sim.base_url()) {
            url = line.trim().to_owned();
        }
    }
    assert!(printed.contains("http://127.0.0.1:") && url.contains("code_challenge_method=S256"), "{printed}");
    // The person opening the URL: the simulator approves and redirects to the loopback listener.
    reqwest::get(&url).await.unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("logged in as bob"), "{rest}");
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state/tokens.json")).unwrap()).unwrap();
    assert!(tokens["users"]["bob"]["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_login_stops_only_that_users_jobs_and_the_summary_says_so() {
    use tunestream::simulator::Faults;
    let sim = Simulator::start(SimConfig::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    log_in(&sim, dir.path()).await;
    let search = "[[jobs]]\ntype = \"search\"\nqueries = [\"love\"]\nevery_secs = 1\n";
    let config = common::config_with_jobs(&sim, dir.path(), 1_000_000, search);
    // Every second request finds its access token expired and every refresh is refused: user
    // tokens die, while client-credentials tokens are simply fetched again.
    sim.set_faults(Faults { expire_token_every: 2, revoke_refresh_tokens: true, ..Faults::default() });
    let child = run(&config).spawn().unwrap();
    let tokens_file = dir.path().join("state/tokens.json");
    wait_until("both users marked for a new login", || {
        let tokens: serde_json::Value =
            std::fs::read(&tokens_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        ["alice", "bob"].iter().all(|u| tokens["users"][u]["needs_login"].is_string())
    });
    let out = interrupt(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    for user in ["alice", "bob"] {
        assert!(summary.contains(&format!("recently_played({user}): user {user} must log in again")), "{summary}");
    }
    assert!(!summary.contains("search(1):"), "the search job must keep working: {summary}");
    assert!(summary.contains("    tracks "), "search results reached the lake: {summary}");
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state/tokens.json")).unwrap()).unwrap();
    assert!(tokens["users"]["alice"]["needs_login"].is_string());
    sim.stop().await;
}

#[test]
fn the_embedded_demo_runs_and_a_second_run_resumes_where_the_first_stopped() {
    let dir = tempfile::tempdir().unwrap();
    // Each run lasts until both users' plays were pulled at least once more (two requests each,
    // plus the first job of the next user), then stops on SIGINT as Ctrl-C would.
    let demo = || {
        let before = requests_sent(dir.path());
        let child = common::bin()
            .args(["run", "--queries"])
            .arg(repo().join("queries"))
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            // Faster listening than the demo's, so that each run surely sees new plays.
            .env("TUNESTREAM__SIMULATOR__PLAYS_PER_MINUTE", "120")
            .env_remove("TUNESTREAM_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("both users' plays pulled", || requests_sent(dir.path()) >= before + 6);
        let out = interrupt(child);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (first, _) = demo();
    assert!(first.contains("    plays ") && dir.path().join("lake/plays").is_dir(), "{first}");
    let plays_before = lake_plays(&dir.path().join("lake"));
    // The simulator restarts with the run but keeps its world and tokens in the state directory:
    // the second run logs nobody out, finds no gap, and adds plays without repeating any.
    let (second, stderr) = demo();
    assert!(!stderr.contains("log in again") && !second.contains("log in again"), "{stderr}\n{second}");
    assert!(second.contains("possible play gaps 0"), "{second}");
    let plays = lake_plays(&dir.path().join("lake"));
    assert!(plays.len() > plays_before.len());
    let unique: BTreeSet<&(String, i64)> = plays.iter().collect();
    assert_eq!(unique.len(), plays.len(), "a play is in the lake twice");
}

/// Every (position, uri) of `playlist` in the lake, duplicates kept.
fn lake_entries(lake: &Path, playlist: &str) -> Vec<(i64, String)> {
    use arrow::array::AsArray;
    let mut entries = Vec::new();
    for batch in common::read_table(lake, "playlist_tracks") {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let (ids, positions, uris) = (column("playlist_id"), column("position"), column("track_uri"));
        for i in 0..batch.num_rows() {
            if ids.as_string::<i32>().value(i) == playlist {
                let position = positions.as_primitive::<arrow::datatypes::Int64Type>().value(i);
                entries.push((position, uris.as_string::<i32>().value(i).to_owned()));
            }
        }
    }
    entries.sort();
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_never_decodes_is_set_aside_and_the_run_moves_past_it() {
    // An extended-quota app, whose app token reads any public playlist's entries (by `/tracks`).
    let mode = tunestream::simulator::AppMode::Extended;
    let sim = Simulator::start(SimConfig { playlist_change_every_secs: 1_000_000, mode, ..SimConfig::default() }, 0)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    log_in(&sim, dir.path()).await;
    let longest = sim.truth().playlists().into_iter().max_by_key(|p| p.uris.len()).unwrap();
    assert!(longest.uris.len() > 50, "a playlist of more than one page");
    // Its second page of entries always comes back truncated.
    let faults = tunestream::simulator::Faults {
        always_malformed: vec![format!("/v1/playlists/{}/tracks?offset=50", longest.playlist_id)],
        ..Default::default()
    };
    sim.set_faults(faults);
    let job = format!("[[jobs]]\ntype = \"playlists\"\nids = [\"{}\"]\nevery_secs = 1\n", longest.playlist_id);
    let config = common::config_with_jobs(&sim, dir.path(), 1_000_000, &job);
    let lake = dir.path().join("lake");
    // Retries of the bad page within the run's few seconds.
    let run = |config: &Path| {
        let mut command = run(config);
        command.env("TUNESTREAM__SPOTIFY__BACKOFF_BASE_MS", "10").env("TUNESTREAM__SPOTIFY__BACKOFF_MAX_MS", "20");
        command
    };

    let first = tokio::task::block_in_place(|| run(&config).args(["--force", "--for", "3s"]).output().unwrap());
    let summary = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(summary.contains("unreadable pages set aside 1"), "{summary}");
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(log.contains("offset=50") && log.contains("set aside in the rejected output"), "{log}");
    // The page is in the rejected output with its URL and job; every other entry is in the lake.
    let rejected = common::rejected_records(&lake);
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0]["record"].as_str().unwrap().contains("offset=50"), "{}", rejected[0]);
    assert!(rejected[0]["source"].as_str().unwrap().starts_with("spotify/playlists"), "{}", rejected[0]);
    assert!(!rejected[0]["error"].as_str().unwrap().is_empty());
    let expected: Vec<(i64, String)> = longest
        .uris
        .iter()
        .enumerate()
        .filter(|(i, _)| !(50..100).contains(i))
        .filter_map(|(i, uri)| Some((i as i64, uri.clone()?)))
        .collect();
    assert_eq!(lake_entries(&lake, &longest.playlist_id), expected, "the pages around it are read");

    // A restart moves on: the playlist is not read again and nothing more is set aside.
    let again = tokio::task::block_in_place(|| run(&config).args(["--force", "--for", "2s"]).output().unwrap());
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("unreadable pages set aside 0"));
    assert_eq!(common::rejected_records(&lake).len(), 1);
    assert_eq!(lake_entries(&lake, &longest.playlist_id), expected);
    common::assert_plays_exactly_once(&lake, &sim);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_mode_run_lands_an_artists_albums_and_a_playlist_the_user_does_not_own() {
    use arrow::array::{Array, AsArray};
    let config = SimConfig { playlist_change_every_secs: 3600, ..SimConfig::default() };
    let sim = Simulator::start(config, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    log_in(&sim, dir.path()).await;
    let artists = sim.truth().artist_ids(2);
    let truth = sim.truth().playlists();
    let bobs = truth[truth.len() / 2].clone();
    let jobs = format!(
        "[[jobs]]\ntype = \"artists\"\nids = {artists:?}\nevery_secs = 3600\n\
         [[jobs]]\ntype = \"playlists\"\nids = [\"{}\"]\nevery_secs = 3600\n",
        bobs.playlist_id
    );
    let config = common::config_with_jobs(&sim, dir.path(), 1_000_000, &jobs);
    let out = run(&config).arg("--for").arg("4s").output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(summary.contains("playlists with entries refused (metadata only) 1"), "{summary}");
    assert!(sim.request_log().iter().all(|r| r.status != 400), "a request out of bounds");

    let lake = dir.path().join("lake");
    let column = |table: &str, name: &str| -> Vec<Option<String>> {
        common::read_table(&lake, table)
            .iter()
            .flat_map(|b| {
                let c =
                    arrow::compute::cast(b.column_by_name(name).unwrap(), &arrow::datatypes::DataType::Utf8).unwrap();
                let c = c.as_string::<i32>().clone();
                (0..c.len()).map(move |i| c.is_valid(i).then(|| c.value(i).to_owned())).collect::<Vec<_>>()
            })
            .collect()
    };
    let landed_artists: BTreeSet<String> = column("artists", "artist_id").into_iter().flatten().collect();
    assert!(artists.iter().all(|a| landed_artists.contains(a)), "{artists:?} in {landed_artists:?}");
    // Every album of the artists is in the lake, paged ten at a time.
    let landed_albums: BTreeSet<String> = column("albums", "album_id").into_iter().flatten().collect();
    let albums: Vec<String> = artists.iter().flat_map(|a| sim.truth().album_ids(a)).collect();
    assert!(!albums.is_empty() && albums.iter().all(|a| landed_albums.contains(a)), "{albums:?} in {landed_albums:?}");
    let album_pages = sim.request_log().into_iter().filter(|r| r.path.ends_with("/albums")).collect::<Vec<_>>();
    assert!(album_pages.iter().all(|r| r.query.contains("limit=10") && r.status == 200), "{album_pages:?}");
    // The playlist bob owns lands its row at its snapshot, without entries (total_items null).
    let ids = column("playlists", "playlist_id");
    let snapshots = column("playlists", "snapshot_id");
    let totals = column("playlists", "total_items");
    let row = ids.iter().position(|id| id.as_deref() == Some(bobs.playlist_id.as_str())).expect("the playlist's row");
    assert_eq!(snapshots[row].as_deref(), Some(bobs.snapshot_id.as_str()));
    assert_eq!(totals[row], None);
    assert!(!column("playlist_tracks", "playlist_id").contains(&Some(bobs.playlist_id.clone())));
    common::assert_plays_exactly_once(&lake, &sim);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_nested_in_or_around_a_live_runs_lake_is_refused_and_the_live_run_goes_on() {
    let sim = Simulator::start(SimConfig::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    log_in(&sim, dir.path()).await;
    let config = config_for(&sim, dir.path(), 1_000_000);
    let live = run(&config).arg("--for").arg("8s").spawn().unwrap();
    let lake = dir.path().join("lake");
    wait_until("the live run's lake is locked", || {
        std::fs::read_to_string(lake.join(".tunestream.lock")).is_ok_and(|pid| pid.trim() == live.id().to_string())
    });
    let sample = repo().join("samples/spotify_pages.ndjson");
    let nested: [(&str, PathBuf); 3] =
        [("--raw", lake.join("_raw")), ("--lake", lake.join("plays")), ("--lake", dir.path().to_owned())];
    for (flag, path) in nested {
        let mut replay = common::bin();
        replay.arg("replay").arg(&sample).arg("--queries").arg(repo().join("queries"));
        replay.arg("--state-dir").arg(dir.path().join("replay-state"));
        if flag == "--raw" {
            replay.arg("--lake").arg(dir.path().join("rebuilt"));
        }
        let out = replay.arg(flag).arg(&path).env("RUST_LOG", "warn").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {}: {stderr}", path.display());
        assert!(stderr.contains(&format!("pid {}", live.id())) && stderr.contains("nested"), "{stderr}");
    }
    let out = interrupt_after(live, Duration::from_secs(60));
    assert!(out.status.success(), "the live run was not disturbed: {}", String::from_utf8_lossy(&out.stderr));
    common::assert_plays_exactly_once(&lake, &sim);
    sim.stop().await;
}

/// Waits for `child` to exit by itself, or kills it after `limit`.
fn interrupt_after(child: std::process::Child, limit: Duration) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_drains_commits_and_prints_the_summary_like_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, child) = run_with_plays_in_flight(dir.path()).await;
    common::signal(&child, "-HUP");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("committed"), "the summary is printed");
    assert!(!lake_plays(&dir.path().join("lake")).is_empty(), "the drain committed the plays in flight");
    sim.stop().await;
}
