//! The built-in Spotify simulator: a Spotify-compatible Web API and accounts service on
//! 127.0.0.1, serving a seeded catalog that evolves over time, with switchable faults.
//!
//! It runs in-process as the default source of `tunestream run`, or alone as `tunestream sim`.
//! Tests read its ground truth (which plays happened, what each playlist holds) through
//! [`Simulator::truth`] or `GET /_sim/truth/...`.

mod accounts;
mod api;
pub mod bounds;
pub mod catalog;
mod http;
mod render;
mod server;
mod state;
mod tokens;

pub use render::AppMode;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use catalog::Catalog;

/// Faults the simulator injects, each off by default. "Every N" counts `/v1` requests.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Every Nth request gets a 429 with `Retry-After: rate_limit_retry_after_secs`.
    pub rate_limit_every: u64,
    /// Seconds announced by rate-limit 429s.
    pub rate_limit_retry_after_secs: u64,
    /// After this many requests, every request gets a 429 with `"reason":"QUOTA_EXCEEDED"`.
    pub quota_exceeded_after: u64,
    /// Seconds announced by quota 429s (Spotify announces hours; default 6 h).
    pub quota_retry_after_secs: u64,
    /// Quota 429s carry no `Retry-After` at all.
    pub quota_without_retry_after: bool,
    /// Every Nth request gets a 5xx.
    pub server_error_every: u64,
    /// Every Nth request is answered only after `slow_ms` milliseconds.
    pub slow_every: u64,
    pub slow_ms: u64,
    /// Every Nth request gets a 200 with a truncated JSON body.
    pub malformed_every: u64,
    /// Pages that always get a truncated body: a path (`/v1/playlists/ID/items`), optionally
    /// with `?offset=N` to hit one page of it.
    pub always_malformed: Vec<String>,
    /// Pages that always get a 500, written as `always_malformed` is.
    pub always_failing: Vec<String>,
    /// Every Nth request finds its access token expired (401) until the token is replaced.
    pub expire_token_every: u64,
    /// Every refresh-token grant fails with `invalid_grant`, as after a revoked consent.
    pub revoke_refresh_tokens: bool,
    /// A playlist read past its first page sees the playlist edited once (a new snapshot).
    pub edit_during_read: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_limit_every: 0,
            rate_limit_retry_after_secs: 0,
            quota_exceeded_after: 0,
            quota_retry_after_secs: 6 * 3600,
            quota_without_retry_after: false,
            server_error_every: 0,
            slow_every: 0,
            slow_ms: 0,
            malformed_every: 0,
            always_malformed: Vec::new(),
            always_failing: Vec::new(),
            expire_token_every: 0,
            revoke_refresh_tokens: false,
            edit_during_read: false,
        }
    }
}

/// What the simulator serves: `[simulator]` in the config, used when `spotify.api_url` is unset.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// `development` (2026 development-mode shapes) or `extended` (extended quota).
    pub mode: AppMode,
    /// Seed of the catalog: the same seed serves the same world.
    pub seed: u64,
    /// Artists in the catalog (3 albums of 8 tracks each).
    pub artists: usize,
    /// Simulated users' ids.
    pub users: Vec<String>,
    /// Playlists each user owns.
    pub playlists_per_user: usize,
    /// Plays per minute for each user.
    pub plays_per_minute: f64,
    /// Seconds between automatic edits of each playlist.
    pub playlist_change_every_secs: u64,
    /// How many of a user's latest plays recently-played can reach (Spotify: 50).
    pub history_limit: usize,
    /// Lifetime of issued access tokens.
    pub access_token_ttl_secs: u64,
    /// The client id and secret the accounts service accepts.
    pub client_id: String,
    pub client_secret: String,
    /// Port of `tunestream sim` (0: any free port).
    pub port: u16,
    /// Injected faults, all off by default.
    pub faults: Faults,
}

/// The client id and secret the simulator accepts unless configured otherwise.
pub const SIM_CLIENT_ID: &str = "tunestream-sim";
pub const SIM_CLIENT_SECRET: &str = "tunestream-sim-secret";

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            mode: AppMode::Development,
            seed: 7,
            artists: 40,
            users: vec!["alice".into(), "bob".into()],
            playlists_per_user: 3,
            plays_per_minute: 12.0,
            playlist_change_every_secs: 30,
            history_limit: 50,
            access_token_ttl_secs: 3600,
            client_id: SIM_CLIENT_ID.into(),
            client_secret: SIM_CLIENT_SECRET.into(),
            port: 0,
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// Every problem of `[simulator]`, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.users.is_empty() {
            problems.push("simulator.users is empty".into());
        }
        if self.plays_per_minute.is_nan() || self.plays_per_minute <= 0.0 {
            problems.push(format!("simulator.plays_per_minute is {}; it must be above 0", self.plays_per_minute));
        }
        if self.artists < 2 {
            problems.push(format!("simulator.artists is {}; it must be at least 2", self.artists));
        }
        if self.history_limit == 0 || self.playlists_per_user == 0 || self.playlist_change_every_secs == 0 {
            problems.push(
                "simulator.history_limit, playlists_per_user and playlist_change_every_secs must be at least 1".into(),
            );
        }
        problems
    }
}

