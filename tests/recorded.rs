//! Spotify bodies in the shapes the real API sends, replayed through decode and `queries/`, and
//! every value the tables keep compared with the JSON it came from.
//!
//! Two sets: `tests/bodies/shapes-2026.json`, bodies written for this test in the 2026 shapes
//! (entries carrying both `item` and `track`, metadata-only playlists, recently played without
//! `total`, integers sent as floats, the old `users/…/tracks` href, podcast-only search answers);
//! and, where present, bodies recorded by other open-source clients, listed with their repository,
//! path and licence in `tests/bodies/recorded.json`. Those are not copied into this repository: the
//! test reads them from `TUNESTREAM_RECORDED_BODIES`, or from `shared/fixtures/<name>/` beside the
//! repository, and says so when neither is there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use serde_json::{Value, json};
use tunestream::decode::decode_batch;
use tunestream::source::{PageBatch, SourceFile};
use tunestream::transform::{Transform, load_queries};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One response body with what its envelope says.
struct Body {
    kind: String,
    url: String,
    user_id: Option<String>,
    snapshot_id: Option<String>,
    body: Value,
    origin: String,
}

fn committed_bodies() -> Vec<Body> {
    let path = root().join("tests/bodies/shapes-2026.json");
    let entries: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| Body {
            kind: e["kind"].as_str().unwrap().to_owned(),
            url: e["url"].as_str().unwrap().to_owned(),
            user_id: e["user_id"].as_str().map(str::to_owned),
            snapshot_id: e["snapshot_id"].as_str().map(str::to_owned),
            body: e["body"].clone(),
            origin: format!("shapes-2026.json[{i}]"),
        })
        .collect()
}

/// The recorded bodies listed in `tests/bodies/recorded.json` that are found on this machine.
fn recorded_bodies() -> Vec<(String, Vec<Body>)> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root().join("tests/bodies/recorded.json")).unwrap()).unwrap();
    let mut sets = Vec::new();
    for set in manifest["sets"].as_array().unwrap() {
        let name = set["name"].as_str().unwrap();
        let dir = std::env::var_os("TUNESTREAM_RECORDED_BODIES")
            .map(|d| PathBuf::from(d).join(name))
            .unwrap_or_else(|| root().join("../shared/fixtures").join(name));
        if !dir.is_dir() {
            eprintln!("recorded bodies `{name}` ({}) not found at {}: not replayed", set["source"], dir.display());
            continue;
        }
        let bodies = set["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let file = f["file"].as_str().unwrap();
                let text =
                    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()));
                // Some recordings hold more than one value; the first is the response.
                let body = serde_json::Deserializer::from_slice(&text).into_iter::<Value>().next().unwrap().unwrap();
                let url = f["url"].as_str().or(body["href"].as_str()).unwrap().to_owned();
                Body {
                    kind: f["kind"].as_str().unwrap().to_owned(),
                    url,
                    user_id: f["user_id"].as_str().map(str::to_owned),
                    snapshot_id: f["snapshot_id"].as_str().or(body["snapshot_id"].as_str()).map(str::to_owned),
                    body,
                    origin: format!("{name}/{file}"),
                }
            })
            .collect();
        sets.push((name.to_owned(), bodies));
    }
    sets
}

/// The tables `queries/` make of `bodies`, each wrapped in its envelope; and the rejected lines.
async fn land(bodies: &[Body]) -> (HashMap<String, Vec<RecordBatch>>, Vec<String>) {
    let lines: Vec<String> = bodies
        .iter()
        .map(|b| {
            json!({"kind": b.kind, "url": b.url, "fetched_at": "2026-03-05T10:00:00.000000Z",
                   "user_id": b.user_id, "snapshot_id": b.snapshot_id, "body": b.body})
            .to_string()
        })
        .collect();
    let transform = Transform::plan(load_queries(&root().join("queries")).unwrap()).await.unwrap();
    let file = Arc::new(SourceFile { path: "bodies".into(), modified_micros: 0, kind: None });
    let decoded = decode_batch(PageBatch::from_text(file, &lines.join("\n")), transform.read_schemas()).unwrap();
    let rejects =
        decoded.rejects.iter().map(|r| format!("{}: {}", bodies[r.line.line_no as usize - 1].origin, r.error));
    let rejects = rejects.collect();
    let outputs = transform.run(&decoded).await.unwrap();
    (outputs.into_iter().map(|o| (o.table.to_string(), o.batches.clone())).collect(), rejects)
}

/// A cell as JSON: strings, integers, booleans, timestamps as RFC 3339, lists of strings.
fn cell(batch: &RecordBatch, column: &str, row: usize) -> Value {
    let array = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(row)),
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::Timestamp(..) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            json!(chrono::DateTime::from_timestamp_micros(micros).unwrap().to_rfc3339())
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            let strings = list.as_string::<i32>();
            Value::Array((0..strings.len()).map(|i| json!(strings.value(i))).collect())
        }
        other => panic!("{column}: {other} is not compared"),
    }
}

fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |v, key| v.get(key).unwrap_or(&Value::Null))
}

/// Whether a kept value is the JSON's: numbers by value (`2.3024383E7` is 23024383), times as
/// instants, anything else as JSON.
fn same(kept: &Value, json: &Value) -> bool {
    match (kept, json) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) if a != b => {
            let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
            instant(a).is_some() && instant(a) == instant(b)
        }
        _ => kept == json,
    }
}

/// Every JSON object with a string `type` and `id`, by both, as the tables may read it: a track
/// listed inside an album gets that album as its `album`, and the entries embedded in a playlist
/// object are left out (tunestream reads entries from entry pages, docs/data-contract.md).
fn objects(bodies: &[Body]) -> HashMap<(String, String), Vec<Value>> {
    fn walk(v: &Value, album: Option<&Value>, out: &mut HashMap<(String, String), Vec<Value>>) {
        match v {
            Value::Object(m) => {
                let kind = m.get("type").and_then(Value::as_str);
                if let (Some(t), Some(id)) = (kind, m.get("id").and_then(Value::as_str)) {
                    let mut object = v.clone();
                    if let (Some(album), "track", None) = (album, t, m.get("album")) {
                        object["album"] = json!({"id": album["id"]});
                    }
                    out.entry((t.to_owned(), id.to_owned())).or_default().push(object);
                }
                for (key, child) in m {
                    let inside_album = (kind == Some("album") && key == "tracks").then_some(v).or(album);
                    if kind == Some("playlist") && (key == "items" || key == "tracks") && child["items"].is_array() {
                        continue;
                    }
                    walk(child, inside_album, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, album, out)),
            _ => {}
        }
    }
    let mut out = HashMap::new();
    bodies.iter().for_each(|b| walk(&b.body, None, &mut out));
    out
}

/// Compares one kept value with the JSON of every object it may have come from: a null is kept
/// only when no source has a value, and any other value must be one of the sources'.
fn compare(problems: &mut Vec<String>, what: &str, kept: &Value, sources: &[Value]) {
    let given: Vec<&Value> = sources.iter().filter(|v| !v.is_null()).collect();
    let fine = if kept.is_null() { given.is_empty() } else { given.iter().any(|v| same(kept, v)) };
    if !fine {
        problems.push(format!("{what}: kept {kept}, the JSON has {given:?}"));
    }
}

/// A dimension table checked against the objects of `object_type`: each kept column, and that
/// every such object with an id has its row.
fn check_dimension(
    problems: &mut Vec<String>,
    tables: &HashMap<String, Vec<RecordBatch>>,
    index: &HashMap<(String, String), Vec<Value>>,
    (table, key, object_type): (&str, &str, &str),
    columns: &[(&str, &str)],
) {
    let mut kept = BTreeSet::new();
    for batch in tables.get(table).into_iter().flatten() {
        for row in 0..batch.num_rows() {
            let id = cell(batch, key, row);
            let id = id.as_str().unwrap_or_else(|| panic!("{table}: a row without {key}")).to_owned();
            let Some(sources) = index.get(&(object_type.to_owned(), id.clone())) else {
                problems.push(format!("{table} {id}: no {object_type} object has this id"));
                continue;
            };
            for (column, path) in columns {
                let values: Vec<Value> = sources.iter().map(|o| at(o, path).clone()).collect();
                compare(problems, &format!("{table} {id} {column}"), &cell(batch, column, row), &values);
            }
            kept.insert(id);
        }
    }
    for (t, id) in index.keys().filter(|(t, _)| t == object_type) {
        if !kept.contains(id) {
            problems.push(format!("{table}: the {t} {id} in the JSON has no row"));
        }
    }
}

/// Every playlist entry of the entry pages, by playlist id and position. Entries embedded in a
/// playlist object are not read from it: tunestream's puller writes them as a page of their own
/// (docs/data-contract.md).
fn entries(bodies: &[Body]) -> BTreeMap<(String, i64), Value> {
    let id_of =
        |url: &str| url.split("/playlists/").nth(1).map(|rest| rest.split(['/', '?']).next().unwrap().to_owned());
    let mut out = BTreeMap::new();
    for b in bodies.iter().filter(|b| b.kind == "playlist_items") {
        let paging = &b.body;
        let Some(items) = paging["items"].as_array() else { continue };
        let id = id_of(&b.url).unwrap();
        let offset = paging["offset"].as_i64().unwrap_or(0);
        for (i, entry) in items.iter().enumerate() {
            out.insert((id.clone(), offset + i as i64), entry.clone());
        }
    }
    out
}

/// Every problem with what `bodies` landed as.
fn problems(bodies: &[Body], tables: &HashMap<String, Vec<RecordBatch>>) -> Vec<String> {
    let index = objects(bodies);
    let mut problems = Vec::new();
    let track = [
        ("track_name", "name"),
        ("duration_ms", "duration_ms"),
        ("explicit", "explicit"),
        ("popularity", "popularity"),
        ("isrc", "external_ids.isrc"),
        ("album_id", "album.id"),
        ("disc_number", "disc_number"),
        ("track_number", "track_number"),
        ("is_local", "is_local"),
        ("track_uri", "uri"),
    ];
    check_dimension(&mut problems, tables, &index, ("tracks", "track_id", "track"), &track);
    let album = [
        ("album_name", "name"),
        ("album_type", "album_type"),
        ("release_date", "release_date"),
        ("release_date_precision", "release_date_precision"),
        ("total_tracks", "total_tracks"),
        ("label", "label"),
    ];
    check_dimension(&mut problems, tables, &index, ("albums", "album_id", "album"), &album);
    let artist = [("artist_name", "name"), ("followers", "followers.total"), ("popularity", "popularity")];
    check_dimension(&mut problems, tables, &index, ("artists", "artist_id", "artist"), &artist);
    let playlist = [
        ("playlist_name", "name"),
        ("snapshot_id", "snapshot_id"),
        ("owner_id", "owner.id"),
        ("collaborative", "collaborative"),
        ("public", "public"),
    ];
    check_dimension(&mut problems, tables, &index, ("playlists", "playlist_id", "playlist"), &playlist);

    // Genres: the distinct, sorted union of what the artist's objects list.
    for batch in &tables["artists"] {
        for row in 0..batch.num_rows() {
            let id = cell(batch, "artist_id", row);
            let sources = &index[&("artist".to_owned(), id.as_str().unwrap().to_owned())];
            let lists: Vec<&Vec<Value>> = sources.iter().filter_map(|o| o["genres"].as_array()).collect();
            let genres: BTreeSet<&str> = lists.iter().copied().flatten().filter_map(Value::as_str).collect();
            let expected = if lists.is_empty() { Value::Null } else { json!(genres) };
            compare(&mut problems, &format!("artists {id} genres"), &cell(batch, "genres", row), &[expected]);
        }
    }
    // Playlists: total_items from the entries' paging object, null when none came.
    for batch in &tables["playlists"] {
        for row in 0..batch.num_rows() {
            let id = cell(batch, "playlist_id", row);
            let sources = &index[&("playlist".to_owned(), id.as_str().unwrap().to_owned())];
            let totals: Vec<Value> = sources
                .iter()
                .map(
                    |o| if o["items"].is_object() { o["items"]["total"].clone() } else { o["tracks"]["total"].clone() },
                )
                .collect();
            compare(&mut problems, &format!("playlists {id} total_items"), &cell(batch, "total_items", row), &totals);
        }
    }

    // Playlist entries: one row per entry with a payload, each column from that entry.
    let all_entries = entries(bodies);
    let payload = |entry: &Value| if entry["item"].is_null() { entry["track"].clone() } else { entry["item"].clone() };
    let mut rows = 0;
    for batch in tables.get("playlist_tracks").into_iter().flatten() {
        for row in 0..batch.num_rows() {
            rows += 1;
            let id = cell(batch, "playlist_id", row).as_str().unwrap().to_owned();
            let position = cell(batch, "position", row).as_i64().unwrap();
            let Some(entry) = all_entries.get(&(id.clone(), position)) else {
                problems.push(format!("playlist_tracks {id}#{position}: no such entry in the JSON"));
                continue;
            };
            let p = payload(entry);
            let what = |c: &str| format!("playlist_tracks {id}#{position} {c}");
            let is_local = if p["is_local"].is_null() { entry["is_local"].clone() } else { p["is_local"].clone() };
            let item_type = if p["type"].is_null() { json!("track") } else { p["type"].clone() };
            let expected = [
                ("added_at", entry["added_at"].clone()),
                ("added_by_id", entry["added_by"]["id"].clone()),
                ("item_type", item_type),
                ("track_id", p["id"].clone()),
                ("track_uri", p["uri"].clone()),
                ("is_local", is_local),
                ("track_name", p["name"].clone()),
                ("duration_ms", p["duration_ms"].clone()),
                ("explicit", p["explicit"].clone()),
                ("popularity", p["popularity"].clone()),
                ("isrc", p["external_ids"]["isrc"].clone()),
                ("album_id", p["album"]["id"].clone()),
                ("track_number", p["track_number"].clone()),
            ];
            for (column, value) in expected {
                compare(&mut problems, &what(column), &cell(batch, column, row), &[value]);
            }
        }
    }
    let with_payload = all_entries.values().filter(|e| !payload(e).is_null()).count();
    if rows != with_payload {
        problems.push(format!("playlist_tracks: {rows} rows for {with_payload} entries with a payload"));
    }

    // Plays: one row per recently-played item, by user and time.
    let mut plays = BTreeMap::new();
    for b in bodies.iter().filter(|b| b.kind == "recently_played") {
        for item in b.body["items"].as_array().into_iter().flatten() {
            let at =
                chrono::DateTime::parse_from_rfc3339(item["played_at"].as_str().unwrap()).unwrap().timestamp_micros();
            plays.insert((b.user_id.clone(), at), item.clone());
        }
    }
    let mut kept_plays = 0;
    for batch in tables.get("plays").into_iter().flatten() {
        let played_at = batch.column_by_name("played_at").unwrap().as_primitive::<TimestampMicrosecondType>();
        for row in 0..batch.num_rows() {
            kept_plays += 1;
            let user = cell(batch, "user_id", row).as_str().map(str::to_owned);
            let Some(item) = plays.get(&(user.clone(), played_at.value(row))) else {
                problems.push(format!("plays {user:?} {}: no such play in the JSON", played_at.value(row)));
                continue;
            };
            for (column, path) in
                [("track_id", "track.id"), ("context_type", "context.type"), ("context_uri", "context.uri")]
            {
                compare(
                    &mut problems,
                    &format!("plays {column}"),
                    &cell(batch, column, row),
                    &[at(item, path).clone()],
                );
            }
        }
    }
    if kept_plays != plays.len() {
        problems.push(format!("plays: {kept_plays} rows for {} plays", plays.len()));
    }

    // Credits: each (track, artist, position) is that track's artist at that position.
    for batch in tables.get("track_artists").into_iter().flatten() {
        for row in 0..batch.num_rows() {
            let (track, artist) = (cell(batch, "track_id", row), cell(batch, "artist_id", row));
            let position = cell(batch, "artist_position", row).as_i64().unwrap() as usize;
            let sources = &index[&("track".to_owned(), track.as_str().unwrap().to_owned())];
            if !sources.iter().any(|t| t["artists"][position]["id"] == artist) {
                problems.push(format!("track_artists {track} {artist} #{position}: not in the JSON"));
            }
        }
    }
    problems
}

#[tokio::test]
async fn bodies_in_the_2026_shapes_land_every_value_they_carry() {
    let bodies = committed_bodies();
    let (tables, rejects) = land(&bodies).await;
    assert!(rejects.is_empty(), "{rejects:#?}");
    let found = problems(&bodies, &tables);
    assert!(found.is_empty(), "{found:#?}");

    // What the shapes are there for, said outright.
    let rows = |table: &str| tables.get(table).map_or(0, |b| b.iter().map(RecordBatch::num_rows).sum::<usize>());
    assert_eq!(rows("playlist_tracks"), 4, "3 entries with a payload of the owned playlist's page, 1 of the old page");
    let metadata_only = tables["playlists"].iter().any(|b| {
        (0..b.num_rows()).any(|r| {
            cell(b, "playlist_id", r) == json!("37i9dQZF1DX0XUsuxWHRQd") && cell(b, "total_items", r).is_null()
        })
    });
    assert!(metadata_only, "the playlist without entries lands its row, total_items null");
    let followers = tables["artists"].iter().find_map(|b| {
        (0..b.num_rows())
            .find(|&r| cell(b, "artist_id", r) == json!("5zNOkBNvjPnJGpdBDdJ0Pb"))
            .map(|r| cell(b, "followers", r))
    });
    assert_eq!(followers, Some(json!(23_024_383)), "an integral float lands as its integer");
    assert_eq!(rows("plays"), 2);
}

#[tokio::test]
async fn a_fraction_where_an_integer_belongs_is_still_rejected_with_its_path() {
    let mut bodies = committed_bodies();
    let track = bodies.iter_mut().find(|b| b.kind == "track").unwrap();
    track.body["duration_ms"] = json!(213253.5);
    let (_, rejects) = land(&bodies).await;
    assert_eq!(rejects.len(), 1, "{rejects:#?}");
    assert!(rejects[0].contains("duration_ms") && rejects[0].contains("whole number"), "{}", rejects[0]);
}

#[tokio::test]
async fn bodies_recorded_by_other_clients_land_every_value_they_carry() {
    let sets = recorded_bodies();
    for (name, bodies) in &sets {
        let (tables, rejects) = land(bodies).await;
        assert!(rejects.is_empty(), "{name}: {rejects:#?}");
        let found = problems(bodies, &tables);
        assert!(found.is_empty(), "{name}: {found:#?}");
        eprintln!("recorded bodies `{name}`: {} bodies replayed, every kept value equal to its JSON", bodies.len());
    }
}
