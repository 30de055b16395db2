//! Decoding every raw kind, in the 2026 development-mode shapes and the legacy ones.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, StructArray};
use arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};

use super::*;
use crate::page::{PageBatch, SourceFile};

const SAMPLE: &str = include_str!("../../samples/spotify_pages.ndjson");

fn batch_of(text: &str, kind: Option<Kind>) -> PageBatch {
    let file = Arc::new(SourceFile { path: PathBuf::from("pages.ndjson"), modified_micros: 1_000_000, kind });
    PageBatch::from_text(file, text)
}

fn table(decoded: &DecodedBatch, kind: Kind) -> &RecordBatch {
    &decoded.tables.iter().find(|(k, _)| *k == kind).unwrap_or_else(|| panic!("no {kind} table")).1
}

fn strings(array: &dyn Array) -> Vec<Option<String>> {
    array.as_string::<i32>().iter().map(|s| s.map(str::to_owned)).collect()
}

fn field<'a>(s: &'a StructArray, name: &str) -> &'a dyn Array {
    s.column_by_name(name).unwrap_or_else(|| panic!("no field {name}")).as_ref()
}

/// The entries of all pages of a playlist_items table, flattened.
fn entries(t: &RecordBatch) -> StructArray {
    let items = t.column_by_name("items").unwrap().as_list::<i32>();
    let values = arrow::compute::concat(
        &items.iter().flatten().collect::<Vec<_>>().iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
    )
    .unwrap();
    values.as_struct().clone()
}

#[test]
fn every_kind_of_the_sample_decodes_with_no_rejects() {
    let decoded = decode_batch(batch_of(SAMPLE, None), &ReadSchemas::full()).unwrap();
    assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
    let kinds: Vec<Kind> = decoded.tables.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, Kind::ALL.to_vec());
    assert_eq!(decoded.pages, SAMPLE.lines().count());
    assert_eq!(table(&decoded, Kind::PlaylistItems).num_rows(), 3);
    for (kind, t) in &decoded.tables {
        assert_eq!(&t.schema(), ReadSchemas::full().raw(*kind));
        let batch_ids = strings(t.column_by_name(schema::BATCH_ID).unwrap());
        assert!(batch_ids.iter().all(|id| id.as_deref() == Some(&*decoded.id)));
    }
}

#[test]
fn playlist_entries_under_item_and_track_null_entries_local_files_and_episodes() {
    let decoded = decode_batch(batch_of(SAMPLE, None), &ReadSchemas::full()).unwrap();
    let t = table(&decoded, Kind::PlaylistItems);
    assert_eq!(
        strings(t.column_by_name(schema::SNAPSHOT_ID).unwrap()),
        [Some("snapA".into()), Some("snapA".into()), Some("snapB".into())]
    );
    let e = entries(t);
    assert_eq!(e.len(), 8);
    // Development mode: the payload is under `item`; the legacy page puts it under `track`.
    let item = field(&e, "item").as_struct();
    let track = field(&e, "track").as_struct();
    let item_ids = strings(field(item, "id"));
    let item_types = strings(field(item, "type"));
    assert_eq!(item_ids[0].as_deref(), Some("tr1"));
    assert!(e.is_null(1), "a null entry stays a null entry");
    assert!(item.is_valid(2) && item_ids[2].is_none(), "local files have a null id");
    assert_eq!(strings(field(item, "uri"))[2].as_deref(), Some("spotify:local:Home+Taper::Basement+Demo:93"));
    assert_eq!(item_types[3].as_deref(), Some("episode"));
    assert_eq!(strings(field(field(item, "show").as_struct(), "name"))[3].as_deref(), Some("Pipelines Weekly"));
    assert!(item.is_null(5) && track.is_null(5), "an entry whose item is null");
    assert!(item.is_null(6) && track.is_valid(6), "extended-quota entries come under `track`");
    assert_eq!(strings(field(track, "id"))[6].as_deref(), Some("tr1"));
    // Development mode sends no popularity: null, never 0. Extended quota sends it.
    let item_popularity = field(item, "popularity").as_primitive::<Int64Type>();
    assert!(item_popularity.is_null(0));
    assert_eq!(field(track, "popularity").as_primitive::<Int64Type>().value(6), 41);
    let added = field(&e, "added_at").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(added.value(0), 1_790_841_600_000_000, "2026-10-01T08:00:00Z in microseconds");
}

