//! The nested Arrow schemas that raw pages decode into: one raw table per [`Kind`].
//!
//! Every field is nullable, so a field Spotify stops sending (development-mode apps get no
//! `popularity`, `followers`, `available_markets`, `linked_from` or `label`) decodes as null,
//! never as 0. Fields absent from these schemas are ignored while decoding.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};

use super::Kind;

/// Envelope columns that precede the response fields in every raw table.
pub const URL: &str = "_url";
/// When the page was fetched: microsecond UTC.
pub const FETCHED_AT: &str = "_fetched_at";
/// The Spotify user a user endpoint was called for.
pub const USER_ID: &str = "_user_id";
/// The playlist snapshot a playlist read was made against.
pub const SNAPSHOT_ID: &str = "_snapshot_id";
/// Lineage: the micro-batch a row came from.
pub const BATCH_ID: &str = "_batch_id";

/// The timestamp type used everywhere: Snowflake loads microsecond UTC correctly.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}
fn int(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}
fn boolean(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}
fn timestamp(name: &str) -> Field {
    Field::new(name, timestamp_type(), true)
}
fn object(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}
fn list_of(name: &str, item: DataType) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new("item", item, true))), true)
}
fn list_of_objects(name: &str, fields: Vec<Field>) -> Field {
    list_of(name, DataType::Struct(Fields::from(fields)))
}

fn external_urls() -> Field {
    object("external_urls", vec![utf8("spotify")])
}
fn images() -> Field {
    list_of_objects("images", vec![utf8("url"), int("height"), int("width")])
}
/// `id`, `name`, `type`, `uri`, `href`, `external_urls`: what every Spotify object reference has.
fn reference_fields() -> Vec<Field> {
    vec![utf8("id"), utf8("name"), utf8("type"), utf8("uri"), utf8("href"), external_urls()]
}
fn user_reference(name: &str) -> Field {
    object(name, [reference_fields(), vec![utf8("display_name")]].concat())
}
fn simplified_artists() -> Field {
    list_of_objects("artists", reference_fields())
}
fn full_artist_fields() -> Vec<Field> {
    [
        reference_fields(),
        vec![object("followers", vec![int("total")]), list_of("genres", DataType::Utf8), images(), int("popularity")],
    ]
    .concat()
}
fn simplified_album_fields() -> Vec<Field> {
    [
        reference_fields(),
        vec![
            utf8("album_type"),
            utf8("album_group"),
            int("total_tracks"),
            utf8("release_date"),
            utf8("release_date_precision"),
            images(),
            simplified_artists(),
        ],
    ]
    .concat()
}
fn simplified_track_fields() -> Vec<Field> {
    [
        reference_fields(),
        vec![
            simplified_artists(),
            int("disc_number"),
            int("track_number"),
            int("duration_ms"),
            boolean("explicit"),
            boolean("is_local"),
            boolean("is_playable"),
            utf8("preview_url"),
        ],
    ]
    .concat()
}
fn full_track_fields() -> Vec<Field> {
    [
        simplified_track_fields(),
        vec![
            object("album", simplified_album_fields()),
            object("external_ids", vec![utf8("isrc"), utf8("ean"), utf8("upc")]),
            int("popularity"),
            object("linked_from", reference_fields()),
        ],
    ]
    .concat()
}
/// A playlist entry's payload: a track or a podcast episode, told apart by `type`.
fn track_or_episode_fields() -> Vec<Field> {
    [
        full_track_fields(),
        vec![
            // Episode-only fields; the legacy shape also flags `episode`/`track` booleans.
            utf8("release_date"),
            utf8("release_date_precision"),
            images(),
            object("show", [reference_fields(), vec![utf8("publisher")]].concat()),
            boolean("episode"),
            boolean("track"),
        ],
    ]
    .concat()
}
fn playlist_entry_fields() -> Vec<Field> {
    vec![
        timestamp("added_at"),
        user_reference("added_by"),
        boolean("is_local"),
        utf8("primary_color"),
        // Development-mode apps get the payload under `item`; extended-quota apps under `track`.
        object("item", track_or_episode_fields()),
        object("track", track_or_episode_fields()),
    ]
}
fn paging_fields(items: Field) -> Vec<Field> {
    vec![utf8("href"), int("limit"), utf8("next"), int("offset"), utf8("previous"), int("total"), items]
}
fn paging_fields_only() -> Vec<Field> {
    vec![utf8("href"), int("limit"), utf8("next"), int("offset"), utf8("previous"), int("total")]
}
fn playlist_fields(with_entries: bool) -> Vec<Field> {
    let entries = || {
        let mut fields = paging_fields(list_of_objects("items", playlist_entry_fields()));
        if !with_entries {
            fields.truncate(fields.len() - 1);
        }
        fields
    };
    [
        reference_fields(),
        vec![
            boolean("collaborative"),
            utf8("description"),
            boolean("public"),
            utf8("snapshot_id"),
            images(),
            user_reference("owner"),
            object("followers", vec![int("total")]),
            // Renamed from `tracks` to `items` for development-mode apps in 2026.
            object("items", entries()),
            object("tracks", entries()),
        ],
    ]
    .concat()
}

