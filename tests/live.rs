//! Live pulls over real HTTP against the built-in simulator: every fault mode, the PKCE login
//! and refresh-token rotation, pagination and snapshots, plays against the simulator's truth.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tunestream::decode::Kind;
use tunestream::simulator::{Faults, SIM_CLIENT_ID, SIM_CLIENT_SECRET, SimConfig, Simulator};
use tunestream::source::spotify::client::{Auth, Client, PullError};
use tunestream::source::spotify::pulls::{Page, PullState, pull};
use tunestream::source::spotify::{self, Endpoints, JobConfig, LiveConfig, RetryPolicy};
use tunestream::telemetry::{Counters, SourceCounters};

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        quota_min_backoff: Duration::from_secs(3600),
        timeout: Duration::from_secs(2),
    }
}

fn live_config(sim: &Simulator, state: &Path, policy: RetryPolicy) -> LiveConfig {
    LiveConfig {
        endpoints: Endpoints { api: sim.base_url(), accounts: sim.base_url() },
        client_id: SIM_CLIENT_ID.into(),
        client_secret: Some(SIM_CLIENT_SECRET.into()),
        policy,
        requests_per_second: 1000.0,
        daily_budget: 100_000,
        state_dir: state.to_owned(),
        jobs: Vec::new(),
        auto_login: true,
    }
}

async fn connect(sim: &Simulator, state: &Path, policy: RetryPolicy) -> (Client, Arc<SourceCounters>) {
    let counters = Arc::new(SourceCounters::default());
    let client =
        spotify::connect(&live_config(sim, state, policy), counters.clone(), CancellationToken::new()).unwrap();
    (client, counters)
}

async fn logged_in(sim: &Simulator, state: &Path, user: &str) -> (Client, Arc<SourceCounters>) {
    let (client, counters) = connect(sim, state, policy()).await;
    let job = JobConfig::RecentlyPlayed { user: user.into(), every_secs: 1 };
    spotify::log_in_simulated_users(&client, &[job]).await.unwrap();
    (client, counters)
}

fn tokens(state: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(state.join("tokens.json")).unwrap()).unwrap()
}

async fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config, 0).await.unwrap()
}

