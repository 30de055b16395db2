//! Request pacing for one developer account: a minimum gap between requests, a rolling 24-hour
//! request budget, and a circuit that `QUOTA_EXCEEDED` opens for the whole account. The budget
//! and the circuit persist, so a restart neither resets the count nor hammers a closed quota.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::state::{StateDir, StateError};

const ACCOUNT_FILE: &str = "account.json";
const HOUR_MS: i64 = 3_600_000;
/// The budget window: Spotify counts development-mode quota over a rolling 24 hours.
const WINDOW_HOURS: i64 = 24;
/// The longest hold after repeated `QUOTA_EXCEEDED` answers: the quota's own window.
const MAX_QUOTA_HOLD: Duration = Duration::from_secs(WINDOW_HOURS as u64 * 3600);

/// What the limiter remembers across restarts.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountState {
    /// While set and in the future, no request is sent.
    pub circuit_until_ms: Option<i64>,
    pub circuit_reason: Option<String>,
    /// `QUOTA_EXCEEDED` answers since the last successful request: each doubles the next hold.
    #[serde(default)]
    pub quota_strikes: u32,
    /// Requests sent per hour (hours since the epoch), for the last 24 hours.
    pub requests_by_hour: BTreeMap<i64, u32>,
}

/// The account's open circuit recorded in `state_dir`, if any, for `tunestream plan`.
pub fn open_circuit_in(state_dir: &std::path::Path) -> Option<(DateTime<Utc>, String)> {
    let bytes = std::fs::read(state_dir.join(ACCOUNT_FILE)).ok()?;
    let account: AccountState = serde_json::from_slice(&bytes).ok()?;
    let until = account.circuit_until_ms.filter(|&u| u > Utc::now().timestamp_millis())?;
    Some((at(until), account.circuit_reason.unwrap_or_default()))
}

/// Why the limiter refused a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    CircuitOpen { until: DateTime<Utc>, reason: String },
    BudgetExhausted { until: DateTime<Utc>, budget: u32 },
    Cancelled,
}