/// The fields of one response body of `kind`, as decoded from JSON.
pub fn response_fields(kind: Kind) -> Vec<Field> {
    match kind {
        Kind::PlaylistItems => paging_fields(list_of_objects("items", playlist_entry_fields())),
        Kind::RecentlyPlayed => [
            paging_fields(list_of_objects(
                "items",
                vec![
                    object("track", full_track_fields()),
                    timestamp("played_at"),
                    object("context", vec![utf8("type"), utf8("uri"), utf8("href"), external_urls()]),
                ],
            )),
            vec![object("cursors", vec![utf8("after"), utf8("before")])],
        ]
        .concat(),
        Kind::Track => full_track_fields(),
        Kind::Album => [
            simplified_album_fields(),
            vec![
                object("external_ids", vec![utf8("isrc"), utf8("ean"), utf8("upc")]),
                list_of("genres", DataType::Utf8),
                utf8("label"),
                int("popularity"),
                object("tracks", paging_fields(list_of_objects("items", simplified_track_fields()))),
            ],
        ]
        .concat(),
        Kind::Artist => full_artist_fields(),
        Kind::ArtistAlbums => paging_fields(list_of_objects("items", simplified_album_fields())),
        Kind::Playlist => playlist_fields(true),
        Kind::Search => vec![
            object("tracks", paging_fields(list_of_objects("items", full_track_fields()))),
            object("artists", paging_fields(list_of_objects("items", full_artist_fields()))),
            object("albums", paging_fields(list_of_objects("items", simplified_album_fields()))),
            object("playlists", paging_fields(list_of_objects("items", playlist_fields(false)))),
            // Result types no query reads: only their paging fields, so a search answer holding
            // only these is still a search answer. Their items are checked, not built.
            object("shows", paging_fields_only()),
            object("episodes", paging_fields_only()),
            object("audiobooks", paging_fields_only()),
        ],
        Kind::FollowedArtists => vec![object(
            "artists",
            [
                paging_fields(list_of_objects("items", full_artist_fields())),
                vec![object("cursors", vec![utf8("after")])],
            ]
            .concat(),
        )],
    }
}

/// The envelope columns, in order, that every raw table starts with.
pub fn envelope_fields() -> Vec<Field> {
    vec![utf8(URL), timestamp(FETCHED_AT), utf8(USER_ID), utf8(SNAPSHOT_ID), utf8(BATCH_ID)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_nullable(fields: &Fields) -> bool {
        fields.iter().all(|f| {
            f.is_nullable()
                && match f.data_type() {
                    DataType::Struct(children) => all_nullable(children),
                    DataType::List(item) => {
                        item.is_nullable() && all_nullable(&Fields::from(vec![item.as_ref().clone()]))
                    }
                    _ => true,
                }
        })
    }

    #[test]
    fn every_field_of_every_raw_table_is_nullable() {
        for kind in Kind::ALL {
            let full = super::super::ReadSchemas::full();
            let schema = full.raw(kind);
            assert!(all_nullable(schema.fields()), "{kind} has a non-nullable field");
            assert_eq!(schema.field(0).name(), URL);
        }
    }
}
