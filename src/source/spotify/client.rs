//! The Spotify Web API client: tokens, pacing, and an error policy that never blocks for hours
//! and never keeps sending into a closed quota.
//!
//! | answer | what happens |
//! |---|---|
//! | 401 | refresh the token once, then retry |
//! | 429 with `Retry-After` | wait for it when at most `max_retry_after`; else open the circuit |
//! | 429 `QUOTA_EXCEEDED` | open the account-wide circuit until `Retry-After`, persisted |
//! | 5xx, timeout, truncated body | bounded exponential backoff with jitter |
//! | 403, 404 | [`PullError::Unavailable`]: the job skips that target |

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::auth::{TokenBook, TokenGrant};
use super::limiter::{Limiter, Refused};
use super::state::StateError;
use crate::blame::Blame;
use crate::telemetry::SourceCounters;

/// Where the Web API and the accounts service are.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    /// Base of the Web API, without the trailing `/v1`.
    pub api: String,
    pub accounts: String,
}

impl Endpoints {
    pub fn spotify() -> Self {
        Self { api: "https://api.spotify.com".into(), accounts: "https://accounts.spotify.com".into() }
    }
    pub fn v1(&self, path: &str) -> String {
        format!("{}/v1/{}", self.api.trim_end_matches('/'), path.trim_start_matches('/'))
    }

    /// Whether `url` has the API's origin (scheme, host and port).
    pub fn is_api(&self, url: &str) -> bool {
        match (url::Url::parse(url), url::Url::parse(&self.api)) {
            (Ok(url), Ok(api)) => url.origin() == api.origin(),
            _ => false,
        }
    }
}

/// How hard the client tries before giving up on one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The longest `Retry-After` waited in place; longer ones open the circuit instead.
    pub max_retry_after: Duration,
    /// The circuit's hold after a `QUOTA_EXCEEDED` without a usable `Retry-After`, doubled per
    /// repeat.
    pub quota_min_backoff: Duration,
    pub timeout: Duration,
}

/// Whose token a request carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Auth {
    App,
    User(String),
}

/// A response body and when it was fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: String,
    pub fetched_at: DateTime<Utc>,
    pub body: Value,
}

/// Why a request produced no page. Each says who must act.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("shutting down")]
    Cancelled,
    #[error("the account's circuit is open until {until} ({reason}); pulls resume then")]
    CircuitOpen { until: DateTime<Utc>, reason: String },
    #[error(
        "the daily request budget of {budget} is used up until {until}; raise spotify.daily_budget or pull less often"
    )]
    BudgetExhausted { until: DateTime<Utc>, budget: u32 },
    #[error("user {user} must log in again (`tunestream auth login --user {user}`): {reason}")]
    NeedsLogin { user: String, reason: String },
    #[error("{url} answered {status}: {message}")]
    Unavailable { url: String, status: u16, message: String },
    #[error("{url} answered {status}: {message} (a request tunestream should not make, or bad credentials)")]
    Rejected { url: String, status: u16, message: String },
    #[error(
        "{url} kept failing after {attempts} attempts, last: {message}; Spotify may be down, the next pull retries"
    )]
    Transient { url: String, attempts: u32, message: String },
    #[error("{url} answered a body that is not JSON {attempts} times (last: {message})")]
    Malformed { url: String, attempts: u32, fetched_at: DateTime<Utc>, body: String, message: String },
    #[error(
        "{url} is not on the API's origin {api}: tunestream sends its token only there, so it does not follow this link"
    )]
    ForeignOrigin { url: String, api: String },
    #[error(transparent)]
    State(#[from] StateError),
}

impl PullError {
    /// Who must act for this error to go away.
    pub fn blame(&self) -> Blame {
        match self {
            PullError::CircuitOpen { .. }
            | PullError::Transient { .. }
            | PullError::Cancelled
            | PullError::ForeignOrigin { .. }
            | PullError::Malformed { .. } => Blame::Service,
            PullError::BudgetExhausted { .. }
            | PullError::NeedsLogin { .. }
            | PullError::Unavailable { .. }
            | PullError::Rejected { .. }
            | PullError::State(_) => Blame::User,
        }
    }

    /// The error, followed by who must act.
    pub fn with_blame(&self) -> String {
        format!("{self} ({})", self.blame().who())
    }

