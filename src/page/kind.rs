//! The kinds of raw Spotify pages tunestream understands, and how a kind is recognised.

use std::fmt;
use std::str::FromStr;

/// One Spotify Web API response type. Each kind is one raw table visible to the SQL in `queries/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `GET /playlists/{id}/items` (formerly `/tracks`): a paging object of playlist entries.
    PlaylistItems,
    /// `GET /me/player/recently-played`: a cursor paging object of plays.
    RecentlyPlayed,
    /// `GET /tracks/{id}`: one full track object.
    Track,
    /// `GET /albums/{id}`: one full album object.
    Album,
    /// `GET /artists/{id}`: one full artist object.
    Artist,
    /// `GET /artists/{id}/albums`: a paging object of simplified albums.
    ArtistAlbums,
    /// `GET /playlists/{id}`: one playlist object.
    Playlist,
    /// `GET /search`: a map of paging objects per result type.
    Search,
    /// `GET /me/following?type=artist`: a cursor paging object of full artists, under `artists`.
    FollowedArtists,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 9] = [
        Kind::PlaylistItems,
        Kind::RecentlyPlayed,
        Kind::Track,
        Kind::Album,
        Kind::Artist,
        Kind::ArtistAlbums,
        Kind::Playlist,
        Kind::Search,
        Kind::FollowedArtists,
    ];

    /// The raw table name, which is also the `kind` written in an envelope.
    pub fn name(self) -> &'static str {
        match self {
            Kind::PlaylistItems => "playlist_items",
            Kind::RecentlyPlayed => "recently_played",
            Kind::Track => "track",
            Kind::Album => "album",
            Kind::Artist => "artist",
            Kind::ArtistAlbums => "artist_albums",
            Kind::Playlist => "playlist",
            Kind::Search => "search",
            Kind::FollowedArtists => "followed_artists",
        }
    }

    /// Position in [`Kind::ALL`], for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Recognises the kind of a bare response from the request URL it names (its `href`).
    ///
    /// Works for real Spotify URLs and the simulator's alike, because only the path after
    /// `/v1/` is read.
    pub fn from_href(href: &str) -> Option<Kind> {
        let path = href.split_once("/v1/").map_or(href, |(_, rest)| rest);
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["playlists", _, "items" | "tracks"] => Some(Kind::PlaylistItems),
            // The form Spotify used before 2018, still in old raw buckets' `href`s.
            ["users", _, "playlists", _, "tracks"] => Some(Kind::PlaylistItems),
            ["playlists", _] => Some(Kind::Playlist),
            ["me", "player", "recently-played"] => Some(Kind::RecentlyPlayed),
            ["tracks", _] => Some(Kind::Track),
            ["albums", _] => Some(Kind::Album),
            ["artists", _, "albums"] => Some(Kind::ArtistAlbums),
            ["artists", _] => Some(Kind::Artist),
            ["search"] => Some(Kind::Search),
            ["me", "following"] => Some(Kind::FollowedArtists),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text given for a kind matched none of the known kinds.
#[derive(Debug, thiserror::Error)]
#[error("unknown page kind `{0}`; expected one of: {list}", list = Kind::ALL.map(Kind::name).join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn href_recognises_every_endpoint() {
        let cases = [
            ("https://api.spotify.com/v1/playlists/abc/items?offset=0&limit=100", Kind::PlaylistItems),
            ("https://api.spotify.com/v1/playlists/abc/tracks?offset=100", Kind::PlaylistItems),
            ("https://api.spotify.com/v1/playlists/abc", Kind::Playlist),
            ("https://api.spotify.com/v1/users/spotify/playlists/abc/tracks?offset=0&limit=100", Kind::PlaylistItems),
            ("https://api.spotify.com/v1/me/player/recently-played?limit=50&after=1", Kind::RecentlyPlayed),
            ("https://api.spotify.com/v1/tracks/t1", Kind::Track),
            ("https://api.spotify.com/v1/albums/a1", Kind::Album),
            ("https://api.spotify.com/v1/artists/r1", Kind::Artist),
            ("http://127.0.0.1:8888/v1/artists/r1/albums?offset=0", Kind::ArtistAlbums),
            ("https://api.spotify.com/v1/search?q=x&type=track", Kind::Search),
            ("https://api.spotify.com/v1/me/following?type=artist&limit=50", Kind::FollowedArtists),
        ];
        for (href, kind) in cases {
            assert_eq!(Kind::from_href(href), Some(kind), "{href}");
        }
        assert_eq!(Kind::from_href("https://api.spotify.com/v1/shows/s1"), None);
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>().unwrap(), kind);
            assert_eq!(Kind::ALL[kind.index()], kind);
        }
        let err = "tracks".parse::<Kind>().unwrap_err().to_string();
        assert!(err.contains("`tracks`") && err.contains("playlist_items"), "{err}");
    }
}
