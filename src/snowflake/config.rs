//! `[snowflake]`: the names `tunestream snowflake render` fills into the `sql/` templates, with
//! their defaults, validated into the placeholder values (unset ones stay unfilled).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::store::Location;

/// `[snowflake]` as written in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnowflakeSection {
    /// The database holding every tunestream object.
    pub database: String,
    /// Schema of the raw tables, pipes, stages and streams.
    pub raw_schema: String,
    /// Schema of the star schema and its tasks.
    pub core_schema: String,
    /// Schema of the trend views.
    pub mart_schema: String,
    /// The lake as Snowflake reads it (`s3://bucket/prefix/`). Unset: `lake.path` when that is
    /// an `s3://` location.
    pub lake_url: Option<String>,
    /// Where Firehose delivers its JSON records (`s3://bucket/prefix/`).
    pub firehose_url: Option<String>,
    /// A prefix apart from the lake for backfills (`manual/backfill.sql`).
    pub backfill_url: Option<String>,
    /// The storage integration's name.
    pub integration: String,
    /// The IAM role Snowflake assumes to read the bucket (`arn:aws:iam::<account>:role/<name>`).
    pub role_arn: Option<String>,
    /// The warehouse the tasks run on; unset: serverless tasks.
    pub warehouse: Option<String>,
    /// How often the root task checks the streams: `<n> MINUTE` or `USING CRON <expr> <tz>`.
    pub schedule: String,
}

impl Default for SnowflakeSection {
    fn default() -> Self {
        Self {
            database: "TUNESTREAM".into(),
            raw_schema: "RAW".into(),
            core_schema: "CORE".into(),
            mart_schema: "MART".into(),
            lake_url: None,
            firehose_url: None,
            backfill_url: None,
            integration: "TUNESTREAM_LAKE".into(),
            role_arn: None,
            warehouse: None,
            schedule: "5 MINUTE".into(),
        }
    }
}

/// Each placeholder of the templates and its value; `None` leaves it unfilled.
pub type Values = BTreeMap<&'static str, Option<String>>;

/// The config key that fills each placeholder which can be left unset.
pub const KEYS: [(&str, &str); 5] = [
    ("allowed_locations", "snowflake.lake_url, or an s3:// lake.path"),
    ("lake_url", "snowflake.lake_url, or an s3:// lake.path"),
    ("firehose_url", "snowflake.firehose_url"),
    ("backfill_url", "snowflake.backfill_url"),
    ("role_arn", "snowflake.role_arn"),
];

impl SnowflakeSection {
    /// The placeholder values, or every problem with the section.
    pub fn values(&self, lake: &Location) -> Result<Values, Vec<String>> {
        let mut problems = Vec::new();
        for (key, name) in [
            ("database", &self.database),
            ("raw_schema", &self.raw_schema),
            ("core_schema", &self.core_schema),
            ("mart_schema", &self.mart_schema),
            ("integration", &self.integration),
        ]
        .into_iter()
        .chain(self.warehouse.iter().map(|w| ("warehouse", w)))
        {
            if !is_identifier(name) {
                problems.push(format!("snowflake.{key} `{name}` is not a plain identifier (letters, digits, _ and $)"));
            }
        }
        let lake_url = self.lake_url.clone().or_else(|| matches!(lake, Location::S3 { .. }).then(|| lake.to_string()));
        let urls = [
            ("lake_url", lake_url),
            ("firehose_url", self.firehose_url.clone()),
            ("backfill_url", self.backfill_url.clone()),
        ];
        let urls = urls.map(|(key, url)| (key, url.map(|u| format!("{}/", u.trim_end_matches('/')))));
        for (key, url) in &urls {
            if let Some(url) = url.as_deref().filter(|u| !u.starts_with("s3://") || u.len() <= "s3:///".len()) {
                problems.push(format!("snowflake.{key} `{url}` is not an s3://bucket/prefix URL"));
            }
        }
        if let (Some(lake), Some(backfill)) = (&urls[0].1, &urls[2].1)
            && (lake.starts_with(backfill.as_str()) || backfill.starts_with(lake.as_str()))
        {
            problems.push(format!(
                "snowflake.backfill_url `{backfill}` overlaps the lake `{lake}`: a COPY over a live pipe's prefix loads files twice"
            ));
        }
        if let Some(arn) = self.role_arn.as_deref().filter(|a| !a.starts_with("arn:aws:iam::") || !a.contains(":role/"))
        {
            problems.push(format!(
                "snowflake.role_arn `{arn}` is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            ));
        }
        let schedule = self.schedule.trim();
        let minutes = schedule.strip_suffix(" MINUTE").and_then(|n| n.trim().parse::<u32>().ok());
        if !(minutes.is_some_and(|m| (1..=11_520).contains(&m)) || schedule.starts_with("USING CRON ")) {
            problems.push(format!(
                "snowflake.schedule `{schedule}` must be `<1..11520> MINUTE` or `USING CRON <expr> <tz>`"
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let task_compute = match &self.warehouse {
            Some(warehouse) => format!("WAREHOUSE = {warehouse}"),
            None => "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL'".to_owned(),
        };
        let mut values = Values::new();
        values.insert("database", Some(self.database.clone()));
        values.insert("raw", Some(format!("{}.{}", self.database, self.raw_schema)));
        values.insert("core", Some(format!("{}.{}", self.database, self.core_schema)));
        values.insert("mart", Some(format!("{}.{}", self.database, self.mart_schema)));
        values.insert("integration", Some(self.integration.clone()));
        values.insert("role_arn", self.role_arn.clone());
        values.insert("task_compute", Some(task_compute));
        values.insert("schedule", Some(schedule.to_owned()));
        let allowed: Vec<String> = urls.iter().filter_map(|(_, url)| Some(format!("'{}'", url.as_deref()?))).collect();
        // Without the lake there is no location to allow yet: the placeholder stays for it.
        values.insert("allowed_locations", urls[0].1.is_some().then(|| allowed.join(", ")));
        for (key, url) in urls {
            values.insert(key, url);
        }
        Ok(values)
    }
}

/// An unquoted Snowflake identifier: a letter or `_`, then letters, digits, `_` or `$`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && name.len() <= 255
}