    /// Errors that stop this pull but are expected and handled (logged, counted, retried later).
    pub fn is_pause(&self) -> bool {
        matches!(self, PullError::CircuitOpen { .. } | PullError::BudgetExhausted { .. } | PullError::Cancelled)
    }
}

pub struct Client {
    http: reqwest::Client,
    pub endpoints: Endpoints,
    client_id: String,
    client_secret: Option<String>,
    policy: RetryPolicy,
    app_token: Mutex<Option<(String, i64)>>,
    pub tokens: Mutex<TokenBook>,
    limiter: Mutex<Limiter>,
    pub counters: Arc<SourceCounters>,
    cancel: CancellationToken,
}

enum Attempt {
    Done(Fetched),
    Retry(String),
    /// A 200 whose body is not JSON: retried, and set aside if it stays so.
    Malformed {
        fetched_at: DateTime<Utc>,
        body: String,
        message: String,
    },
    RefreshAndRetry,
    Fail(PullError),
}

impl Client {
    /// A client for `config`'s endpoints and credentials, with persisted tokens and limiter.
    pub fn new(
        config: &super::LiveConfig,
        tokens: TokenBook,
        limiter: Limiter,
        counters: Arc<SourceCounters>,
        cancel: CancellationToken,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.policy.timeout)
            .user_agent(concat!("tunestream/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            endpoints: config.endpoints.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            policy: config.policy,
            app_token: Mutex::new(None),
            tokens: Mutex::new(tokens),
            limiter: Mutex::new(limiter),
            counters,
            cancel,
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The circuit deadline, if the account's circuit is open now.
    pub async fn circuit(&self) -> Option<(DateTime<Utc>, String)> {
        self.limiter.lock().await.circuit(Utc::now().timestamp_millis())
    }

    /// GETs `url` with `auth`'s token, applying the whole error policy. Only URLs on the API's
    /// origin are fetched: a `next` link elsewhere would receive the bearer token.
    pub async fn get(&self, auth: &Auth, url: &str) -> Result<Fetched, PullError> {
        if !self.endpoints.is_api(url) {
            return Err(PullError::ForeignOrigin { url: url.into(), api: self.endpoints.api.clone() });
        }
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            {
                let mut limiter = self.limiter.lock().await;
                let acquired = limiter.acquire(&self.cancel).await;
                self.record_account(&limiter);
                acquired.map_err(|r| match r {
                    Refused::CircuitOpen { until, reason } => PullError::CircuitOpen { until, reason },
                    Refused::BudgetExhausted { until, budget } => PullError::BudgetExhausted { until, budget },
                    Refused::Cancelled => PullError::Cancelled,
                })?;
            }
            let token = self.token(auth, false).await?;
            SourceCounters::add(&self.counters.requests, 1);
            match self.attempt(url, &token).await {
                Attempt::Done(fetched) => return Ok(fetched),
                Attempt::Fail(e) => return Err(e),
                Attempt::RefreshAndRetry if !refreshed => {
                    refreshed = true;
                    self.token(auth, true).await?;
                }
                Attempt::RefreshAndRetry => {
                    let message = "unauthorized even with a fresh token".to_owned();
                    return Err(PullError::Rejected { url: url.into(), status: 401, message });
                }
                Attempt::Malformed { fetched_at, body, message } if attempt >= self.policy.max_retries => {
                    let attempts = attempt + 1;
                    return Err(PullError::Malformed { url: url.into(), attempts, fetched_at, body, message });
                }
                Attempt::Retry(message) | Attempt::Malformed { message, .. } => {
                    attempt += 1;
                    if attempt > self.policy.max_retries {
                        return Err(PullError::Transient { url: url.into(), attempts: attempt, message });
                    }
                    SourceCounters::add(&self.counters.retries, 1);
                    let wait = backoff(self.policy, attempt);
                    tracing::debug!(url, attempt, ?wait, "retrying: {message}");
                    self.sleep(wait).await?;
                }
            }
        }
    }

    /// Sets the budget and circuit gauges from the account's state.
    fn record_account(&self, limiter: &Limiter) {
        let now_ms = Utc::now().timestamp_millis();
        crate::telemetry::set(&self.counters.budget_used, u64::from(limiter.used(now_ms)));
        crate::telemetry::set(&self.counters.budget, u64::from(limiter.budget()));
        let until = limiter.circuit(now_ms).map_or(0, |(until, _)| until.timestamp().max(0) as u64);
        crate::telemetry::set(&self.counters.circuit_open_until, until);
    }

    async fn sleep(&self, wait: Duration) -> Result<(), PullError> {
        tokio::select! {
            _ = tokio::time::sleep(wait) => Ok(()),
            _ = self.cancel.cancelled() => Err(PullError::Cancelled),
        }
    }

    async fn attempt(&self, url: &str, token: &str) -> Attempt {
        let response = match self.http.get(url).bearer_auth(token).send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("request failed: {e}")),
        };
        let fetched_at = Utc::now();
        let status = response.status();
        self.counters.record_response(url, status.as_u16());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Attempt::Retry(format!("reading the body failed: {e}")),
        };
        if status.is_success() {
            self.limiter.lock().await.succeeded();
            return match serde_json::from_slice::<Value>(&bytes) {
                Ok(body) => Attempt::Done(Fetched { url: url.to_owned(), fetched_at, body }),
                Err(e) => {
                    SourceCounters::add(&self.counters.malformed, 1);
                    let body = String::from_utf8_lossy(&bytes).into_owned();
                    Attempt::Malformed { fetched_at, body, message: format!("malformed JSON body: {e}") }
                }
            };
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = body["error"]["message"].as_str().unwrap_or("no message").to_owned();
        match status {
            StatusCode::UNAUTHORIZED => Attempt::RefreshAndRetry,
            StatusCode::TOO_MANY_REQUESTS => self.too_many_requests(url, &body, retry_after).await,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                Attempt::Fail(PullError::Unavailable { url: url.into(), status: status.as_u16(), message })
            }
            s if s.is_server_error() => {
                SourceCounters::add(&self.counters.server_errors, 1);
                Attempt::Retry(format!("{s}: {message}"))
            }
            s => Attempt::Fail(PullError::Rejected { url: url.into(), status: s.as_u16(), message }),
        }
    }

    async fn too_many_requests(&self, url: &str, body: &Value, retry_after: Option<u64>) -> Attempt {
        SourceCounters::add(&self.counters.rate_limited, 1);
        let quota = body["error"]["reason"].as_str() == Some("QUOTA_EXCEEDED")
            || body["reason"].as_str() == Some("QUOTA_EXCEEDED");
        let now_ms = Utc::now().timestamp_millis();
        let opened = if quota {
            // Without a usable Retry-After (none, or 0), the quota is still exhausted: hold off
            // for the configured minimum, doubled per repeat, rather than asking again at once.
            let retry_after = retry_after.filter(|&secs| secs > 0).map(Duration::from_secs);
            self.limiter.lock().await.quota_exceeded(now_ms, retry_after, self.policy.quota_min_backoff)
        } else {
            let wait = Duration::from_secs(retry_after.unwrap_or(1));
            if wait <= self.policy.max_retry_after {
                return match self.sleep(wait).await {
                    Ok(()) => Attempt::Retry(format!("rate limited for {}s", wait.as_secs())),
                    Err(e) => Attempt::Fail(e),
                };
            }
            let until_ms = now_ms + wait.as_millis() as i64;
            self.limiter.lock().await.open_circuit(until_ms, "a long Retry-After").map(|()| until_ms)
        };
        let until_ms = match opened {
            Ok(until_ms) => until_ms,
            Err(e) => return Attempt::Fail(e.into()),
        };
        let reason = if quota { "QUOTA_EXCEEDED" } else { "a long Retry-After" };
        self.record_account(&*self.limiter.lock().await);
        let until = DateTime::from_timestamp_millis(until_ms).unwrap_or_default();
        tracing::warn!(url, retry_after = ?retry_after, "429 {reason}: the account's circuit is open until {until}; pulls resume then");
        Attempt::Fail(PullError::CircuitOpen { until, reason: reason.to_owned() })
    }

    /// A valid access token for `auth`, fetched or refreshed when missing, expiring or `force`d.
    async fn token(&self, auth: &Auth, force: bool) -> Result<String, PullError> {
        let now = Utc::now().timestamp_millis();
        match auth {
            Auth::App => {
                let mut cached = self.app_token.lock().await;
                if let Some((token, expires)) = cached.as_ref()
                    && !force
                    && *expires > now + 60_000
                {
                    return Ok(token.clone());
                }
                let grant = self.client_credentials().await?;
                *cached = Some((grant.access_token.clone(), now + grant.expires_in * 1000));
                Ok(grant.access_token)
            }
            Auth::User(user) => {
                let mut book = self.tokens.lock().await;
                if let Some(reason) = book.login_problem(user) {
                    return Err(PullError::NeedsLogin { user: user.clone(), reason });
                }
                let current = book.file.users[user].clone();
                if let Some(token) = current.access_token.filter(|_| !force && current.expires_at_ms > now + 60_000) {
                    return Ok(token);
                }
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &current.refresh_token),
                    ("client_id", &self.client_id),
                ];
                match self.token_request(&form, false).await {
                    Ok(grant) => {
                        SourceCounters::add(&self.counters.token_refreshes, 1);
                        // The old refresh token is already dead: persist the new one first.
                        book.store(user, &grant, true)?;
                        Ok(grant.access_token)
                    }
                    Err(TokenFailure::InvalidGrant(reason)) => {
                        book.mark_needs_login(user, &format!("Spotify refused the refresh token ({reason})"))?;
                        Err(PullError::NeedsLogin { user: user.clone(), reason: format!("invalid_grant: {reason}") })
                    }
                    Err(TokenFailure::Other(e)) => Err(e),
                }
            }
        }
    }

    async fn client_credentials(&self) -> Result<TokenGrant, PullError> {
        match self.token_request(&[("grant_type", "client_credentials")], true).await {
            Ok(grant) => Ok(grant),
            Err(TokenFailure::InvalidGrant(message)) => {
                Err(PullError::Rejected { url: self.token_url(), status: 400, message })
            }
            Err(TokenFailure::Other(e)) => Err(e),
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/api/token", self.endpoints.accounts.trim_end_matches('/'))
    }

    /// POSTs a form to the token endpoint, with the client secret as Basic auth when `basic`.
    pub async fn token_request(&self, form: &[(&str, &str)], basic: bool) -> Result<TokenGrant, TokenFailure> {
        let url = self.token_url();
        let mut attempt = 0;
        loop {
            let mut request = self.http.post(&url).form(form);
            if basic {
                let secret = self.client_secret.as_deref().unwrap_or_default();
                let pair = base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", self.client_id));
                request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {pair}"));
            }
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => match response.json::<TokenGrant>().await {
                    Ok(grant) => return Ok(grant),
                    Err(e) => format!("unreadable token response: {e}"),
                },
                Ok(response) if response.status().is_client_error() => {
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let error = body["error"].as_str().unwrap_or("error");
                    let description = body["error_description"].as_str().unwrap_or("");
                    if error == "invalid_grant" || error == "invalid_client" {
                        return Err(TokenFailure::InvalidGrant(format!("{error}: {description}")));
                    }
                    let message = format!("{error}: {description}");
                    return Err(TokenFailure::Other(PullError::Rejected { url, status: status.as_u16(), message }));
                }
                Ok(response) => format!("{}", response.status()),
                Err(e) => format!("request failed: {e}"),
            };
            attempt += 1;
            if attempt > self.policy.max_retries {
                return Err(TokenFailure::Other(PullError::Transient { url, attempts: attempt, message: failure }));
            }
            self.sleep(backoff(self.policy, attempt)).await.map_err(TokenFailure::Other)?;
        }
    }
}

/// Why the token endpoint gave no token.
pub enum TokenFailure {
    /// `invalid_grant` or `invalid_client`: only a new login or new credentials help.
    InvalidGrant(String),
    Other(PullError),
}

/// Exponential backoff with full jitter: a random wait up to `base * 2^(attempt-1)`, capped.
pub fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy.backoff_base.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(policy.backoff_max);
    ceiling.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let policy = RetryPolicy {
            max_retries: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
            quota_min_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        };
        for attempt in 1..=10 {
            let ceiling = Duration::from_millis(100 * (1u64 << (attempt - 1).min(16))).min(Duration::from_millis(1000));
            let wait = backoff(policy, attempt);
            assert!(wait <= ceiling && wait >= ceiling / 2, "attempt {attempt}: {wait:?} vs {ceiling:?}");
        }
    }
}
