//! The simulated world's mutable state: faults, edits, renames, issued tokens and the request
//! log, and the truth the tests compare a pull against.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{StatusCode, Uri};

use super::catalog::Catalog;
use super::tokens::Tokens;
use super::{Faults, LoggedRequest, SimConfig, TruthPlay, TruthPlaylist};
use crate::lock;

/// How many of the latest `/v1` requests the simulator remembers.
pub const REQUEST_LOG: usize = 10_000;

pub struct SimState {
    pub catalog: Catalog,
    pub config: SimConfig,
    pub base: String,
    faults: Mutex<Faults>,
    pub(super) requests: AtomicU64,
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

    pub(super) fn remember(&self, uri: &Uri, status: StatusCode) {
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
