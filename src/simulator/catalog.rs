//! The simulator's world: a seeded, deterministic catalog whose playlists, popularity and
//! listening history evolve as pure functions of time, so ground truth can always be recomputed.

use std::collections::HashMap;

use super::SimConfig;

/// SplitMix64 over a seed and a path of labels: the same inputs always give the same value.
pub fn mix(seed: u64, parts: &[u64]) -> u64 {
    let mut z = seed;
    for &part in parts {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(part);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 22-character base62 id, like Spotify's, derived from `seed` and `parts`.
pub fn spotify_id(seed: u64, parts: &[u64]) -> String {
    let (mut hi, mut lo) = (mix(seed, parts), mix(seed ^ 0x5EED, parts));
    (0..22)
        .map(|i| {
            let v = if i % 2 == 0 { &mut hi } else { &mut lo };
            let c = BASE62[(*v % 62) as usize];
            *v /= 62;
            if *v == 0 {
                *v = mix(seed, &[i]);
            }
            c as char
        })
        .collect()
}

const WORDS: [&str; 16] = [
    "love", "night", "blue", "fire", "dream", "heart", "city", "gold", "rain", "wild", "echo", "neon", "river",
    "summer", "ghost", "velvet",
];
const GENRES: [&str; 8] = ["indie pop", "synthwave", "jazz", "techno", "folk", "hip hop", "ambient", "soul"];

fn title(seed: u64, parts: &[u64]) -> String {
    let h = mix(seed, parts);
    let words = 1 + (h % 3) as usize;
    (0..words).map(|i| WORDS[(mix(h, &[i as u64]) % WORDS.len() as u64) as usize]).collect::<Vec<_>>().join(" ")
}

pub struct Artist {
    pub id: String,
    pub name: String,
    pub genres: Vec<String>,
    pub followers: u64,
    pub popularity: i64,
    pub albums: Vec<usize>,
}

pub struct Album {
    pub id: String,
    pub name: String,
    pub album_type: &'static str,
    pub release_date: String,
    pub precision: &'static str,
    pub label: String,
    pub artists: Vec<usize>,
    pub tracks: Vec<usize>,
}

pub struct Track {
    pub id: String,
    pub name: String,
    pub album: usize,
    pub artists: Vec<usize>,
    pub duration_ms: u64,
    pub explicit: bool,
    pub isrc: String,
    pub track_number: u64,
    pub popularity: i64,
}

pub struct Episode {
    pub id: String,
    pub name: String,
    pub show_id: String,
    pub show_name: String,
    pub duration_ms: u64,
    pub release_date: String,
}

/// Who may read a playlist through the Web API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    /// Spotify-owned editorial playlists: 404 for development-mode apps.
    Editorial,
    /// Another user's private playlist: 403.
    Private,
}

pub struct Playlist {
    pub id: String,
    pub name: String,
    pub owner: usize,
    pub public: bool,
    pub collaborative: bool,
    pub access: Access,
    /// The entries of version 0.
    pub base: Vec<Entry>,
    /// Seconds between two automatic edits; phase-shifted per playlist.
    pub phase_secs: u64,
}

pub struct User {
    pub id: String,
    pub display_name: String,
    pub playlists: Vec<usize>,
    pub followed: Vec<usize>,
    /// Milliseconds between two plays, and the offset of this user's first play.
    pub play_period_ms: i64,
    pub play_phase_ms: i64,
}

/// One playlist entry. `Removed` is an entry whose track left the catalog: Spotify keeps the
/// entry and sends its payload as `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Track { track: usize, added_at_secs: i64, added_by: usize },
    Episode { episode: usize, added_at_secs: i64, added_by: usize },
    Local { name: String, added_at_secs: i64, added_by: usize },
    Removed { added_at_secs: i64, added_by: usize },
}

/// One play in a user's listening history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    pub user: usize,
    pub played_at_ms: i64,
    pub track: usize,
    /// The playlist the track was played from, if any.
    pub playlist: Option<usize>,
}

