//! blb: the command-line balancer around the sans-IO core. Stages: `cli` (raw flags),
//! `config` and `settings` (the TOML file and validated settings), `pipeline` (reading,
//! parsing, balancing, writing), `summary`, and one module per subcommand in `commands`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod experiment;
pub mod live;
pub mod names;
pub mod pipeline;
pub mod settings;
pub mod summary;

/// Run a parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Balance(args) => commands::balance::run(&args),
        cli::Command::Generate(args) => commands::generate::run(&args),
        cli::Command::Detect(args) => commands::detect::run(&args),
        cli::Command::Experiment(args) => commands::experiment::run(&args),
    }
}
