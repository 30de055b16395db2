//! Spotify-shaped JSON for catalog objects, as development-mode or extended-quota apps see them.

use serde_json::{Map, Value, json};

use super::catalog::{Catalog, Entry, Play, local_uri, mix};

/// Which kind of app the simulator answers, and so which shapes it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppMode {
    /// 2026 development mode: playlist entries under `item` (and, while Spotify migrates, the
    /// same payload under `track`); no `popularity`, `followers`, `available_markets`,
    /// `linked_from`, `label` or `genres`; the entries of playlists the user neither owns nor
    /// collaborates on are refused.
    #[default]
    Development,
    /// Extended quota: entries under `track`, every field present, every playlist readable.
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

    /// A user as a playlist's `owner`: with the display name.
    pub fn user_ref(&self, u: usize) -> Value {
        let mut m = self.user_link(u);
        m.insert("display_name".into(), json!(self.catalog.users[u].display_name));
        Value::Object(m)
    }

    /// A user as an entry's `added_by`: Spotify sends no display name there.
    fn user_link(&self, u: usize) -> Map<String, Value> {
        let user = &self.catalog.users[u];
        let mut m = reference(self.base, "user", &user.id, &user.display_name);
        m.remove("name");
        m
    }

    /// `GET /me`: the user's profile, with the 2026 `account_id`.
    pub fn me(&self, u: usize) -> Value {
        let mut m = self.user_link(u);
        m.insert("display_name".into(), json!(self.catalog.users[u].display_name));
        m.insert("images".into(), json!([]));
        m.insert("account_id".into(), json!(format!("{:032x}", mix(3, &[u as u64]))));
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
        m.insert("images".into(), images(&artist.id));
        if self.extended() {
            m.insert("genres".into(), json!(artist.genres));
            m.insert("followers".into(), json!({"href": null, "total": artist.followers}));
            let drift = self.catalog.popularity(artist.popularity, mix(0, &[a as u64]), self.now_ms);
            m.insert("popularity".into(), json!(drift));
        }
        Value::Object(m)
    }

    pub fn simplified_album(&self, a: usize) -> Value {
        Value::Object(self.simplified_album_fields(a))
    }

    /// An album as an artist's album pages list it: with the artist's relation to it.
    pub fn artist_album(&self, a: usize) -> Value {
        let mut m = self.simplified_album_fields(a);
        m.insert("album_group".into(), json!(self.catalog.albums[a].album_type));
        Value::Object(m)
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
        let year = album.release_date.get(..4).unwrap_or("2026");
        m.insert(
            "copyrights".into(),
            json!([{"text": format!("{year} {}", album.label), "type": "C"},
                   {"text": format!("{year} {}", album.label), "type": "P"}]),
        );
        if self.extended() {
            m.insert("genres".into(), json!([]));
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
        }
        Value::Object(m)
    }

    /// A podcast episode: a simplified episode object, as search gives it.
    pub fn episode(&self, e: usize) -> Value {
        Value::Object(self.episode_fields(e))
    }

    fn episode_fields(&self, e: usize) -> Map<String, Value> {
        let ep = &self.catalog.episodes[e];
        let mut m = reference(self.base, "episode", &ep.id, &ep.name);
        m.insert("audio_preview_url".into(), Value::Null);
        m.insert("description".into(), json!(format!("{} from the simulator", ep.name)));
        m.insert("html_description".into(), json!(format!("<p>{} from the simulator</p>", ep.name)));
        m.insert("duration_ms".into(), json!(ep.duration_ms));
        m.insert("explicit".into(), json!(false));
        m.insert("is_externally_hosted".into(), json!(false));
        m.insert("is_playable".into(), json!(true));
        m.insert("languages".into(), json!(["en"]));
        m.insert("release_date".into(), json!(ep.release_date));
        m.insert("release_date_precision".into(), json!("day"));
        m.insert("images".into(), images(&ep.id));
        m
    }

    /// An episode as a playlist entry carries it: a full episode, plus the legacy track shape
    /// Spotify still sends there (its show as `album` and `artists`, `track_number` 0,
    /// `episode: true`).
    fn episode_entry(&self, e: usize) -> Value {
        let ep = &self.catalog.episodes[e];
        let mut m = self.episode_fields(e);
        let show_ref = reference(self.base, "show", &ep.show_id, &ep.show_name);
        let mut show = show_ref.clone();
        show.insert("publisher".into(), json!("Sim Media"));
        show.insert("description".into(), json!(format!("{} from the simulator", ep.show_name)));
        show.insert("html_description".into(), json!(format!("<p>{} from the simulator</p>", ep.show_name)));
        show.insert("explicit".into(), json!(false));
        show.insert("images".into(), images(&ep.show_id));
        show.insert("is_externally_hosted".into(), json!(false));
        show.insert("languages".into(), json!(["en"]));
        show.insert("media_type".into(), json!("audio"));
        show.insert(
            "total_episodes".into(),
            json!(self.catalog.episodes.iter().filter(|x| x.show_id == ep.show_id).count()),
        );
        show.insert("copyrights".into(), json!([]));
        if self.extended() {
            show.insert("available_markets".into(), json!(MARKETS));
        }
        m.insert("show".into(), Value::Object(show));
        let mut album = show_ref.clone();
        album.insert("album_type".into(), json!("show"));
        album.insert("images".into(), images(&ep.show_id));
        album.insert("artists".into(), json!([Value::Object(show_ref.clone())]));
        m.insert("album".into(), Value::Object(album));
        m.insert("artists".into(), json!([Value::Object(show_ref)]));
        m.insert("disc_number".into(), json!(0));
        m.insert("track_number".into(), json!(0));
        m.insert("external_ids".into(), json!({}));
        m.insert("is_local".into(), json!(false));
        m.insert("episode".into(), json!(true));
        m.insert("track".into(), json!(false));
        Value::Object(m)
    }

    /// A local file: no ids, and an artist whose id is null, as Spotify sends them.
    fn local_track(&self, name: &str) -> Value {
        let nobody = json!({"external_urls": {}, "href": null, "id": null, "name": "Home Artist", "type": "artist", "uri": null});
        json!({"id": null, "name": name, "type": "track", "uri": local_uri(name),
               "href": null, "external_urls": {}, "artists": [nobody], "duration_ms": 180_000, "explicit": false,
               "is_local": true, "disc_number": 0, "track_number": 0, "external_ids": {}, "preview_url": null,
               "album": {"album_type": null, "artists": [], "external_urls": {}, "href": null, "id": null, "images": [],
                         "name": "", "release_date": null, "release_date_precision": null, "type": "album", "uri": null}})
    }

    /// One playlist entry, with its payload under `item` or `track` depending on the mode.
    pub fn entry(&self, entry: &Entry) -> Value {
        let (payload, added_at, added_by, is_local) = match entry {
            Entry::Removed { added_at_secs, added_by } => (Value::Null, *added_at_secs, *added_by, false),
            Entry::Track { track, added_at_secs, added_by } => (self.track(*track), *added_at_secs, *added_by, false),
            Entry::Episode { episode, added_at_secs, added_by } => {
                (self.episode_entry(*episode), *added_at_secs, *added_by, false)
            }
            Entry::Local { name, added_at_secs, added_by } => (self.local_track(name), *added_at_secs, *added_by, true),
        };
        let added_at = chrono::DateTime::from_timestamp(added_at, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ");
        let mut m = Map::new();
        m.insert("added_at".into(), json!(added_at.to_string()));
        m.insert("added_by".into(), Value::Object(self.user_link(added_by)));
        m.insert("is_local".into(), json!(is_local));
        m.insert("primary_color".into(), Value::Null);
        m.insert("video_thumbnail".into(), json!({"url": null}));
        // 2026 development-mode bodies carry the payload under `item` and, during the
        // migration, under `track` too; extended-quota apps get `track` alone.
        if !self.extended() {
            m.insert("item".into(), payload.clone());
        }
        m.insert("track".into(), payload);
        Value::Object(m)
    }

    /// One recently-played item. The context is null when the play came from no album or playlist.
    pub fn play(&self, play: &Play) -> Value {
        let context = match play.playlist {
            Some(p) => Some(("playlist", self.catalog.playlists[p].id.as_str())),
            None if mix(4, &[play.played_at_ms as u64]).is_multiple_of(2) => None,
            None => Some(("album", self.catalog.albums[self.catalog.tracks[play.track].album].id.as_str())),
        };
        let context = context.map_or(Value::Null, |(kind, id)| {
            json!({"type": kind, "uri": format!("spotify:{kind}:{id}"), "href": format!("{}/v1/{kind}s/{id}", self.base),
                   "external_urls": {"spotify": format!("https://open.spotify.com/{kind}/{id}")}})
        });
        let played_at = chrono::DateTime::from_timestamp_millis(play.played_at_ms).unwrap_or_default();
        json!({"track": self.track(play.track), "played_at": played_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
               "context": context})
    }

    /// A playlist object; `entries` is the paging object of its first entries, or only the total,
    /// or `None` when the caller may not read them (the metadata comes alone).
    pub fn playlist(&self, p: usize, snapshot_id: &str, entries: Option<Value>) -> Value {
        let playlist = &self.catalog.playlists[p];
        let mut m = reference(self.base, "playlist", &playlist.id, &playlist.name);
        m.insert("collaborative".into(), json!(playlist.collaborative));
        m.insert("description".into(), json!(format!("{} by the simulator", playlist.name)));
        m.insert("public".into(), json!(playlist.public));
        m.insert("snapshot_id".into(), json!(snapshot_id));
        m.insert("images".into(), images(&playlist.id));
        m.insert("owner".into(), self.user_ref(playlist.owner));
        let entries_key = if self.extended() { "tracks" } else { "items" };
        if self.extended() {
            m.insert("followers".into(), json!({"href": null, "total": mix(2, &[p as u64]) % 10_000}));
        }
        if let Some(entries) = entries {
            m.insert(entries_key.into(), entries);
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