pub struct Limiter {
    min_gap: Duration,
    budget: u32,
    last_sent: Option<tokio::time::Instant>,
    account: AccountState,
    state: StateDir,
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Limiter {
    pub fn load(state: StateDir, requests_per_second: f64, budget: u32) -> Result<Self, StateError> {
        let account = state.read(ACCOUNT_FILE)?;
        Ok(Self {
            min_gap: Duration::from_secs_f64(1.0 / requests_per_second.max(0.001)),
            budget,
            last_sent: None,
            account,
            state,
        })
    }

    /// Requests allowed per rolling 24 hours.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// Requests counted in the rolling window ending at `now_ms`.
    pub fn used(&self, now_ms: i64) -> u32 {
        let first_hour = now_ms.div_euclid(HOUR_MS) - (WINDOW_HOURS - 1);
        self.account.requests_by_hour.range(first_hour..).map(|(_, n)| n).sum()
    }

    /// The circuit's deadline, if it is open at `now_ms`.
    pub fn circuit(&self, now_ms: i64) -> Option<(DateTime<Utc>, String)> {
        let until = self.account.circuit_until_ms.filter(|&u| u > now_ms)?;
        Some((at(until), self.account.circuit_reason.clone().unwrap_or_default()))
    }

    /// Waits for the next request slot and counts the request, or says why it may not be sent.
    pub async fn acquire(&mut self, cancel: &CancellationToken) -> Result<(), Refused> {
        let now_ms = Utc::now().timestamp_millis();
        if let Some((until, reason)) = self.circuit(now_ms) {
            return Err(Refused::CircuitOpen { until, reason });
        }
        if self.used(now_ms) >= self.budget {
            let oldest = self.account.requests_by_hour.keys().next().copied().unwrap_or(now_ms / HOUR_MS);
            return Err(Refused::BudgetExhausted { until: at((oldest + WINDOW_HOURS) * HOUR_MS), budget: self.budget });
        }
        if let Some(last) = self.last_sent {
            tokio::select! {
                _ = tokio::time::sleep_until(last + self.min_gap) => {}
                _ = cancel.cancelled() => return Err(Refused::Cancelled),
            }
        }
        self.last_sent = Some(tokio::time::Instant::now());
        let hour = now_ms.div_euclid(HOUR_MS);
        *self.account.requests_by_hour.entry(hour).or_default() += 1;
        self.account.requests_by_hour.retain(|&h, _| h > hour - WINDOW_HOURS);
        // The count is advisory: losing the last few on a crash is harmless, so no error stops a pull.
        if let Err(e) = self.state.write(ACCOUNT_FILE, &self.account, false) {
            tracing::warn!("cannot persist the request budget: {e}");
        }
        Ok(())
    }

    /// A `QUOTA_EXCEEDED` answer at `now_ms`: opens the circuit for `retry_after`, or without one
    /// for `min_hold` doubled per earlier strike (at most a day). Returns the deadline.
    pub fn quota_exceeded(
        &mut self,
        now_ms: i64,
        retry_after: Option<Duration>,
        min_hold: Duration,
    ) -> Result<i64, StateError> {
        let doubled = min_hold.saturating_mul(1u32 << self.account.quota_strikes.min(20)).min(MAX_QUOTA_HOLD);
        let hold = retry_after.unwrap_or(doubled);
        self.account.quota_strikes = self.account.quota_strikes.saturating_add(1);
        let until_ms = now_ms.saturating_add(hold.as_millis() as i64);
        self.open_circuit(until_ms, "QUOTA_EXCEEDED")?;
        Ok(until_ms)
    }

    /// A request succeeded: the quota is back, so the next `QUOTA_EXCEEDED` starts from the
    /// minimum hold again.
    pub fn succeeded(&mut self) {
        if self.account.quota_strikes > 0 {
            self.account.quota_strikes = 0;
            if let Err(e) = self.state.write(ACCOUNT_FILE, &self.account, false) {
                tracing::warn!("cannot persist the account state: {e}");
            }
        }
    }

    /// Opens the account-wide circuit until `until_ms`, and persists it before returning.
    pub fn open_circuit(&mut self, until_ms: i64, reason: &str) -> Result<(), StateError> {
        self.account.circuit_until_ms = Some(until_ms);
        self.account.circuit_reason = Some(reason.to_owned());
        self.state.write(ACCOUNT_FILE, &self.account, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_and_the_circuit_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let cancel = CancellationToken::new();
        let mut limiter = Limiter::load(state.clone(), 1000.0, 3).unwrap();
        for _ in 0..3 {
            limiter.acquire(&cancel).await.unwrap();
        }
        assert!(matches!(limiter.acquire(&cancel).await, Err(Refused::BudgetExhausted { budget: 3, .. })));

        let mut restarted = Limiter::load(state.clone(), 1000.0, 5).unwrap();
        assert_eq!(restarted.used(Utc::now().timestamp_millis()), 3);
        let until = Utc::now().timestamp_millis() + 3_600_000;
        restarted.open_circuit(until, "QUOTA_EXCEEDED").unwrap();
        let mut again = Limiter::load(state, 1000.0, 5).unwrap();
        match again.acquire(&cancel).await {
            Err(Refused::CircuitOpen { until: u, reason }) => {
                assert_eq!(u.timestamp_millis(), until);
                assert_eq!(reason, "QUOTA_EXCEEDED");
            }
            other => panic!("expected an open circuit, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn requests_are_spaced_by_the_minimum_gap() {
        let dir = tempfile::tempdir().unwrap();
        let mut limiter = Limiter::load(StateDir::open(dir.path()).unwrap(), 20.0, 100).unwrap();
        let cancel = CancellationToken::new();
        let start = std::time::Instant::now();
        for _ in 0..3 {
            limiter.acquire(&cancel).await.unwrap();
        }
        // Three requests at 20/s need at least two gaps of 50 ms.
        assert!(start.elapsed() >= Duration::from_millis(100), "{:?}", start.elapsed());
    }
}