pub struct Catalog {
    /// How big the world is and how fast it changes (sizes at least 1).
    pub config: SimConfig,
    /// When the world began, in milliseconds since the epoch: versions and plays count from it.
    pub epoch_ms: i64,
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub tracks: Vec<Track>,
    pub episodes: Vec<Episode>,
    pub users: Vec<User>,
    pub playlists: Vec<Playlist>,
    pub index: HashMap<String, (ObjectKind, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Artist,
    Album,
    Track,
    Playlist,
    User,
}

const ALBUMS_PER_ARTIST: usize = 3;
const TRACKS_PER_ALBUM: usize = 8;
const EPISODES: usize = 12;

impl Artist {
    /// Artist `i` of the world seeded `s`, without albums yet.
    fn generate(s: u64, i: usize) -> Self {
        let h = mix(s, &[1, i as u64]);
        let mut genres = vec![GENRES[(h % 8) as usize].to_owned()];
        let second = GENRES[(h / 8 % 8) as usize].to_owned();
        if !genres.contains(&second) {
            genres.push(second);
        }
        Artist {
            id: spotify_id(s, &[1, i as u64]),
            name: title(s, &[1, i as u64]),
            genres,
            followers: h % 2_000_000,
            popularity: (h % 90) as i64 + 5,
            albums: Vec::new(),
        }
    }
}

impl Episode {
    /// Episode `e` of the world seeded `s`: three shows take turns.
    fn generate(s: u64, e: usize) -> Self {
        Episode {
            id: spotify_id(s, &[4, e as u64]),
            name: format!("Episode {}: {}", e + 1, title(s, &[4, e as u64])),
            show_id: spotify_id(s, &[5, (e % 3) as u64]),
            show_name: format!("The {} Show", title(s, &[5, (e % 3) as u64])),
            duration_ms: 1_200_000 + mix(s, &[4, e as u64]) % 2_400_000,
            release_date: format!("2026-{:02}-{:02}", 1 + e % 11, 1 + e % 27),
        }
    }
}

impl Catalog {
    pub fn generate(config: &SimConfig, epoch_ms: i64) -> Self {
        let config = SimConfig {
            artists: config.artists.max(2),
            playlists_per_user: config.playlists_per_user.max(1),
            playlist_change_every_secs: config.playlist_change_every_secs.max(1),
            ..config.clone()
        };
        let s = config.seed;
        let mut artists: Vec<Artist> = (0..config.artists).map(|i| Artist::generate(s, i)).collect();
        let mut albums = Vec::new();
        let mut tracks = Vec::new();
        for a in 0..artists.len() {
            for k in 0..ALBUMS_PER_ARTIST {
                let n = (a * ALBUMS_PER_ARTIST + k) as u64;
                let h = mix(s, &[2, n]);
                let year = 1970 + h % 56;
                let (release_date, precision) = match h % 7 {
                    0 => (format!("{year}"), "year"),
                    1 => (format!("{year}-{:02}", 1 + h / 7 % 12), "month"),
                    _ => (format!("{year}-{:02}-{:02}", 1 + h / 7 % 12, 1 + h / 97 % 28), "day"),
                };
                let featured = h
                    .is_multiple_of(5)
                    .then(|| (a + 1 + (h / 5) as usize % (artists.len() - 1).max(1)) % artists.len());
                let album_artists: Vec<usize> = std::iter::once(a).chain(featured.filter(|&f| f != a)).collect();
                let album_ix = albums.len();
                let track_ixs: Vec<usize> = (0..TRACKS_PER_ALBUM)
                    .map(|t| {
                        let m = n * TRACKS_PER_ALBUM as u64 + t as u64;
                        let th = mix(s, &[3, m]);
                        tracks.push(Track {
                            id: spotify_id(s, &[3, m]),
                            name: title(s, &[3, m]),
                            album: album_ix,
                            artists: album_artists.clone(),
                            duration_ms: 90_000 + th % 300_000,
                            explicit: th % 10 < 2,
                            isrc: format!("QZ{:010X}", th >> 24),
                            track_number: t as u64 + 1,
                            popularity: (th % 80) as i64 + 10,
                        });
                        tracks.len() - 1
                    })
                    .collect();
                albums.push(Album {
                    id: spotify_id(s, &[2, n]),
                    name: title(s, &[2, n]),
                    album_type: if k == 2 { "single" } else { "album" },
                    release_date,
                    precision,
                    label: format!("{} Records", title(s, &[9, n])),
                    artists: album_artists,
                    tracks: track_ixs,
                });
                artists[a].albums.push(album_ix);
            }
        }
        let episodes = (0..EPISODES).map(|e| Episode::generate(s, e)).collect();
        let mut catalog = Self {
            config,
            epoch_ms,
            artists,
            albums,
            tracks,
            episodes,
            users: Vec::new(),
            playlists: Vec::new(),
            index: HashMap::new(),
        };
        catalog.add_users_and_playlists();
        catalog.build_index();
        catalog
    }