#[test]
fn plays_cursors_and_user_id_come_through() {
    let decoded = decode_batch(batch_of(SAMPLE, None), &ReadSchemas::full()).unwrap();
    let t = table(&decoded, Kind::RecentlyPlayed);
    assert_eq!(strings(t.column_by_name(schema::USER_ID).unwrap()), [Some("u1".into())]);
    let cursors = t.column_by_name("cursors").unwrap().as_struct();
    assert_eq!(strings(field(cursors, "after")), [Some("1764064800123".into())]);
    let plays = t.column_by_name("items").unwrap().as_list::<i32>().value(0);
    let played_at = field(plays.as_struct(), "played_at").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(played_at.value(1) % 1_000_000, 123_000, "milliseconds survive as microseconds");
    let fetched = t.column_by_name(schema::FETCHED_AT).unwrap().as_primitive::<TimestampMicrosecondType>();
    assert_eq!(fetched.value(0) % 1_000_000, 1, "fetch time keeps microseconds");
}

#[test]
fn object_kinds_keep_present_fields_and_null_missing_ones() {
    let decoded = decode_batch(batch_of(SAMPLE, None), &ReadSchemas::full()).unwrap();
    let artist = table(&decoded, Kind::Artist);
    let followers = artist.column_by_name("followers").unwrap().as_struct();
    let totals = field(followers, "total").as_primitive::<Int64Type>();
    assert_eq!((totals.value(0), followers.is_null(1)), (120_345, true), "dev-mode artists have no followers");
    let album = table(&decoded, Kind::Album);
    assert_eq!(strings(album.column_by_name("label").unwrap()), [Some("Stone Age".into())]);
    let album_tracks = album.column_by_name("tracks").unwrap().as_struct();
    assert_eq!(field(album_tracks, "items").as_list::<i32>().value(0).len(), 1);
    let track = table(&decoded, Kind::Track);
    assert!(track.column_by_name("popularity").unwrap().is_null(0));
    assert!(track.column_by_name("linked_from").unwrap().is_null(0));
    let playlist = table(&decoded, Kind::Playlist);
    assert!(playlist.column_by_name("tracks").unwrap().is_null(0), "2026 playlists say `items`, not `tracks`");
    let items_total = field(playlist.column_by_name("items").unwrap().as_struct(), "total");
    assert_eq!(items_total.as_primitive::<Int64Type>().value(0), 6);
    let search = table(&decoded, Kind::Search);
    let found = field(search.column_by_name("playlists").unwrap().as_struct(), "items").as_list::<i32>().value(0);
    assert!(found.is_null(0) && found.is_valid(1), "null search results are kept as nulls");
    let albums = table(&decoded, Kind::ArtistAlbums).column_by_name("items").unwrap().as_list::<i32>().value(0);
    assert_eq!(strings(field(albums.as_struct(), "album_group")), [Some("album".into()), Some("appears_on".into())]);
}

#[test]
fn bare_responses_take_their_kind_from_href_or_the_given_kind() {
    let bare = SAMPLE
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["kind"] == "playlist_items")
        .map(|v| v["body"].to_string())
        .unwrap();
    let decoded = decode_batch(batch_of(&bare, None), &ReadSchemas::full()).unwrap();
    let t = table(&decoded, Kind::PlaylistItems);
    assert_eq!(
        strings(t.column_by_name(schema::URL).unwrap())[0].as_deref(),
        Some("https://api.spotify.com/v1/playlists/pl1/items?offset=0&limit=3")
    );
    let fetched = t.column_by_name(schema::FETCHED_AT).unwrap().as_primitive::<TimestampMicrosecondType>();
    assert_eq!(fetched.value(0), 1_000_000, "bare pages are dated by their file");

    let no_href = r#"{"items":[{"album_type":"single","id":"x","name":"n","type":"album"}],"offset":0}"#;
    let rejected = decode_batch(batch_of(no_href, None), &ReadSchemas::full()).unwrap();
    assert_eq!(rejected.rejects.len(), 1);
    assert!(rejected.rejects[0].error.contains("--kind"), "{}", rejected.rejects[0].error);
    let given = decode_batch(batch_of(no_href, Some(Kind::ArtistAlbums)), &ReadSchemas::full()).unwrap();
    assert!(given.rejects.is_empty());
    assert_eq!(table(&given, Kind::ArtistAlbums).num_rows(), 1);
}

