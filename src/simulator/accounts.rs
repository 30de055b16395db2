//! The simulator's accounts service: `/authorize` (auto-approving, PKCE) and `/api/token`
//! (client credentials, authorization code, single-use rotating refresh tokens).

use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::json;
use sha2::Digest;

use super::catalog::ObjectKind;
use super::http::{Request, api_error, json_response, now_ms, parse_form};
use super::state::SimState;
use super::tokens::{AccessToken, Grant};
use crate::lock;

fn oauth_error(error: &str, description: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": error, "error_description": description}))
}

/// `GET /authorize`: approves at once (as the user named by `login_hint`, else the first user)
/// and redirects to `redirect_uri` with a code, as Spotify does after the user consents.
pub fn authorize(state: &SimState, request: &Request) -> Response {
    let (Some(client_id), Some(redirect_uri), Some(challenge)) =
        (request.param("client_id"), request.param("redirect_uri"), request.param("code_challenge"))
    else {
        return api_error(StatusCode::BAD_REQUEST, "client_id, redirect_uri and code_challenge are required");
    };
    if client_id != state.config.client_id {
        return api_error(StatusCode::BAD_REQUEST, "INVALID_CLIENT: Invalid client");
    }
    if request.param("code_challenge_method") != Some("S256") {
        return api_error(StatusCode::BAD_REQUEST, "code_challenge_method must be S256");
    }
    // Since 2025 Spotify accepts only HTTPS or a loopback IP literal, never `localhost`.
    let loopback = url::Url::parse(redirect_uri).ok().is_some_and(|u| {
        u.scheme() == "https" || (u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]")))
    });
    if !loopback {
        return api_error(StatusCode::BAD_REQUEST, "INVALID_CLIENT: Insecure redirect URI");
    }
    let user = request.param("login_hint").and_then(|u| state.catalog.find(ObjectKind::User, u)).unwrap_or(0);
    let mut tokens = lock(&state.tokens);
    let code = tokens.fresh("code-");
    tokens
        .codes
        .insert(code.clone(), Grant { user, challenge: challenge.to_owned(), redirect_uri: redirect_uri.to_owned() });
    let mut location = format!("{redirect_uri}?code={code}");
    if let Some(s) = request.param("state") {
        location.push_str("&state=");
        location.extend(url::form_urlencoded::byte_serialize(s.as_bytes()));
    }
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let value = request.headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /api/token`.
pub fn token(state: &SimState, request: &Request) -> Response {
    let form = parse_form(&request.body);
    let ttl_ms = state.config.access_token_ttl_secs as i64 * 1000;
    let mut tokens = lock(&state.tokens);
    let user = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let Some((id, secret)) = basic_credentials(request) else {
                return oauth_error("invalid_client", "Invalid client");
            };
            if id != state.config.client_id || secret != state.config.client_secret {
                return oauth_error("invalid_client", "Invalid client secret");
            }
            None
        }
        Some("authorization_code") => {
            let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
                return oauth_error("invalid_request", "code and code_verifier are required");
            };
            let Some(grant) = tokens.codes.remove(code) else {
                return oauth_error("invalid_grant", "Invalid authorization code");
            };
            let digest = sha2::Sha256::digest(verifier.as_bytes());
            let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            if expected != grant.challenge {
                return oauth_error("invalid_grant", "code_verifier was incorrect");
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error("invalid_grant", "Invalid redirect URI");
            }
            Some(grant.user)
        }
        Some("refresh_token") => {
            let Some(old) = form.get("refresh_token") else {
                return oauth_error("invalid_request", "refresh_token is required");
            };
            if state.faults().revoke_refresh_tokens {
                tokens.refresh.remove(old);
                return oauth_error("invalid_grant", "Refresh token revoked");
            }
            // PKCE refresh tokens are single-use: the old one dies with this exchange.
            let Some(user) = tokens.refresh.remove(old) else {
                return oauth_error("invalid_grant", "Invalid refresh token");
            };
            Some(user)
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "grant_type must be client_credentials, authorization_code or refresh_token",
            );
        }
    };
    let access = tokens.fresh("at-");
    tokens.access.insert(access.clone(), AccessToken { user, expires_ms: now_ms() + ttl_ms });
    let mut body =
        json!({"access_token": access, "token_type": "Bearer", "expires_in": state.config.access_token_ttl_secs});
    if let Some(user) = user {
        let refresh = tokens.fresh("rt-");
        tokens.refresh.insert(refresh.clone(), user);
        body["refresh_token"] = json!(refresh);
        body["scope"] = json!("user-read-recently-played playlist-read-private user-follow-read");
    }
    drop(tokens);
    state.persist();
    json_response(StatusCode::OK, &body)
}
