//! blb-fuzz: in-process fuzzing of blb's parsers and engine on the stable toolchain.
//!
//! Each [`targets::Target`] takes arbitrary bytes and panics when an invariant breaks; the
//! [`driver`] feeds it seeds (the shared captures, the example configurations, built-in
//! samples) mutated by [`mutate::Mutator`] (bit flips, interesting values, insertions,
//! deletions, duplications, splices), catches every panic, keeps the input that caused it,
//! and aborts on a hang after keeping the input too. It is blind (no coverage feedback): it
//! makes up for it with many cheap executions, structure-aware targets (the engine target
//! decodes bytes into packet records) and seeds that already reach deep (real captures).
//!
//! `blb-fuzz --total-execs 1000000` is the CI run; `bench/fuzz.sh` runs each target longer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod driver;
pub mod mutate;
pub mod targets;
