//! The `tunestream` command: parses the command line, starts telemetry, calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tunestream::config::{self, Settings};
use tunestream::decode::Kind;
use tunestream::sink::SinkSection;
use tunestream::source::SourceConfig;
use tunestream::source::replay::ReplayConfig;
use tunestream::store::Location;
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

/// Sinks besides the lake, given on the command line (after the config file's).
#[derive(Debug, clap::Args)]
struct SinkFlags {
    /// Also write the output tables as JSON lines to DIR (all tables, or the ones listed);
    /// repeatable (config: a [[sinks]] entry of type "jsonl").
    #[arg(long = "jsonl", value_name = "DIR[:TABLE,...]")]
    jsonl: Vec<String>,
    /// Also send the output tables as JSON records through a Firehose delivery stream (all
    /// tables, or the ones listed); repeatable (config: a [[sinks]] entry of type "firehose").
    #[arg(long = "firehose", value_name = "STREAM[:TABLE,...]")]
    firehose: Vec<String>,
    /// Also put the output tables as JSON records into a Kinesis data stream (all tables, or
    /// the ones listed); repeatable (config: a [[sinks]] entry of type "kinesis").
    #[arg(long = "kinesis", value_name = "STREAM[:TABLE,...]")]
    kinesis: Vec<String>,
}

