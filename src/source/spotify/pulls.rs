//! One pull of each job kind: the requests, pagination, snapshot and cursor rules, and the
//! raw pages they yield. A target's state changes only after all its pages are collected.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Auth, Client, Fetched, PullError};
use super::jobs::JobConfig;
use super::plays::recently_played;
use crate::page::Kind;

/// Source state that must advance together with the lake: saved in the sink's checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PullState {
    /// Per user, the newest `played_at` (epoch ms) already pulled.
    pub played_cursor: BTreeMap<String, i64>,
    /// Per playlist, the snapshot last read in full.
    pub snapshots: BTreeMap<String, String>,
    /// Targets that answered 403 or 404, with the reason, left alone until `until_ms`.
    pub unavailable: BTreeMap<String, Unavailable>,
    /// The number of the last pull journaled with this state: a checkpoint covers every pull
    /// up to it (see `journal`).
    pub journaled: u64,
}

/// A target Spotify refused (403) or does not have (404), and when to try it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unavailable {
    pub reason: String,
    pub until_ms: i64,
}

/// How long a 403 or 404 target is skipped before it is tried again.
const UNAVAILABLE_RETRY_MS: i64 = 24 * 3_600_000;

impl PullState {
    /// Whether `target` answered 403/404 recently; it is then skipped without a request.
    fn skips(&self, target: &str) -> bool {
        self.unavailable.get(target).is_some_and(|u| u.until_ms > Utc::now().timestamp_millis())
    }
}

/// One raw page, with the envelope tunestream writes around every response.
#[derive(Debug, Clone)]
pub struct Page {
    pub kind: Kind,
    pub url: String,
    pub fetched_at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub body: Value,
}

impl Page {
    pub(super) fn new(kind: Kind, fetched: Fetched, user_id: Option<&str>, snapshot_id: Option<&str>) -> Self {
        Self {
            kind,
            url: fetched.url,
            fetched_at: fetched.fetched_at,
            user_id: user_id.map(str::to_owned),
            snapshot_id: snapshot_id.map(str::to_owned),
            body: fetched.body,
        }
    }

    /// The envelope as one NDJSON line (no trailing newline), as replay reads it back.
    pub fn to_line(&self) -> String {
        let envelope = json!({
            "kind": self.kind.name(),
            "url": self.url,
            "fetched_at": self.fetched_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "user_id": self.user_id,
            "snapshot_id": self.snapshot_id,
            "body": self.body,
        });
        envelope.to_string()
    }
}

/// What a pull noticed that the user should hear about.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Targets skipped for good reasons (403/404), with the reason.
    pub skipped: Vec<String>,
    /// Targets that failed this time and will be retried next pull.
    pub failed: Vec<String>,
    pub unchanged_playlists: u64,
    /// Playlists whose metadata landed but whose entries Spotify refused (a development-mode app
    /// reading a playlist the user neither owns nor collaborates on).
    pub metadata_only: Vec<String>,
    pub gaps: u64,
    /// Pages whose body stayed malformed, set aside as rejected lines and moved past.
    pub set_aside: Vec<String>,
}

/// Fetches `url`. A body that stays malformed becomes a poison page: its text goes out as the
/// page's body, which decoding rejects into the lake's rejected output with its URL and job, and
/// `None` tells the caller to move past it. It commits with the state that moves past it, so it is
/// never lost and never blocks the target again.
pub(super) async fn fetch_or_set_aside(
    client: &Client,
    auth: &Auth,
    url: &str,
    page: (Kind, Option<&str>, Option<&str>),
    out: &mut Vec<Page>,
    report: &mut PullReport,
) -> Result<Option<Fetched>, PullError> {
    let e = match client.get(auth, url).await {
        Ok(fetched) => return Ok(Some(fetched)),
        Err(e) => e,
    };
    let PullError::Malformed { url, fetched_at, body, .. } = &e else { return Err(e) };
    tracing::warn!("{e}: set aside in the rejected output; the pull moves past it");
    report.set_aside.push(e.to_string());
    let (kind, user, snapshot) = page;
    let fetched = Fetched { url: url.clone(), fetched_at: *fetched_at, body: Value::String(body.clone()) };
    out.push(Page::new(kind, fetched, user, snapshot));
    Ok(None)
}

/// The URL of the page after `url` by its `offset` and `limit`, while below `total`: how paging
/// goes on past a page whose body (and so its `next` link) is unreadable.
fn page_after(url: &str, total: Option<u64>) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let number = |name: &str| query.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<u64>().ok());
    let (offset, limit) = (number("offset").unwrap_or(0), number("limit")?);
    let next = offset + limit;
    if next >= total? {
        return None;
    }
    let pairs =
        query.iter().map(|(k, v)| if k == "offset" { (k.clone(), next.to_string()) } else { (k.clone(), v.clone()) });
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    Some(parsed.into())
}

