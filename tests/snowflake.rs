//! The Snowflake side (`sql/`) checked offline: every rendered statement parses with a
//! Snowflake-dialect parser, the raw tables declare what the lake writes, the MERGEs run for
//! real on fakesnow over Parquet from `replay` and `run`, and the trend views give the rows
//! worked out by hand. Each test appends what it executed, emulated and only parsed to
//! `target/snowflake-report.txt`, which `scripts/test` prints.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::datatypes::{DataType, TimeUnit};
use common::repo;
use serde_json::Value;
use tunestream::simulator::{SimConfig, Simulator};

/// Renders `sql/` with every value set into `dir/rendered`.
fn render(dir: &Path) -> PathBuf {
    let config = dir.join("snowflake.toml");
    std::fs::write(
        &config,
        r#"
[lake]
path = "s3://tunestream-lake/lake"
[snowflake]
database = "SPOTIFY"
role_arn = "arn:aws:iam::123456789012:role/tunestream-snowflake"
firehose_url = "s3://tunestream-lake/firehose/"
backfill_url = "s3://tunestream-lake/backfill/"
warehouse = "ETL_WH"
"#,
    )
    .unwrap();
    let out = dir.join("rendered");
    let rendered = common::bin()
        .args(["--config", config.to_str().unwrap(), "snowflake", "render", "--check", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    out
}

#[test]
fn render_check_names_each_file_and_placeholder_left_unset() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("partial.toml");
    std::fs::write(&config, "[snowflake]\ndatabase = \"SPOTIFY\"\n").unwrap();
    let out = dir.path().join("out");
    let render = |check: bool| {
        let mut command = common::bin();
        command.args(["--config", config.to_str().unwrap(), "snowflake", "render", "--out", out.to_str().unwrap()]);
        command.args(check.then_some("--check")).output().unwrap()
    };
    let checked = render(true);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("00_account/010_storage_integration.sql: {{role_arn}} (set snowflake.role_arn)"),
        "{stderr}"
    );
    assert!(stderr.contains("00_account/030_formats_and_stages.sql: {{lake_url}}"), "{stderr}");
    assert!(!out.exists(), "--check writes nothing when a value is unset");
    // Without --check the tree is written with the placeholders as they were, and each is named.
    let written = render(false);
    assert!(written.status.success());
    assert!(String::from_utf8_lossy(&written.stderr).contains("warning: unset, left as written"));
    let stages = std::fs::read_to_string(out.join("00_account/030_formats_and_stages.sql")).unwrap();
    assert!(stages.contains("URL = '{{lake_url}}'") && stages.contains("SPOTIFY.RAW.lake_parquet"));
    assert!(!out.join("10_raw/030_firehose.sql").exists(), "Firehose's objects only with firehose_url");
}

/// Runs `tests/tools/warehouse.py` with `args`: its exit status and its JSON report.
fn warehouse(args: &[&str]) -> (bool, Value) {
    let python = std::env::var("TUNESTREAM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python).arg(repo().join("tests/tools/warehouse.py")).args(args).output().unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("warehouse.py {args:?}: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

/// Appends `lines` under `title` to the report of this test run.
fn report(title: &str, lines: &[String]) {
    let mut text = format!("## {title}\n");
    for line in lines {
        text.push_str(&format!("  {line}\n"));
    }
    // One write, so the sections of tests running at once do not interleave.
    let path = repo().join("target/snowflake-report.txt");
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[test]
fn every_rendered_statement_parses_with_a_snowflake_parser() {
    if !common::has(&[common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ok, parsed) = warehouse(&["parse", render(dir.path()).to_str().unwrap()]);
    assert!(ok, "{:#}", parsed["failures"]);
    let statements = parsed["statements"].as_array().unwrap();
    let how = |kind: &str| statements.iter().filter(|s| s["how"].as_str().unwrap().starts_with(kind)).count();
    assert_eq!(how("pipe: head by pattern, body parsed"), 8, "seven tables and Firehose");
    assert_eq!(how("stream"), 12);
    assert_eq!(how("task: head by pattern, body parsed"), 12);
    assert!(how("parsed") > 60);
    let lines: Vec<String> =
        statements.iter().map(|s| format!("{}: {} — {}", s["file"], s["head"], s["how"]).replace('"', "")).collect();
    report("parsed (sqlglot, Snowflake dialect)", &lines);
}

/// The Snowflake type a raw table declares for an Arrow type of the lake's Parquet.
fn snowflake_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Utf8 => "VARCHAR",
        DataType::Int64 => "NUMBER(38,0)",
        DataType::Boolean => "BOOLEAN",
        DataType::Date32 => "DATE",
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => "TIMESTAMP_TZ(6)",
        DataType::List(item) if item.data_type() == &DataType::Utf8 => "ARRAY",
        other => panic!("the lake writes {other}, which no raw table type is mapped to: map it here and in sql/10_raw"),
    }
}

/// Each raw table's declared columns, from `CREATE TABLE IF NOT EXISTS {{raw}}.<table> (...)`.
fn declared_tables() -> BTreeMap<String, Vec<(String, String)>> {
    let text = tunestream::snowflake::TEMPLATES.iter().find(|(p, _)| *p == "10_raw/010_tables.sql").unwrap().1;
    let mut tables = BTreeMap::new();
    for block in text.split("CREATE TABLE IF NOT EXISTS {{raw}}.").skip(1) {
        let (name, rest) = block.split_once(" (").unwrap();
        let body = &rest[..rest.find("\n);").unwrap()];
        let columns = body
            .lines()
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (column, ty) = l.split_once(' ').unwrap();
                (column.to_owned(), ty.to_owned())
            })
            .collect();
        tables.insert(name.to_owned(), columns);
    }
    tables
}

