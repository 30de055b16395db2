//! One function per command, each given its validated settings.

use std::path::Path;
use std::time::Duration;

use super::signal::{shutdown_on_signal, stop_after};
use crate::Error;
use crate::config::Settings;
use crate::decode::Kind;
use crate::source::SourceConfig;
use crate::source::replay::ReplayConfig;
use crate::store::Location;
use crate::{pipeline, snowflake};

/// `run`: pulls until a signal or `run_for`, then prints the summary.
pub async fn run(settings: Settings, run_for: Option<Duration>, force: bool) -> Result<(), Error> {
    let cancel = shutdown_on_signal();
    if let Some(limit) = run_for {
        stop_after(&cancel, limit);
    }
    let summary = pipeline::run_live(&settings, force, cancel).await?;
    println!("{summary}");
    Ok(())
}

/// `replay`: reads `paths` through the queries into the outputs, then prints the summary.
pub async fn replay(settings: Settings, paths: Vec<Location>, kind: Option<Kind>) -> Result<(), Error> {
    let cancel = shutdown_on_signal();
    let source = SourceConfig::Replay(ReplayConfig { inputs: paths, kind, s3: settings.s3 });
    let summary = pipeline::run(&settings, source, cancel).await?;
    println!("{summary}");
    Ok(())
}

/// `check`: plans every query and feed and prints what each reads and returns.
pub async fn check(settings: Settings) -> Result<(), Error> {
    let (transform, specs) = pipeline::prepare(&settings).await?;
    for planned in transform.views().iter().chain(transform.tables()) {
        let inputs: Vec<&str> = planned.inputs.iter().map(|k| k.name()).collect();
        print_planned(planned, &inputs);
    }
    let (tables, views) = (transform.tables().len(), transform.views().len());
    println!("{tables} tables and {views} views plan against the raw schemas");
    if let Some(feeds) = pipeline::prepare_feeds(&settings, &specs).await? {
        for planned in feeds.views().iter().chain(feeds.feeds()) {
            let reads: Vec<&str> = planned.reads.iter().map(String::as_str).collect();
            print_planned(planned, &reads);
        }
        let (feed_count, views) = (feeds.feeds().len(), feeds.views().len());
        println!("{feed_count} feeds and {views} feed views plan against the output tables");
    }
    Ok(())
}

/// Prints one planned query of `check`: its file, what it reads, and its columns.
fn print_planned(planned: &crate::transform::PlannedQuery, reads: &[&str]) {
    let columns: Vec<String> =
        planned.schema.fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
    println!("ok  {}  ← {}", planned.query.path.display(), reads.join(", "));
    println!("    {}", columns.join(", "));
}

/// `plan`: each job's requests per day against the budget.
pub fn plan(settings: Settings) -> Result<(), Error> {
    let (table, _) = pipeline::plan(&settings);
    println!("{table}");
    Ok(())
}

/// `sim`: serves the simulator until a signal.
pub async fn sim(settings: Settings, port: Option<u16>) -> Result<(), Error> {
    let config = settings.simulator;
    let port = port.unwrap_or(config.port);
    let (id, secret) = (config.client_id.clone(), config.client_secret.clone());
    let sim = crate::simulator::Simulator::start(config, port).await.map_err(crate::source::SourceError::Simulator)?;
    println!("Spotify simulator: Web API {0}/v1, accounts {0}", sim.base_url());
    println!("client id {id}, client secret {secret}; SIGINT stops it");
    shutdown_on_signal().cancelled().await;
    sim.stop().await;
    Ok(())
}

/// `auth login`: authorizes a user and stores the tokens.
pub async fn login(settings: Settings, user: Option<&str>, port: Option<u16>) -> Result<(), Error> {
    let user = pipeline::login(&settings, user, port).await?;
    println!("logged in as {user}; tokens stored in {}", settings.state_dir.join("tokens.json").display());
    Ok(())
}

/// `snowflake render`: writes `sql/` filled with the configured names into `out`.
pub fn render_snowflake(settings: Settings, out: &Path, check: bool) -> Result<(), Error> {
    let files = snowflake::render(&settings.snowflake);
    let unfilled = snowflake::unfilled(&files);
    if check && !unfilled.is_empty() {
        return Err(snowflake::SnowflakeError::Unfilled(unfilled).into());
    }
    snowflake::write(&files, out)?;
    let deploy = files.iter().filter(|f| !f.path.starts_with(snowflake::MANUAL_DIR)).count();
    println!("wrote {} files to {}", files.len(), out.display());
    println!("deploy: the {deploy} files of the numbered folders, in lexical order (00_account first)");
    println!("by hand: {}/ (backfill, pause, resume, teardown)", snowflake::MANUAL_DIR);
    for (path, placeholder) in snowflake::skipped(&settings.snowflake) {
        println!("left out {path}: set snowflake.{placeholder} to include it");
    }
    for line in &unfilled {
        eprintln!("warning: unset, left as written: {line}");
    }
    Ok(())
}
