//! Spotify-shaped JSON for catalog objects, as development-mode or extended-quota apps see them.

use serde_json::{Map, Value, json};

use super::catalog::{Catalog, Entry, local_uri, mix};

/// Which kind of app the simulator answers, and so which shapes it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppMode {
    /// 2026 development mode: playlist entries under `item`; no `popularity`, `followers`,
    /// `available_markets`, `linked_from` or `label`; search returns at most 10 results.
    #[default]
    Development,
    /// Extended quota: entries under `track`, every field present.
    Extended,
}

const MARKETS: [&str; 8] = ["CA", "DE", "FR", "GB", "JP", "MX", "SE", "US"];

pub struct Renderer<'a> {
    pub catalog: &'a Catalog,
    pub mode: AppMode,
    pub base: &'a str,
    pub now_ms: i64,
    /// Artists renamed in this world, by index.
    pub renamed: std::collections::HashMap<usize, String>,
}

fn reference(base: &str, kind: &str, id: &str, name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("external_urls".into(), json!({"spotify": format!("https://open.spotify.com/{kind}/{id}")}));
    m.insert("href".into(), json!(format!("{base}/v1/{kind}s/{id}")));
    m.insert("id".into(), json!(id));
    m.insert("name".into(), json!(name));
    m.insert("type".into(), json!(kind));
    m.insert("uri".into(), json!(format!("spotify:{kind}:{id}")));
    m
}

fn images(id: &str) -> Value {
    json!([{"url": format!("https://i.scdn.co/image/{id}"), "height": 640, "width": 640}])
}

