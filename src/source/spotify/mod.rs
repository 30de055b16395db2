//! Live pulls from the Spotify Web API (or the built-in simulator): authorization, pacing and
//! the error policy ([`client`]), jobs and their request plan ([`jobs`]), one pull per job
//! ([`pulls`]) and the scheduler that turns pulls into micro-batches (`scheduler`).
//!
//! Source state lives in the state directory: `tokens.json` (0600), `account.json` (budget
//! and circuit), `checkpoint.json` (cursors and snapshots, written by the sink together with
//! the data they cover, so a restart resumes with no gap and no duplicate) and `journal/` (the
//! pulls sent downstream that no checkpoint covers yet, sent again as they were on a restart).

pub mod auth;
pub mod client;
mod config;
pub mod jobs;
mod journal;
pub mod limiter;
pub mod login;
mod plays;
pub mod pulls;
mod scheduler;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::page::{BatchLimits, PageBatch};
use crate::source::SourceError;
use crate::telemetry::SourceCounters;
pub use client::{Endpoints, RetryPolicy};
pub use config::{SpotifySection, SpotifySettings};
pub use jobs::JobConfig;

/// The checkpoint file the sink writes once the data it covers is committed.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";

/// Everything a live source needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub policy: RetryPolicy,
    pub requests_per_second: f64,
    pub daily_budget: u32,
    pub state_dir: PathBuf,
    pub jobs: Vec<JobConfig>,
    /// Log in users without tokens by following the authorize URL (the simulator only).
    pub auto_login: bool,
}

/// Builds the client for `config`, with its persisted tokens, budget and circuit.
pub fn connect(
    config: &LiveConfig,
    counters: Arc<SourceCounters>,
    cancel: CancellationToken,
) -> Result<client::Client, SourceError> {
    let state = state::StateDir::open(&config.state_dir)?;
    let tokens = auth::TokenBook::load(state.clone())?;
    let limiter = limiter::Limiter::load(state, config.requests_per_second, config.daily_budget)?;
    client::Client::new(config, tokens, limiter, counters, cancel).map_err(|e| SourceError::Client(e.to_string()))
}

/// Logs in every user the jobs need who has no usable tokens, by following the authorize URL
/// itself: only for the simulator, which approves at once.
pub async fn log_in_simulated_users(client: &client::Client, jobs: &[JobConfig]) -> Result<(), SourceError> {
    let mut users: Vec<&str> = jobs.iter().filter_map(JobConfig::user).collect();
    users.sort_unstable();
    users.dedup();
    for user in users {
        if client.tokens.lock().await.login_problem(user).is_none() {
            continue;
        }
        let redirect = login::Redirect::bind(0).await?;
        let http = client.http().clone();
        let logged_in = login::login(client, redirect, Some(user), move |url| async move {
            if let Err(e) = http.get(url).send().await {
                tracing::warn!("following the simulator's authorize URL failed: {e}");
            }
        })
        .await?;
        tracing::info!(user = logged_in, "logged in to the simulator");
    }
    Ok(())
}

/// Runs the jobs until `cancel` fires, sending micro-batches of enveloped pages to `tx`.
pub async fn run_source(
    client: Arc<client::Client>,
    config: &LiveConfig,
    limits: BatchLimits,
    tx: mpsc::Sender<PageBatch>,
    cancel: CancellationToken,
) -> Result<(), SourceError> {
    let state_dir = state::StateDir::open(&config.state_dir)?;
    let scheduler = scheduler::Scheduler::new(client, config.jobs.clone(), state_dir, limits)?;
    Ok(scheduler.run(tx, cancel).await?)
}

/// `tunestream auth login`: prints the authorize URL, waits for the loopback redirect on `port`
/// and stores the tokens in the state directory of `config`. Returns the user id.
pub async fn login_interactive(config: &LiveConfig, user: Option<&str>, port: u16) -> Result<String, SourceError> {
    let client = connect(config, Arc::default(), CancellationToken::new())?;
    let redirect = login::Redirect::bind(port).await?;
    println!("Register {} as a redirect URI of your Spotify app, then open:", redirect.uri());
    let user = login::login(&client, redirect, user, |url| async move {
        println!("\n  {url}\n\nWaiting for the redirect...");
    })
    .await?;
    Ok(user)
}