impl SinkFlags {
    /// Adds these sinks after the file's.
    fn add_to(&self, file: &mut config::FileConfig) {
        use tunestream::sink::{firehose, jsonl, kinesis};
        file.sinks.extend(self.jsonl.iter().map(|flag| SinkSection::Jsonl(jsonl::parse_flag(flag))));
        file.sinks.extend(self.firehose.iter().map(|flag| SinkSection::Firehose(firehose::parse_flag(flag))));
        file.sinks.extend(self.kinesis.iter().map(|flag| SinkSection::Kinesis(kinesis::parse_flag(flag))));
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reprocesses raw page files (NDJSON, plain or .gz) through the queries into the lake.
    Replay {
        /// Files, directories or s3://bucket/prefix URLs of raw pages, in any mix.
        #[arg(required = true, value_parser = Location::parse)]
        paths: Vec<Location>,
        /// Lake root: a directory or s3://bucket/prefix (config: lake.path).
        #[arg(long, value_parser = Location::parse)]
        lake: Option<Location>,
        /// Raw zone, if not _raw/ in the lake: a directory or s3://bucket/prefix (config: lake.raw).
        #[arg(long, value_parser = Location::parse)]
        raw: Option<Location>,
        /// Directory of <table>.sql queries (config: queries).
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Kind of bare responses whose href does not tell it.
        #[arg(long)]
        kind: Option<Kind>,
        /// State directory: the list of inputs replayed into each lake, so a rerun reads only
        /// new ones (config: state_dir).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        #[command(flatten)]
        sinks: SinkFlags,
    },
    /// Plans every query against the raw schemas, and every feed against the output tables,
    /// without reading data.
    Check {
        /// Directory of <table>.sql queries (config: queries).
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Directory of <name>.sql feeds (config: feeds.path).
        #[arg(long)]
        feeds: Option<PathBuf>,
    },
    /// Pulls Spotify (the built-in simulator unless spotify.api_url is set) into the lake until
    /// SIGINT/SIGTERM or --for elapses. Without --config it runs the embedded demo schedule.
    Run {
        /// Stop by itself after this long (e.g. 90s, 5m, 2h).
        #[arg(long = "for", value_parser = parse_duration)]
        run_for: Option<std::time::Duration>,
        /// Run even when the jobs need more requests per day than spotify.daily_budget.
        #[arg(long)]
        force: bool,
        /// Lake root: a directory or s3://bucket/prefix (config: lake.path).
        #[arg(long, value_parser = Location::parse)]
        lake: Option<Location>,
        /// Raw zone, if not _raw/ in the lake: a directory or s3://bucket/prefix (config: lake.raw).
        #[arg(long, value_parser = Location::parse)]
        raw: Option<Location>,
        /// Directory of <table>.sql queries (config: queries).
        #[arg(long)]
        queries: Option<PathBuf>,
        /// State directory for tokens, cursors and the budget (config: state_dir).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Serve the dashboard, feeds and metrics on ADDR, e.g. 127.0.0.1:8787; port 0 picks
        /// a free one (config: serve.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        #[command(flatten)]
        sinks: SinkFlags,
    },
    /// Prints each job's requests per day and the total against the daily budget.
    Plan,
    /// Serves the built-in Spotify simulator on 127.0.0.1 until SIGINT/SIGTERM.
    Sim {
        /// Port to listen on (config: simulator.port; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Authorizes tunestream for a Spotify user (authorization code with PKCE).
    Auth {
        #[command(subcommand)]
        action: AuthAction,
    },
    /// The Snowflake side (sql/): storage integration, stage, pipes, raw tables, streams, tasks,
    /// the star schema and the trend views.
    Snowflake {
        #[command(subcommand)]
        action: SnowflakeAction,
    },
}

#[derive(Debug, Subcommand)]
enum SnowflakeAction {
    /// Writes the sql/ scripts into DIR with the names of the [snowflake] config section.
    Render {
        /// The folder to write to; the numbered folders are the deploy, run in lexical order.
        #[arg(long)]
        out: PathBuf,
        /// Fail, naming each file and placeholder, when a value is left unset.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuthAction {
    /// Prints the authorize URL and waits for the redirect on http://127.0.0.1:PORT/callback.
    Login {
        /// The Spotify user expected to log in (a hint to the accounts page).
        #[arg(long)]
        user: Option<String>,
        /// Loopback port registered as the app's redirect URI (config: spotify.redirect_port).
        #[arg(long)]
        port: Option<u16>,
        /// State directory to store the tokens in (config: state_dir).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

/// Parses `90`, `90s`, `5m` or `2h`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 2h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}`: the unit must be s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

fn main() -> ExitCode {
    tunestream::memory::tune_allocator();
    let cli = Cli::parse();
    tunestream::telemetry::init(&cli.log);
    // Lake files, the state, the raw zone and the server's connections share one process's
    // descriptors: take every one the system allows.
    tunestream::serve::guard::raise_open_files_limit();
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
            let blame: Blame = e.blame();
            eprintln!("error: {:#}\n{}", anyhow::Error::from(e), blame.advice());
            ExitCode::from(blame.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let file = match cli.command {
        Command::Run { .. } | Command::Plan | Command::Sim { .. } => {
            config::load_or_demo(cli.config.as_deref(), std::env::vars())?
        }
        _ => config::load(cli.config.as_deref(), std::env::vars())?,
    };
    match cli.command {
        Command::Run { run_for, force, lake, raw, queries, state_dir, listen, sinks } => {
            let mut file = file;
            file.serve.listen = listen.unwrap_or(file.serve.listen);
            sinks.add_to(&mut file);
            file.lake.path = lake.unwrap_or(file.lake.path);
            file.lake.raw = raw.or(file.lake.raw);
            file.queries = queries.or(file.queries);
            file.state_dir = state_dir.unwrap_or(file.state_dir);
            let settings = file.validate()?;
            let cancel = shutdown_on_signal();
            if let Some(limit) = run_for {
                let token = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(limit).await;
                    tracing::info!("--for elapsed: finishing the micro-batches in flight");
                    token.cancel();
                });
            }
            let summary = tunestream::pipeline::run_live(&settings, force, cancel).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Plan => {
            let settings = file.validate()?;
            let (table, _) = tunestream::pipeline::plan(&settings);
            println!("{table}");
            Ok(())
        }
        Command::Sim { port } => {
            let settings = file.validate()?;
            let sim_config = settings.simulator;
            let port = port.unwrap_or(sim_config.port);
            let (id, secret) = (sim_config.client_id.clone(), sim_config.client_secret.clone());
            let sim = tunestream::simulator::Simulator::start(sim_config, port)
                .await
                .map_err(tunestream::source::SourceError::Simulator)?;
            println!("Spotify simulator: Web API {0}/v1, accounts {0}", sim.base_url());
            println!("client id {id}, client secret {secret}; SIGINT stops it");
            shutdown_on_signal().cancelled().await;
            sim.stop().await;
            Ok(())
        }
        Command::Auth { action: AuthAction::Login { user, port, state_dir } } => {
            let mut file = file;
            file.state_dir = state_dir.unwrap_or(file.state_dir);
            let settings = file.validate()?;
            let user = tunestream::pipeline::login(&settings, user.as_deref(), port).await?;
            println!("logged in as {user}; tokens stored in {}", settings.state_dir.join("tokens.json").display());
            Ok(())
        }
        Command::Replay { paths, lake, raw, queries, kind, state_dir, sinks } => {
            let mut file = file;
            sinks.add_to(&mut file);
            file.state_dir = state_dir.unwrap_or(file.state_dir);
            file.lake.path = lake.unwrap_or(file.lake.path);
            file.lake.raw = raw.or(file.lake.raw);
            if let Some(queries) = queries {
                file.queries = Some(queries);
            }
            let settings = file.validate()?;
            let cancel = shutdown_on_signal();
            let source = SourceConfig::Replay(ReplayConfig { inputs: paths, kind, s3: settings.s3 });
            let summary = tunestream::pipeline::run(&settings, source, cancel).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Snowflake { action: SnowflakeAction::Render { out, check } } => {
            use tunestream::snowflake;
            let settings = file.validate()?;
            let files = snowflake::render(&settings.snowflake);
            let unfilled = snowflake::unfilled(&files);
            if check && !unfilled.is_empty() {
                return Err(snowflake::SnowflakeError::Unfilled(unfilled).into());
            }
            snowflake::write(&files, &out)?;
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
        Command::Check { queries, feeds } => {
            let mut file = file;
            if let Some(queries) = queries {
                file.queries = Some(queries);
            }
            file.feeds.path = feeds.or(file.feeds.path);
            let settings: Settings = file.validate()?;
            let (transform, specs) = tunestream::pipeline::prepare(&settings).await?;
            for planned in transform.views().iter().chain(transform.tables()) {
                let inputs: Vec<&str> = planned.inputs.iter().map(|k| k.name()).collect();
                print_planned(planned, &inputs);
            }
            println!(
                "{} tables and {} views plan against the raw schemas",
                transform.tables().len(),
                transform.views().len()
            );
            if let Some(feeds) = tunestream::pipeline::prepare_feeds(&settings, &specs).await? {
                for planned in feeds.views().iter().chain(feeds.feeds()) {
                    let reads: Vec<&str> = planned.reads.iter().map(String::as_str).collect();
                    print_planned(planned, &reads);
                }
                println!(
                    "{} feeds and {} feed views plan against the output tables",
                    feeds.feeds().len(),
                    feeds.views().len()
                );
            }
            Ok(())
        }
    }
}

/// Prints one planned query of `check`: its file, what it reads, and its columns.
fn print_planned(planned: &tunestream::transform::PlannedQuery, reads: &[&str]) {
    let columns: Vec<String> =
        planned.schema.fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
    println!("ok  {}  ← {}", planned.query.path.display(), reads.join(", "));
    println!("    {}", columns.join(", "));
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
