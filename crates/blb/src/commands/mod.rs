//! One module per subcommand.

pub mod balance;
pub mod detect;
pub mod experiment;
pub mod generate;
