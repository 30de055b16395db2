//! One pull of a user's recently played tracks: from a persisted cursor, without repeats, and
//! with a warning when plays may have been missed.

use std::collections::HashSet;

use chrono::DateTime;
use serde_json::Value;

use super::client::{Auth, Client, PullError};
use super::pulls::{Page, PullReport, PullState, fetch_or_set_aside};
use crate::page::Kind;

fn played_at_ms(item: &Value) -> Option<i64> {
    DateTime::parse_from_rfc3339(item["played_at"].as_str()?).ok().map(|t| t.timestamp_millis())
}

/// Spotify's largest recently-played page.
const PLAYS_PER_PAGE: usize = 50;

/// Pulls plays newer than the user's cursor. Items at or before the cursor, and repeats within
/// the pull, are dropped (dedupe on user and `played_at`). When a full page arrives and paging
/// back never reaches the cursor, plays may have been missed: that is logged and counted.
pub(super) async fn recently_played(
    client: &Client,
    user: &str,
    state: &mut PullState,
    out: &mut Vec<Page>,
    report: &mut PullReport,
) -> Result<(), PullError> {
    let auth = Auth::User(user.to_owned());
    let cursor = state.played_cursor.get(user).copied();
    let mut url = Some(match cursor {
        Some(after) => client.endpoints.v1(&format!("me/player/recently-played?limit={PLAYS_PER_PAGE}&after={after}")),
        None => client.endpoints.v1(&format!("me/player/recently-played?limit={PLAYS_PER_PAGE}")),
    });
    let mut seen = HashSet::new();
    let mut newest = cursor;
    let mut pages = Vec::new();
    let mut overlapped = false;
    let mut first_page_full = None;
    while let Some(next) = url.take() {
        let page = (Kind::RecentlyPlayed, Some(user), None);
        let Some(mut fetched) = fetch_or_set_aside(client, &auth, &next, page, &mut pages, report).await? else {
            // Its plays are unreadable: the cursor moves to when it was fetched, past every play
            // it could hold, and the gap is reported.
            let fetched_ms = pages.last().map(|p: &Page| p.fetched_at.timestamp_millis());
            newest = fetched_ms.into_iter().chain(newest).max();
            report.gaps += 1;
            break;
        };
        let items = fetched.body["items"].as_array().cloned().unwrap_or_default();
        let full_page = items.len() >= PLAYS_PER_PAGE;
        first_page_full.get_or_insert(full_page);
        overlapped |= items.iter().any(|i| played_at_ms(i).is_some_and(|t| cursor.is_some_and(|c| t <= c)));
        let fresh: Vec<Value> = items
            .into_iter()
            .filter(|i| played_at_ms(i).is_some_and(|t| cursor.is_none_or(|c| t > c) && seen.insert(t)))
            .collect();
        newest = fresh.iter().filter_map(played_at_ms).chain(newest).max();
        if full_page && !overlapped {
            url = fetched.body["next"].as_str().map(str::to_owned);
        }
        if !fresh.is_empty() {
            fetched.body["items"] = Value::Array(fresh);
            pages.push(Page::new(Kind::RecentlyPlayed, fetched, Some(user), None));
        }
    }
    // A full first page means more plays than one page since the cursor: paging back must reach it.
    if cursor.is_some() && first_page_full == Some(true) && !overlapped {
        report.gaps += 1;
        tracing::warn!(
            user,
            "recently played: a full page and no overlap with the last pull; plays may have been missed (pull more often)"
        );
    }
    out.extend(pages);
    if let Some(newest) = newest {
        state.played_cursor.insert(user.to_owned(), newest);
    }
    Ok(())
}
