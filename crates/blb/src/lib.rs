//! blb: the command line around the sans-IO core and the balancing runtime (`blb-daemon`,
//! re-exported here under its module names). Here: `cli` (raw flags), the experiment and its
//! detection suite, the names of the other subcommands' settings, and one module per
//! subcommand in `commands`.

pub use blb_daemon::{config, error, live, pipeline, settings, summary};

pub mod cli;
pub mod commands;
pub mod experiment;
pub mod names;

/// Run a parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Balance(args) => commands::balance::run(&args),
        cli::Command::Generate(args) => commands::generate::run(&args),
        cli::Command::Detect(args) => commands::detect::run(&args),
        cli::Command::Experiment(args) => commands::experiment::run(&args),
    }
}