#[test]
fn bad_lines_are_rejected_with_their_line_and_valid_neighbours_kept() {
    let mut lines: Vec<String> = SAMPLE.lines().map(str::to_owned).collect();
    let good = lines.len();
    lines.insert(1, "this is not json".into());
    lines.insert(3, r#"{"kind":"track","fetched_at":"2026-11-25T10:00:00Z","body":{"type":"album","id":"x"}}"#.into());
    lines.insert(5, r#"{"kind":"playlist_items","fetched_at":"2026-11-25T10:00:00Z","body":{"href":"h","items":[],"offset":"ten"}}"#.into());
    lines.insert(7, r#"{"kind":"artist","fetched_at":"2026-11-25T10:00:00Z"}"#.into());
    lines.insert(9, r#"{"kind":"songs","body":{}}"#.into());
    lines.insert(11, r#"{"kind":"search","fetched_at":"2026-11-25T10:00:00Z","body":{"podcasts":{}}}"#.into());
    let decoded = decode_batch(batch_of(&lines.join("\n"), None), &ReadSchemas::full()).unwrap();
    let found: Vec<(u64, Option<Kind>, &str)> =
        decoded.rejects.iter().map(|r| (r.line.line_no, r.kind, r.error.as_str())).collect();
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [2, 4, 6, 8, 10, 12], "{found:?}");
    assert!(found[0].2.starts_with("not JSON"), "{}", found[0].2);
    assert!(found[1].2.contains(r#"`type` is "album""#), "{}", found[1].2);
    assert_eq!(found[2].1, Some(Kind::PlaylistItems));
    assert!(found[2].2.contains("offset"), "the error names the field: {}", found[2].2);
    assert!(found[3].2.contains("no `body`"), "{}", found[3].2);
    assert!(found[4].2.contains("`songs`"), "{}", found[4].2);
    assert!(found[5].2.contains("not a search response"), "{}", found[5].2);
    assert_eq!(decoded.pages, good, "every valid page is kept");
}

#[test]
fn direct_decoding_gives_exactly_what_arrow_json_gives() {
    use crate::source::synthetic::{EntryShape, playlist_pages};
    let generated = [playlist_pages(3, 5, EntryShape::Item), playlist_pages(3, 6, EntryShape::LegacyTrack)];
    let cases: Vec<(Kind, Form, String)> = SAMPLE
        .lines()
        .map(|l| {
            let kind = probe(l.as_bytes(), None).unwrap().kind;
            (kind, Form::Envelope, l.to_owned())
        })
        .chain(generated.iter().flat_map(|t| t.lines().map(|l| (Kind::PlaylistItems, Form::Bare, l.to_owned()))))
        .collect();
    for schemas in [ReadSchemas::full(), Arc::new(ReadSchemas::new(some_nested_fields()))] {
        for (kind, form, line) in &cases {
            let schema = schemas.line(*kind, *form);
            let lines = [line.as_bytes()];
            let direct = direct::decode(schema, &lines).unwrap_or_else(|_| panic!("{kind} {form:?} decodes directly"));
            let reference = json::decode_with_arrow_json(schema, &lines).unwrap();
            assert_eq!(direct, reference, "{kind} {form:?}");
        }
    }
}

fn some_nested_fields() -> NestedFields {
    NestedFields::Named(["item", "track", "id", "name", "album", "artists", "played_at"].map(String::from).into())
}

#[test]
fn pruned_schemas_decode_the_kept_fields_exactly_as_the_full_ones() {
    let pruned = ReadSchemas::new(some_nested_fields());
    let full = decode_batch(batch_of(SAMPLE, None), &ReadSchemas::full()).unwrap();
    let kept = decode_batch(batch_of(SAMPLE, None), &pruned).unwrap();
    assert_eq!(kept.pages, full.pages);
    assert_eq!(kept.tables.len(), full.tables.len());
    for ((kind, full_table), (_, kept_table)) in full.tables.iter().zip(&kept.tables) {
        assert_eq!(&kept_table.schema(), pruned.raw(*kind));
        let target = DataType::Struct(pruned.raw(*kind).fields().clone());
        let narrowed = narrow(&(Arc::new(StructArray::from(full_table.clone())) as ArrayRef), &target);
        assert_eq!(narrowed.as_struct(), &StructArray::from(kept_table.clone()), "{kind}");
    }
}

/// `array` with only the fields of `target` kept, matched by name at every depth.
fn narrow(array: &ArrayRef, target: &DataType) -> ArrayRef {
    match target {
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let columns = fields.iter().map(|f| narrow(s.column_by_name(f.name()).unwrap(), f.data_type())).collect();
            Arc::new(StructArray::new(fields.clone(), columns, s.nulls().cloned()))
        }
        DataType::List(item) => {
            let l = array.as_list::<i32>();
            let values = narrow(l.values(), item.data_type());
            Arc::new(ListArray::new(item.clone(), l.offsets().clone(), values, l.nulls().cloned()))
        }
        _ => array.clone(),
    }
}

#[test]
fn a_bad_value_in_a_field_no_query_reads_does_not_reject_the_page() {
    let line = r#"{"href":"https://api.spotify.com/v1/me/player/recently-played","items":[{"track":{"id":"t1","href":5},"played_at":"2026-01-01T00:00:00Z"}]}"#;
    let file = Arc::new(SourceFile {
        path: PathBuf::from("pages.ndjson"),
        modified_micros: 1_000_000,
        kind: Some(Kind::RecentlyPlayed),
    });
    let full = decode_batch(PageBatch::from_text(file.clone(), line), &ReadSchemas::full()).unwrap();
    assert_eq!(full.rejects.len(), 1, "href must be a string when it is decoded");
    let pruned = decode_batch(PageBatch::from_text(file, line), &ReadSchemas::new(some_nested_fields())).unwrap();
    assert!(pruned.rejects.is_empty(), "{:?}", pruned.rejects);
    let t = table(&pruned, Kind::RecentlyPlayed);
    let plays = t.column_by_name("items").unwrap().as_list::<i32>().value(0);
    let track = field(plays.as_struct(), "track").as_struct().clone();
    assert_eq!(strings(field(&track, "id")), [Some("t1".into())]);
}

#[test]
fn a_missing_comma_after_a_skipped_number_or_a_bad_escape_rejects_the_line_and_keeps_its_neighbours() {
    let good = r#"{"href":"https://api.spotify.com/v1/playlists/p1/items?offset=0&limit=50","items":[],"limit":50,"offset":0,"total":0}"#;
    // `limit` is skipped; before the fix its number ran into `"offset"`, which then read as null.
    let no_comma = good.replace(r#""limit":50,"offset""#, r#""limit":50"offset""#);
    let plus_escape = good.replace("p1/items", r"p1/\u+041items");
    let bad_literal = good.replace(r#""total":0"#, r#""total":0,"x":tru"#);
    let text = [good, &no_comma, &plus_escape, &bad_literal, good].join("\n");
    let decoded = decode_batch(batch_of(&text, None), &ReadSchemas::full()).unwrap();
    let rejected: Vec<u64> = decoded.rejects.iter().map(|r| r.line.line_no).collect();
    assert_eq!(rejected, vec![2, 3, 4], "{:?}", decoded.rejects);
    assert_eq!(table(&decoded, Kind::PlaylistItems).num_rows(), 2);
}

#[test]
fn a_value_of_the_wrong_type_is_rejected_with_its_path_not_coerced() {
    let first = SAMPLE.lines().next().unwrap();
    let timestamp = first.replacen(r#""added_at":"2026-10-01T08:00:00Z""#, r#""added_at":1764547200"#, 1);
    let bad_date = first.replacen(r#""added_at":"2026-10-01T08:00:00Z""#, r#""added_at":"2026-02-30T08:00:00Z""#, 1);
    assert!(timestamp != first && bad_date != first, "the sample's first entry was added 2026-10-01T08:00:00Z");
    let text = [first, &timestamp, &bad_date].join("\n");
    let decoded = decode_batch(batch_of(&text, None), &ReadSchemas::full()).unwrap();
    let errors: Vec<(u64, &str)> = decoded.rejects.iter().map(|r| (r.line.line_no, r.error.as_str())).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, 2);
    assert!(
        errors[0].1.contains("field `body.items[0].added_at`: expected a string holding a valid date"),
        "{errors:?}"
    );
    assert!(errors[0].1.contains("found number 1764547200"), "{errors:?}");
    assert_eq!(errors[1].0, 3);
    assert!(errors[1].1.contains("`body.items[0].added_at`"), "{errors:?}");
    assert_eq!(table(&decoded, Kind::PlaylistItems).num_rows(), 1);
}

#[test]
fn a_key_that_is_read_may_appear_once_in_its_object_envelope_and_href_included() {
    let page = r#"{"href":"https://api.spotify.com/v1/playlists/p1/items?offset=0&limit=50","items":[],"limit":50,"offset":0,"total":0}"#;
    let two_hrefs = page.replace(
        r#","total":0}"#,
        r#","total":0,"href":"https://api.spotify.com/v1/playlists/p2/items?offset=0&limit=50"}"#,
    );
    let envelope =
        format!(r#"{{"kind":"playlist_items","url":"u","fetched_at":"2026-12-01T00:00:00Z","body":{page}}}"#);
    let two_kinds = envelope.replace(r#","body""#, r#","kind":"search","body""#);
    let two_urls = envelope.replace(r#","body""#, r#","url":"v","body""#);
    let text = [page, &two_hrefs, &envelope, &two_kinds, &two_urls].join("\n");
    let decoded = decode_batch(batch_of(&text, None), &ReadSchemas::full()).unwrap();
    let errors: Vec<(u64, &str)> = decoded.rejects.iter().map(|r| (r.line.line_no, r.error.as_str())).collect();
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 4, 5], "{errors:?}");
    assert!(errors.iter().all(|(_, e)| e.contains("appears twice")), "{errors:?}");
    assert_eq!(table(&decoded, Kind::PlaylistItems).num_rows(), 2);
}

#[test]
fn whether_a_line_is_accepted_does_not_depend_on_its_key_order() {
    let body = r#"{"href":"https://api.spotify.com/v1/playlists/p1/items?offset=0&limit=50","items":[],"limit":50,"offset":0,"total":0,"x":[{"y":[1,2]}]}"#;
    let members = |body: &str| {
        vec![
            r#""kind":"playlist_items""#.to_owned(),
            r#""url":"u""#.to_owned(),
            r#""fetched_at":"2026-12-01T00:00:00Z""#.to_owned(),
            format!(r#""body":{body}"#),
        ]
    };
    // A well-formed envelope, one whose top level misses a comma, and one that repeats `url`.
    type Shape = fn(&[String]) -> String;
    let shapes: [Shape; 3] = [
        |m| format!("{{{}}}", m.join(",")),
        |m| format!("{{{} {}}}", m[..2].join(","), m[2..].join(",")),
        |m| format!("{{{},\"url\":\"v\"}}", m.join(",")),
    ];
    // And a body with a missing comma deep inside a value no query reads (validating those is
    // still to come: until then it must at least be judged the same in every order).
    let junk = body.replace("[1,2]", "[1 2]");
    let cases = shapes.iter().map(|s| (s, body)).chain([(&shapes[0], junk.as_str())]);
    for (shape_no, (shape, body)) in cases.enumerate() {
        let mut outcomes = Vec::new();
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]] {
            let m = members(body);
            let line = shape(&order.iter().map(|&i| m[i].clone()).collect::<Vec<_>>());
            let decoded = decode_batch(batch_of(&line, None), &ReadSchemas::full()).unwrap();
            outcomes.push(decoded.rejects.is_empty());
        }
        assert!(outcomes.iter().all(|o| *o == outcomes[0]), "shape {shape_no}: {outcomes:?}");
        if shape_no < shapes.len() {
            assert_eq!(outcomes[0], shape_no == 0, "shape {shape_no}");
        }
    }
}

#[test]
fn junk_inside_values_no_query_reads_rejects_the_line_and_keeps_its_neighbours() {
    let good = r#"{"href":"https://api.spotify.com/v1/playlists/p1/items?offset=0&limit=50","items":[],"limit":50,"offset":0,"total":0,"x":[{"images":["a","b"]}]}"#;
    let control = good.replace(r#""a","b""#, "\"a\u{1}\",\"b\"");
    let bad_escape = good.replace(r#""a","b""#, r#""a\q","b""#);
    let bad_unicode = good.replace(r#""a","b""#, r#""\u00g9","b""#);
    let mut text = [good, &control, &bad_escape, &bad_unicode].join("\n").into_bytes();
    // Invalid UTF-8 in a string that is read (skipped strings are not checked for it yet).
    text.push(b'\n');
    text.extend_from_slice(good.replace("items?offset", "items?off?set").as_bytes());
    let at = text.iter().rposition(|&b| b == b'?').unwrap();
    text[at] = 0xff;
    let file = Arc::new(SourceFile { path: PathBuf::from("pages.ndjson"), modified_micros: 1_000_000, kind: None });
    let mut batch = PageBatch::default();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let start = batch.buf.len();
        batch.buf.extend_from_slice(line);
        batch.lines.push(crate::page::LineRef {
            file: file.clone(),
            line_no: i as u64 + 1,
            start,
            end: batch.buf.len(),
            too_long: None,
        });
        batch.buf.push(b'\n');
    }
    let decoded = decode_batch(batch, &ReadSchemas::full()).unwrap();
    let rejected: Vec<u64> = decoded.rejects.iter().map(|r| r.line.line_no).collect();
    assert_eq!(rejected, vec![2, 3, 4, 5], "{:?}", decoded.rejects);
    assert_eq!(table(&decoded, Kind::PlaylistItems).num_rows(), 1);
}
