//! The paging bounds of Spotify's published 2026 Web API, which the simulator enforces as
//! Spotify does: a `limit` or `offset` past them is answered 400 (`Invalid limit`), never clamped.
//!
//! The numbers are the OpenAPI description's (`tests/reference/spotify-contract.json`);
//! `tests/contract.rs` holds this table to it.

use super::http::Request;

/// A request Spotify answers `400` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// The `limit` and `offset` one paged endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The smallest `limit` answered. The description's schema says 0 for artist albums, its
    /// text says 1; a limit of 0 would page forever, so 1 is taken everywhere.
    pub min_limit: usize,
    pub max_limit: usize,
    /// The `limit` used when the request has none.
    pub default_limit: usize,
    /// The largest `offset`, where the description sets one (search: 1,000).
    pub max_offset: Option<usize>,
}

const fn paging(max_limit: usize, default_limit: usize) -> Paging {
    Paging { min_limit: 1, max_limit, default_limit, max_offset: None }
}

/// `GET /artists/{id}/albums`: at most 10 since February 2026 (default 5).
pub const ARTIST_ALBUMS: Paging = paging(10, 5);
/// `GET /search`: at most 10 results per type since February 2026 (default 5), offset ≤ 1,000.
pub const SEARCH: Paging = Paging { max_offset: Some(1000), ..paging(10, 5) };
/// `GET /playlists/{id}/items`.
pub const PLAYLIST_ITEMS: Paging = paging(50, 20);
/// `GET /playlists/{id}/tracks`, the legacy path extended-quota shapes page by (100 a page).
pub const PLAYLIST_TRACKS: Paging = paging(100, 100);
/// `GET /me/playlists`.
pub const MY_PLAYLISTS: Paging = paging(50, 20);
/// `GET /me/player/recently-played`.
pub const RECENTLY_PLAYED: Paging = paging(50, 20);
/// `GET /me/following?type=artist`.
pub const FOLLOWING: Paging = paging(50, 20);

/// Every bounded endpoint, by the path the description names it with.
pub const ALL: [(&str, Paging); 7] = [
    ("/artists/{id}/albums", ARTIST_ALBUMS),
    ("/search", SEARCH),
    ("/playlists/{playlist_id}/items", PLAYLIST_ITEMS),
    ("/playlists/{playlist_id}/tracks", PLAYLIST_TRACKS),
    ("/me/playlists", MY_PLAYLISTS),
    ("/me/player/recently-played", RECENTLY_PLAYED),
    ("/me/following", FOLLOWING),
];

impl Paging {
    /// The request's `(offset, limit)`, or why Spotify answers 400: either is out of bounds or
    /// not a number.
    pub fn window(&self, request: &Request) -> Result<(usize, usize), Invalid> {
        let limit = match request.param("limit") {
            None => self.default_limit,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (self.min_limit..=self.max_limit).contains(n))
                .ok_or_else(|| Invalid("Invalid limit".into()))?,
        };
        let offset = match request.param("offset") {
            None => 0,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| self.max_offset.is_none_or(|max| *n <= max))
                .ok_or_else(|| Invalid("Invalid offset".into()))?,
        };
        Ok((offset, limit))
    }

    /// The request's `limit` alone, for cursor-paged endpoints.
    pub fn limit(&self, request: &Request) -> Result<usize, Invalid> {
        self.window(request).map(|(_, limit)| limit)
    }
}
