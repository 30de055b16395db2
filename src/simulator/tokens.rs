//! What the simulator's accounts service has issued: authorization codes, access tokens and
//! single-use refresh tokens, and how a bearer token is checked.

use std::collections::HashMap;

use super::catalog::spotify_id;
use super::http::now_ms;

pub(super) struct Grant {
    pub(super) user: usize,
    pub(super) challenge: String,
    pub(super) redirect_uri: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct AccessToken {
    /// `None` for client-credentials tokens.
    pub(super) user: Option<usize>,
    pub(super) expires_ms: i64,
}

/// What the simulator has issued. Access and refresh tokens persist with the world, so a
/// restarted simulator honours what it issued before, as Spotify does.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    seed: u64,
    issued: u64,
    pub(super) access: HashMap<String, AccessToken>,
    #[serde(skip)]
    pub(super) codes: HashMap<String, Grant>,
    pub(super) refresh: HashMap<String, usize>,
}

/// Why a bearer token was refused.
pub enum Refusal {
    Invalid,
    Expired,
}

impl Tokens {
    pub fn new(seed: u64) -> Self {
        Self { seed, issued: 0, access: HashMap::new(), codes: HashMap::new(), refresh: HashMap::new() }
    }

    pub(super) fn fresh(&mut self, prefix: &str) -> String {
        self.issued += 1;
        let nonce = now_ms() as u64;
        format!(
            "{prefix}{}{}",
            spotify_id(self.seed, &[20, self.issued, nonce]),
            spotify_id(self.seed, &[21, self.issued])
        )
    }

    /// The user a bearer token acts for (`Some(None)` for an app token).
    pub fn check(&self, token: &str) -> Result<Option<usize>, Refusal> {
        let t = self.access.get(token).ok_or(Refusal::Invalid)?;
        if t.expires_ms <= now_ms() { Err(Refusal::Expired) } else { Ok(t.user) }
    }

    pub fn expire(&mut self, token: &str) {
        if let Some(t) = self.access.get_mut(token) {
            t.expires_ms = 0;
        }
    }
}