/// Errors that end a whole pull (the circuit, the budget, shutdown, a user's login, state I/O);
/// anything else is per target and goes to the report.
fn ends_pull(e: &PullError) -> bool {
    e.is_pause() || matches!(e, PullError::NeedsLogin { .. } | PullError::State(_))
}

/// Files a per-target failure in the report (remembering 403/404 targets in `state`), or
/// passes on an error that ends the pull.
fn per_target(
    result: Result<(), PullError>,
    target: &str,
    state: &mut PullState,
    report: &mut PullReport,
) -> Result<(), PullError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if ends_pull(&e) => Err(e),
        Err(e @ PullError::Unavailable { .. }) => {
            tracing::warn!("skipping {target} for 24 h: {e}");
            report.skipped.push(format!("{target}: {}", e.with_blame()));
            rest(state, target.to_owned(), e.to_string());
            Ok(())
        }
        Err(e) => {
            tracing::warn!("{target} failed this pull: {e}");
            report.failed.push(format!("{target}: {}", e.with_blame()));
            Ok(())
        }
    }
}

/// Runs one pull of `job`, appending pages to `out` and advancing `state` per finished target.
pub async fn pull(
    client: &Client,
    job: &JobConfig,
    state: &mut PullState,
    out: &mut Vec<Page>,
) -> Result<PullReport, PullError> {
    let mut report = PullReport::default();
    match job {
        JobConfig::Playlists { ids, .. } => {
            for id in ids {
                let target = format!("playlist {id}");
                if state.skips(&target) {
                    report.skipped.push(format!("{target}: unavailable, retried after 24 h"));
                    continue;
                }
                let r = playlist(client, &Auth::App, id, None, state, out, &mut report).await;
                per_target(r, &target, state, &mut report)?;
            }
        }
        JobConfig::UserPlaylists { user, .. } => {
            let auth = Auth::User(user.clone());
            let listed = owned_playlists(client, &auth, user, out, &mut report).await?;
            for (id, listed_snapshot) in listed {
                let r = playlist(client, &auth, &id, listed_snapshot.as_deref(), state, out, &mut report).await;
                per_target(r, &format!("playlist {id}"), state, &mut report)?;
            }
        }
        JobConfig::Artists { ids, albums, .. } => {
            for id in ids {
                let target = format!("artist {id}");
                if state.skips(&target) {
                    report.skipped.push(format!("{target}: unavailable, retried after 24 h"));
                    continue;
                }
                let r = artist(client, id, *albums, out, &mut report).await;
                per_target(r, &target, state, &mut report)?;
            }
        }
        JobConfig::RecentlyPlayed { user, .. } => recently_played(client, user, state, out, &mut report).await?,
        JobConfig::Search { queries, types, .. } => {
            for q in queries {
                let url = url::form_urlencoded::Serializer::new(client.endpoints.v1("search?"))
                    .append_pair("q", q)
                    .append_pair("type", &types.join(","))
                    .append_pair("limit", "10")
                    .finish();
                let page = (Kind::Search, None, None);
                let r = fetch_or_set_aside(client, &Auth::App, &url, page, out, &mut report).await.map(|fetched| {
                    out.extend(fetched.map(|f| Page::new(Kind::Search, f, None, None)));
                });
                per_target(r, &format!("search {q:?}"), state, &mut report)?;
            }
        }
        JobConfig::FollowedArtists { user, .. } => {
            let auth = Auth::User(user.clone());
            let mut url = Some(client.endpoints.v1("me/following?type=artist&limit=50"));
            while let Some(next) = url {
                // Followed artists page by an `after` cursor that only the body carries.
                let page = (Kind::FollowedArtists, Some(user.as_str()), None);
                let Some(fetched) = fetch_or_set_aside(client, &auth, &next, page, out, &mut report).await? else {
                    break;
                };
                url = fetched.body["artists"]["next"].as_str().map(str::to_owned);
                out.push(Page::new(Kind::FollowedArtists, fetched, Some(user), None));
            }
        }
    }
    Ok(report)
}

/// The playlists `user` owns, with the snapshot each is listed at: entries of the others are
/// refused in development mode.
async fn owned_playlists(
    client: &Client,
    auth: &Auth,
    user: &str,
    out: &mut Vec<Page>,
    report: &mut PullReport,
) -> Result<Vec<(String, Option<String>)>, PullError> {
    let mut url = Some(client.endpoints.v1("me/playlists?limit=50"));
    let mut listed = Vec::new();
    let mut total = None;
    while let Some(next) = url {
        // The listing is not a raw table, but an unreadable page of it is still recorded.
        let page = (Kind::Playlist, Some(user), None);
        let Some(fetched) = fetch_or_set_aside(client, auth, &next, page, out, report).await? else {
            url = page_after(&next, total);
            continue;
        };
        total = fetched.body["total"].as_u64();
        url = fetched.body["next"].as_str().map(str::to_owned);
        for p in fetched.body["items"].as_array().into_iter().flatten() {
            if p["owner"]["id"].as_str() == Some(user)
                && let Some(id) = p["id"].as_str()
            {
                listed.push((id.to_owned(), p["snapshot_id"].as_str().map(str::to_owned)));
            }
        }
    }
    Ok(listed)
}

