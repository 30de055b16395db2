//! `tunestream run`: live pulls through the pipeline, from the real API or the in-process
//! simulator, after checking the jobs' request plan against the daily budget.

use tokio_util::sync::CancellationToken;

use super::Observed;
use crate::Error;
use crate::config::{ConfigError, Settings};
use crate::serve::{self, ServeState};
use crate::simulator::Simulator;
use crate::source::spotify::{self, Endpoints, LiveConfig, jobs::plan_table};
use crate::source::{SourceConfig, SourceError};
use crate::telemetry::RunSummary;

/// Where the in-process simulator of `run` saves its world and issued tokens.
pub const SIMULATOR_FILE: &str = "simulator.json";

/// The request plan of the configured jobs, and whether it fits the budget; with the account's
/// circuit, when a `QUOTA_EXCEEDED` (or a long `Retry-After`) holds pulls back.
pub fn plan(settings: &Settings) -> (String, bool) {
    let (mut table, total) = plan_table(&settings.jobs, settings.spotify.daily_budget);
    if let Some((until, reason)) = spotify::limiter::open_circuit_in(&settings.state_dir) {
        table.push_str(&format!("\nthe account's circuit is open until {until} ({reason}): pulls resume then\n"));
    }
    (table, total <= u64::from(settings.spotify.daily_budget))
}

/// Pulls the configured jobs until `cancel` fires, then drains and commits everything.
/// `force` runs a plan that exceeds the daily budget.
pub async fn run_live(settings: &Settings, force: bool, cancel: CancellationToken) -> Result<RunSummary, Error> {
    if settings.jobs.is_empty() {
        return Err(ConfigError::Invalid(vec!["no [[jobs]] configured: `run` has nothing to pull".into()]).into());
    }
    let (table, fits) = plan(settings);
    if !fits && !force {
        return Err(SourceError::OverBudget(table).into());
    }
    let spotify = &settings.spotify;
    let (simulator, endpoints, client_id, client_secret) = match &spotify.endpoints {
        Some(endpoints) => {
            let Some(id) = spotify.client_id.clone() else {
                let message = "spotify.client_id (or SPOTIFY_CLIENT_ID) is required with spotify.api_url".to_owned();
                return Err(ConfigError::Invalid(vec![message]).into());
            };
            (None, endpoints.clone(), id, spotify.client_secret.clone())
        }
        None => {
            // The simulator keeps its world and tokens next to the source state, so a restarted
            // run finds its cursors and tokens still valid.
            let saved = settings.state_dir.join(SIMULATOR_FILE);
            let sim = Simulator::start_persistent(settings.simulator.clone(), 0, &saved)
                .await
                .map_err(SourceError::Simulator)?;
            let endpoints = Endpoints { api: sim.base_url(), accounts: sim.base_url() };
            let (id, secret) = (settings.simulator.client_id.clone(), settings.simulator.client_secret.clone());
            (Some(sim), endpoints, id, Some(secret))
        }
    };
    let live = LiveConfig {
        jobs: settings.jobs.clone(),
        auto_login: simulator.is_some(),
        ..live_config(settings, endpoints, client_id, client_secret)
    };
    tracing::info!(jobs = live.jobs.len(), api = %live.endpoints.api, "starting live pulls");
    let observed = Observed::default();
    // The server outlives the pipeline's token: it serves until the run has drained.
    let stop_serving = CancellationToken::new();
    let server = match settings.serve {
        Some(serving) => {
            let state = ServeState {
                metrics: observed.metrics.clone(),
                feeds: observed.feeds.subscribe(),
                ready: observed.ready.clone(),
            };
            match serve::start(serving.listen, serving.max_connections, state, stop_serving.clone()).await {
                Ok(server) => Some(server),
                Err(e) => {
                    if let Some(sim) = simulator {
                        sim.stop().await;
                    }
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    let source = SourceConfig::Spotify(Box::new(live));
    let result = super::run_observed(settings, source, cancel, &observed, settings.feeds.as_ref()).await;
    if let Some(serving) = settings.serve.filter(|s| server.is_some() && !s.linger.is_zero()) {
        tracing::info!("the run has ended; serving its final metrics for {:?} more", serving.linger);
        tokio::time::sleep(serving.linger).await;
    }
    // Event streams end when the last sender of refreshes is gone; then the server can stop.
    drop(observed);
    stop_serving.cancel();
    if let Some(server) = server
        && tokio::time::timeout(SERVER_STOP, server.task).await.is_err()
    {
        tracing::warn!("the HTTP server on {} did not stop within {SERVER_STOP:?}", server.addr);
    }
    if let Some(sim) = simulator {
        sim.stop().await;
    }
    result
}

/// How long the end of a run waits for open HTTP connections to finish.
const SERVER_STOP: std::time::Duration = std::time::Duration::from_secs(5);

/// `tunestream auth login`: authorizes a user of the configured API (Spotify's unless
/// `spotify.api_url` is set) and stores the tokens in the state directory.
pub async fn login(settings: &Settings, user: Option<&str>, port: Option<u16>) -> Result<String, Error> {
    let spotify = &settings.spotify;
    let Some(client_id) = spotify.client_id.clone() else {
        let message = "set SPOTIFY_CLIENT_ID (or spotify.client_id) to log in".to_owned();
        return Err(ConfigError::Invalid(vec![message]).into());
    };
    let endpoints = spotify.endpoints.clone().unwrap_or_else(Endpoints::spotify);
    let config = live_config(settings, endpoints, client_id, spotify.client_secret.clone());
    Ok(spotify::login_interactive(&config, user, port.unwrap_or(spotify.redirect_port)).await?)
}

/// The live source's settings for `endpoints`, with no jobs.
fn live_config(settings: &Settings, endpoints: Endpoints, client_id: String, secret: Option<String>) -> LiveConfig {
    let spotify = &settings.spotify;
    LiveConfig {
        endpoints,
        client_id,
        client_secret: secret,
        policy: spotify.policy,
        requests_per_second: spotify.requests_per_second,
        daily_budget: spotify.daily_budget,
        state_dir: settings.state_dir.clone(),
        jobs: Vec::new(),
        auto_login: false,
    }
}
