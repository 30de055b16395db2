//! The simulator's `/v1` Web API routes.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::accounts::Refusal;
use super::catalog::{Access, ObjectKind};
use super::render::{AppMode, Renderer, paging};
use super::server::{Request, SimState, api_error, json_response, lock, now_ms};

/// Largest `limit` Spotify accepts on paged endpoints.
const MAX_LIMIT: usize = 50;
/// Largest search `limit` for development-mode apps since 2026.
const DEV_SEARCH_LIMIT: usize = 10;

pub fn route(state: &SimState, request: &Request) -> Response {
    if request.method != Method::GET {
        return api_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let caller = match request.bearer().map(|t| lock(&state.tokens).check(t)) {
        None => return api_error(StatusCode::UNAUTHORIZED, "No token provided"),
        Some(Err(Refusal::Invalid)) => return api_error(StatusCode::UNAUTHORIZED, "Invalid access token"),
        Some(Err(Refusal::Expired)) => return api_error(StatusCode::UNAUTHORIZED, "The access token expired"),
        Some(Ok(user)) => user,
    };
    let now = now_ms();
    let renamed = state.renamed_artists();
    let r = Renderer { catalog: &state.catalog, mode: state.config.mode, base: &state.base, now_ms: now, renamed };
    let segments: Vec<&str> = request.path.trim_start_matches("/v1/").split('/').filter(|s| !s.is_empty()).collect();
    let find = |kind, id: &str| state.catalog.find(kind, id);
    let not_found = || api_error(StatusCode::NOT_FOUND, "Resource not found");
    let ok = |value: Value| json_response(StatusCode::OK, &value);
    match segments.as_slice() {
        ["me", rest @ ..] => {
            let Some(user) = caller else {
                return api_error(StatusCode::FORBIDDEN, "This endpoint needs a user access token");
            };
            match rest {
                [] => ok(r.user_ref(user)),
                ["playlists"] => ok(my_playlists(state, &r, request, user)),
                ["player", "recently-played"] => ok(recently_played(state, &r, request, user)),
                ["following"] if request.param("type") == Some("artist") => ok(followed(state, &r, request, user)),
                _ => not_found(),
            }
        }
        ["playlists", id, rest @ ..] => {
            let Some(p) = find(ObjectKind::Playlist, id) else { return not_found() };
            let playlist = &state.catalog.playlists[p];
            match playlist.access {
                Access::Editorial if state.config.mode == AppMode::Development => return not_found(),
                Access::Private if caller != Some(playlist.owner) => {
                    return api_error(StatusCode::FORBIDDEN, "You cannot access this playlist");
                }
                _ => {}
            }
            let entries_path = match state.config.mode {
                AppMode::Development => "items",
                AppMode::Extended => "tracks",
            };
            match rest {
                [] => {
                    let version = state.version(p, now);
                    let entries = playlist_entries(state, &r, request, p, version, entries_path);
                    ok(r.playlist(p, &state.catalog.snapshot_id(p, version), entries))
                }
                [which] if *which == "items" || *which == entries_path => {
                    let offset = request.number("offset", 0);
                    state.maybe_edit_during_read(p, offset);
                    let version = state.version(p, now);
                    ok(playlist_entries(state, &r, request, p, version, which))
                }
                _ => not_found(),
            }
        }
        ["tracks", id] => find(ObjectKind::Track, id).map_or_else(not_found, |t| ok(r.track(t))),
        ["albums", id] => find(ObjectKind::Album, id).map_or_else(not_found, |a| ok(r.album(a))),
        ["artists", id] => find(ObjectKind::Artist, id).map_or_else(not_found, |a| ok(r.artist(a))),
        ["artists", id, "albums"] => {
            let Some(a) = find(ObjectKind::Artist, id) else { return not_found() };
            let albums = &state.catalog.artists[a].albums;
            let (offset, limit) = window(request, 20, MAX_LIMIT);
            let items = albums.iter().skip(offset).take(limit).map(|&x| r.simplified_album(x)).collect();
            let base = format!("{}/v1/artists/{id}/albums", state.base);
            ok(paging(items, offset, limit, albums.len(), |o| format!("{base}?offset={o}&limit={limit}")))
        }
        ["search"] => ok(search(state, &r, request)),
        // Development-mode apps lost every batch "get several" endpoint in 2026.
        ["tracks" | "albums" | "artists"] if state.config.mode == AppMode::Development => not_found(),
        _ => not_found(),
    }
}

fn window(request: &Request, default: usize, max: usize) -> (usize, usize) {
    (request.number("offset", 0), request.number("limit", default).clamp(1, max))
}

fn playlist_entries(state: &SimState, r: &Renderer, request: &Request, p: usize, version: u64, path: &str) -> Value {
    let entries = state.catalog.entries(p, version);
    let (offset, limit) = window(request, MAX_LIMIT, MAX_LIMIT);
    let items = entries.iter().skip(offset).take(limit).map(|e| r.entry(e)).collect();
    let base = format!("{}/v1/playlists/{}/{path}", state.base, state.catalog.playlists[p].id);
    paging(items, offset, limit, entries.len(), |o| format!("{base}?offset={o}&limit={limit}"))
}

fn my_playlists(state: &SimState, r: &Renderer, request: &Request, user: usize) -> Value {
    let owned = &state.catalog.users[user].playlists;
    let (offset, limit) = window(request, 20, MAX_LIMIT);
    let now = r.now_ms;
    let items = owned
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&p| {
            let version = state.version(p, now);
            let total = state.catalog.entries(p, version).len();
            let href = format!("{}/v1/playlists/{}/items", state.base, state.catalog.playlists[p].id);
            r.playlist(p, &state.catalog.snapshot_id(p, version), json!({"href": href, "total": total}))
        })
        .collect();
    let base = format!("{}/v1/me/playlists", state.base);
    paging(items, offset, limit, owned.len(), |o| format!("{base}?offset={o}&limit={limit}"))
}