/// Entries per page of `GET /playlists/{id}/items`: the most Spotify answers.
pub const ENTRIES_PER_PAGE: u64 = 50;

/// The target under which refused entries of playlist `id` rest in [`PullState::unavailable`].
fn entries_target(id: &str) -> String {
    format!("playlist {id} entries")
}

/// Lands a playlist object whose entries could not be read: its `playlists` row (with a null
/// `total_items`), and no `playlist_tracks` rows. Its snapshot is kept, so an unchanged playlist
/// costs one request a pull.
fn land_metadata_only(
    id: &str,
    object: Fetched,
    snapshot: String,
    state: &mut PullState,
    out: &mut Vec<Page>,
    report: &mut PullReport,
) {
    tracing::info!(playlist = id, "entries not readable; the playlist's metadata lands alone");
    report.metadata_only.push(format!("playlist {id}"));
    out.push(Page::new(Kind::Playlist, object, None, Some(&snapshot)));
    state.snapshots.insert(id.to_owned(), snapshot);
}

/// How often a playlist read starts over because the playlist changed while it was read.
const MAX_SNAPSHOT_RETRIES: usize = 3;

/// Reads one playlist against one snapshot: the object (with its first entries), the further
/// entry pages, then a re-check of the snapshot; starts over if it changed mid-read.
async fn playlist(
    client: &Client,
    auth: &Auth,
    id: &str,
    listed_snapshot: Option<&str>,
    state: &mut PullState,
    out: &mut Vec<Page>,
    report: &mut PullReport,
) -> Result<(), PullError> {
    let known = state.snapshots.get(id).cloned();
    if listed_snapshot.is_some() && listed_snapshot == known.as_deref() {
        report.unchanged_playlists += 1;
        return Ok(());
    }
    let object_url = client.endpoints.v1(&format!("playlists/{id}"));
    for _ in 0..MAX_SNAPSHOT_RETRIES {
        // Without the object there is no snapshot to move past: the playlist rests for a day,
        // as after a 404, rather than being set aside again on every pull.
        let page = (Kind::Playlist, None, None);
        let Some(object) = fetch_or_set_aside(client, auth, &object_url, page, out, report).await? else {
            let reason = "its body was not JSON (set aside in the rejected output)".to_owned();
            rest(state, format!("playlist {id}"), reason);
            return Ok(());
        };
        let snapshot = object.body["snapshot_id"].as_str().unwrap_or_default().to_owned();
        if known.as_deref() == Some(snapshot.as_str()) {
            report.unchanged_playlists += 1;
            return Ok(());
        }
        let mut pages = Vec::new();
        // Development-mode apps get the entries under `items`, extended-quota apps under `tracks`.
        let paging = ["items", "tracks"].into_iter().map(|k| &object.body[k]).find(|v| v.is_object()).cloned();
        let total = paging.as_ref().and_then(|paging| paging["total"].as_u64());
        let embedded = paging.filter(|paging| paging["items"].is_array());
        let first_request = embedded.is_none();
        let next = match embedded {
            Some(paging) => {
                let next = paging["next"].as_str().map(str::to_owned);
                pages.push(embedded_entries(&object, paging, &snapshot));
                next
            }
            // Entries refused recently: the metadata lands without asking for them again.
            None if state.skips(&entries_target(id)) => {
                land_metadata_only(id, object, snapshot, state, out, report);
                return Ok(());
            }
            None => Some(client.endpoints.v1(&format!("playlists/{id}/items?limit={ENTRIES_PER_PAGE}&offset=0"))),
        };
        let read_more = next.is_some();
        let entries = EntryPages { next, total, first_request, snapshot: &snapshot };
        // Development-mode apps may not read the entries of a playlist the user neither owns nor
        // collaborates on; the metadata in hand still lands.
        if let Entries::Refused(message) = entries.read(client, auth, &mut pages, report).await? {
            let reason = format!("its entries were refused (403: {message}); the metadata lands alone");
            rest(state, entries_target(id), reason);
            land_metadata_only(id, object, snapshot, state, out, report);
            return Ok(());
        }
        if read_more {
            let check = client.get(auth, &format!("{object_url}?fields=snapshot_id")).await?;
            if check.body["snapshot_id"].as_str() != Some(snapshot.as_str()) {
                tracing::info!(playlist = id, "playlist changed while it was read; reading it again");
                continue;
            }
        }
        out.push(Page::new(Kind::Playlist, object, None, Some(&snapshot)));
        out.extend(pages);
        state.snapshots.insert(id.to_owned(), snapshot);
        return Ok(());
    }
    Err(PullError::Transient {
        url: object_url,
        attempts: MAX_SNAPSHOT_RETRIES as u32,
        message: "the playlist changed during every read; it is read again next pull".into(),
    })
}