fn artist_url(sim: &Simulator) -> String {
    format!("{}/v1/artists/{}", sim.base_url(), sim.truth().artist_ids(1)[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_rate_limit_is_waited_out_and_the_request_succeeds() {
    let faults = Faults { rate_limit_every: 1, rate_limit_retry_after_secs: 1, ..Faults::default() };
    let sim = sim(SimConfig { faults, ..SimConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, counters) = connect(&sim, dir.path(), policy()).await;
    let url = artist_url(&sim);
    // Every request is limited: the client waits each Retry-After, then gives up, bounded.
    let err = client.get(&Auth::App, &url).await.unwrap_err();
    assert!(matches!(err, PullError::Transient { attempts: 4, .. }), "{err}");
    assert_eq!(Counters::get(&counters.rate_limited), 4);
    // Every second request is limited: one wait, then the page.
    sim.set_faults(Faults { rate_limit_every: 2, rate_limit_retry_after_secs: 1, ..Faults::default() });
    let before = sim.requests();
    let fetched = client.get(&Auth::App, &url).await.unwrap();
    assert_eq!(fetched.body["type"], "artist");
    assert!(sim.requests() - before <= 2);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_exceeded_opens_a_persisted_circuit_and_nothing_more_is_sent() {
    let faults = Faults { quota_exceeded_after: 1, quota_retry_after_secs: 4 * 3600, ..Faults::default() };
    let sim = sim(SimConfig { faults, ..SimConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = connect(&sim, dir.path(), policy()).await;
    let url = artist_url(&sim);
    client.get(&Auth::App, &url).await.unwrap();
    let started = std::time::Instant::now();
    let err = client.get(&Auth::App, &url).await.unwrap_err();
    assert!(matches!(&err, PullError::CircuitOpen { reason, .. } if reason == "QUOTA_EXCEEDED"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60), "the client must not wait out a quota 429");
    let sent = sim.requests();
    assert!(matches!(client.get(&Auth::App, &url).await, Err(PullError::CircuitOpen { .. })));
    assert_eq!(sim.requests(), sent, "no request may be sent while the circuit is open");

    // A restart reads the deadline back and still sends nothing.
    let (restarted, _) = connect(&sim, dir.path(), policy()).await;
    let err = restarted.get(&Auth::App, &url).await.unwrap_err();
    let PullError::CircuitOpen { until, .. } = err else { panic!("expected an open circuit, got {err}") };
    let hours = (until - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((3.9..=4.0).contains(&hours), "circuit closes in {hours} h");
    assert_eq!(sim.requests(), sent);
    sim.stop().await;
}

/// Hours from now until `err`'s circuit closes.
fn circuit_hours(err: &PullError) -> f64 {
    let PullError::CircuitOpen { until, .. } = err else { panic!("expected an open circuit, got {err}") };
    (*until - chrono::Utc::now()).num_seconds() as f64 / 3600.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_429_without_a_usable_retry_after_holds_off_for_the_minimum_doubling_on_repeats() {
    for faults in [
        Faults { quota_exceeded_after: 1, quota_without_retry_after: true, ..Faults::default() },
        Faults { quota_exceeded_after: 1, quota_retry_after_secs: 0, ..Faults::default() },
    ] {
        let sim = sim(SimConfig { faults, ..SimConfig::default() }).await;
        let dir = tempfile::tempdir().unwrap();
        let (client, _) = connect(&sim, dir.path(), policy()).await;
        let url = artist_url(&sim);
        client.get(&Auth::App, &url).await.unwrap();
        let err = client.get(&Auth::App, &url).await.unwrap_err();
        let hours = circuit_hours(&err);
        assert!((0.99..=1.0).contains(&hours), "a missing or zero Retry-After holds for the minimum: {hours} h");
        let sent = sim.requests();
        assert!(matches!(client.get(&Auth::App, &url).await, Err(PullError::CircuitOpen { .. })));
        assert_eq!(sim.requests(), sent, "nothing is sent to an exhausted quota");

        // A repeat after the hold doubles it: shorten the first hold by moving the clock of the
        // saved circuit back, as if the hour had passed.
        let account_path = dir.path().join("account.json");
        let mut account: serde_json::Value = serde_json::from_slice(&std::fs::read(&account_path).unwrap()).unwrap();
        account["circuit_until_ms"] = serde_json::json!(chrono::Utc::now().timestamp_millis() - 1);
        std::fs::write(&account_path, account.to_string()).unwrap();
        let (restarted, _) = connect(&sim, dir.path(), policy()).await;
        let hours = circuit_hours(&restarted.get(&Auth::App, &url).await.unwrap_err());
        assert!((1.99..=2.0).contains(&hours), "the second hold doubles: {hours} h");
        sim.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_only_to_the_api_origin() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = connect(&sim, dir.path(), policy()).await;
    let elsewhere = sim.base_url().replace("127.0.0.1", "localhost") + "/v1/artists/x";
    let err = client.get(&Auth::App, &elsewhere).await.unwrap_err();
    assert!(matches!(&err, PullError::ForeignOrigin { .. }), "{err}");
    assert!(err.to_string().contains("does not follow this link"), "{err}");
    assert_eq!(sim.requests(), 0, "nothing was sent");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_slow_and_malformed_responses_are_retried_with_bounded_backoff() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, counters) = connect(&sim, dir.path(), policy()).await;
    let url = artist_url(&sim);
    for (faults, counter) in [
        (Faults { server_error_every: 2, ..Faults::default() }, &counters.server_errors),
        (Faults { malformed_every: 2, ..Faults::default() }, &counters.malformed),
    ] {
        sim.set_faults(faults);
        let before = Counters::get(counter);
        for _ in 0..4 {
            assert_eq!(client.get(&Auth::App, &url).await.unwrap().body["type"], "artist");
        }
        assert!(Counters::get(counter) > before);
    }
    // Slower than the timeout: every attempt times out, and the client stops after max_retries.
    sim.set_faults(Faults { slow_every: 1, slow_ms: 2_500, ..Faults::default() });
    let before = sim.requests();
    let err = client.get(&Auth::App, &url).await.unwrap_err();
    assert!(matches!(err, PullError::Transient { attempts: 4, .. }), "{err}");
    assert_eq!(sim.requests() - before, 4);
    // Every request failing ends in a bounded number of attempts too.
    sim.set_faults(Faults { server_error_every: 1, ..Faults::default() });
    let before = sim.requests();
    assert!(matches!(client.get(&Auth::App, &url).await, Err(PullError::Transient { .. })));
    assert_eq!(sim.requests() - before, 4);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_login_stores_private_tokens_and_an_expired_token_rotates_the_refresh_token() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, counters) = logged_in(&sim, dir.path(), "bob").await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tokens.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let first_refresh = tokens(dir.path())["users"]["bob"]["refresh_token"].as_str().unwrap().to_owned();
    let me = format!("{}/v1/me", sim.base_url());
    assert_eq!(client.get(&Auth::User("bob".into()), &me).await.unwrap().body["id"], "bob");

    sim.set_faults(Faults { expire_token_every: 1, ..Faults::default() });
    let _ = client.get(&Auth::User("bob".into()), &me).await;
    sim.set_faults(Faults::default());
    assert_eq!(client.get(&Auth::User("bob".into()), &me).await.unwrap().body["id"], "bob");
    assert!(Counters::get(&counters.token_refreshes) >= 1);
    let rotated = tokens(dir.path())["users"]["bob"]["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, first_refresh, "the new refresh token must be persisted");

    // The old refresh token is dead: a client that still held it must be refused.
    let form =
        [("grant_type", "refresh_token"), ("refresh_token", first_refresh.as_str()), ("client_id", SIM_CLIENT_ID)];
    let refused =
        reqwest::Client::new().post(format!("{}/api/token", sim.base_url())).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_marks_the_user_for_a_new_login_and_stops_only_that_user() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = logged_in(&sim, dir.path(), "alice").await;
    sim.set_faults(Faults { expire_token_every: 1, revoke_refresh_tokens: true, ..Faults::default() });
    let me = format!("{}/v1/me", sim.base_url());
    let err = client.get(&Auth::User("alice".into()), &me).await.unwrap_err();
    assert!(matches!(&err, PullError::NeedsLogin { user, .. } if user == "alice"), "{err}");
    assert!(err.to_string().contains("tunestream auth login"), "{err}");
    assert!(tokens(dir.path())["users"]["alice"]["needs_login"].as_str().unwrap().contains("invalid_grant"));
    // App-token requests keep working.
    sim.set_faults(Faults::default());
    assert!(client.get(&Auth::App, &artist_url(&sim)).await.is_ok());
    assert!(matches!(client.get(&Auth::User("alice".into()), &me).await, Err(PullError::NeedsLogin { .. })));
    sim.stop().await;
}

fn entries_in(pages: &[Page]) -> usize {
    pages.iter().filter(|p| p.kind == Kind::PlaylistItems).map(|p| p.body["items"].as_array().unwrap().len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_are_read_to_the_end_against_one_snapshot_and_skipped_while_unchanged() {
    let sim = sim(SimConfig { playlist_change_every_secs: 3600, ..SimConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, counters) = logged_in(&sim, dir.path(), "alice").await;
    let job = JobConfig::UserPlaylists { user: "alice".into(), every_secs: 60 };
    let mut state = PullState::default();
    let mut pages = Vec::new();
    let report = pull(&client, &job, &mut state, &mut pages).await.unwrap();
    assert!(report.failed.is_empty() && report.skipped.is_empty(), "{report:?}");
    let truth: Vec<_> =
        sim.truth().playlists().into_iter().filter(|p| state.snapshots.contains_key(&p.playlist_id)).collect();
    assert_eq!(truth.len(), 3);
    assert_eq!(entries_in(&pages), truth.iter().map(|p| p.uris.len()).sum::<usize>(), "every entry, over every page");
    let expected_pages: usize = truth.iter().map(|p| p.uris.len().div_ceil(50)).sum();
    assert_eq!(pages.iter().filter(|p| p.kind == Kind::PlaylistItems).count(), expected_pages, "50 entries a page");
    for p in &truth {
        assert_eq!(state.snapshots[&p.playlist_id], p.snapshot_id);
    }
    assert!(pages.iter().all(|p| p.snapshot_id.is_some()));

    // Nothing changed: one listing request, no playlist read.
    let before = Counters::get(&counters.requests);
    let mut again = Vec::new();
    let report = pull(&client, &job, &mut state, &mut again).await.unwrap();
    assert!(again.is_empty());
    assert_eq!(report.unchanged_playlists, 3);
    assert_eq!(Counters::get(&counters.requests) - before, 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_edited_mid_read_is_read_again_and_forbidden_or_missing_ones_are_skipped() {
    // An extended-quota app: one whose app token may read any public playlist's entries.
    let faults = Faults { edit_during_read: true, ..Faults::default() };
    let mode = tunestream::simulator::AppMode::Extended;
    let sim = sim(SimConfig { playlist_change_every_secs: 3600, faults, mode, ..SimConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = connect(&sim, dir.path(), policy()).await;
    let truth_before = sim.truth().playlists();
    let big = truth_before.iter().find(|p| p.uris.len() > 50).expect("a playlist longer than one page");
    let bob_private = truth_before.last().unwrap().playlist_id.clone();
    let ids = vec![big.playlist_id.clone(), "0000000000000000000000".into(), bob_private];
    let job = JobConfig::Playlists { ids, every_secs: 60 };
    let mut state = PullState::default();
    let mut pages = Vec::new();
    let report = pull(&client, &job, &mut state, &mut pages).await.unwrap();
    let after = sim.truth().playlists().into_iter().find(|p| p.playlist_id == big.playlist_id).unwrap();
    assert_ne!(after.snapshot_id, big.snapshot_id, "the fault edited the playlist");
    assert_eq!(state.snapshots[&big.playlist_id], after.snapshot_id, "the read restarted on the new snapshot");
    assert_eq!(entries_in(&pages), after.uris.len());
    assert!(pages.iter().all(|p| p.snapshot_id.as_deref() == Some(after.snapshot_id.as_str())));
    assert_eq!(report.skipped.len(), 2, "{report:?}");
    assert!(report.skipped.iter().any(|s| s.contains("404")) && report.skipped.iter().any(|s| s.contains("403")));
    // The refused playlists are remembered: the next pull sends no request for them.
    assert_eq!(state.unavailable.len(), 2);
    let job = JobConfig::Playlists {
        ids: state.unavailable.keys().map(|k| k.trim_start_matches("playlist ").to_owned()).collect(),
        every_secs: 60,
    };
    let before = sim.requests();
    let report = pull(&client, &job, &mut state, &mut Vec::new()).await.unwrap();
    assert_eq!(sim.requests(), before);
    assert_eq!(report.skipped.len(), 2);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recently_played_resumes_from_its_cursor_without_duplicates_and_warns_of_gaps() {
    let sim = sim(SimConfig { plays_per_minute: 600.0, history_limit: 50, ..SimConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = logged_in(&sim, dir.path(), "alice").await;
    let job = JobConfig::RecentlyPlayed { user: "alice".into(), every_secs: 1 };
    let mut state = PullState::default();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut pages = Vec::new();
        let report = pull(&client, &job, &mut state, &mut pages).await.unwrap();
        assert_eq!(report.gaps, 0);
        for page in &pages {
            assert_eq!(page.user_id.as_deref(), Some("alice"));
            seen.extend(
                page.body["items"].as_array().unwrap().iter().map(|i| i["played_at"].as_str().unwrap().to_owned()),
            );
        }
        // The next pull has something new to resume to.
        let cursor = state.played_cursor["alice"];
        common::wait_until("a new play of alice", || plays_after(&sim, "alice", cursor) > 0);
    }
    let mut seen: Vec<i64> =
        seen.iter().map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis()).collect();
    let pulled = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), pulled, "no play is pulled twice");
    assert!(pulled >= 50, "the first pull reaches back as far as Spotify keeps ({pulled})");
    // From the oldest play the first pull reached up to the cursor, every play is there.
    let cursor = state.played_cursor["alice"];
    let truth: Vec<i64> = sim
        .truth()
        .plays()
        .into_iter()
        .filter(|p| p.user_id == "alice" && p.played_at_ms >= seen[0] && p.played_at_ms <= cursor)
        .map(|p| p.played_at_ms)
        .collect();
    assert_eq!(seen, truth);

    // More new plays than the 50 Spotify keeps: a gap is reported.
    let cursor = state.played_cursor["alice"];
    common::wait_until("more plays than Spotify keeps", || plays_after(&sim, "alice", cursor) > 50);
    let report = pull(&client, &job, &mut state, &mut Vec::new()).await.unwrap();
    assert_eq!(report.gaps, 1);
    sim.stop().await;
}

/// How many plays of `user` the simulated world holds after `cursor_ms`.
fn plays_after(sim: &Simulator, user: &str, cursor_ms: i64) -> usize {
    sim.truth().plays().into_iter().filter(|p| p.user_id == user && p.played_at_ms > cursor_ms).count()
}

fn lines(pages: &[Page]) -> String {
    pages.iter().map(|p| p.to_line()).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_app_modes_serve_their_2026_shapes_and_every_page_decodes() {
    use tunestream::simulator::AppMode;
    for mode in [AppMode::Development, AppMode::Extended] {
        let sim = sim(SimConfig { mode, ..SimConfig::default() }).await;
        let dir = tempfile::tempdir().unwrap();
        let (client, _) = logged_in(&sim, dir.path(), "alice").await;
        let jobs = [
            JobConfig::UserPlaylists { user: "alice".into(), every_secs: 1 },
            JobConfig::RecentlyPlayed { user: "alice".into(), every_secs: 1 },
            JobConfig::FollowedArtists { user: "alice".into(), every_secs: 1 },
            JobConfig::Search {
                queries: vec!["love".into()],
                types: vec!["track".into(), "artist".into()],
                every_secs: 1,
            },
            JobConfig::Artists { ids: sim.truth().artist_ids(2), albums: true, every_secs: 1 },
        ];
        let mut pages = Vec::new();
        for job in &jobs {
            let report = pull(&client, job, &mut PullState::default(), &mut pages).await.unwrap();
            assert!(report.failed.is_empty(), "{mode:?} {report:?}");
        }
        let kinds: std::collections::BTreeSet<Kind> = pages.iter().map(|p| p.kind).collect();
        assert_eq!(kinds.len(), 7, "{mode:?}: {kinds:?}");

        let text = lines(&pages);
        let extended = mode == AppMode::Extended;
        assert_eq!(text.contains("\"popularity\""), extended, "{mode:?}");
        assert_eq!(text.contains("\"available_markets\""), extended, "{mode:?}");
        assert_eq!(text.contains("\"genres\""), extended, "{mode:?}");
        // 2026 development-mode entries carry the payload under `item` and `track` alike.
        let entry_keys: Vec<(bool, bool)> = pages
            .iter()
            .filter(|p| p.kind == Kind::PlaylistItems)
            .flat_map(|p| p.body["items"].as_array().unwrap().clone())
            .filter(|e| !e.is_null())
            .map(|e| (e.get("item").is_some(), e["track"] == e.get("item").cloned().unwrap_or(e["track"].clone())))
            .collect();
        assert!(!entry_keys.is_empty(), "{mode:?}");
        assert!(entry_keys.iter().all(|&(item, same)| item != extended && same), "{mode:?}");
        let search = pages.iter().find(|p| p.kind == Kind::Search).unwrap();
        assert!(search.body["tracks"]["items"].as_array().unwrap().len() <= 10);

        let file = Arc::new(tunestream::source::SourceFile { path: "sim".into(), modified_micros: 0, kind: None });
        let decoded = tunestream::decode::decode_batch(
            tunestream::source::PageBatch::from_text(file, &text),
            &tunestream::decode::ReadSchemas::full(),
        )
        .unwrap();
        assert!(decoded.rejects.is_empty(), "{mode:?}: {:?}", decoded.rejects.first().map(|r| &r.error));
        assert_eq!(decoded.pages, pages.len());
        sim.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_service_refuses_localhost_redirects_and_batch_endpoints_are_gone() {
    let sim = sim(SimConfig::default()).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = |redirect: &str| {
        format!(
            "{}/authorize?client_id={SIM_CLIENT_ID}&response_type=code&code_challenge_method=S256&code_challenge=abc&redirect_uri={redirect}",
            sim.base_url()
        )
    };
    let refused = http.get(authorize("http://localhost:8888/callback")).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("Insecure redirect URI"));
    let accepted = http.get(authorize("http://127.0.0.1:8888/callback")).send().await.unwrap();
    assert_eq!(accepted.status(), 303);
    assert!(accepted.headers()["location"].to_str().unwrap().starts_with("http://127.0.0.1:8888/callback?code="));

    let dir = tempfile::tempdir().unwrap();
    let (client, _) = connect(&sim, dir.path(), policy()).await;
    let ids = sim.truth().artist_ids(2).join(",");
    let several = client.get(&Auth::App, &format!("{}/v1/artists?ids={ids}", sim.base_url())).await;
    assert!(matches!(several, Err(PullError::Unavailable { status: 404, .. })));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artist_lands_with_its_albums_paged_by_ten_and_a_failed_album_page_drops_nothing() {
    let sim = sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = connect(&sim, dir.path(), policy()).await;
    let ids = sim.truth().artist_ids(2);
    let job = JobConfig::Artists { ids: ids.clone(), albums: true, every_secs: 60 };
    let mut pages = Vec::new();
    let report = pull(&client, &job, &mut PullState::default(), &mut pages).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(pages.iter().filter(|p| p.kind == Kind::Artist).count(), 2);
    let album_pages: Vec<&Page> = pages.iter().filter(|p| p.kind == Kind::ArtistAlbums).collect();
    assert_eq!(album_pages.len(), 2);
    assert!(album_pages.iter().all(|p| p.url.contains("limit=10") && !p.body["items"].as_array().unwrap().is_empty()));
    assert!(sim.request_log().iter().all(|r| r.status == 200), "{:?}", sim.request_log());

    // The first artist's albums fail every time: its artist page still lands, the failure names
    // the URL, and the second artist is read in full.
    let failing = format!("/v1/artists/{}/albums", ids[0]);
    sim.set_faults(Faults { always_failing: vec![failing.clone()], ..Faults::default() });
    let mut pages = Vec::new();
    let report = pull(&client, &job, &mut PullState::default(), &mut pages).await.unwrap();
    let artists: Vec<&str> =
        pages.iter().filter(|p| p.kind == Kind::Artist).map(|p| p.body["id"].as_str().unwrap()).collect();
    assert_eq!(artists, [ids[0].as_str(), ids[1].as_str()], "both artists land");
    assert_eq!(pages.iter().filter(|p| p.kind == Kind::ArtistAlbums).count(), 1, "the second artist's albums");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].contains(&failing) && report.failed[0].contains("limit=10"), "{}", report.failed[0]);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playlist_whose_entries_are_refused_lands_its_metadata_and_rests_its_entries() {
    let sim = sim(SimConfig { playlist_change_every_secs: 3600, ..SimConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, counters) = connect(&sim, dir.path(), policy()).await;
    let truth = sim.truth().playlists();
    // bob's first playlist: public, not collaborative; the app's token owns nothing.
    let bobs = truth[truth.len() / 2].clone();
    let job = JobConfig::Playlists { ids: vec![bobs.playlist_id.clone()], every_secs: 60 };
    let mut state = PullState::default();
    let mut pages = Vec::new();
    let report = pull(&client, &job, &mut state, &mut pages).await.unwrap();
    assert_eq!(report.metadata_only, [format!("playlist {}", bobs.playlist_id)], "{report:?}");
    assert!(report.skipped.is_empty() && report.failed.is_empty(), "{report:?}");
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].kind, Kind::Playlist);
    assert_eq!(pages[0].snapshot_id.as_deref(), Some(bobs.snapshot_id.as_str()));
    assert!(pages[0].body["name"].is_string());
    assert!(state.unavailable.contains_key(&format!("playlist {} entries", bobs.playlist_id)), "{state:?}");

    // Unchanged: one request for the object, none for the entries.
    let before = tunestream::telemetry::Counters::get(&counters.requests);
    let mut again = Vec::new();
    let report = pull(&client, &job, &mut state, &mut again).await.unwrap();
    assert_eq!(tunestream::telemetry::Counters::get(&counters.requests) - before, 1);
    assert!(again.is_empty() && report.unchanged_playlists == 1, "{report:?}");

    // Changed: the new metadata lands, still without asking for the resting entries.
    state.snapshots.clear();
    let log_before = sim.request_log().len();
    let mut changed = Vec::new();
    let report = pull(&client, &job, &mut state, &mut changed).await.unwrap();
    assert_eq!(report.metadata_only.len(), 1);
    assert_eq!(changed.len(), 1);
    assert!(sim.request_log()[log_before..].iter().all(|r| !r.path.ends_with("/items")));
    sim.stop().await;
}