#[test]
fn the_raw_tables_declare_the_columns_and_types_the_lake_writes() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let replayed = common::bin()
        .arg("replay")
        .arg(repo().join("samples/spotify_pages.ndjson"))
        .arg("--lake")
        .arg(&lake)
        .arg("--queries")
        .arg(repo().join("queries"))
        .env_remove(tunestream::fault::FAULT_VAR)
        .output()
        .unwrap();
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    let declared = declared_tables();
    let written: BTreeSet<String> = std::fs::read_dir(&lake)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with(['_', '.']))
        .collect();
    assert_eq!(written, declared.keys().cloned().collect(), "a raw table for every table the lake writes");
    for (table, columns) in &declared {
        let schema = common::read_table(&lake, table)[0].schema();
        let from_parquet: Vec<(String, String)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), snowflake_type(f.data_type()).to_owned()))
            .chain(["_file VARCHAR", "_row NUMBER(38,0)", "_loaded_at TIMESTAMP_LTZ(6)"].map(|c| {
                let (name, ty) = c.split_once(' ').unwrap();
                (name.to_owned(), ty.to_owned())
            }))
            .collect();
        assert_eq!(columns, &from_parquet, "raw table {table} against its Parquet");
    }
}

#[test]
fn trend_views_return_the_rows_worked_out_by_hand() {
    if !common::has(&[common::Needs::Python]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ok, checked) = warehouse(&["views", render(dir.path()).to_str().unwrap()]);
    assert!(ok, "{:#}", checked["differences"]);
    assert_eq!(checked["checked"].as_array().unwrap().len(), 10);
    report("trend views run on fakesnow against a hand-worked fixture", &strings(&checked["checked"]));
}

