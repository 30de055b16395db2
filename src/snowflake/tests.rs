use std::collections::BTreeSet;

use super::*;
use crate::store::Location;

fn s3_lake() -> Location {
    Location::parse("s3://bucket/lake").unwrap()
}

fn complete() -> SnowflakeSection {
    SnowflakeSection {
        firehose_url: Some("s3://bucket/firehose".into()),
        backfill_url: Some("s3://bucket/backfill/".into()),
        role_arn: Some("arn:aws:iam::123456789012:role/tunestream".into()),
        warehouse: Some("ETL_WH".into()),
        ..SnowflakeSection::default()
    }
}

#[test]
fn the_embedded_templates_are_exactly_the_repository_sql_folder() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut on_disk = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "sql") {
                let text = std::fs::read_to_string(&path).unwrap();
                on_disk.insert((path.strip_prefix(&root).unwrap().to_str().unwrap().to_owned(), text));
            }
        }
    }
    let embedded: BTreeSet<(String, String)> =
        TEMPLATES.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect();
    assert_eq!(embedded, on_disk);
}

#[test]
fn every_placeholder_in_the_templates_has_a_value_and_a_complete_section_fills_them_all() {
    let values = complete().values(&s3_lake()).unwrap();
    for file in render(&values) {
        assert!(file.unfilled.is_empty(), "{}: {:?}", file.path, file.unfilled);
        assert!(!file.text.contains("{{") && !file.text.contains("}}"), "{} keeps a placeholder", file.path);
    }
    let tasks = render(&values).into_iter().find(|f| f.path == "20_core/030_tasks.sql").unwrap();
    assert!(tasks.text.contains("WAREHOUSE = ETL_WH") && tasks.text.contains("TUNESTREAM.CORE.merge_root"));
    let stages = render(&values).into_iter().find(|f| f.path == "00_account/030_formats_and_stages.sql").unwrap();
    assert!(stages.text.contains("URL = 's3://bucket/lake/'"), "the lake URL comes from lake.path");
    let integration = render(&values).into_iter().find(|f| f.path.contains("integration")).unwrap();
    let allowed = "STORAGE_ALLOWED_LOCATIONS = ('s3://bucket/lake/', 's3://bucket/firehose/', 's3://bucket/backfill/')";
    assert!(integration.text.contains(allowed), "{}", integration.text);
    assert_eq!(render(&values).len(), TEMPLATES.len(), "every optional file is in");
}

#[test]
fn unset_values_stay_as_written_and_are_named_with_their_file_and_key() {
    let section = SnowflakeSection { role_arn: None, firehose_url: None, ..complete() };
    let files = render(&section.values(&Location::Local("lake".into())).unwrap());
    let unfilled = unfilled(&files);
    assert!(
        unfilled.contains(&"00_account/010_storage_integration.sql: {{role_arn}} (set snowflake.role_arn)".to_owned())
    );
    assert!(
        unfilled.iter().any(|u| u.starts_with("00_account/030_formats_and_stages.sql: {{lake_url}}")),
        "{unfilled:?}"
    );
    assert!(unfilled.iter().all(|u| !u.contains("firehose")), "Firehose's file is left out: {unfilled:?}");
    assert!(files.iter().all(|f| f.path != "10_raw/030_firehose.sql"));
    let integration = files.iter().find(|f| f.path == "00_account/010_storage_integration.sql").unwrap();
    assert!(integration.text.contains("STORAGE_AWS_ROLE_ARN = '{{role_arn}}'"));
    let serverless = SnowflakeSection { warehouse: None, ..complete() }.values(&s3_lake()).unwrap();
    assert_eq!(serverless["task_compute"].as_deref(), Some("USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL'"));
}

#[test]
fn every_problem_with_the_section_is_reported_at_once() {
    let section = SnowflakeSection {
        database: "my-db".into(),
        lake_url: Some("https://bucket/lake".into()),
        backfill_url: Some("s3://bucket/lake/backfill".into()),
        role_arn: Some("arn:aws:iam::1:user/me".into()),
        schedule: "5 minutes".into(),
        ..complete()
    };
    let problems = section.values(&s3_lake()).unwrap_err();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains("snowflake.database `my-db`"));
    assert!(problems[1].contains("snowflake.lake_url `https://bucket/lake/`"));
    assert!(problems[2].contains("snowflake.role_arn"));
    assert!(problems[3].contains("snowflake.schedule"));
    let overlap = SnowflakeSection { backfill_url: Some("s3://bucket/lake/old".into()), ..complete() };
    let problems = overlap.values(&s3_lake()).unwrap_err();
    assert!(problems[0].contains("overlaps the lake"), "{problems:?}");
}