/// The entry pages of one playlist still to read.
struct EntryPages<'a> {
    next: Option<String>,
    /// The number of entries, when the object said.
    total: Option<u64>,
    /// The next request is the first for entries (a 403 then means they are refused).
    first_request: bool,
    snapshot: &'a str,
}

/// How reading a playlist's entries ended.
enum Entries {
    Read,
    /// The first request for them was refused (403), with this message.
    Refused(String),
}

impl EntryPages<'_> {
    /// Reads every page into `pages`; a page whose body is not JSON is set aside and the one
    /// after it read.
    async fn read(
        mut self,
        client: &Client,
        auth: &Auth,
        pages: &mut Vec<Page>,
        report: &mut PullReport,
    ) -> Result<Entries, PullError> {
        while let Some(url) = self.next.take() {
            let page = (Kind::PlaylistItems, None, Some(self.snapshot));
            let fetched = match fetch_or_set_aside(client, auth, &url, page, pages, report).await {
                Ok(Some(fetched)) => fetched,
                Ok(None) => {
                    self.next = page_after(&url, self.total);
                    continue;
                }
                Err(PullError::Unavailable { status: 403, message, .. }) if self.first_request => {
                    return Ok(Entries::Refused(message));
                }
                Err(e) => return Err(e),
            };
            self.first_request = false;
            self.next = fetched.body["next"].as_str().map(str::to_owned);
            pages.push(Page::new(Kind::PlaylistItems, fetched, None, Some(self.snapshot)));
        }
        Ok(Entries::Read)
    }
}

/// Leaves `target` alone for a day, saying why.
fn rest(state: &mut PullState, target: String, reason: String) {
    let until_ms = Utc::now().timestamp_millis() + UNAVAILABLE_RETRY_MS;
    state.unavailable.insert(target, Unavailable { reason, until_ms });
}

/// The entries a playlist object carries (`paging`, under `items` or `tracks`) as its first
/// entries page.
fn embedded_entries(object: &Fetched, paging: serde_json::Value, snapshot: &str) -> Page {
    let url = paging["href"].as_str().unwrap_or(&object.url).to_owned();
    let first = Fetched { url, fetched_at: object.fetched_at, body: paging };
    Page::new(Kind::PlaylistItems, first, None, Some(snapshot))
}

/// Albums per page of `GET /artists/{id}/albums`: the most Spotify answers since February 2026
/// (more is refused with 400 `Invalid limit`).
pub const ALBUMS_PER_PAGE: u64 = 10;

/// Reads an artist and, unless `albums` is off, its album pages. A failed album page never drops
/// what the pull already has: the artist and the pages before it land, and the failure goes to
/// the report with its URL (the albums are read again next pull).
async fn artist(
    client: &Client,
    id: &str,
    albums: bool,
    out: &mut Vec<Page>,
    report: &mut PullReport,
) -> Result<(), PullError> {
    let url = client.endpoints.v1(&format!("artists/{id}"));
    if let Some(fetched) = fetch_or_set_aside(client, &Auth::App, &url, (Kind::Artist, None, None), out, report).await?
    {
        out.push(Page::new(Kind::Artist, fetched, None, None));
    }
    let mut next =
        albums.then(|| client.endpoints.v1(&format!("artists/{id}/albums?limit={ALBUMS_PER_PAGE}&offset=0")));
    let mut total = None;
    while let Some(url) = next {
        let page = (Kind::ArtistAlbums, None, None);
        let fetched = match fetch_or_set_aside(client, &Auth::App, &url, page, out, report).await {
            Ok(Some(fetched)) => fetched,
            Ok(None) => {
                next = page_after(&url, total);
                continue;
            }
            Err(e) if ends_pull(&e) => return Err(e),
            Err(e) => {
                tracing::warn!("artist {id}: its albums stop at {url} this pull: {e}");
                report.failed.push(format!("albums of artist {id} at {url}: {}", e.with_blame()));
                return Ok(());
            }
        };
        total = fetched.body["total"].as_u64();
        next = fetched.body["next"].as_str().map(str::to_owned);
        out.push(Page::new(Kind::ArtistAlbums, fetched, None, None));
    }
    Ok(())
}