/// A running simulator. Dropping the handle does not stop it; call [`Simulator::stop`].
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<state::SimState>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// One play as the simulator recorded it: the ground truth for plays in the lake.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TruthPlay {
    pub user_id: String,
    pub played_at_ms: i64,
    pub track_id: String,
}

/// One `/v1` request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The path, such as `/v1/artists/ID/albums`.
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
    pub status: u16,
}

/// What a playlist holds right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TruthPlaylist {
    pub playlist_id: String,
    pub snapshot_id: String,
    /// URI of every entry in order; `None` for null entries.
    pub uris: Vec<Option<String>>,
}

impl Simulator {
    /// Starts serving on `127.0.0.1:port` (0 picks a free port).
    pub async fn start(config: SimConfig, port: u16) -> std::io::Result<Self> {
        Self::start_with(config, port, None).await
    }

    /// Starts a simulator whose world and issued tokens persist in `path`: restarted, it goes on
    /// with the same timeline and honours its earlier tokens, so a client's state stays valid.
    pub async fn start_persistent(config: SimConfig, port: u16, path: &std::path::Path) -> std::io::Result<Self> {
        let saved: Option<state::Saved> = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .inspect_err(|e| {
                    tracing::warn!("{} is unreadable ({e}); the simulator starts a new world", path.display())
                })
                .ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let sim = Self::start_with(config, port, Some((saved, path.to_owned()))).await?;
        sim.state.persist();
        Ok(sim)
    }

    async fn start_with(
        config: SimConfig,
        port: u16,
        persist: Option<(Option<state::Saved>, std::path::PathBuf)>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let saved_epoch = persist.as_ref().and_then(|(saved, _)| saved.as_ref().map(|s| s.epoch_ms));
        // Whole minutes, so two simulators started in the same minute serve the same world.
        let epoch_ms = saved_epoch.unwrap_or(now_ms - now_ms.rem_euclid(60_000));
        let catalog = Catalog::generate(&config, epoch_ms);
        let saved = persist.map(|(saved, path)| {
            let tokens = saved.map_or_else(|| tokens::Tokens::new(config.seed), |s| s.tokens);
            (tokens, path)
        });
        let state = Arc::new(state::SimState::new(catalog, config, format!("http://{addr}"), saved));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(server::serve(listener, state.clone(), cancel.clone()));
        tracing::info!(url = %format!("http://{addr}"), "Spotify simulator listening");
        Ok(Self { addr, state, cancel, task })
    }

    /// `http://127.0.0.1:PORT`: the Web API is under `/v1`, the accounts service at the root.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the active faults.
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Renames the artist with id `id` in every response from now on; false if there is none.
    pub fn rename_artist(&self, id: &str, name: &str) -> bool {
        let found = self.state.catalog.artists.iter().position(|a| a.id == id);
        found.inspect(|a| self.state.rename_artist(*a, name)).is_some()
    }

    /// `/v1` requests served so far.
    pub fn requests(&self) -> u64 {
        self.state.requests()
    }

    /// The latest `/v1` requests (up to 10,000), oldest first: method, path and
    /// query as sent, and the status answered. Tests hold the client's requests to the contract.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log()
    }

    /// The ground truth the simulator serves from.
    pub fn truth(&self) -> Truth<'_> {
        Truth { state: &self.state }
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// Read access to the simulator's ground truth.
pub struct Truth<'a> {
    state: &'a state::SimState,
}

impl Truth<'_> {
    /// Every play of every user up to now, oldest first.
    pub fn plays(&self) -> Vec<TruthPlay> {
        self.state.truth_plays(chrono::Utc::now().timestamp_millis())
    }

    /// Every playlist owned by a simulated user, as it is now.
    pub fn playlists(&self) -> Vec<TruthPlaylist> {
        self.state.truth_playlists(chrono::Utc::now().timestamp_millis())
    }

    /// The users' ids.
    pub fn users(&self) -> Vec<String> {
        self.state.catalog.users.iter().map(|u| u.id.clone()).collect()
    }

    /// The artist's name as served now.
    pub fn artist_name(&self, id: &str) -> Option<String> {
        let a = self.state.catalog.artists.iter().position(|a| a.id == id)?;
        Some(self.state.renamed_artists().remove(&a).unwrap_or_else(|| self.state.catalog.artists[a].name.clone()))
    }

    /// Ids of the albums of the artist with id `id`, in the order Spotify lists them.
    pub fn album_ids(&self, id: &str) -> Vec<String> {
        let catalog = &self.state.catalog;
        let artist = catalog.artists.iter().find(|a| a.id == id);
        artist.map(|a| a.albums.iter().map(|&x| catalog.albums[x].id.clone()).collect()).unwrap_or_default()
    }

    /// Ids of the catalog's first `n` artists.
    pub fn artist_ids(&self, n: usize) -> Vec<String> {
        self.state.catalog.artists.iter().take(n).map(|a| a.id.clone()).collect()
    }
}
