//! Integration tests of the `blb` binary, run end to end on the shared captures and checked
//! with tcpdump and tshark.

mod blb_pcaps;
mod cli;
mod determinism;
mod docs;
mod elephants;
mod errors;
mod experiment;
mod lab;
mod lab_fault;
mod live_bypass;
mod live_control;
mod live_delivery;
mod live_failover;
mod live_loss;
mod live_replay;
mod malformed;
mod scale_out;
mod sensor_loss;
mod shared_pcaps;
mod skip;
mod slow_clients;
mod soak;
mod tshark_layers;
mod tunnels;
mod util;