impl Renderer<'_> {
    fn extended(&self) -> bool {
        self.mode == AppMode::Extended
    }

    pub fn user_ref(&self, u: usize) -> Value {
        let user = &self.catalog.users[u];
        let mut m = reference(self.base, "user", &user.id, &user.display_name);
        m.remove("name");
        m.insert("display_name".into(), json!(user.display_name));
        Value::Object(m)
    }

    fn artist_name(&self, a: usize) -> &str {
        self.renamed.get(&a).map_or(&self.catalog.artists[a].name, String::as_str)
    }

    pub fn artist_ref(&self, a: usize) -> Value {
        let artist = &self.catalog.artists[a];
        Value::Object(reference(self.base, "artist", &artist.id, self.artist_name(a)))
    }

    pub fn artist(&self, a: usize) -> Value {
        let artist = &self.catalog.artists[a];
        let mut m = reference(self.base, "artist", &artist.id, self.artist_name(a));
        m.insert("genres".into(), json!(artist.genres));
        m.insert("images".into(), images(&artist.id));
        if self.extended() {
            m.insert("followers".into(), json!({"href": null, "total": artist.followers}));
            let drift = self.catalog.popularity(artist.popularity, mix(0, &[a as u64]), self.now_ms);
            m.insert("popularity".into(), json!(drift));
        }
        Value::Object(m)
    }

    pub fn simplified_album(&self, a: usize) -> Value {
        Value::Object(self.simplified_album_fields(a))
    }

    fn simplified_album_fields(&self, a: usize) -> Map<String, Value> {
        let album = &self.catalog.albums[a];
        let mut m = reference(self.base, "album", &album.id, &album.name);
        m.insert("album_type".into(), json!(album.album_type));
        m.insert("total_tracks".into(), json!(album.tracks.len()));
        m.insert("release_date".into(), json!(album.release_date));
        m.insert("release_date_precision".into(), json!(album.precision));
        m.insert("images".into(), images(&album.id));
        m.insert("artists".into(), Value::Array(album.artists.iter().map(|&r| self.artist_ref(r)).collect()));
        if self.extended() {
            m.insert("available_markets".into(), json!(MARKETS));
        }
        m
    }

    pub fn album(&self, a: usize) -> Value {
        let album = &self.catalog.albums[a];
        let mut m = self.simplified_album_fields(a);
        let items: Vec<Value> = album.tracks.iter().map(|&t| self.simplified_track(t)).collect();
        m.insert(
            "tracks".into(),
            json!({"href": format!("{}/v1/albums/{}/tracks?offset=0&limit=50", self.base, album.id), "items": items,
                   "limit": 50, "next": null, "offset": 0, "previous": null, "total": album.tracks.len()}),
        );
        m.insert("external_ids".into(), json!({"upc": format!("00{:010}", mix(1, &[a as u64]) % 10_000_000_000)}));
        m.insert("genres".into(), json!([]));
        if self.extended() {
            m.insert("label".into(), json!(album.label));
            m.insert("popularity".into(), json!(40));
        }
        Value::Object(m)
    }

    fn simplified_track(&self, t: usize) -> Value {
        Value::Object(self.simplified_track_fields(t))
    }

    fn simplified_track_fields(&self, t: usize) -> Map<String, Value> {
        let track = &self.catalog.tracks[t];
        let mut m = reference(self.base, "track", &track.id, &track.name);
        m.insert("artists".into(), Value::Array(track.artists.iter().map(|&r| self.artist_ref(r)).collect()));
        m.insert("disc_number".into(), json!(1));
        m.insert("track_number".into(), json!(track.track_number));
        m.insert("duration_ms".into(), json!(track.duration_ms));
        m.insert("explicit".into(), json!(track.explicit));
        m.insert("is_local".into(), json!(false));
        m.insert("is_playable".into(), json!(true));
        m.insert("preview_url".into(), Value::Null);
        if self.extended() {
            m.insert("available_markets".into(), json!(MARKETS));
        }
        m
    }

    pub fn track(&self, t: usize) -> Value {
        let track = &self.catalog.tracks[t];
        let mut m = self.simplified_track_fields(t);
        m.insert("album".into(), self.simplified_album(track.album));
        m.insert("external_ids".into(), json!({"isrc": track.isrc}));
        if self.extended() {
            let drift = self.catalog.popularity(track.popularity, mix(1, &[t as u64]), self.now_ms);
            m.insert("popularity".into(), json!(drift));
            m.insert("linked_from".into(), Value::Null);
        }
        Value::Object(m)
    }

    fn episode(&self, e: usize) -> Value {
        let ep = &self.catalog.episodes[e];
        let mut m = reference(self.base, "episode", &ep.id, &ep.name);
        m.insert("duration_ms".into(), json!(ep.duration_ms));
        m.insert("explicit".into(), json!(false));
        m.insert("release_date".into(), json!(ep.release_date));
        m.insert("release_date_precision".into(), json!("day"));
        m.insert("images".into(), images(&ep.id));
        let mut show = reference(self.base, "show", &ep.show_id, &ep.show_name);
        show.insert("publisher".into(), json!("Sim Media"));
        m.insert("show".into(), Value::Object(show));
        m.insert("episode".into(), json!(true));
        m.insert("track".into(), json!(false));
        Value::Object(m)
    }

    fn local_track(&self, name: &str) -> Value {
        json!({"id": null, "name": name, "type": "track", "uri": local_uri(name),
               "href": null, "external_urls": {}, "album": {"id": null, "name": null, "type": "album", "artists": []},
               "artists": [], "duration_ms": 180_000, "explicit": false, "is_local": true, "disc_number": 0,
               "track_number": 0, "external_ids": {}})
    }

    /// One playlist entry, with its payload under `item` or `track` depending on the mode.
    pub fn entry(&self, entry: &Entry) -> Value {
        let (payload, added_at, added_by, is_local) = match entry {
            Entry::Null => return Value::Null,
            Entry::Track { track, added_at_secs, added_by } => (self.track(*track), *added_at_secs, *added_by, false),
            Entry::Episode { episode, added_at_secs, added_by } => {
                (self.episode(*episode), *added_at_secs, *added_by, false)
            }
            Entry::Local { name, added_at_secs, added_by } => (self.local_track(name), *added_at_secs, *added_by, true),
        };
        let key = if self.extended() { "track" } else { "item" };
        let added_at = chrono::DateTime::from_timestamp(added_at, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ");
        json!({"added_at": added_at.to_string(), "added_by": self.user_ref(added_by), "is_local": is_local,
               "primary_color": null, key: payload})
    }

    /// A playlist object; `entries` is the paging object of its first entries, or only the total.
    pub fn playlist(&self, p: usize, snapshot_id: &str, entries: Value) -> Value {
        let playlist = &self.catalog.playlists[p];
        let mut m = reference(self.base, "playlist", &playlist.id, &playlist.name);
        m.insert("collaborative".into(), json!(playlist.collaborative));
        m.insert("description".into(), json!(format!("{} by the simulator", playlist.name)));
        m.insert("public".into(), json!(playlist.public));
        m.insert("snapshot_id".into(), json!(snapshot_id));
        m.insert("images".into(), images(&playlist.id));
        m.insert("owner".into(), self.user_ref(playlist.owner));
        if self.extended() {
            m.insert("followers".into(), json!({"href": null, "total": mix(2, &[p as u64]) % 10_000}));
            m.insert("tracks".into(), entries);
        } else {
            m.insert("items".into(), entries);
        }
        Value::Object(m)
    }
}

/// A Spotify paging object over `items`, with `next`/`previous` links built from `url_for(offset)`.
pub fn paging(
    items: Vec<Value>,
    offset: usize,
    limit: usize,
    total: usize,
    url_for: impl Fn(usize) -> String,
) -> Value {
    let next = (offset + limit < total).then(|| url_for(offset + limit));
    let previous = (offset > 0).then(|| url_for(offset.saturating_sub(limit)));
    json!({"href": url_for(offset), "items": items, "limit": limit, "next": next, "offset": offset,
           "previous": previous, "total": total})
}
