//! Spotify authorization: client-credentials tokens for catalog endpoints, and per-user tokens
//! from the authorization-code flow with PKCE, whose single-use refresh tokens are persisted
//! (0600, atomically) before the access token they came with is used.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::Utc;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::state::{StateDir, StateError};

pub const TOKENS_FILE: &str = "tokens.json";
/// Spotify refresh tokens die this long after the user first authorized the app.
pub const REFRESH_TOKEN_LIFETIME_MS: i64 = 183 * 24 * HOUR_MS;
const HOUR_MS: i64 = 3_600_000;
/// Warn this long before a user's refresh token dies.
const EXPIRY_WARNING_MS: i64 = 14 * 24 * HOUR_MS;
/// Scopes the user jobs need.
pub const SCOPES: &str = "user-read-recently-played playlist-read-private user-follow-read";

/// One user's tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UserTokens {
    pub refresh_token: String,
    pub access_token: Option<String>,
    pub expires_at_ms: i64,
    /// When the user first authorized: the refresh token's lifetime counts from here.
    pub authorized_at_ms: i64,
    /// Set when the user must run `tunestream auth login` again, with the reason.
    pub needs_login: Option<String>,
}

/// Everything in `tokens.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenFile {
    pub users: BTreeMap<String, UserTokens>,
}

/// The token file of a state directory, kept in memory and persisted on every change.
pub struct TokenBook {
    state: StateDir,
    pub file: TokenFile,
}

impl TokenBook {
    pub fn load(state: StateDir) -> Result<Self, StateError> {
        let file = state.read(TOKENS_FILE)?;
        Ok(Self { state, file })
    }

    pub fn save(&self) -> Result<(), StateError> {
        self.state.write(TOKENS_FILE, &self.file, true)
    }

    /// Why `user` cannot be used without a new login, if so.
    pub fn login_problem(&self, user: &str) -> Option<String> {
        let Some(tokens) = self.file.users.get(user) else {
            return Some("no tokens: the user never logged in".to_owned());
        };
        if let Some(reason) = &tokens.needs_login {
            return Some(reason.clone());
        }
        let dies = tokens.authorized_at_ms + REFRESH_TOKEN_LIFETIME_MS;
        let now = Utc::now().timestamp_millis();
        if dies <= now {
            return Some("the refresh token expired 6 months after the first authorization".to_owned());
        }
        if dies - now < EXPIRY_WARNING_MS {
            tracing::warn!(user, "the refresh token expires within 14 days: run `tunestream auth login` soon");
        }
        None
    }

    /// Records a login or a refresh, keeping the first authorization time of an existing user
    /// when `keep_authorized_at`.
    pub fn store(&mut self, user: &str, grant: &TokenGrant, keep_authorized_at: bool) -> Result<(), StateError> {
        let now = Utc::now().timestamp_millis();
        let previous = self.file.users.get(user);
        let authorized_at_ms = match previous {
            Some(p) if keep_authorized_at => p.authorized_at_ms,
            _ => now,
        };
        let refresh_token = grant.refresh_token.clone().or_else(|| previous.map(|p| p.refresh_token.clone()));
        self.file.users.insert(
            user.to_owned(),
            UserTokens {
                refresh_token: refresh_token.unwrap_or_default(),
                access_token: Some(grant.access_token.clone()),
                expires_at_ms: now + grant.expires_in * 1000,
                authorized_at_ms,
                needs_login: None,
            },
        );
        self.save()
    }

    pub fn mark_needs_login(&mut self, user: &str, reason: &str) -> Result<(), StateError> {
        if let Some(tokens) = self.file.users.get_mut(user) {
            tokens.needs_login = Some(reason.to_owned());
            tokens.access_token = None;
        }
        self.save()
    }
}

/// A successful answer of the token endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenGrant {
    pub access_token: String,
    #[serde(default = "default_expires_in")]
    pub expires_in: i64,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

fn default_expires_in() -> i64 {
    3600
}

/// A PKCE pair: the secret verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let mut bytes = [0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// A random `state` value that ties the redirect to this login.
pub fn random_state() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The authorize URL a user opens to grant access.
pub fn authorize_url(
    accounts: &str,
    client_id: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &str,
    login_hint: Option<&str>,
) -> String {
    let mut url = url::form_urlencoded::Serializer::new(format!("{accounts}/authorize?"));
    url.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge_method", "S256")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("scope", SCOPES)
        .append_pair("state", state);
    if let Some(hint) = login_hint {
        url.append_pair("login_hint", hint);
    }
    url.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::new();
        assert!((43..=128).contains(&pkce.verifier.len()));
        let expected =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(pkce.verifier.as_bytes()));
        assert_eq!(pkce.challenge, expected);
        assert_ne!(Pkce::new().verifier, pkce.verifier);
    }

    #[test]
    fn refresh_keeps_the_first_authorization_time_and_six_months_end_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut book = TokenBook::load(StateDir::open(dir.path()).unwrap()).unwrap();
        assert!(book.login_problem("alice").is_some());
        let grant = TokenGrant { access_token: "a1".into(), expires_in: 3600, refresh_token: Some("r1".into()) };
        book.store("alice", &grant, false).unwrap();
        assert_eq!(book.login_problem("alice"), None);
        book.file.users.get_mut("alice").unwrap().authorized_at_ms -= REFRESH_TOKEN_LIFETIME_MS;
        let rotated = TokenGrant { access_token: "a2".into(), expires_in: 3600, refresh_token: Some("r2".into()) };
        book.store("alice", &rotated, true).unwrap();
        let reloaded = TokenBook::load(StateDir::open(dir.path()).unwrap()).unwrap();
        assert_eq!(reloaded.file.users["alice"].refresh_token, "r2");
        assert!(reloaded.login_problem("alice").unwrap().contains("6 months"));
    }
}
