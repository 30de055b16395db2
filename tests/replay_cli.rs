//! End to end: the built `tunestream replay` on generated input, checked with readers that do
//! not share tunestream's code (Parquet file metadata, and DuckDB against a peer implementation).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use parquet::basic::{Compression, LogicalType, TimeUnit, TimestampType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use tunestream::source::synthetic::{EntryShape, playlist_pages};

mod common;

use common::{has_staged_objects, repo, visible_files as files_below};

fn replay(input: &Path, lake: &Path, extra_env: &[(&str, &str)]) -> Output {
    let out = replay_with(input, &repo().join("queries"), lake, extra_env);
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `tunestream replay` of `input` with the queries of `queries`, successful or not.
fn replay_with(input: &Path, queries: &Path, lake: &Path, extra_env: &[(&str, &str)]) -> Output {
    common::bin()
        .arg("replay")
        .arg(input)
        .arg("--lake")
        .arg(lake)
        .arg("--queries")
        .arg(queries)
        .envs(extra_env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// A `queries/` directory below `dir` holding `files` (name, SQL).
fn queries_dir(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let queries = dir.join("queries");
    std::fs::create_dir(&queries).unwrap();
    for (name, sql) in files {
        std::fs::write(queries.join(name), sql).unwrap();
    }
    queries
}

/// Non-null entries with a non-null payload, counted from the raw JSON.
fn expected_playlist_rows(text: &str) -> u64 {
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .flat_map(|page| page["items"].as_array().unwrap().clone())
        .filter(|entry| !entry["item"].is_null() || !entry["track"].is_null())
        .count() as u64
}

#[test]
fn replay_writes_a_partitioned_zstd_lake_rejects_bad_lines_and_reruns_add_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("raw");
    std::fs::create_dir(&input).unwrap();
    let dev_mode = playlist_pages(25, 1, EntryShape::Item);
    let mut mixed: Vec<String> = dev_mode.lines().map(str::to_owned).collect();
    mixed.insert(3, "{\"href\": \"https://api.spotify.com/v1/playlists/p/items\", \"items\": [".into());
    mixed.insert(10, "<html>502 Bad Gateway</html>".into());
    std::fs::write(input.join("a_dev_mode.ndjson"), mixed.join("\n")).unwrap();
    let legacy = playlist_pages(15, 2, EntryShape::LegacyTrack);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(input.join("b_legacy.ndjson.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(legacy.as_bytes()).unwrap();
    gz.finish().unwrap();

    let lake = dir.path().join("lake");
    let env = [("TUNESTREAM__LAKE__MAX_FILE_ROWS", "1000"), ("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "7")];
    let first = replay(&input, &lake, &env);
    let summary = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(summary.contains("pages            40 "), "{summary}");
    assert!(summary.contains("rejected lines   2 "), "{summary}");

    // Read the lake with the Parquet file API, not tunestream's writer.
    let files = files_below(&lake);
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "parquet")) {
        let table = file.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let parts: Vec<String> = file.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        assert!(parts[1].starts_with("dt=") && parts[2].starts_with("hour="), "{file:?} is not Hive-partitioned");
        let reader = SerializedFileReader::new(std::fs::File::open(lake.join(file)).unwrap()).unwrap();
        let meta = reader.metadata();
        *rows.entry(table).or_default() += meta.file_metadata().num_rows() as u64;
        for group in meta.row_groups() {
            for column in group.columns() {
                assert!(matches!(column.compression(), Compression::ZSTD(_)), "{file:?}: {:?}", column.compression());
            }
        }
        let schema = meta.file_metadata().schema_descr();
        let ingested = schema.columns().iter().find(|c| c.name() == "_ingested_at").unwrap();
        assert_eq!(
            ingested.logical_type_ref(),
            Some(&LogicalType::Timestamp(TimestampType { is_adjusted_to_u_t_c: true, unit: TimeUnit::MICROS })),
            "{file:?}"
        );
    }
    let expected = expected_playlist_rows(&dev_mode) + expected_playlist_rows(&legacy);
    assert_eq!(rows.get("playlist_tracks"), Some(&expected));
    assert!(rows["playlist_tracks"] > 1000, "enough rows to roll files");
    // A file is sealed at 1000 rows or more: a micro-batch's rows (7 pages, under 700) stay whole.
    let playlist_files: Vec<u64> = files
        .iter()
        .filter(|f| f.starts_with("playlist_tracks"))
        .map(|f| {
            SerializedFileReader::new(std::fs::File::open(lake.join(f)).unwrap())
                .unwrap()
                .metadata()
                .file_metadata()
                .num_rows() as u64
        })
        .collect();
    assert!(playlist_files.len() >= 2, "files roll: {playlist_files:?}");
    let short = playlist_files.iter().filter(|&&rows| rows < 1000).count();
    assert!(short <= 1, "only the last file may be short: {playlist_files:?}");
    assert!(playlist_files.iter().all(|&rows| rows < 1700), "{playlist_files:?}");
    assert!(!has_staged_objects(&lake), "no partial file is left");

    // Rejected lines name their file and line, and keep the line.
    let mut records: Vec<serde_json::Value> = files
        .iter()
        .filter(|f| f.starts_with("_rejected"))
        .flat_map(|f| std::fs::read_to_string(lake.join(f)).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    records.sort_by_key(|r| r["line"].as_u64());
    let lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [4, 11]);
    assert!(records.iter().all(|r| r["source"].as_str().unwrap().ends_with("a_dev_mode.ndjson")));
    assert_eq!(records[1]["record"], "<html>502 Bad Gateway</html>");
    assert!(records[1]["error"].as_str().unwrap().starts_with("not JSON"));

    // The same input again: every name already exists, nothing is added or changed.
    let before: Vec<(PathBuf, u64)> =
        files.iter().map(|f| (f.clone(), std::fs::metadata(lake.join(f)).unwrap().len())).collect();
    let second = replay(&input, &lake, &env);
    let summary = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(summary.contains("committed        0 files"), "{summary}");
    let after: Vec<(PathBuf, u64)> =
        files_below(&lake).iter().map(|f| (f.clone(), std::fs::metadata(lake.join(f)).unwrap().len())).collect();
    assert_eq!(before, after);
}

#[test]
fn a_broken_query_is_reported_with_its_file_before_any_data_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let queries = queries_dir(
        dir.path(),
        &[
            ("good.sql", "SELECT _fetched_at AS _ingested_at FROM playlist_items\n"),
            ("bad.sql", "SELECT id,\n  name\nFORM track\n"),
        ],
    );
    let lake = dir.path().join("lake");
    let out = replay_with(Path::new("/nonexistent/input.ndjson"), &queries, &lake, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.sql:3:"), "names file and line: {stderr}");
    assert!(!lake.exists(), "nothing was written");

    let check = common::bin().args(["check", "--queries"]).arg(&queries).output().unwrap();
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("bad.sql:3:"));

    let ok = common::bin().args(["check", "--queries"]).arg(repo().join("queries")).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("7 tables and 3 views"));
}

/// Reading starts before the queries are checked; a broken query must still stop the reader,
/// here one blocked on a full channel of one-page micro-batches, with nothing written.
#[test]
fn a_broken_query_stops_a_replay_that_already_started_reading() {
    let dir = tempfile::tempdir().unwrap();
    let queries = queries_dir(dir.path(), &[("bad.sql", "SELECT id\nFORM track\n")]);
    let lake = dir.path().join("lake");
    let one_page = [("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "1"), ("TUNESTREAM__PIPELINE__CHANNEL_CAPACITY", "1")];
    let out = replay_with(&repo().join("samples/spotify_pages.ndjson"), &queries, &lake, &one_page);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.sql:2:"), "names file and line: {stderr}");
    assert!(!lake.exists(), "nothing was written");
}

/// Reading and decoding start while the queries are planned; a table the lake refuses must
/// still stop the run cleanly, with nothing written.
#[test]
fn a_table_the_lake_refuses_stops_a_replay_that_already_started_reading() {
    let dir = tempfile::tempdir().unwrap();
    let queries = queries_dir(dir.path(), &[("unpartitioned.sql", "SELECT id AS track_id FROM track\n")]);
    let lake = dir.path().join("lake");
    let out = replay_with(&repo().join("samples/spotify_pages.ndjson"), &queries, &lake, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("table unpartitioned") && stderr.contains("_ingested_at"), "{stderr}");
    assert!(!stderr.contains("bug"), "a user error, not a bug: {stderr}");
    assert!(!lake.exists() || files_below(&lake).is_empty(), "nothing was written");
}

/// The shared workload's DuckDB peer (a copy in tests/reference), on the same input,
/// must produce the same rows. Needs the Python environment `scripts/test` provides.
#[test]
fn replay_holds_the_same_rows_as_the_duckdb_peer() {
    if !common::has(&[common::Needs::Python]) {
        return;
    }
    let python = std::env::var("TUNESTREAM_TEST_PYTHON")
        .expect("TUNESTREAM_TEST_PYTHON is not set: run the test suite with scripts/test, which installs DuckDB");
    let peer = repo().join("tests/reference/duckdb_peer.py");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pages.ndjson");
    std::fs::write(&input, playlist_pages(30, 7, EntryShape::LegacyTrack)).unwrap();
    let peer_out = dir.path().join("peer");
    let run = Command::new(&python).arg(&peer).arg(&input).arg(&peer_out).output().unwrap();
    assert!(run.status.success(), "peer failed: {}", String::from_utf8_lossy(&run.stderr));

    let lake = dir.path().join("lake");
    replay(&input, &lake, &[("TUNESTREAM__PIPELINE__BATCH_MAX_PAGES", "8")]);
    let compare = Command::new(&python)
        .arg(repo().join("tests/reference/compare_with_peer.py"))
        .arg(&lake)
        .arg(&peer_out)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&compare.stdout);
    assert!(compare.status.success(), "{report}{}", String::from_utf8_lossy(&compare.stderr));
    assert_eq!(report.matches("same rows").count(), 4, "{report}");
}

/// Outside the repository, with no `queries/` folder and no `--queries`, the built-in default
/// queries run, so the binary works on its own.
#[test]
fn the_built_in_queries_run_where_there_is_no_queries_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bin()
        .current_dir(dir.path())
        .arg("replay")
        .arg(repo().join("samples"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut tables: Vec<String> = std::fs::read_dir(dir.path().join("lake"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with('.'))
        .collect();
    tables.sort();
    assert_eq!(tables, ["albums", "artists", "playlist_tracks", "playlists", "plays", "track_artists", "tracks"]);
}

/// `tunestream replay INPUT --lake LAKE --state-dir STATE`, output captured.
fn replay_into(input: &Path, lake: &Path, state: &Path) -> Output {
    common::bin()
        .arg("replay")
        .arg(input)
        .arg("--lake")
        .arg(lake)
        .arg("--state-dir")
        .arg(state)
        .arg("--queries")
        .arg(repo().join("queries"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn a_rerun_over_grown_input_adds_exactly_the_new_rows_and_one_over_a_changed_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    let sample = std::fs::read_to_string(repo().join("samples/spotify_pages.ndjson")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let write =
        |i: usize| std::fs::write(raw.join(format!("part-{i}.ndjson")), lines[2 * i..2 * i + 2].join("\n")).unwrap();
    let (lake, state) = (dir.path().join("lake"), dir.path().join("state"));
    let ok = |out: Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    (0..4).for_each(write);
    ok(replay_into(&raw, &lake, &state));
    // More files arrive, as in a raw zone a live run keeps writing; the rerun reads only them.
    (4..6).for_each(write);
    ok(replay_into(&raw, &lake, &state));
    let nothing_new = ok(replay_into(&raw, &lake, &state));
    assert!(nothing_new.contains("0 pages"), "a third run reads nothing: {nothing_new}");

    let fresh = dir.path().join("fresh");
    ok(replay_into(&raw, &fresh, &dir.path().join("state2")));
    let (grown, whole) = (common::lake_rows(&lake), common::lake_rows(&fresh));
    assert!(whole.values().map(Vec::len).sum::<usize>() > 20, "{whole:?}");
    assert_eq!(grown, whole, "the lake built in two runs holds the rows of one run over the final input");

    // A file read before changes: refused, naming it, and the lake keeps what it had.
    std::fs::write(raw.join("part-1.ndjson"), lines[2..5].join("\n")).unwrap();
    let out = replay_into(&raw, &lake, &state);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("part-1.ndjson") && stderr.contains("changed"), "{stderr}");
    assert_eq!(common::lake_rows(&lake), whole);
}

#[test]
fn every_reject_record_is_kept_when_bad_inputs_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    // Two files holding the same bad line: two micro-batches with the same content.
    std::fs::write(raw.join("a.ndjson"), "{}\n").unwrap();
    std::fs::write(raw.join("b.ndjson"), "{}\n").unwrap();
    let lake = dir.path().join("lake");
    let out = replay_into(&raw, &lake, &dir.path().join("state"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sources: Vec<String> = common::rejected_records(&lake)
        .iter()
        .map(|r| r["source"].as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources.contains(&"a.ndjson".to_owned()) && sources.contains(&"b.ndjson".to_owned()));

    // A million identical bad lines: byte-identical micro-batches, every line's record kept.
    let lines = 1_000_000;
    std::fs::write(raw.join("c.ndjson"), "{}\n".repeat(lines)).unwrap();
    let out = replay_into(&raw, &lake, &dir.path().join("state"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records = common::rejected_records(&lake);
    let from_c: std::collections::BTreeSet<u64> = records
        .iter()
        .filter(|r| r["source"].as_str().unwrap().ends_with("c.ndjson"))
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(from_c.len(), lines, "one record per line, each line once");
    assert_eq!(records.len(), lines + 2);
}

#[test]
fn a_line_longer_than_the_limit_is_rejected_by_file_and_line_with_an_excerpt_and_its_neighbours_land() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(repo().join("samples/spotify_pages.ndjson")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let long = format!("{{\"kind\":\"track\",\"body\":{{\"name\":\"{}\"}}}}", "x".repeat(200_000));
    let input = dir.path().join("pages.ndjson");
    std::fs::write(&input, format!("{}\n{long}\n{}\n", lines[0], lines[1..].join("\n"))).unwrap();
    let lake = dir.path().join("lake");
    let out = common::bin()
        .args(["replay"])
        .arg(&input)
        .arg("--lake")
        .arg(&lake)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--queries")
        .arg(repo().join("queries"))
        .env("TUNESTREAM__PIPELINE__MAX_LINE_BYTES", "65536")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rejects = common::rejected_records(&lake);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["line"], 2);
    assert!(rejects[0]["source"].as_str().unwrap().ends_with("pages.ndjson"));
    let error = rejects[0]["error"].as_str().unwrap();
    assert!(error.contains(&long.len().to_string()) && error.contains("max_line_bytes"), "{error}");
    assert_eq!(rejects[0]["record"].as_str().unwrap().len(), tunestream::page::LONG_LINE_EXCERPT_BYTES);
    // Every other page landed: the same tables as a replay of the sample alone.
    let whole = dir.path().join("whole");
    let out = replay_into(&repo().join("samples/spotify_pages.ndjson"), &whole, &dir.path().join("state2"));
    assert!(out.status.success());
    let strip = |rows: std::collections::BTreeMap<String, Vec<String>>| -> Vec<(String, usize)> {
        rows.into_iter().map(|(table, rows)| (table, rows.len())).collect()
    };
    assert_eq!(strip(common::lake_rows(&lake)), strip(common::lake_rows(&whole)));
}

#[test]
fn runtime_flags_can_come_from_the_environment_and_win_over_the_configs_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, state, config_lake) =
        (dir.path().join("env-lake"), dir.path().join("env-state"), dir.path().join("cfg"));
    let out = common::bin()
        .current_dir(dir.path())
        .arg("replay")
        .arg(repo().join("samples"))
        .env("TUNESTREAM_LAKE", &lake)
        .env("TUNESTREAM_STATE_DIR", &state)
        .env("TUNESTREAM_QUERIES", repo().join("queries"))
        .env("TUNESTREAM__LAKE__PATH", &config_lake)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!common::parquet_files(&lake, "plays").is_empty(), "TUNESTREAM_LAKE names the lake");
    assert!(state.join("replay").is_dir(), "TUNESTREAM_STATE_DIR names the state directory");
    assert!(!config_lake.exists(), "the flag's variable wins over TUNESTREAM__LAKE__PATH");
}