fn run_for(config: &Path, lake: &Path, secs: &str) {
    let out = common::run(config).args(["--force", "--for", secs, "--lake", lake.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_on_fakesnow_keep_one_row_per_key_match_the_plays_and_keep_artist_history() {
    if !common::has(&[common::Needs::Python]) {
        return;
    }
    let sim = Simulator::start(SimConfig { plays_per_minute: 120.0, ..SimConfig::default() }, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::log_in(&sim, dir.path(), &["alice", "bob"]).await;
    let artist = sim.truth().artist_ids(1)[0].clone();
    let old_name = sim.truth().artist_name(&artist).unwrap();
    let jobs = format!(
        "[[jobs]]\ntype = \"user_playlists\"\nuser = \"alice\"\nevery_secs = 1\n\
         [[jobs]]\ntype = \"artists\"\nids = [\"{artist}\"]\nalbums = false\nevery_secs = 1\n"
    );
    let config = common::config_with_jobs(&sim, dir.path(), 1_000_000, &jobs);
    let (first, second, replayed) = (dir.path().join("first"), dir.path().join("second"), dir.path().join("replayed"));
    tokio::task::block_in_place(|| run_for(&config, &first, "3s"));
    assert!(sim.rename_artist(&artist, "Renamed Artist"));
    tokio::task::block_in_place(|| run_for(&config, &second, "3s"));
    // The first run's raw zone replayed: other files, the same rows.
    let out = common::bin()
        .arg("replay")
        .arg(first.join("_raw"))
        .arg("--lake")
        .arg(&replayed)
        .arg("--queries")
        .arg(repo().join("queries"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Round 1 loads the first run's files twice before one merge (a batch of duplicates); round 2
    // loads them a third time and the replay's copies of their rows; round 3 the run after the
    // rename.
    let lakes = |ls: &[&PathBuf]| ls.iter().map(|l| l.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let rounds = serde_json::json!([lakes(&[&first, &first]), lakes(&[&first, &replayed]), lakes(&[&second])]);
    let rendered = render(dir.path());
    let (ok, loaded) = warehouse(&["load", rendered.to_str().unwrap(), &rounds.to_string()]);
    assert!(ok, "{}", loaded["error"]);
    let rounds = loaded["rounds"].as_array().unwrap();
    for (i, round) in rounds.iter().enumerate() {
        let duplicates: Vec<_> = round["duplicate_keys"].as_object().unwrap().iter().filter(|(_, n)| *n != 0).collect();
        assert!(duplicates.is_empty(), "round {}: keys held twice: {duplicates:?}", i + 1);
        assert_eq!(round["zero_popularity"], 0, "development mode has no popularity: null, never 0");
        assert_eq!(round["counts"]["fact_track_popularity"], 0);
        assert_eq!(round["counts"]["fact_artist_snapshot"], 0);
    }
    assert_eq!(rounds[1]["counts"], rounds[0]["counts"], "the same rows loaded again change nothing");
    let counts = &rounds[2]["counts"];
    for table in ["dim_track", "dim_album", "dim_artist", "dim_user", "dim_date", "bridge_track_artist", "fact_play"] {
        assert!(counts[table].as_u64().unwrap() > 0, "{table} is empty: {counts}");
    }
    assert!(counts["fact_playlist_entry"].as_u64().unwrap() > 0 && counts["dim_playlist"].as_u64().unwrap() > 0);

    // fact_play holds exactly the simulator's plays between each user's first and last in it.
    let plays: Vec<(String, i64, String)> = rounds[2]["fact_play"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_i64().unwrap(), p[2].as_str().unwrap().to_owned()))
        .collect();
    let mut by_user: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for (user, at, track) in &plays {
        by_user.entry(user.clone()).or_default().push((*at, track.clone()));
    }
    assert_eq!(by_user.keys().collect::<Vec<_>>(), ["alice", "bob"]);
    let truth = sim.truth().plays();
    for (user, got) in by_user {
        let (from, to) = (got[0].0, got[got.len() - 1].0);
        let expected: Vec<(i64, String)> = truth
            .iter()
            .filter(|p| p.user_id == user && (from..=to).contains(&p.played_at_ms))
            .map(|p| (p.played_at_ms, p.track_id.clone()))
            .collect();
        assert_eq!(got, expected, "fact_play of {user} against the simulator's plays");
    }

    // The rename closed the old version and opened a new current one where it happened.
    let versions: Vec<&Value> =
        rounds[2]["dim_artist"].as_array().unwrap().iter().filter(|a| a[0] == artist.as_str()).collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
    let (old, new) = (versions[0], versions[1]);
    assert_eq!((old[1].as_str().unwrap(), &old[4]), (old_name.as_str(), &Value::Bool(false)));
    assert_eq!((new[1].as_str().unwrap(), &new[4]), ("Renamed Artist", &Value::Bool(true)));
    assert_eq!(old[3], new[2], "the old version ends where the new one starts");
    assert!(new[3].is_null() && old[2].as_i64() < new[2].as_i64());
    let before_rename = rounds[0]["dim_artist"].as_array().unwrap().iter().filter(|a| a[0] == artist.as_str()).count();
    assert_eq!(before_rename, 1);

    let mut lines = vec!["executed on fakesnow:".to_owned()];
    lines.extend(strings(&loaded["executed"]).into_iter().map(|s| format!("  {s}")));
    lines.push("emulated (fakesnow has no such object):".into());
    lines.extend(strings(&loaded["emulated"]).into_iter().map(|s| format!("  {s}")));
    lines.push("parsed only (fakesnow cannot run them):".into());
    lines.extend(strings(&loaded["parsed_only"]).into_iter().map(|s| format!("  {s}")));
    lines.push(format!("task bodies run as MERGEs: {}", strings(&loaded["task_bodies_run"]).join(", ")));
    report("deploy and merges on fakesnow", &lines);
    sim.stop().await;
}
