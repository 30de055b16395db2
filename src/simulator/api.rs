//! The simulator's `/v1` Web API routes.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::bounds::{self, Invalid};
use super::catalog::{Access, ObjectKind};
use super::http::{Request, api_error, json_response, now_ms};
use super::render::{AppMode, Renderer, paging};
use super::state::SimState;
use super::tokens::Refusal;
use crate::lock;

/// Spotify's answer to a playlist's entries the caller may not read, and to endpoints removed for
/// development-mode apps in 2026: `{"error":{"status":403,"message":"Forbidden"}}`.
fn forbidden() -> Response {
    api_error(StatusCode::FORBIDDEN, "Forbidden")
}

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
    match segments.as_slice() {
        ["me", rest @ ..] => {
            let Some(user) = caller else {
                return api_error(StatusCode::FORBIDDEN, "This endpoint needs a user access token");
            };
            match rest {
                [] => ok(r.me(user)),
                ["playlists"] => answer(my_playlists(state, &r, request, user)),
                ["player", "recently-played"] => answer(recently_played(state, &r, request, user)),
                ["following"] if request.param("type") == Some("artist") => answer(followed(state, &r, request, user)),
                _ => not_found(),
            }
        }
        ["playlists", id, rest @ ..] => playlist_route(state, &r, request, caller, id, rest),
        ["tracks", id] => find(ObjectKind::Track, id).map_or_else(not_found, |t| ok(r.track(t))),
        ["albums", id] => find(ObjectKind::Album, id).map_or_else(not_found, |a| ok(r.album(a))),
        ["artists", id] => find(ObjectKind::Artist, id).map_or_else(not_found, |a| ok(r.artist(a))),
        ["artists", id, "albums"] => {
            let Some(a) = find(ObjectKind::Artist, id) else { return not_found() };
            let albums = &state.catalog.artists[a].albums;
            answer(bounds::ARTIST_ALBUMS.window(request).map(|(offset, limit)| {
                let items = albums.iter().skip(offset).take(limit).map(|&x| r.artist_album(x)).collect();
                let base = format!("{}/v1/artists/{id}/albums", state.base);
                paging(items, offset, limit, albums.len(), |o| format!("{base}?offset={o}&limit={limit}"))
            }))
        }
        ["search"] => answer(search(state, &r, request)),
        // Development-mode apps lost every batch "get several" endpoint in 2026.
        ["tracks" | "albums" | "artists"] if state.config.mode == AppMode::Development => not_found(),
        _ => not_found(),
    }
}

fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "Resource not found")
}

fn ok(value: Value) -> Response {
    json_response(StatusCode::OK, &value)
}

/// A handler's value, or Spotify's 400 for a request it refuses (a parameter out of bounds).
fn answer(value: Result<Value, Invalid>) -> Response {
    match value {
        Ok(value) => ok(value),
        Err(Invalid(message)) => api_error(StatusCode::BAD_REQUEST, &message),
    }
}

/// `/playlists/{id}` and its entries, as `caller` may see them.
fn playlist_route(
    state: &SimState,
    r: &Renderer<'_>,
    request: &Request,
    caller: Option<usize>,
    id: &str,
    rest: &[&str],
) -> Response {
    let now = r.now_ms;
    let Some(p) = state.catalog.find(ObjectKind::Playlist, id) else { return not_found() };
    let playlist = &state.catalog.playlists[p];
    match playlist.access {
        Access::Editorial if state.config.mode == AppMode::Development => return not_found(),
        Access::Private if caller != Some(playlist.owner) => {
            return api_error(StatusCode::FORBIDDEN, "You cannot access this playlist");
        }
        _ => {}
    }
    // Development-mode apps read the entries of playlists the user owns or collaborates
    // on; of any other playlist they get the metadata alone, and `/items` answers 403.
    let development = state.config.mode == AppMode::Development;
    let readable = !development || caller.is_some_and(|u| u == playlist.owner || playlist.collaborative);
    let entries_path = if development { "items" } else { "tracks" };
    match rest {
        [] => {
            let version = state.version(p, now);
            let snapshot = state.catalog.snapshot_id(p, version);
            if !readable {
                return ok(r.playlist(p, &snapshot, None));
            }
            let first = (0, bounds::PLAYLIST_ITEMS.max_limit);
            let entries = playlist_entries(state, r, p, version, entries_path, first);
            ok(r.playlist(p, &snapshot, Some(entries)))
        }
        // `/tracks` was removed for development-mode apps in 2026: 403 even to the owner.
        ["tracks"] if development => forbidden(),
        ["items" | "tracks"] if !readable => forbidden(),
        [which @ ("items" | "tracks")] => {
            let offset = request.number("offset", 0);
            state.maybe_edit_during_read(p, offset);
            let version = state.version(p, now);
            let paging = if *which == "items" { bounds::PLAYLIST_ITEMS } else { bounds::PLAYLIST_TRACKS };
            answer(paging.window(request).map(|window| playlist_entries(state, r, p, version, which, window)))
        }
        _ => not_found(),
    }
}

/// The page of a playlist's entries at `(offset, limit)`.
fn playlist_entries(
    state: &SimState,
    r: &Renderer,
    p: usize,
    version: u64,
    path: &str,
    (offset, limit): (usize, usize),
) -> Value {
    let entries = state.catalog.entries(p, version);
    let items = entries.iter().skip(offset).take(limit).map(|e| r.entry(e)).collect();
    let base = format!("{}/v1/playlists/{}/{path}", state.base, state.catalog.playlists[p].id);
    paging(items, offset, limit, entries.len(), |o| format!("{base}?offset={o}&limit={limit}"))
}