    fn add_users_and_playlists(&mut self) {
        let s = self.config.seed;
        let period_ms = (60_000.0 / self.config.plays_per_minute.max(0.001)) as i64;
        for (u, name) in self.config.users.clone().iter().enumerate() {
            let h = mix(s, &[6, u as u64]);
            let followed = (0..5).map(|k| (mix(h, &[k]) % self.artists.len() as u64) as usize).collect::<Vec<_>>();
            self.users.push(User {
                id: name.clone(),
                display_name: capitalise(name),
                playlists: Vec::new(),
                followed: dedup(followed),
                play_period_ms: period_ms.max(1),
                play_phase_ms: (h % period_ms.max(1) as u64) as i64,
            });
            for p in 0..self.config.playlists_per_user {
                let n = (u * 100 + p) as u64;
                let size = 20 + (mix(s, &[7, n]) % 110) as usize;
                let base = (0..size).map(|i| self.entry(n, i as u64, u)).collect();
                let access = match p {
                    _ if u > 0 && p + 1 == self.config.playlists_per_user => Access::Private,
                    _ => Access::Open,
                };
                self.playlists.push(Playlist {
                    id: spotify_id(s, &[7, n]),
                    name: capitalise(&title(s, &[7, n])),
                    owner: u,
                    public: access == Access::Open,
                    collaborative: p == 1,
                    access,
                    base,
                    phase_secs: mix(s, &[8, n]) % self.config.playlist_change_every_secs.max(1),
                });
                let ix = self.playlists.len() - 1;
                self.users[u].playlists.push(ix);
            }
        }
        // One Spotify-owned editorial playlist, which development-mode apps cannot read.
        self.playlists.push(Playlist {
            id: "37i9dQZF1DXcBWIGoYBM5M".to_owned(),
            name: "Today's Top Hits".to_owned(),
            owner: 0,
            public: true,
            collaborative: false,
            access: Access::Editorial,
            base: (0..50).map(|i| self.entry(9999, i, 0)).collect(),
            phase_secs: 0,
        });
    }

    /// The `i`-th entry of playlist number `n`: mostly tracks, some episodes, local files and nulls.
    fn entry(&self, n: u64, i: u64, owner: usize) -> Entry {
        let h = mix(self.config.seed, &[10, n, i]);
        let added_at_secs = 1_735_689_600 + (h % 28_000_000) as i64;
        match h % 100 {
            0 => Entry::Removed { added_at_secs, added_by: owner },
            1 | 2 => Entry::Local { name: format!("Home Recording {i}"), added_at_secs, added_by: owner },
            3..=6 => {
                Entry::Episode { episode: (h / 100) as usize % self.episodes.len(), added_at_secs, added_by: owner }
            }
            _ => Entry::Track { track: (h / 100) as usize % self.tracks.len(), added_at_secs, added_by: owner },
        }
    }

    fn build_index(&mut self) {
        let mut index = HashMap::new();
        let kinds = [
            (ObjectKind::Artist, self.artists.iter().map(|a| a.id.clone()).collect::<Vec<_>>()),
            (ObjectKind::Album, self.albums.iter().map(|a| a.id.clone()).collect()),
            (ObjectKind::Track, self.tracks.iter().map(|t| t.id.clone()).collect()),
            (ObjectKind::Playlist, self.playlists.iter().map(|p| p.id.clone()).collect()),
            (ObjectKind::User, self.users.iter().map(|u| u.id.clone()).collect()),
        ];
        for (kind, ids) in kinds {
            for (i, id) in ids.into_iter().enumerate() {
                index.insert(id, (kind, i));
            }
        }
        self.index = index;
    }

    pub fn find(&self, kind: ObjectKind, id: &str) -> Option<usize> {
        self.index.get(id).filter(|(k, _)| *k == kind).map(|&(_, i)| i)
    }

