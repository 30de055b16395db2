//! `[spotify]`: the live source's section, its defaults, and its validation into the settings
//! `run` uses.

use std::time::Duration;

use serde::Deserialize;

use super::{Endpoints, RetryPolicy};

/// `[spotify]`: which API to pull and how politely.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpotifySection {
    /// Web API base URL (`https://api.spotify.com`). Unset: the built-in simulator.
    pub api_url: Option<String>,
    /// Accounts service base URL. Unset: `https://accounts.spotify.com` (or the simulator).
    pub accounts_url: Option<String>,
    /// The app's client id; the `SPOTIFY_CLIENT_ID` variable wins when set (`config::load`).
    pub client_id: Option<String>,
    /// The app's client secret; the `SPOTIFY_CLIENT_SECRET` variable wins when set (`config::load`).
    pub client_secret: Option<String>,
    /// Requests allowed per rolling 24 hours (development-mode apps get about 1,000).
    pub daily_budget: u32,
    /// Most requests per second.
    pub requests_per_second: f64,
    /// Retries of a request after a 5xx, a timeout, a malformed body or a short 429.
    pub max_retries: u32,
    /// First backoff, doubled per retry, with jitter.
    pub backoff_base_ms: u64,
    /// Longest backoff.
    pub backoff_max_ms: u64,
    /// Longest `Retry-After` waited in place; a longer one pauses the account instead.
    pub max_retry_after_secs: u64,
    /// How long a `QUOTA_EXCEEDED` 429 without a usable `Retry-After` pauses the account, doubled
    /// on each repeat (up to a day) until a request succeeds again.
    pub quota_min_backoff_secs: u64,
    /// Timeout of one request.
    pub request_timeout_secs: u64,
    /// Port of the loopback redirect `http://127.0.0.1:PORT/callback` registered with the app.
    pub redirect_port: u16,
}

impl Default for SpotifySection {
    fn default() -> Self {
        Self {
            api_url: None,
            accounts_url: None,
            client_id: None,
            client_secret: None,
            daily_budget: 1000,
            requests_per_second: 2.0,
            max_retries: 4,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            max_retry_after_secs: 60,
            quota_min_backoff_secs: 3600,
            request_timeout_secs: 20,
            redirect_port: 8888,
        }
    }
}

/// The validated `[spotify]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SpotifySettings {
    /// `None`: start the in-process simulator.
    pub endpoints: Option<Endpoints>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub daily_budget: u32,
    pub requests_per_second: f64,
    pub policy: RetryPolicy,
    pub redirect_port: u16,
}

impl SpotifySection {
    pub fn validate(self, problems: &mut Vec<String>) -> SpotifySettings {
        fn is_loopback(url: &url::Url) -> bool {
            match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name == "localhost",
                None => false,
            }
        }
        if self.daily_budget == 0 {
            problems.push("spotify.daily_budget must be at least 1".into());
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            problems.push(format!(
                "spotify.backoff_max_ms is {}; it must be at least spotify.backoff_base_ms ({})",
                self.backoff_max_ms, self.backoff_base_ms
            ));
        }
        for (name, value) in [
            ("spotify.quota_min_backoff_secs", self.quota_min_backoff_secs),
            ("spotify.request_timeout_secs", self.request_timeout_secs),
        ] {
            if value == 0 {
                problems.push(format!("{name} is 0; it must be at least 1"));
            }
        }
        if self.requests_per_second.is_nan() || self.requests_per_second <= 0.0 {
            problems.push(format!("spotify.requests_per_second is {}; it must be above 0", self.requests_per_second));
        }
        for (name, url) in [("spotify.api_url", &self.api_url), ("spotify.accounts_url", &self.accounts_url)] {
            let Some(url) = url else { continue };
            match url::Url::parse(url) {
                Err(_) => problems.push(format!("{name} `{url}` is not a URL")),
                // Tokens and the client secret travel in these requests: only loopback may be plain.
                Ok(parsed) if parsed.scheme() != "https" && !is_loopback(&parsed) => problems.push(format!(
                    "{name} `{url}` must be https (plain http is allowed only to 127.0.0.1, [::1] or localhost)"
                )),
                Ok(_) => {}
            }
        }
        let endpoints = self
            .api_url
            .map(|api| Endpoints { api, accounts: self.accounts_url.unwrap_or_else(|| Endpoints::spotify().accounts) });
        SpotifySettings {
            endpoints,
            client_id: self.client_id,
            client_secret: self.client_secret,
            daily_budget: self.daily_budget,
            requests_per_second: self.requests_per_second,
            policy: RetryPolicy {
                max_retries: self.max_retries,
                backoff_base: Duration::from_millis(self.backoff_base_ms),
                backoff_max: Duration::from_millis(self.backoff_max_ms),
                max_retry_after: Duration::from_secs(self.max_retry_after_secs),
                quota_min_backoff: Duration::from_secs(self.quota_min_backoff_secs),
                timeout: Duration::from_secs(self.request_timeout_secs),
            },
            redirect_port: self.redirect_port,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(api_url: &str, accounts_url: Option<&str>) -> Vec<String> {
        let section = SpotifySection {
            api_url: Some(api_url.into()),
            accounts_url: accounts_url.map(str::to_owned),
            ..SpotifySection::default()
        };
        let mut problems = Vec::new();
        section.validate(&mut problems);
        problems
    }

    #[test]
    fn plain_http_is_allowed_only_to_loopback() {
        for loopback in ["http://127.0.0.1:8080", "http://[::1]:9", "http://localhost:3000", "https://api.example.com"]
        {
            assert!(problems(loopback, None).is_empty(), "{loopback}");
        }
        let remote = problems("http://api.example.com", Some("http://10.0.0.5/accounts"));
        assert_eq!(remote.len(), 2, "{remote:?}");
        assert!(remote[0].starts_with("spotify.api_url `http://api.example.com` must be https"), "{remote:?}");
        assert!(remote[1].starts_with("spotify.accounts_url `http://10.0.0.5/accounts` must be https"));
    }

    #[test]
    fn values_that_would_be_clamped_are_reported_instead() {
        let section = SpotifySection {
            backoff_base_ms: 2_000,
            backoff_max_ms: 1_000,
            quota_min_backoff_secs: 0,
            request_timeout_secs: 0,
            ..SpotifySection::default()
        };
        let mut problems = Vec::new();
        let settings = section.validate(&mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("spotify.backoff_max_ms is 1000"), "{problems:?}");
        assert!(problems[1].contains("spotify.quota_min_backoff_secs is 0"), "{problems:?}");
        assert!(problems[2].contains("spotify.request_timeout_secs is 0"), "{problems:?}");
        assert_eq!(settings.policy.backoff_max, Duration::from_secs(1), "what was written, not a silent fix");
    }
}
