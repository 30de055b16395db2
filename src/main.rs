//! The `tunestream` command: parses the command line, starts telemetry, calls the library.

use std::process::ExitCode;

use clap::Parser;
use tunestream::cli::Cli;

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
    match runtime.block_on(tunestream::cli::execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let blame = e.blame();
            eprintln!("error: {:#}\n{}", anyhow::Error::from(e), blame.advice());
            ExitCode::from(blame.exit_code())
        }
    }
}
