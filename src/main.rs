//! The `tunestream` command: parses the command line, starts telemetry, calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tunestream::config::{self, Settings};
use tunestream::decode::Kind;
use tunestream::source::SourceConfig;
use tunestream::source::replay::ReplayConfig;
use tunestream::{Blame, Error};

/// Streaming ETL for Spotify listening data: Web API pages → Arrow → SQL → Parquet.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file; every key can also be set as TUNESTREAM__SECTION__KEY.
    #[arg(long, global = true, env = "TUNESTREAM_CONFIG")]
    config: Option<PathBuf>,
    /// Log level for tunestream's own messages (RUST_LOG overrides it).
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reprocesses raw page files (NDJSON, plain or .gz) through the queries into the lake.
    Replay {
        /// Files or directories of raw pages.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Lake root directory (config: lake.path).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Directory of <table>.sql queries (config: queries).
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Kind of bare responses whose href does not tell it.
        #[arg(long)]
        kind: Option<Kind>,
    },
    /// Plans every query against the raw schemas without reading data.
    Check {
        /// Directory of <table>.sql queries (config: queries).
        #[arg(long)]
        queries: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tunestream::telemetry::init(&cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let who = match e.blame() {
                Blame::User => "",
                Blame::Bug => "\nThis is a bug in tunestream; please report it with the message above.",
            };
            eprintln!("error: {:#}{who}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let file = config::load(cli.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Replay { paths, lake, queries, kind } => {
            let mut file = file;
            if let Some(lake) = lake {
                file.lake.path = lake;
            }
            if let Some(queries) = queries {
                file.queries = Some(queries);
            }
            let settings = file.validate()?;
            let cancel = shutdown_on_signal();
            let source = SourceConfig::Replay(ReplayConfig::new(paths, kind));
            let summary = tunestream::pipeline::run(&settings, source, cancel).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Check { queries } => {
            let mut file = file;
            if let Some(queries) = queries {
                file.queries = Some(queries);
            }
            let settings: Settings = file.validate()?;
            let (transform, _) = tunestream::pipeline::prepare(&settings).await?;
            for planned in transform.views().iter().chain(transform.tables()) {
                let inputs: Vec<&str> = planned.inputs.iter().map(|k| k.name()).collect();
                let columns: Vec<String> =
                    planned.schema.fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
                println!("ok  {}  ← {}", planned.query.path.display(), inputs.join(", "));
                println!("    {}", columns.join(", "));
            }
            println!(
                "{} tables and {} views plan against the raw schemas",
                transform.tables().len(),
                transform.views().len()
            );
            Ok(())
        }
    }
}

/// Cancels the returned token on SIGINT or SIGTERM, so the pipeline drains and commits.
fn shutdown_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: finishing the micro-batches in flight");
        token.cancel();
    });
    cancel
}
