//! Integration tests of `blb-gen`: determinism, the paper's udp-flood figures, scenario
//! signatures, training period, option validation, and a (manual) speed measurement.

mod common;
mod determinism;
mod options;
mod perf;
mod props;
mod scenarios;
mod udp_flood;
