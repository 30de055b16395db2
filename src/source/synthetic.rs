//! Deterministic synthetic playlist pages, shaped like Spotify's, for tests, benchmarks and demos.
//!
//! The same `(pages, seed, shape)` always gives the same bytes. Catalog sizes and field values
//! follow the shared benchmark workload (100 entries a page, ~0.2% null entries, 20% of tracks
//! with a featured artist, release dates at day, month or year precision).

use std::fmt::Write;

/// How entries are wrapped, as development-mode or extended-quota apps receive them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryShape {
    /// 2026 development mode: entries under `item`, no popularity or markets.
    Item,
    /// Extended quota: entries under `track`, with popularity and `available_markets`.
    LegacyTrack,
}

const WORDS: [&str; 12] =
    ["love", "night", "blue", "fire", "dream", "heart", "city", "gold", "rain", "wild", "echo", "neon"];
const ENTRIES_PER_PAGE: usize = 100;

/// SplitMix64: tiny, fast, and stable across platforms and releases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn id(&mut self, prefix: char) -> String {
        format!("{prefix}{:021x}", self.next() >> 12)
    }
    fn title(&mut self) -> String {
        let words = 1 + self.below(3) as usize;
        (0..words).map(|_| WORDS[self.below(WORDS.len() as u64) as usize]).collect::<Vec<_>>().join(" ")
    }
}

/// Writes `pages` bare playlist-items pages, one JSON object per line.
pub fn playlist_pages(pages: usize, seed: u64, shape: EntryShape) -> String {
    let mut rng = Rng(seed);
    let artists: Vec<(String, String)> = (0..300).map(|_| (rng.id('r'), rng.title())).collect();
    let albums: Vec<String> = (0..800)
        .map(|_| {
            let (id, name) = (rng.id('a'), rng.title());
            let performers = 1 + usize::from(rng.below(4) == 0);
            let refs: Vec<String> =
                (0..performers).map(|_| artist_ref(&artists[rng.below(300) as usize])).collect();
            let year = 1965 + rng.below(62);
            let (date, precision) = match rng.below(5) {
                0 => (format!("{year}"), "year"),
                1 => (format!("{year}-{:02}", 1 + rng.below(12)), "month"),
                _ => (format!("{year}-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)), "day"),
            };
            format!(
                r#"{{"album_type":"album","artists":[{}],"id":"{id}","name":"{name}","release_date":"{date}","release_date_precision":"{precision}","total_tracks":{},"type":"album","uri":"spotify:album:{id}"{}}}"#,
                refs.join(","),
                1 + rng.below(20),
                markets(shape),
            )
        })
        .collect();
    let mut out = String::new();
    for _ in 0..pages {
        let playlist = rng.id('p');
        let href = format!("https://api.spotify.com/v1/playlists/{playlist}/items?offset=0&limit=100");
        let _ = write!(out, r#"{{"href":"{href}","items":["#);
        for position in 0..ENTRIES_PER_PAGE {
            if position > 0 {
                out.push(',');
            }
            if rng.below(500) == 0 {
                out.push_str(r#"{"added_at":null,"added_by":null,"is_local":false,"item":null,"track":null}"#);
                continue;
            }
            let album = &albums[rng.below(albums.len() as u64) as usize];
            let album_artists = album_artists(album);
            let featured = (rng.below(5) == 0).then(|| artist_ref(&artists[rng.below(300) as usize]));
            let performers = album_artists.into_iter().chain(featured).collect::<Vec<_>>().join(",");
            let id = rng.id('t');
            let popularity = match shape {
                EntryShape::Item => String::new(),
                EntryShape::LegacyTrack => format!(r#","popularity":{}"#, rng.below(101)),
            };
            let track = format!(
                r#"{{"album":{album},"artists":[{performers}],"disc_number":1,"duration_ms":{},"explicit":{},"external_ids":{{"isrc":"US{:010X}"}},"id":"{id}","is_local":false,"name":"{}","track_number":{},"type":"track","uri":"spotify:track:{id}"{popularity}{}}}"#,
                60_000 + rng.below(360_000),
                rng.below(10) < 3,
                rng.below(1 << 40),
                rng.title(),
                1 + rng.below(12),
                markets(shape),
            );
            let key = match shape {
                EntryShape::Item => "item",
                EntryShape::LegacyTrack => "track",
            };
            let _ = write!(
                out,
                r#"{{"added_at":"2026-{:02}-{:02}T{:02}:00:00Z","added_by":{{"id":"{}","type":"user"}},"is_local":false,"{key}":{track}}}"#,
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                rng.id('u'),
            );
        }
        let _ = writeln!(out, r#"],"limit":100,"next":null,"offset":0,"previous":null,"total":100}}"#);
    }
    out
}

fn artist_ref((id, name): &(String, String)) -> String {
    format!(r#"{{"id":"{id}","name":"{name}","type":"artist","uri":"spotify:artist:{id}"}}"#)
}

fn album_artists(album: &str) -> Vec<String> {
    let start = album.find('[').map_or(0, |i| i + 1);
    let end = album.find(']').unwrap_or(start);
    album[start..end].split("},").map(|s| if s.ends_with('}') { s.to_owned() } else { format!("{s}}}") }).collect()
}

fn markets(shape: EntryShape) -> &'static str {
    match shape {
        EntryShape::Item => "",
        EntryShape::LegacyTrack => {
            r#","available_markets":["AD","AE","AR","AT","AU","BE","BR","CA","CH","DE","DK","ES","FI","FR","GB","IT","JP","MX","NL","NO","SE","US"]"#
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_valid_json_and_deterministic() {
        let text = playlist_pages(3, 42, EntryShape::Item);
        assert_eq!(text, playlist_pages(3, 42, EntryShape::Item));
        assert_ne!(text, playlist_pages(3, 43, EntryShape::Item));
        for line in text.lines() {
            let page: serde_json::Value = serde_json::from_str(line).unwrap();
            let items = page["items"].as_array().unwrap();
            assert_eq!(items.len(), ENTRIES_PER_PAGE);
            let first = items.iter().find(|e| !e["item"].is_null()).unwrap();
            assert!(first["item"]["artists"].as_array().is_some_and(|a| !a.is_empty()));
            assert!(first["item"].get("popularity").is_none());
        }
        let legacy: serde_json::Value =
            serde_json::from_str(playlist_pages(1, 1, EntryShape::LegacyTrack).lines().next().unwrap()).unwrap();
        assert!(legacy["items"][0]["track"]["popularity"].is_number() || legacy["items"][0]["track"].is_null());
    }
}
