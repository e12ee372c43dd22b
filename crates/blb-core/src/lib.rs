//! blb-core: the sans-IO engine of blb, a load balancer for clusters of network intrusion
//! detection sensors.
//!
//! No sockets, no files, no clocks: packets go in as parsed metadata ([`packet::PacketMeta`])
//! with their timestamps, decisions ([`sensor::SensorSet`]) come out. The pieces:
//!
//! * [`flow_key`]: the canonical bidirectional flow key;
//! * [`flow_table`]: flows with per-state idle timeouts on a timer wheel and a hard cap;
//! * [`fragments`]: where each fragmented datagram went;
//! * [`hold`]: fragments held until their first fragment arrives;
//! * [`balancer`]: the [`balancer::Balancer`] trait and the `single`, `round-robin` and `hash`
//!   balancers;
//! * [`blb`]: the Benefit-based Load Balancing algorithm (logical distance, clusters,
//!   `solve_p`, the indexed search, the k-medoids start);
//! * [`limits`]: elephant flows: the per-flow cutoff and bypass at a sensor's request;
//! * [`load`]: load estimation and per-second load statistics;
//! * [`feedback`]: loads reported by the sensors, combined with the estimate;
//! * [`overload`]: a sensor's own loss figures (Suricata's drops, Zeek's capture loss) as an
//!   overload state with hysteresis, reported as a floor of its load;
//! * [`engine`]: the state machine that ties them together;
//! * [`memory`]: the heap each bounded structure holds;
//! * [`failover`]: sensors leaving and returning to service, and the flows that move;
//! * [`tunnel`]: the record of the tunnels a packet's flow was found in, and their counters.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod balancer;
pub mod blb;
pub mod engine;
pub mod failover;
pub mod feedback;
pub mod flow_key;
pub mod flow_table;
pub mod fragments;
pub mod hold;
pub mod limits;
pub mod load;
pub mod memory;
pub mod overload;
pub mod packet;
pub mod sensor;
pub mod stats;
pub mod tunnel;

pub use engine::{Engine, EngineConfig};

/// Errors of the core: only settings can be wrong here.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// A setting is out of range.
    #[error("setting '{setting}' {reason}")]
    Setting {
        /// The setting's name as in the configuration file.
        setting: &'static str,
        /// What is wrong, as the end of a sentence.
        reason: String,
    },
}

impl Error {
    /// The setting at fault, as the configuration file names it (a front end turns it into
    /// what its user typed: a flag or a key).
    pub fn setting(&self) -> &'static str {
        match self {
            Error::Setting { setting, .. } => setting,
        }
    }

    /// What is wrong with it, as the end of a sentence.
    pub fn reason(&self) -> &str {
        match self {
            Error::Setting { reason, .. } => reason,
        }
    }
}
