//! Tests of the simulated world: determinism, playlist versions, popularity drift, plays.

use super::*;

const EPOCH_MS: i64 = 1_800_000_000_000;

fn world() -> Catalog {
    let config = SimConfig {
        seed: 7,
        artists: 20,
        users: vec!["alice".into(), "bob".into()],
        playlists_per_user: 3,
        plays_per_minute: 60.0,
        playlist_change_every_secs: 10,
        ..SimConfig::default()
    };
    Catalog::generate(&config, EPOCH_MS)
}

#[test]
fn the_same_seed_builds_the_same_world_and_ids_look_like_spotify_ids() {
    let (a, b) = (world(), world());
    assert_eq!(a.tracks.iter().map(|t| &t.id).collect::<Vec<_>>(), b.tracks.iter().map(|t| &t.id).collect::<Vec<_>>());
    assert!(a.tracks.iter().all(|t| t.id.len() == 22 && t.id.bytes().all(|c| c.is_ascii_alphanumeric())));
    assert_eq!(a.index.len(), a.artists.len() + a.albums.len() + a.tracks.len() + a.playlists.len() + 2);
}

#[test]
fn playlists_change_over_time_with_new_snapshots() {
    let c = world();
    let t0 = c.epoch_ms;
    let (v0, v1) = (c.auto_version(0, t0), c.auto_version(0, t0 + 10_000));
    assert_eq!(v1, v0 + 1);
    assert_ne!(c.snapshot_id(0, v0), c.snapshot_id(0, v1));
    assert_ne!(c.entries(0, v0), c.entries(0, v1));
    assert_eq!(c.entries(0, v1), c.entries(0, v1));
}

#[test]
fn popularity_drifts_within_bounds() {
    let c = world();
    let hour = 3_600_000;
    let values: Vec<i64> = (0..24).map(|h| c.popularity(50, 7, c.epoch_ms + h * hour / 4)).collect();
    assert!(values.iter().all(|v| (42..=58).contains(v)), "{values:?}");
    assert!(values.iter().min() < values.iter().max(), "popularity must change over time: {values:?}");
}

#[test]
fn plays_are_strictly_increasing_and_grow_with_time() {
    let c = world();
    let now = c.epoch_ms + 30_000;
    let plays = c.plays(1, now);
    assert!(plays.windows(2).all(|w| w[0].played_at_ms < w[1].played_at_ms));
    assert!(plays.iter().all(|p| p.played_at_ms <= now));
    assert!(c.plays(1, now + 10_000).len() >= plays.len() + 9);
}
