//! `blb balance`: split a capture across sensors.

use crate::cli::BalanceArgs;
use crate::pipeline;
use crate::settings::BalanceSettings;

/// Run the subcommand: summary to where `--summary` says (and a short text on stderr), error
/// if the input stopped early.
pub fn run(args: &BalanceArgs) -> anyhow::Result<()> {
    let settings = BalanceSettings::from_args(args)?;
    let outcome = pipeline::balance(&settings)?;
    if let Some(to) = &settings.summary {
        outcome.summary.write_json(to)?;
    }
    let to_stdout = settings
        .summary
        .as_deref()
        .is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        eprint!("{}", outcome.summary.text());
    }
    match outcome.input_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
