//! One module per subcommand.

pub mod balance;
pub mod generate;
