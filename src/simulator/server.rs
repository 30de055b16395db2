//! The simulator's HTTP server: fault injection and request routing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Faults;
use super::http::{Request, api_error, json_response, now_ms, parse_form};
use super::state::SimState;
use crate::lock;

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<SimState>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(handle).with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(async move { cancel.cancelled().await }).await
}

async fn handle(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method,
        path: uri.path().to_owned(),
        query: parse_form(uri.query().unwrap_or_default().as_bytes()),
        headers,
        body,
    };
    if request.path.starts_with("/v1/") {
        let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let response = match inject_fault(&state, n, &request).await {
            Some(response) => response,
            None => super::api::route(&state, &request),
        };
        state.remember(&uri, response.status());
        return response;
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/authorize") => super::accounts::authorize(&state, &request),
        ("POST", "/api/token") => super::accounts::token(&state, &request),
        ("GET", "/_sim/truth/plays") => json_response(StatusCode::OK, &json!(state.truth_plays(now_ms()))),
        ("GET", "/_sim/truth/playlists") => json_response(StatusCode::OK, &json!(state.truth_playlists(now_ms()))),
        ("GET", "/_sim/stats") => json_response(StatusCode::OK, &json!({"requests": state.requests()})),
        ("POST", "/_sim/faults") => match serde_json::from_slice::<Faults>(&request.body) {
            Ok(faults) => {
                state.set_faults(faults);
                json_response(StatusCode::OK, &json!({"ok": true}))
            }
            Err(e) => api_error(StatusCode::BAD_REQUEST, &format!("invalid faults: {e}")),
        },
        _ => api_error(StatusCode::NOT_FOUND, "Service not found"),
    }
}

fn every(n: u64, every: u64) -> bool {
    every > 0 && n.is_multiple_of(every)
}

async fn inject_fault(state: &SimState, n: u64, request: &Request) -> Option<Response> {
    let faults = state.faults();
    if every(n, faults.slow_every) {
        tokio::time::sleep(std::time::Duration::from_millis(faults.slow_ms)).await;
    }
    if faults.quota_exceeded_after > 0 && n > faults.quota_exceeded_after {
        let body =
            json!({"error": {"status": 429, "message": "Quota exceeded for this app", "reason": "QUOTA_EXCEEDED"}});
        let response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
        if faults.quota_without_retry_after {
            return Some(response);
        }
        return Some(with_retry_after(response, faults.quota_retry_after_secs));
    }
    if every(n, faults.rate_limit_every) {
        let response = api_error(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
        return Some(with_retry_after(response, faults.rate_limit_retry_after_secs));
    }
    if every(n, faults.server_error_every) {
        let status = [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE]
            [(n / faults.server_error_every % 3) as usize];
        return Some(api_error(status, "Server error"));
    }
    if every(n, faults.expire_token_every)
        && let Some(token) = request.bearer()
    {
        lock(&state.tokens).expire(token);
    }
    let always = |target: &String| match target.split_once("?offset=") {
        Some((path, offset)) => request.path == path && request.query.get("offset").map(String::as_str) == Some(offset),
        None => request.path == *target,
    };
    if faults.always_failing.iter().any(always) {
        return Some(api_error(StatusCode::INTERNAL_SERVER_ERROR, "Server error"));
    }
    if every(n, faults.malformed_every) || faults.always_malformed.iter().any(always) {
        let full = super::api::route(state, request);
        return Some(truncate(full).await);
    }
    None
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    if let Ok(value) = secs.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn truncate(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::from(cut))
}
