//! The S3 side of the end-to-end tests: the loopback S3 server `scripts/test` starts, reached by
//! tunestream through the standard AWS variables and read back with boto3 (`tests/tools/s3.py`).

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The S3 server's URL. The tests need it: `scripts/test` starts one and sets this.
pub fn endpoint() -> String {
    std::env::var("TUNESTREAM_TEST_S3")
        .expect("TUNESTREAM_TEST_S3 is unset: run the tests with scripts/test, which starts the S3 test server")
}

/// Points `command` (a tunestream run) at `endpoint` with test credentials, path-style.
pub fn aws_env<'a>(command: &'a mut Command, endpoint: &str) -> &'a mut Command {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TUNESTREAM__S3__FORCE_PATH_STYLE", "true")
        .env_remove("AWS_PROFILE")
}

/// Runs `tests/tools/s3.py` with `args` and returns what it printed.
pub fn tool(args: &[&str]) -> serde_json::Value {
    python_tool("s3.py", args)
}

/// Runs `tests/tools/<script>` against the test server with `args`; returns its JSON output.
pub fn python_tool(script: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("TUNESTREAM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(super::repo().join("tests/tools").join(script))
        .args(args)
        .env("TUNESTREAM_TEST_S3", endpoint())
        .output()
        .unwrap();
    assert!(out.status.success(), "{script} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A new, empty bucket whose name starts with `name`, unique to this test run.
pub fn bucket(name: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let bucket = format!("{name}-{}-{:x}", std::process::id(), nanos % (1 << 40));
    tool(&["mkbucket", &bucket]);
    bucket
}

/// Downloads every object below `s3://bucket/prefix` into `dir`; returns their keys, relative.
pub fn download(bucket: &str, prefix: &str, dir: &Path) -> Vec<String> {
    let listed = tool(&["download", bucket, prefix, dir.to_str().unwrap()]);
    listed["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect()
}

/// Keys of the multipart uploads in `bucket` that were neither completed nor aborted.
pub fn open_uploads(bucket: &str) -> Vec<String> {
    let listed = tool(&["uploads", bucket]);
    listed["uploads"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect()
}
