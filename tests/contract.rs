//! The simulator held to Spotify's published Web API contract, mechanically: every request the
//! client makes stays inside the description's parameter bounds, every simulator answer validates
//! against the description's response schema (apart from the development-mode removals listed
//! below), and a request out of bounds is refused as Spotify refuses it.
//!
//! The contract is `tests/reference/spotify-contract.json`, derived from the OpenAPI description
//! by `scripts/derive_spotify_contract.py` (source, commit, date and licence inside it).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tunestream::simulator::{AppMode, LoggedRequest, SIM_CLIENT_ID, SIM_CLIENT_SECRET, SimConfig, Simulator, bounds};
use tunestream::source::spotify::client::{Auth, Client, PullError};
use tunestream::source::spotify::pulls::{Page, PullState, pull};
use tunestream::source::spotify::{self, Endpoints, JobConfig, LiveConfig, RetryPolicy};
use tunestream::telemetry::SourceCounters;

fn contract() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/spotify-contract.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Fields the description still requires that Spotify stopped sending to development-mode apps.
/// Each is a deliberate removal, not a simulator gap:
const REMOVED_IN_DEVELOPMENT_MODE: [&str; 6] = [
    // "Web API changes for development mode", Spotify developer blog and changelog, 2024-11-27:
    // popularity, followers and available markets are no longer returned.
    "popularity",
    "followers",
    "available_markets",
    // Same notice: linked_from (track relinking) and label left with them.
    "linked_from",
    "label",
    // February 2026 migration guide for development mode: genres are no longer returned.
    "genres",
];

/// Fields Spotify sends as `null` though the description does not mark them nullable. Each is
/// null in real recorded bodies.
const NULL_IN_PRACTICE: [&str; 6] = [
    // A playlist entry whose track or episode left the catalog keeps its place with no payload.
    "item",
    "track",
    // Previews were switched off for new apps on 2024-11-27.
    "preview_url",
    "audio_preview_url",
    // A play started outside an album, playlist or artist page has no context.
    "context",
    // The last page of a cursor-paged list (recently played, followed artists) links nowhere.
    "next",
];

/// Which described endpoint a request path is, with the description's path.
fn endpoint_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches("/v1").split('/').filter(|s| !s.is_empty()).collect();
    Some(match segments.as_slice() {
        ["me"] => "/me",
        ["me", "playlists"] => "/me/playlists",
        ["me", "player", "recently-played"] => "/me/player/recently-played",
        ["me", "following"] => "/me/following",
        ["playlists", _] => "/playlists/{playlist_id}",
        ["playlists", _, "items"] => "/playlists/{playlist_id}/items",
        ["playlists", _, "tracks"] => "/playlists/{playlist_id}/tracks",
        ["tracks", _] => "/tracks/{id}",
        ["albums", _] => "/albums/{id}",
        ["artists", _] => "/artists/{id}",
        ["artists", _, "albums"] => "/artists/{id}/albums",
        ["search"] => "/search",
        _ => return None,
    })
}

/// What is wrong with `value` under `schema`, each problem with its path.
///
/// A local file (`"is_local": true`) is checked for types only: Spotify sends it with null ids,
/// links and album fields, and without the album's `total_tracks`, whatever the description says.
fn violations(value: &Value, schema: &Value, path: &str, mode: AppMode, out: &mut Vec<String>) {
    if value["is_local"] == json!(true) {
        let mut problems = Vec::new();
        violations_in(value, schema, path, mode, true, &mut problems);
        out.extend(problems);
    } else {
        violations_in(value, schema, path, mode, false, out);
    }
}