/// Spotify's cursor paging: the newest plays first, `after`/`before` in epoch milliseconds,
/// only the latest `history_limit` plays reachable.
fn recently_played(state: &SimState, r: &Renderer, request: &Request, user: usize) -> Value {
    let limit = request.number("limit", 20).clamp(1, MAX_LIMIT);
    let after = request.param("after").and_then(|v| v.parse::<i64>().ok());
    let before = request.param("before").and_then(|v| v.parse::<i64>().ok());
    let plays = state.catalog.plays(user, r.now_ms);
    let reachable = &plays[plays.len().saturating_sub(state.config.history_limit)..];
    let mut matching: Vec<_> = reachable
        .iter()
        .filter(|p| after.is_none_or(|a| p.played_at_ms > a) && before.is_none_or(|b| p.played_at_ms < b))
        .collect();
    matching.reverse();
    let page: Vec<_> = matching.into_iter().take(limit).collect();
    let oldest = page.last().map(|p| p.played_at_ms);
    // `next` pages back in time, without `after`: a client sees where its cursor overlaps.
    let more = oldest.is_some_and(|o| reachable.first().is_some_and(|first| first.played_at_ms < o));
    let items: Vec<Value> = page
        .iter()
        .map(|play| {
            let context = play.playlist.map_or_else(
                || {
                    let album = &state.catalog.albums[state.catalog.tracks[play.track].album];
                    json!({"type": "album", "uri": format!("spotify:album:{}", album.id)})
                },
                |p| json!({"type": "playlist", "uri": format!("spotify:playlist:{}", state.catalog.playlists[p].id)}),
            );
            let played_at = chrono::DateTime::from_timestamp_millis(play.played_at_ms).unwrap_or_default();
            json!({"track": r.track(play.track), "played_at": played_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "context": context})
        })
        .collect();
    let newest = page.first().map(|p| p.played_at_ms);
    let base = format!("{}/v1/me/player/recently-played", state.base);
    let next = more.then(|| format!("{base}?before={}&limit={limit}", oldest.unwrap_or_default()));
    let href = match (after, before) {
        (Some(a), _) => format!("{base}?after={a}&limit={limit}"),
        (_, Some(b)) => format!("{base}?before={b}&limit={limit}"),
        _ => format!("{base}?limit={limit}"),
    };
    json!({"href": href, "items": items, "limit": limit, "next": next,
           "cursors": newest.map(|n| json!({"after": n.to_string(), "before": oldest.unwrap_or(n).to_string()})),
           "total": null})
}

fn followed(state: &SimState, r: &Renderer, request: &Request, user: usize) -> Value {
    let followed = &state.catalog.users[user].followed;
    let limit = request.number("limit", 20).clamp(1, MAX_LIMIT);
    let start = request
        .param("after")
        .and_then(|after| followed.iter().position(|&a| state.catalog.artists[a].id == after).map(|i| i + 1))
        .unwrap_or(0);
    let page: Vec<usize> = followed.iter().skip(start).take(limit).copied().collect();
    let last = page.last().map(|&a| state.catalog.artists[a].id.clone());
    let base = format!("{}/v1/me/following?type=artist", state.base);
    let next = (start + page.len() < followed.len())
        .then(|| format!("{base}&after={}&limit={limit}", last.clone().unwrap_or_default()));
    json!({"artists": {"href": format!("{base}&limit={limit}"), "items": page.iter().map(|&a| r.artist(a)).collect::<Vec<_>>(),
           "limit": limit, "next": next, "cursors": {"after": last}, "total": followed.len()}})
}

fn search(state: &SimState, r: &Renderer, request: &Request) -> Value {
    let q = request.param("q").unwrap_or_default().to_lowercase();
    let max = if state.config.mode == AppMode::Development { DEV_SEARCH_LIMIT } else { MAX_LIMIT };
    let (offset, limit) = window(request, max.min(10), max);
    let types = request.param("type").unwrap_or("track");
    let c = &state.catalog;
    let matches = |name: &str| q.split_whitespace().all(|w| name.to_lowercase().contains(w));
    let mut out = serde_json::Map::new();
    let base = format!("{}/v1/search", state.base);
    let q_enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    for kind in types.split(',') {
        let hits: Vec<Value> = match kind {
            "track" => c.tracks.iter().enumerate().filter(|(_, t)| matches(&t.name)).map(|(i, _)| r.track(i)).collect(),
            "artist" => {
                c.artists.iter().enumerate().filter(|(_, a)| matches(&a.name)).map(|(i, _)| r.artist(i)).collect()
            }
            "album" => c
                .albums
                .iter()
                .enumerate()
                .filter(|(_, a)| matches(&a.name))
                .map(|(i, _)| r.simplified_album(i))
                .collect(),
            _ => continue,
        };
        let total = hits.len();
        let items = hits.into_iter().skip(offset).take(limit).collect();
        let url = |o| format!("{base}?q={q_enc}&type={kind}&offset={o}&limit={limit}");
        out.insert(format!("{kind}s"), paging(items, offset, limit, total, url));
    }
    Value::Object(out)
}