    /// The automatic edit count of playlist `p` at `now_ms`.
    pub fn auto_version(&self, p: usize, now_ms: i64) -> u64 {
        let every = self.config.playlist_change_every_secs.max(1) as i64 * 1000;
        let elapsed = now_ms - self.epoch_ms + self.playlists[p].phase_secs as i64 * 1000;
        (elapsed.max(0) / every) as u64
    }

    /// The entries of playlist `p` at `version`: each edit appends a track, every third also
    /// removes one.
    pub fn entries(&self, p: usize, version: u64) -> Vec<Entry> {
        let playlist = &self.playlists[p];
        let mut entries = playlist.base.clone();
        for v in 1..=version {
            let h = mix(self.config.seed, &[11, p as u64, v]);
            if v % 3 == 0 && entries.len() > 1 {
                entries.remove((h % entries.len() as u64) as usize);
            }
            let added_at_secs = self.epoch_ms / 1000 + v as i64 * self.config.playlist_change_every_secs as i64;
            entries.push(Entry::Track {
                track: (h / 7) as usize % self.tracks.len(),
                added_at_secs,
                added_by: playlist.owner,
            });
        }
        entries
    }

    /// The URI of an entry as Spotify gives it; `None` for a null entry.
    pub fn entry_uri(&self, entry: &Entry) -> Option<String> {
        match entry {
            Entry::Track { track, .. } => Some(format!("spotify:track:{}", self.tracks[*track].id)),
            Entry::Episode { episode, .. } => Some(format!("spotify:episode:{}", self.episodes[*episode].id)),
            Entry::Local { name, .. } => Some(local_uri(name)),
            Entry::Removed { .. } => None,
        }
    }

    pub fn snapshot_id(&self, p: usize, version: u64) -> String {
        format!(
            "{}{}",
            spotify_id(self.config.seed, &[12, p as u64, version]),
            spotify_id(self.config.seed, &[13, version])
        )
    }

    /// A track's popularity at `now_ms`: it drifts around its base value over the day.
    pub fn popularity(&self, base: i64, id_hash: u64, now_ms: i64) -> i64 {
        let phase = (id_hash % 1000) as f64 / 1000.0 * std::f64::consts::TAU;
        let day = (now_ms - self.epoch_ms) as f64 / 86_400_000.0 * std::f64::consts::TAU;
        (base as f64 + 8.0 * (day * 24.0 + phase).sin()).round().clamp(0.0, 100.0) as i64
    }

    /// Every play of user `u` with `played_at <= now_ms`, oldest first. Listening starts
    /// 60 plays before the world's epoch, so a first pull already finds a history.
    pub fn plays(&self, u: usize, now_ms: i64) -> Vec<Play> {
        let user = &self.users[u];
        let first = self.epoch_ms - 60 * user.play_period_ms + user.play_phase_ms;
        if now_ms < first {
            return Vec::new();
        }
        let count = (now_ms - first) / user.play_period_ms + 1;
        (0..count).map(|k| self.play(u, k, first)).filter(|p| p.played_at_ms <= now_ms).collect()
    }

    fn play(&self, u: usize, k: i64, first: i64) -> Play {
        let user = &self.users[u];
        let h = mix(self.config.seed, &[14, u as u64, k as u64]);
        let playlist = (h.is_multiple_of(3) && !user.playlists.is_empty())
            .then(|| user.playlists[(h / 3) as usize % user.playlists.len()]);
        Play {
            user: u,
            // Sub-period jitter keeps timestamps irregular but strictly increasing.
            played_at_ms: first + k * user.play_period_ms + (h % (user.play_period_ms as u64 / 2).max(1)) as i64,
            track: (h / 11) as usize % self.tracks.len(),
            playlist,
        }
    }
}

/// A local file's URI: `spotify:local:<artist>:<album>:<title>:<seconds>`.
pub fn local_uri(name: &str) -> String {
    format!("spotify:local:::{}:180", name.replace(' ', "+"))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn dedup(mut v: Vec<usize>) -> Vec<usize> {
    let mut seen = Vec::new();
    v.retain(|x| {
        let new = !seen.contains(x);
        seen.push(*x);
        new
    });
    v
}

#[cfg(test)]
#[path = "catalog/tests.rs"]
mod tests;
