//! The `blb` command line.
fn main() {}
