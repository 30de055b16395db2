//! Every error's text agrees with its blame: a message that says "a bug in tunestream" is a Bug,
//! and every Bug says so. One sample of each variant; a new variant must be added here.

use std::path::PathBuf;

use chrono::Utc;

use super::*;
use source::SourceError;
use source::spotify::client::PullError;
use source::spotify::login::LoginError;
use source::spotify::state::StateError;
use store::StoreError;

fn io() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::PermissionDenied)
}

fn path() -> PathBuf {
    PathBuf::from("lake/plays/x.parquet")
}

fn stores() -> Vec<StoreError> {
    let url = || "s3://b/p/k".to_owned();
    vec![
        StoreError::Io { path: path(), source: io() },
        StoreError::Vanished { key: "k".into(), staged: "k.staged".into() },
        StoreError::S3 { url: url(), message: "AccessDenied".into() },
        StoreError::Unreachable { url: url(), attempts: 5, message: "timeout".into() },
        StoreError::Conflict { url: url(), found: "a".into(), expected: "b".into() },
        StoreError::Bug { url: url(), message: "a part upload task failed".into() },
    ]
}

fn pulls() -> Vec<PullError> {
    let url = || "https://api.spotify.com/v1/me".to_owned();
    vec![
        PullError::Cancelled,
        PullError::CircuitOpen { until: Utc::now(), reason: "QUOTA_EXCEEDED".into() },
        PullError::BudgetExhausted { until: Utc::now(), budget: 1000 },
        PullError::NeedsLogin { user: "u".into(), reason: "invalid_grant".into() },
        PullError::Unavailable { url: url(), status: 404, message: "Not found".into() },
        PullError::Rejected { url: url(), status: 400, message: "Invalid limit".into() },
        PullError::Transient { url: url(), attempts: 5, message: "502".into() },
        PullError::Malformed {
            url: url(),
            attempts: 3,
            fetched_at: Utc::now(),
            body: "{".into(),
            message: "EOF".into(),
        },
        PullError::ForeignOrigin { url: url(), api: "https://api.spotify.com".into() },
        PullError::State(StateError::Corrupt { path: path(), message: "not JSON".into() }),
    ]
}

fn every_error() -> Vec<Error> {
    let mut errors: Vec<Error> = Vec::new();
    errors.extend(stores().into_iter().map(Error::Store));
    errors.extend(stores().into_iter().map(|e| Error::Source(SourceError::Store(e))));
    errors.extend(stores().into_iter().map(|e| Error::Commit(pipeline::CommitError::Store(e))));
    errors.extend(stores().into_iter().map(|e| Error::Sink("lake", sink::SinkError::Store(e))));
    errors.extend(pulls().into_iter().map(|e| Error::Source(SourceError::Login(LoginError::Pull(e)))));
    errors.extend(
        [
            SourceError::Input { path: path(), source: io() },
            SourceError::InputChanged { name: "a.ndjson".into(), was: "1 B".into(), now: "2 B".into(), ledger: path() },
            SourceError::Ledger { path: path(), message: "not JSON".into() },
            SourceError::NoFiles("in/".into()),
            SourceError::State(StateError::Io { path: path(), source: io() }),
            SourceError::Login(LoginError::Listen { port: 8888, source: io() }),
            SourceError::Login(LoginError::Denied("access_denied".into())),
            SourceError::Client("no TLS roots".into()),
            SourceError::Simulator(io()),
            SourceError::OverBudget("3000 requests a day".into()),
            SourceError::Bug("no runtime".into()),
        ]
        .map(Error::Source),
    );
    errors.extend(
        [
            sink::SinkError::Io { path: path(), source: io() },
            sink::SinkError::Encode { path: path(), source: ::parquet::errors::ParquetError::General("bad".into()) },
            sink::SinkError::Schema("plays has no _ingested_at".into()),
            sink::SinkError::Refused { sink: "kinesis".into(), message: "no such stream".into() },
            sink::SinkError::Undelivered { sink: "kinesis".into(), records: 3, message: "throttled".into() },
            sink::SinkError::Bug("out of order".into()),
        ]
        .map(|e| Error::Sink("kinesis", e)),
    );
    errors.extend(
        [
            pipeline::CommitError::Manifest { path: path(), message: "not JSON".into() },
            pipeline::CommitError::UnknownStore { store: "old".into(), key: "k".into() },
            pipeline::CommitError::Io { path: path(), source: io() },
        ]
        .map(Error::Commit),
    );
    errors.extend(
        [
            transform::QueryError::Read { path: path(), source: io() },
            transform::QueryError::Empty(path()),
            transform::QueryError::BadName { path: path() },
            transform::QueryError::Invalid { location: "q.sql:1:1".into(), message: "no such column".into() },
            transform::QueryError::Internal { location: "q.sql".into(), message: "plan".into() },
        ]
        .map(Error::Query),
    );
    errors.extend(
        [
            config::ConfigError::Read { path: path(), source: io() },
            config::ConfigError::Parse { origin: "tunestream.toml".into(), message: "unknown field".into() },
            config::ConfigError::Env { name: "TUNESTREAM_LAKE".into(), message: "empty".into() },
            config::ConfigError::Invalid(vec!["pipeline.workers is 0".into()]),
        ]
        .map(Error::Config),
    );
    errors.extend(
        [
            fs::LockError::Held { what: "lake", dir: path(), pid: "1".into() },
            fs::LockError::Nested { what: "lake", dir: path(), other: path(), pid: "1".into() },
            fs::LockError::Io { path: path(), source: io() },
        ]
        .map(Error::Lock),
    );
    errors.extend(
        [
            snowflake::SnowflakeError::Unfilled(vec!["stage_url".into()]),
            snowflake::SnowflakeError::Write { path: path(), source: io() },
        ]
        .map(Error::Snowflake),
    );
    errors.extend([Error::SinkStopped("lake"), Error::Bug("a worker panicked".into())]);
    errors
}

#[test]
fn a_message_says_a_bug_in_tunestream_exactly_when_the_error_is_blamed_on_a_bug() {
    for error in every_error() {
        let text = crate::error_chain(&error);
        assert_eq!(text.contains("a bug in tunestream"), error.blame() == Blame::Bug, "{:?}: {text}", error.blame());
    }
}

#[test]
fn a_login_that_meets_an_open_circuit_or_a_down_service_waits_for_the_service() {
    for pull in pulls() {
        let expected = pull.blame();
        let login = Error::Source(SourceError::Login(LoginError::Pull(pull)));
        assert_eq!(login.blame(), expected, "{login}");
    }
    let circuit = PullError::CircuitOpen { until: Utc::now(), reason: "QUOTA_EXCEEDED".into() };
    assert_eq!(Error::Source(SourceError::Login(circuit.into())).blame(), Blame::Service);
}

#[test]
fn a_store_error_has_the_same_blame_wherever_it_surfaces() {
    for (direct, via_source) in stores().into_iter().zip(stores()) {
        let blame = direct.blame();
        assert_eq!(Error::Source(SourceError::Store(via_source)).blame(), blame);
        assert_eq!(Error::Store(direct).blame(), blame);
    }
}
