//! The read-only HTTP server of `run`: the feeds as JSON and server-sent events, the
//! dashboard page, Prometheus metrics, and health.
//!
//! Feeds come from a `watch` channel holding only the latest refresh; the event streams get
//! each refresh through a short queue per client, and a client that stops reading is dropped
//! (`events`). Connections are capped and stalled ones dropped (`guard`).

mod config;
mod events;
pub mod guard;

pub use config::{ServeSection, ServeSettings};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::sink::feeds::Published;
use crate::telemetry::Metrics;

/// How often an idle event stream sends a comment, so proxies and clients keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The dashboard page, its script and the chart library it uses, built into the binary
/// (`assets/README.md` says where the library comes from).
const DASHBOARD: &str = include_str!("dashboard.html");
const ASSETS: [(&str, &str, &str); 3] = [
    ("/assets/dashboard.js", "text/javascript; charset=utf-8", include_str!("assets/dashboard.js")),
    ("/assets/uPlot.iife.min.js", "text/javascript; charset=utf-8", include_str!("assets/uPlot.iife.min.js")),
    ("/assets/uPlot.min.css", "text/css; charset=utf-8", include_str!("assets/uPlot.min.css")),
];

/// What the handlers read.
#[derive(Clone)]
pub struct ServeState {
    pub metrics: Arc<Metrics>,
    pub feeds: watch::Receiver<Arc<Published>>,
    /// Set once the pipeline has opened its sinks and started pulling.
    pub ready: Arc<AtomicBool>,
}

/// The handlers' state: what the pipeline shares, and the event-stream clients.
#[derive(Clone)]
struct Shared {
    state: ServeState,
    clients: events::Clients,
}

/// The server could not start: the user must free the port or pick another.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} (serve.listen or --listen)")]
pub struct ServeError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// A server that is listening, and the task that serves until the token is cancelled.
pub struct Server {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds `addr` and serves `state` until `cancel` fires, `max_connections` at a time.
pub async fn start(
    addr: SocketAddr,
    max_connections: usize,
    state: ServeState,
    cancel: CancellationToken,
) -> Result<Server, ServeError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError { addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError { addr, source })?;
    let clients = events::Clients::default();
    let fan_out = tokio::spawn(clients.clone().run(state.feeds.clone()));
    let app = router(Shared { state, clients });
    let task = tokio::spawn(async move {
        let listener = guard::GuardedListener::new(listener, max_connections);
        let served = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await;
        if let Err(e) = served {
            tracing::warn!("HTTP server on {addr} stopped: {e}");
        }
        // The fan-out ends with the refreshes, which end with the run.
        let _ = fan_out.await;
    });
    tracing::info!("serving the dashboard on http://{addr}/ (feeds under /api/feeds, metrics on /metrics)");
    Ok(Server { addr, task })
}

fn router(state: Shared) -> Router {
    let mut router = Router::new();
    for (path, content_type, body) in ASSETS {
        router = router.route(path, get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }));
    }
    router
        .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], DASHBOARD) }))
        .route("/api/feeds", get(list_feeds))
        .route("/api/feeds/{name}", get(one_feed))
        .route("/api/feeds/{name}/events", get(feed_events))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

async fn list_feeds(State(shared): State<Shared>) -> Response {
    let published = shared.state.feeds.borrow().clone();
    let feeds: Vec<serde_json::Value> = published
        .feeds
        .iter()
        .map(|(name, rows)| serde_json::json!({ "name": name, "rows": rows.rows, "url": format!("/api/feeds/{name}") }))
        .collect();
    let body = serde_json::json!({
        "version": published.version,
        "as_of": timestamp(Some(published.as_of_micros).filter(|_| published.version > 0)),
        "watermark": timestamp(published.watermark_micros),
        "feeds": feeds,
    });
    json_response(body.to_string())
}

async fn one_feed(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let published = shared.state.feeds.borrow().clone();
    match feed_json(&published, &name) {
        Some(body) => json_response(body),
        None => not_found(&name),
    }
}

async fn feed_events(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let published = shared.state.feeds.borrow().clone();
    if published.version > 0 && !published.feeds.contains_key(&name) {
        return not_found(&name);
    }
    let events = tokio_stream::wrappers::ReceiverStream::new(shared.clients.join(&name, &published));
    let events = futures::StreamExt::map(events, Ok::<_, Infallible>);
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response()
}

async fn metrics(State(shared): State<Shared>) -> Response {
    match crate::telemetry::prometheus_text(&shared.state.metrics) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics (a bug in tunestream): {e}\n"))
            .into_response(),
    }
}

async fn ready(State(shared): State<Shared>) -> Response {
    if shared.state.ready.load(Ordering::Relaxed) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

/// The body of `GET /api/feeds/NAME`: the rows are already JSON, so they are spliced in.
fn feed_json(published: &Published, name: &str) -> Option<String> {
    let feed = published.feeds.get(name)?;
    let head = serde_json::json!({
        "name": name,
        "version": published.version,
        "as_of": timestamp(Some(published.as_of_micros).filter(|_| published.version > 0)),
        "watermark": timestamp(published.watermark_micros),
        "truncated": feed.truncated,
    })
    .to_string();
    // `head` is a JSON object: reopen it to add the rows.
    Some(format!("{},\"rows\":{}}}", head.trim_end_matches('}'), feed.json))
}

fn timestamp(micros: Option<i64>) -> serde_json::Value {
    micros
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map_or(serde_json::Value::Null, |t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into())
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn not_found(name: &str) -> Response {
    let body = serde_json::json!({ "error": format!("no feed named `{name}`; GET /api/feeds lists them") });
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
