//! The `tunestream` command line: the commands and their flags, and one function per command.
//!
//! Flags override the configuration in one place ([`Overrides::apply`]); the runtime flags can
//! also be set as `TUNESTREAM_<FLAG>` variables (single underscore, unlike the mechanical
//! `TUNESTREAM__SECTION__KEY` configuration overrides, which they win over).

mod commands;
mod flags;
mod signal;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use flags::{OutputFlags, Overrides};
pub use signal::{parse_duration, shutdown_on_signal};

use crate::Error;
use crate::config;
use crate::decode::Kind;
use crate::store::Location;

/// Streaming ETL for Spotify listening data: Web API pages → Arrow → SQL → Parquet.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// TOML configuration file; every key can also be set as TUNESTREAM__SECTION__KEY.
    #[arg(long, global = true, env = "TUNESTREAM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log level for tunestream's own messages (RUST_LOG overrides it).
    #[arg(long, global = true, default_value = "info", env = "TUNESTREAM_LOG")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reprocesses raw page files (NDJSON, plain or .gz) through the queries into the lake.
    Replay {
        /// Files, directories or s3://bucket/prefix URLs of raw pages, in any mix.
        #[arg(required = true, value_parser = Location::parse)]
        paths: Vec<Location>,
        /// Kind of bare responses whose href does not tell it.
        #[arg(long)]
        kind: Option<Kind>,
        #[command(flatten)]
        outputs: OutputFlags,
    },
    /// Plans every query against the raw schemas, and every feed against the output tables,
    /// without reading data.
    Check {
        /// Directory of TABLE.sql queries (config: queries).
        #[arg(long, env = "TUNESTREAM_QUERIES")]
        queries: Option<PathBuf>,
        /// Directory of NAME.sql feeds (config: feeds.path).
        #[arg(long, env = "TUNESTREAM_FEEDS")]
        feeds: Option<PathBuf>,
    },
    /// Pulls Spotify (the built-in simulator unless spotify.api_url is set) into the lake until
    /// SIGINT/SIGTERM or --for elapses. Without --config it runs the embedded demo schedule.
    Run {
        /// Stop by itself after this long (e.g. 90s, 5m, 2h).
        #[arg(long = "for", value_parser = parse_duration, env = "TUNESTREAM_FOR")]
        run_for: Option<std::time::Duration>,
        /// Run even when the jobs need more requests per day than spotify.daily_budget.
        #[arg(long, env = "TUNESTREAM_FORCE")]
        force: bool,
        /// Serve the dashboard, feeds and metrics on ADDR, e.g. 127.0.0.1:8787; port 0 picks
        /// a free one (config: serve.listen).
        #[arg(long, value_name = "ADDR", env = "TUNESTREAM_LISTEN")]
        listen: Option<String>,
        #[command(flatten)]
        outputs: OutputFlags,
    },
    /// Prints each job's requests per day and the total against the daily budget.
    Plan,
    /// Serves the built-in Spotify simulator on 127.0.0.1 until SIGINT/SIGTERM.
    Sim {
        /// Port to listen on (config: simulator.port; 0 picks a free one).
        #[arg(long, env = "TUNESTREAM_SIM_PORT")]
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
pub enum SnowflakeAction {
    /// Writes the sql/ scripts into DIR with the names of the `[snowflake]` config section.
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
pub enum AuthAction {
    /// Prints the authorize URL and waits for the redirect on http://127.0.0.1:PORT/callback.
    Login {
        /// The Spotify user expected to log in (a hint to the accounts page).
        #[arg(long)]
        user: Option<String>,
        /// Loopback port registered as the app's redirect URI (config: spotify.redirect_port).
        #[arg(long)]
        port: Option<u16>,
        /// State directory to store the tokens in (config: state_dir).
        #[arg(long, env = "TUNESTREAM_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// Runs the command `cli` names, with the process environment as the configuration's.
pub async fn execute(cli: Cli) -> Result<(), Error> {
    let vars = std::env::vars();
    let file = match cli.command {
        // These run without a file: the embedded demo against the simulator.
        Command::Run { .. } | Command::Plan | Command::Sim { .. } => config::load_or_demo(cli.config.as_deref(), vars)?,
        _ => config::load(cli.config.as_deref(), vars)?,
    };
    match cli.command {
        Command::Run { run_for, force, listen, outputs } => {
            let overrides = Overrides { listen, ..outputs.into_overrides() };
            commands::run(overrides.apply(file).validate()?, run_for, force).await
        }
        Command::Replay { paths, kind, outputs } => {
            commands::replay(outputs.into_overrides().apply(file).validate()?, paths, kind).await
        }
        Command::Check { queries, feeds } => {
            let overrides = Overrides { queries, feeds, ..Overrides::default() };
            commands::check(overrides.apply(file).validate()?).await
        }
        Command::Plan => commands::plan(file.validate()?),
        Command::Sim { port } => commands::sim(file.validate()?, port).await,
        Command::Auth { action: AuthAction::Login { user, port, state_dir } } => {
            let overrides = Overrides { state_dir, ..Overrides::default() };
            commands::login(overrides.apply(file).validate()?, user.as_deref(), port).await
        }
        Command::Snowflake { action: SnowflakeAction::Render { out, check } } => {
            commands::render_snowflake(file.validate()?, &out, check)
        }
    }
}
