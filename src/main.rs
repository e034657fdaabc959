//! The `feedwatch` binary: parse the command line, set up logging, call the library, and
//! turn the outcome into an exit code (0 success, 1 runtime failure, 2 bad usage or
//! config). Only this file prints errors.

use clap::Parser;

fn main() {
    let cli = feedwatch::cli::Cli::parse();
    feedwatch::telemetry::init(cli.default_log_level());
    let code = match feedwatch::cli::run(cli) {
        Ok(()) => 0,
        // `feedwatch items | head`: the reader left; that is not a failure.
        Err(e) if feedwatch::cli::is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("feedwatch: {e:#}");
            feedwatch::cli::exit_code(&e)
        }
    };
    std::process::exit(code);
}