fn violations_in(value: &Value, schema: &Value, path: &str, mode: AppMode, local: bool, out: &mut Vec<String>) {
    let name = path.rsplit(['.', '[']).next().unwrap_or(path);
    if value.is_null() && local {
        return;
    }
    if value.is_null() {
        if schema["nullable"] != json!(true) && !NULL_IN_PRACTICE.contains(&name) {
            out.push(format!("{path}: null, but the description does not allow null"));
        }
        return;
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = |option: &Value| {
            let mut problems = Vec::new();
            violations_in(value, option, path, mode, local, &mut problems);
            problems
        };
        let tried: Vec<Vec<String>> = options.iter().map(fits).collect();
        if !tried.iter().any(Vec::is_empty) {
            out.push(format!("{path}: fits none of oneOf: {tried:?}"));
        }
        return;
    }
    let fits_type = match schema["type"].as_str() {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    };
    if !fits_type {
        out.push(format!("{path}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        out.push(format!("{path}: {n} is below the minimum {min}"));
    }
    if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), value.as_f64())
        && n > max
    {
        out.push(format!("{path}: {n} is above the maximum {max}"));
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let removed = mode == AppMode::Development && REMOVED_IN_DEVELOPMENT_MODE.contains(&key);
            if !object.contains_key(key) && !removed && !local {
                out.push(format!("{path}: the required `{key}` is missing"));
            }
        }
        for (key, property) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(child) = object.get(key) {
                violations_in(
                    child,
                    property,
                    &format!("{path}.{key}"),
                    mode,
                    local || child["is_local"] == json!(true),
                    out,
                );
            }
        }
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            violations_in(
                item,
                &schema["items"],
                &format!("{path}[{i}]"),
                mode,
                local || item["is_local"] == json!(true),
                out,
            );
        }
    }
}

/// What is wrong with one request the client sent, against the description's query parameters.
fn request_violations(request: &LoggedRequest, contract: &Value) -> Vec<String> {
    let Some(endpoint) = endpoint_of(&request.path) else {
        return vec![format!("{}: not an endpoint the contract describes", request.path)];
    };
    let described = &contract["endpoints"][endpoint]["query"];
    let sent: Vec<(String, String)> = url::form_urlencoded::parse(request.query.as_bytes()).into_owned().collect();
    let mut problems = Vec::new();
    for (name, parameter) in described.as_object().into_iter().flatten() {
        if parameter["required"] == json!(true) && !sent.iter().any(|(k, _)| k == name) {
            problems.push(format!("{endpoint}: the required `{name}` is missing"));
        }
    }
    for (name, value) in &sent {
        let at = format!("{endpoint}?{}: `{name}={value}`", request.query);
        let Some(parameter) = described.get(name) else {
            problems.push(format!("{at} is not a parameter of the endpoint"));
            continue;
        };
        match parameter["type"].as_str() {
            Some("integer") => match value.parse::<i64>() {
                Ok(n) => {
                    if parameter["minimum"].as_i64().is_some_and(|min| n < min) {
                        problems.push(format!("{at} is below the minimum {}", parameter["minimum"]));
                    }
                    if parameter["maximum"].as_i64().is_some_and(|max| n > max) {
                        problems.push(format!("{at} is above the maximum {}", parameter["maximum"]));
                    }
                }
                Err(_) => problems.push(format!("{at} is not an integer")),
            },
            Some("array") | Some("string") if parameter["enum"].is_array() => {
                let allowed = parameter["enum"].as_array().unwrap();
                for part in value.split(',').filter(|part| !allowed.contains(&json!(part))) {
                    problems.push(format!("{at}: `{part}` is not one of {allowed:?}"));
                }
            }
            _ => {}
        }
    }
    problems
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        quota_min_backoff: Duration::from_secs(3600),
        timeout: Duration::from_secs(5),
    }
}

async fn client_for(sim: &Simulator, state: &Path, users: &[&str]) -> Client {
    let config = LiveConfig {
        endpoints: Endpoints { api: sim.base_url(), accounts: sim.base_url() },
        client_id: SIM_CLIENT_ID.into(),
        client_secret: Some(SIM_CLIENT_SECRET.into()),
        policy: policy(),
        requests_per_second: 1000.0,
        daily_budget: 100_000,
        state_dir: state.to_owned(),
        jobs: Vec::new(),
        auto_login: true,
    };
    let counters = Arc::new(SourceCounters::default());
    let client = spotify::connect(&config, counters, CancellationToken::new()).unwrap();
    let jobs: Vec<JobConfig> =
        users.iter().map(|u| JobConfig::RecentlyPlayed { user: (*u).into(), every_secs: 1 }).collect();
    spotify::log_in_simulated_users(&client, &jobs).await.unwrap();
    client
}