fn my_playlists(state: &SimState, r: &Renderer, request: &Request, user: usize) -> Result<Value, Invalid> {
    let owned = &state.catalog.users[user].playlists;
    let (offset, limit) = bounds::MY_PLAYLISTS.window(request)?;
    let now = r.now_ms;
    let items = owned
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&p| {
            let version = state.version(p, now);
            let total = state.catalog.entries(p, version).len();
            let href = format!("{}/v1/playlists/{}/items", state.base, state.catalog.playlists[p].id);
            r.playlist(p, &state.catalog.snapshot_id(p, version), Some(json!({"href": href, "total": total})))
        })
        .collect();
    let base = format!("{}/v1/me/playlists", state.base);
    Ok(paging(items, offset, limit, owned.len(), |o| format!("{base}?offset={o}&limit={limit}")))
}

/// Spotify's cursor paging: the newest plays first, `after`/`before` in epoch milliseconds,
/// only the latest `history_limit` plays reachable.
fn recently_played(state: &SimState, r: &Renderer, request: &Request, user: usize) -> Result<Value, Invalid> {
    let limit = bounds::RECENTLY_PLAYED.limit(request)?;
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
    let items: Vec<Value> = page.iter().map(|play| r.play(play)).collect();
    let newest = page.first().map(|p| p.played_at_ms);
    let base = format!("{}/v1/me/player/recently-played", state.base);
    let next = more.then(|| format!("{base}?before={}&limit={limit}", oldest.unwrap_or_default()));
    let href = match (after, before) {
        (Some(a), _) => format!("{base}?after={a}&limit={limit}"),
        (_, Some(b)) => format!("{base}?before={b}&limit={limit}"),
        _ => format!("{base}?limit={limit}"),
    };
    // Spotify sends no `total` here.
    Ok(json!({"href": href, "items": items, "limit": limit, "next": next,
           "cursors": newest.map(|n| json!({"after": n.to_string(), "before": oldest.unwrap_or(n).to_string()}))}))
}

fn followed(state: &SimState, r: &Renderer, request: &Request, user: usize) -> Result<Value, Invalid> {
    let followed = &state.catalog.users[user].followed;
    let limit = bounds::FOLLOWING.limit(request)?;
    let start = request
        .param("after")
        .and_then(|after| followed.iter().position(|&a| state.catalog.artists[a].id == after).map(|i| i + 1))
        .unwrap_or(0);
    let page: Vec<usize> = followed.iter().skip(start).take(limit).copied().collect();
    let last = page.last().map(|&a| state.catalog.artists[a].id.clone());
    let base = format!("{}/v1/me/following?type=artist", state.base);
    let next = (start + page.len() < followed.len())
        .then(|| format!("{base}&after={}&limit={limit}", last.clone().unwrap_or_default()));
    Ok(
        json!({"artists": {"href": format!("{base}&limit={limit}"), "items": page.iter().map(|&a| r.artist(a)).collect::<Vec<_>>(),
           "limit": limit, "next": next, "cursors": {"after": last}, "total": followed.len()}}),
    )
}

/// Search types the Web API accepts.
const SEARCH_TYPES: [&str; 7] = ["album", "artist", "playlist", "track", "show", "episode", "audiobook"];

fn search(state: &SimState, r: &Renderer, request: &Request) -> Result<Value, Invalid> {
    let bad = |message: &str| Invalid(message.to_owned());
    let q = request.param("q").filter(|q| !q.is_empty()).ok_or_else(|| bad("No search query"))?.to_lowercase();
    let types = request.param("type").ok_or_else(|| bad("Missing parameter type"))?;
    if let Some(unknown) = types.split(',').find(|t| !SEARCH_TYPES.contains(t)) {
        return Err(bad(&format!("Bad search type field {unknown}")));
    }
    let (offset, limit) = bounds::SEARCH.window(request)?;
    let c = &state.catalog;
    let matches = |name: &str| q.split_whitespace().all(|w| name.to_lowercase().contains(w));
    let hits = |names: &mut dyn Iterator<Item = &str>| -> Vec<usize> {
        names.enumerate().filter(|(_, name)| matches(name)).map(|(i, _)| i).collect()
    };
    let mut out = serde_json::Map::new();
    let base = format!("{}/v1/search", state.base);
    let q_enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    for kind in types.split(',') {
        let found: Vec<Value> = match kind {
            "track" => hits(&mut c.tracks.iter().map(|t| t.name.as_str())).into_iter().map(|i| r.track(i)).collect(),
            "artist" => hits(&mut c.artists.iter().map(|a| a.name.as_str())).into_iter().map(|i| r.artist(i)).collect(),
            "album" => {
                hits(&mut c.albums.iter().map(|a| a.name.as_str())).into_iter().map(|i| r.simplified_album(i)).collect()
            }
            "playlist" => hits(&mut c.playlists.iter().map(|p| p.name.as_str()))
                .into_iter()
                .filter(|&p| c.playlists[p].access == Access::Open)
                .map(|p| {
                    let version = state.version(p, r.now_ms);
                    let total = c.entries(p, version).len();
                    let href = format!("{}/v1/playlists/{}/items", state.base, c.playlists[p].id);
                    r.playlist(p, &c.snapshot_id(p, version), Some(json!({"href": href, "total": total})))
                })
                .collect(),
            "episode" => {
                hits(&mut c.episodes.iter().map(|e| e.name.as_str())).into_iter().map(|e| r.episode(e)).collect()
            }
            // The simulated world has no shows or audiobooks of their own: their pages are empty.
            _ => Vec::new(),
        };
        let total = found.len();
        let items = found.into_iter().skip(offset).take(limit).collect();
        let url = |o| format!("{base}?q={q_enc}&type={kind}&offset={o}&limit={limit}");
        out.insert(format!("{kind}s"), paging(items, offset, limit, total, url));
    }
    Ok(Value::Object(out))
}
