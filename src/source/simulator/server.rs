//! The simulator's HTTP server: shared state, fault injection and request routing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::accounts::Tokens;
use super::catalog::Catalog;
use super::{Faults, LoggedRequest, SimConfig, TruthPlay, TruthPlaylist};

/// How many of the latest `/v1` requests the simulator remembers.
pub const REQUEST_LOG: usize = 10_000;

pub struct SimState {
    pub catalog: Catalog,
    pub config: SimConfig,
    pub base: String,
    faults: Mutex<Faults>,
    requests: AtomicU64,
    log: Mutex<VecDeque<LoggedRequest>>,
    pub tokens: Mutex<Tokens>,
    /// Manual edits per playlist, on top of the automatic ones.
    edits: Mutex<HashMap<usize, u64>>,
    edited_during_read: Mutex<HashSet<usize>>,
    /// Artists renamed since the world began, by index: the new name everywhere they appear.
    renamed_artists: Mutex<HashMap<usize, String>>,
    /// Where the world's epoch and issued tokens are saved, for a simulator that outlives restarts.
    persist_to: Option<std::path::PathBuf>,
}

/// What a persistent simulator saves: when its world began and what it issued.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Saved {
    pub epoch_ms: i64,
    pub tokens: Tokens,
}

pub use crate::lock;

impl SimState {
    pub fn new(catalog: Catalog, config: SimConfig, base: String, saved: Option<(Tokens, std::path::PathBuf)>) -> Self {
        let faults = Mutex::new(config.faults.clone());
        let (tokens, persist_to) = match saved {
            Some((tokens, path)) => (tokens, Some(path)),
            None => (Tokens::new(config.seed), None),
        };
        let tokens = Mutex::new(tokens);
        Self {
            catalog,
            config,
            base,
            faults,
            requests: AtomicU64::new(0),
            log: Mutex::default(),
            renamed_artists: Mutex::default(),
            tokens,
            edits: Mutex::new(HashMap::new()),
            edited_during_read: Mutex::new(HashSet::new()),
            persist_to,
        }
    }