/// Every job kind tunestream has, in the shapes that reach every endpoint it calls: alice's own
/// playlists, and playlists by id that she does not own (bob's, one of them private).
fn every_job(sim: &Simulator) -> Vec<JobConfig> {
    let playlists = sim.truth().playlists();
    let bobs: Vec<String> = playlists.iter().rev().take(2).map(|p| p.playlist_id.clone()).collect();
    vec![
        JobConfig::UserPlaylists { user: "alice".into(), every_secs: 1 },
        JobConfig::Playlists { ids: bobs, every_secs: 1 },
        JobConfig::RecentlyPlayed { user: "alice".into(), every_secs: 1 },
        JobConfig::FollowedArtists { user: "alice".into(), every_secs: 1 },
        JobConfig::Search {
            queries: vec!["love".into(), "e".into()],
            types: ["track", "artist", "album", "playlist"].map(String::from).to_vec(),
            every_secs: 1,
        },
        JobConfig::Artists { ids: sim.truth().artist_ids(3), albums: true, every_secs: 1 },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_stays_in_bounds_and_every_answer_validates_in_both_modes() {
    let contract = contract();
    for mode in [AppMode::Development, AppMode::Extended] {
        let sim = Simulator::start(SimConfig { mode, ..SimConfig::default() }, 0).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let client = client_for(&sim, dir.path(), &["alice"]).await;
        let mut pages: Vec<Page> = Vec::new();
        for job in every_job(&sim) {
            pull(&client, &job, &mut PullState::default(), &mut pages).await.unwrap();
        }
        let me = client.get(&Auth::User("alice".into()), &format!("{}/v1/me", sim.base_url())).await.unwrap();
        // No job reads single tracks or albums, but replay takes such pages: validate them too.
        let played = pages.iter().find(|p| p.url.contains("recently-played")).unwrap();
        let track = &played.body["items"][0]["track"];
        let singles = [
            format!("tracks/{}", track["id"].as_str().unwrap()),
            format!("albums/{}", track["album"]["id"].as_str().unwrap()),
        ];
        let mut single_pages = Vec::new();
        for path in singles {
            single_pages.push(client.get(&Auth::App, &format!("{}/v1/{path}", sim.base_url())).await.unwrap());
        }

        // The client's side: every request inside the bounds, none refused as malformed.
        let log = sim.request_log();
        let problems: Vec<String> = log.iter().flat_map(|r| request_violations(r, &contract)).collect();
        assert!(problems.is_empty(), "{mode:?}: requests out of contract: {problems:#?}");
        assert!(log.iter().all(|r| r.status != 400), "{mode:?}: a request was refused: {log:#?}");
        let reached: BTreeSet<&str> = log.iter().filter_map(|r| endpoint_of(&r.path)).collect();
        let described: BTreeSet<&str> = contract["endpoints"].as_object().unwrap().keys().map(String::as_str).collect();
        // Development mode pages entries by `/items`, extended quota by the legacy `/tracks`.
        let legacy = if mode == AppMode::Development {
            "/playlists/{playlist_id}/tracks"
        } else {
            "/playlists/{playlist_id}/items"
        };
        let described: BTreeSet<&str> = described.into_iter().filter(|e| *e != legacy).collect();
        assert_eq!(reached, described, "{mode:?}: every described endpoint is exercised");

        // The simulator's side: every answer validates against the response schema.
        let mut answers: Vec<(String, Value)> = pages.iter().map(|p| (p.url.clone(), p.body.clone())).collect();
        answers.push((me.url.clone(), me.body.clone()));
        answers.extend(single_pages.iter().map(|f| (f.url.clone(), f.body.clone())));
        let mut problems = Vec::new();
        for (url, body) in &answers {
            let path = url::Url::parse(url).unwrap().path().to_owned();
            // The first entries of a playlist come inside its object, under the `/items` href.
            let endpoint = endpoint_of(&path).unwrap_or_else(|| panic!("{url} is described"));
            let schema = &contract["endpoints"][endpoint]["response"];
            violations(body, schema, endpoint, mode, &mut problems);
        }
        problems.sort();
        problems.dedup();
        assert!(problems.is_empty(), "{mode:?}: answers out of contract: {problems:#?}");
        sim.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_bounds_are_the_published_ones_and_a_request_past_them_is_refused_not_clamped() {
    let contract = contract();
    // Every endpoint with a described `limit` has its bounds in the simulator's table, equal.
    for (endpoint, described) in contract["endpoints"].as_object().unwrap() {
        let Some(limit) = described["query"].get("limit") else { continue };
        let (_, paging) = bounds::ALL.iter().find(|(path, _)| path == endpoint).expect(endpoint);
        assert_eq!(Some(paging.max_limit as i64), limit["maximum"].as_i64(), "{endpoint}");
        let offset_max = described["query"].get("offset").and_then(|o| o["maximum"].as_i64());
        assert_eq!(paging.max_offset.map(|m| m as i64), offset_max, "{endpoint}");
    }
    assert_eq!(bounds::ARTIST_ALBUMS.max_limit, 10);
    assert_eq!(bounds::SEARCH.max_limit, 10);

    for mode in [AppMode::Development, AppMode::Extended] {
        let sim = Simulator::start(SimConfig { mode, ..SimConfig::default() }, 0).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let client = client_for(&sim, dir.path(), &["alice"]).await;
        let base = sim.base_url();
        let artist = &sim.truth().artist_ids(1)[0];
        let owned = &sim.truth().playlists()[0].playlist_id;
        let urls = [
            ("/artists/{id}/albums", format!("{base}/v1/artists/{artist}/albums?")),
            ("/search", format!("{base}/v1/search?q=love&type=track&")),
            ("/playlists/{playlist_id}/items", format!("{base}/v1/playlists/{owned}/items?")),
            ("/me/playlists", format!("{base}/v1/me/playlists?")),
            ("/me/player/recently-played", format!("{base}/v1/me/player/recently-played?")),
            ("/me/following", format!("{base}/v1/me/following?type=artist&")),
        ];
        let alice = Auth::User("alice".into());
        for (endpoint, url) in urls {
            let max = contract["endpoints"][endpoint]["query"]["limit"]["maximum"].as_i64().unwrap();
            let page = client.get(&alice, &format!("{url}limit={max}")).await.unwrap();
            let paging = if endpoint == "/search" { &page.body["tracks"] } else { &page.body };
            let paging = if endpoint == "/me/following" { &paging["artists"] } else { paging };
            assert_eq!(paging["limit"], json!(max), "{mode:?} {endpoint}: the limit is honoured, not lowered");
            for bad in [max + 1, 0, -1] {
                let refused = client.get(&alice, &format!("{url}limit={bad}")).await;
                match refused {
                    Err(PullError::Rejected { status: 400, message, .. }) => {
                        assert!(message.contains("Invalid limit"), "{mode:?} {endpoint} limit={bad}: {message}");
                    }
                    other => panic!("{mode:?} {endpoint} limit={bad}: {:?}", other.map(|f| f.body)),
                }
            }
        }
        let past = client.get(&Auth::App, &format!("{base}/v1/search?q=love&type=track&offset=1001")).await;
        assert!(matches!(past, Err(PullError::Rejected { status: 400, .. })), "{mode:?}: {:?}", past.map(|f| f.body));
        sim.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_refuses_entries_of_playlists_the_user_neither_owns_nor_collaborates_on() {
    let sim = Simulator::start(SimConfig::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&sim, dir.path(), &["alice", "bob"]).await;
    let base = sim.base_url();
    let truth = sim.truth().playlists();
    // alice owns the first playlists; bob's first is public and not collaborative.
    let alices = &truth[0].playlist_id;
    let bobs = &truth[truth.len() / 2].playlist_id;
    let alice = Auth::User("alice".into());

    let own = client.get(&alice, &format!("{base}/v1/playlists/{alices}")).await.unwrap();
    assert!(own.body["items"]["items"].is_array(), "the owner reads the entries");
    let other = client.get(&alice, &format!("{base}/v1/playlists/{bobs}")).await.unwrap();
    assert_eq!(other.body["id"], json!(bobs));
    assert!(other.body["snapshot_id"].is_string() && other.body["owner"]["id"] == json!("bob"));
    assert!(other.body.get("items").is_none() && other.body.get("tracks").is_none(), "{}", other.body);
    for (who, auth) in [("alice", alice.clone()), ("the app", Auth::App)] {
        let refused = client.get(&auth, &format!("{base}/v1/playlists/{bobs}/items?limit=50")).await;
        assert!(
            matches!(&refused, Err(PullError::Unavailable { status: 403, message, .. }) if message == "Forbidden"),
            "{who}: {:?}",
            refused.map(|f| f.body)
        );
    }
    // `/tracks` was removed for development-mode apps: 403 even for the owner.
    let removed = client.get(&alice, &format!("{base}/v1/playlists/{alices}/tracks?limit=50")).await;
    assert!(matches!(removed, Err(PullError::Unavailable { status: 403, .. })));
    sim.stop().await;
}
