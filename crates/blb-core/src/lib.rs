//! blb-core: the sans-IO engine of blb (flow table, balancers, load estimation).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod packet;
