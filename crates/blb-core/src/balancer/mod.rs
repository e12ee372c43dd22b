//! The balancer trait and the simple balancers: `single`, `round-robin` and `hash`.
//!
//! A balancer is asked only once per flow, when the flow's first packet arrives; packets of a
//! known flow follow the flow's assignment without asking it. It sees the new flow's first
//! packet, its key, the sensors' current loads and the time, and answers with one or more
//! sensors (several when it duplicates the flow) plus an opaque tag it may use to recognise the
//! flow later (the BLB balancer stores its cluster there).

mod hash;
mod round_robin;
mod single;

pub use hash::{HashBalancer, HashKey, HashMode};
pub use round_robin::RoundRobin;
pub use single::Single;

use crate::flow_key::FlowKey;
use crate::packet::{Nanos, PacketMeta};
use crate::sensor::SensorSet;

/// What a balancer sees of a new flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowContext<'a> {
    /// The flow's first packet.
    pub packet: &'a PacketMeta,
    /// The flow's canonical key.
    pub key: &'a FlowKey,
    /// Each sensor's current load in percent of its capacity (empty when the balancer said
    /// it does not need loads).
    pub loads: &'a [f64],
    /// The current time.
    pub now: Nanos,
    /// Flows in the flow table now.
    pub live_flows: usize,
}

/// A balancer's answer for a new flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The sensors that receive the flow (empty means: no sensor available, packets dropped
    /// and counted).
    pub sensors: SensorSet,
    /// Opaque value handed back in [`Balancer::on_packet`] and [`Balancer::on_flow_end`].
    pub tag: u64,
}

impl Assignment {
    /// An assignment to one sensor, without a tag.
    pub fn to(sensor: crate::sensor::SensorId) -> Self {
        Assignment {
            sensors: SensorSet::one(sensor),
            tag: 0,
        }
    }
}

/// The interface every balancing algorithm implements.
pub trait Balancer: std::fmt::Debug {
    /// The algorithm's name as the command line spells it.
    fn name(&self) -> &'static str;

    /// Number of sensors balanced over.
    fn sensors(&self) -> usize;

    /// Whether [`FlowContext::loads`] must be filled (computing loads costs a little).
    fn needs_loads(&self) -> bool {
        false
    }

    /// Choose the sensors of a new flow.
    fn assign(&mut self, ctx: &FlowContext<'_>) -> Assignment;

    /// A packet of a known flow was forwarded (its tag is the one `assign` returned).
    fn on_packet(&mut self, _tag: u64, _packet: &PacketMeta, _now: Nanos) {}

    /// A flow left the flow table (expired or evicted).
    fn on_flow_end(&mut self, _tag: u64, _now: Nanos) {}

    /// The balancer's own counters, for the summary and the metrics.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Map a 64-bit hash uniformly onto `0..n` (multiply-shift, no modulo bias worth noting).
pub(crate) fn reduce(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}
