//! The `blb` binary: parse the command line, run, and map errors to exit statuses
//! (0 ok, 2 bad usage or settings, 1 runtime error), each with one clear sentence.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match blb::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match blb::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blb: {e:#}");
            ExitCode::from(blb::error::exit_status(&e))
        }
    }
}