    /// Saves the epoch and the issued tokens, when this simulator persists.
    pub fn persist(&self) {
        let Some(path) = &self.persist_to else { return };
        let tokens = lock(&self.tokens);
        let saved = serde_json::json!({"epoch_ms": self.catalog.epoch_ms, "tokens": &*tokens});
        if let Err((path, e)) = crate::fs::write_atomic(path, saved.to_string().as_bytes(), true) {
            tracing::warn!("cannot save the simulator's state to {}: {e}", path.display());
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Renames artist `a` from now on.
    pub fn rename_artist(&self, a: usize, name: &str) {
        lock(&self.renamed_artists).insert(a, name.to_owned());
    }

    /// The artists renamed so far.
    pub fn renamed_artists(&self) -> HashMap<usize, String> {
        lock(&self.renamed_artists).clone()
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    fn remember(&self, uri: &Uri, status: StatusCode) {
        let mut log = lock(&self.log);
        if log.len() == REQUEST_LOG {
            log.pop_front();
        }
        let query = uri.query().unwrap_or_default().to_owned();
        log.push_back(LoggedRequest { path: uri.path().to_owned(), query, status: status.as_u16() });
    }

    /// The version (edit count) of playlist `p` at `now_ms`.
    pub fn version(&self, p: usize, now_ms: i64) -> u64 {
        self.catalog.auto_version(p, now_ms) + lock(&self.edits).get(&p).copied().unwrap_or(0)
    }

    /// Edits playlist `p` once, as a user would, giving it a new snapshot.
    pub fn edit_playlist(&self, p: usize) {
        *lock(&self.edits).entry(p).or_default() += 1;
    }

    /// With `edit_during_read` on, the first read of a later page of `p` edits it once.
    pub fn maybe_edit_during_read(&self, p: usize, offset: usize) {
        if offset > 0 && self.faults().edit_during_read && lock(&self.edited_during_read).insert(p) {
            self.edit_playlist(p);
        }
    }

    pub fn truth_plays(&self, now_ms: i64) -> Vec<TruthPlay> {
        (0..self.catalog.users.len())
            .flat_map(|u| self.catalog.plays(u, now_ms))
            .map(|p| TruthPlay {
                user_id: self.catalog.users[p.user].id.clone(),
                played_at_ms: p.played_at_ms,
                track_id: self.catalog.tracks[p.track].id.clone(),
            })
            .collect()
    }

    pub fn truth_playlists(&self, now_ms: i64) -> Vec<TruthPlaylist> {
        self.catalog
            .users
            .iter()
            .flat_map(|u| u.playlists.iter().copied())
            .map(|p| {
                let version = self.version(p, now_ms);
                let uris = self.catalog.entries(p, version).iter().map(|e| self.catalog.entry_uri(e)).collect();
                TruthPlaylist {
                    playlist_id: self.catalog.playlists[p].id.clone(),
                    snapshot_id: self.catalog.snapshot_id(p, version),
                    uris,
                }
            })
            .collect()
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<SimState>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(handle).with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(async move { cancel.cancelled().await }).await
}

/// A request as the route handlers see it.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn number(&self, name: &str, default: usize) -> usize {
        self.param(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    pub fn bearer(&self) -> Option<&str> {
        self.headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
    }
}

pub fn parse_form(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

async fn handle(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method,
        path: uri.path().to_owned(),
        query: parse_form(uri.query().unwrap_or_default().as_bytes()),
        headers,
        body,
    };
    if request.path.starts_with("/v1/") {
        let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let response = match inject_fault(&state, n, &request).await {
            Some(response) => response,
            None => super::api::route(&state, &request),
        };
        state.remember(&uri, response.status());
        return response;
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/authorize") => super::accounts::authorize(&state, &request),
        ("POST", "/api/token") => super::accounts::token(&state, &request),
        ("GET", "/_sim/truth/plays") => json_response(StatusCode::OK, &json!(state.truth_plays(now_ms()))),
        ("GET", "/_sim/truth/playlists") => json_response(StatusCode::OK, &json!(state.truth_playlists(now_ms()))),
        ("GET", "/_sim/stats") => json_response(StatusCode::OK, &json!({"requests": state.requests()})),
        ("POST", "/_sim/faults") => match serde_json::from_slice::<Faults>(&request.body) {
            Ok(faults) => {
                state.set_faults(faults);
                json_response(StatusCode::OK, &json!({"ok": true}))
            }
            Err(e) => api_error(StatusCode::BAD_REQUEST, &format!("invalid faults: {e}")),
        },
        _ => api_error(StatusCode::NOT_FOUND, "Service not found"),
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn every(n: u64, every: u64) -> bool {
    every > 0 && n.is_multiple_of(every)
}

async fn inject_fault(state: &SimState, n: u64, request: &Request) -> Option<Response> {
    let faults = state.faults();
    if every(n, faults.slow_every) {
        tokio::time::sleep(std::time::Duration::from_millis(faults.slow_ms)).await;
    }
    if faults.quota_exceeded_after > 0 && n > faults.quota_exceeded_after {
        let body =
            json!({"error": {"status": 429, "message": "Quota exceeded for this app", "reason": "QUOTA_EXCEEDED"}});
        let response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
        if faults.quota_without_retry_after {
            return Some(response);
        }
        return Some(with_retry_after(response, faults.quota_retry_after_secs));
    }
    if every(n, faults.rate_limit_every) {
        let response = api_error(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
        return Some(with_retry_after(response, faults.rate_limit_retry_after_secs));
    }
    if every(n, faults.server_error_every) {
        let status = [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE]
            [(n / faults.server_error_every % 3) as usize];
        return Some(api_error(status, "Server error"));
    }
    if every(n, faults.expire_token_every)
        && let Some(token) = request.bearer()
    {
        lock(&state.tokens).expire(token);
    }
    let always = |target: &String| match target.split_once("?offset=") {
        Some((path, offset)) => request.path == path && request.query.get("offset").map(String::as_str) == Some(offset),
        None => request.path == *target,
    };
    if faults.always_failing.iter().any(always) {
        return Some(api_error(StatusCode::INTERNAL_SERVER_ERROR, "Server error"));
    }
    if every(n, faults.malformed_every) || faults.always_malformed.iter().any(always) {
        let full = super::api::route(state, request);
        return Some(truncate(full).await);
    }
    None
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    if let Ok(value) = secs.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn truncate(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::from(cut))
}

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// Spotify's Web API error body: `{"error":{"status":…,"message":…}}`.
pub fn api_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({"error": {"status": status.as_u16(), "message": message}}))
}
