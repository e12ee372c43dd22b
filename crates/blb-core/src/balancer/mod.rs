//! The balancer trait and the simple balancers: `single`, `round-robin` and `hash`.
//!
//! A balancer is asked only once per flow, when the flow's first packet arrives; packets of a
//! known flow follow the flow's assignment without asking it. It sees the new flow's first
//! packet, its key, the sensors' current loads and the time, and answers with one or more
//! sensors (several when it duplicates the flow) plus an opaque tag it may use to recognise the
//! flow later (the BLB balancer stores its cluster there).
//!
//! Sensors can leave service (a dead interface, failing sends, stale load reports, a drain)
//! and come back. A balancer only ever answers with sensors in
//! [`FlowContext::in_service`]. When a sensor leaves, the engine first tells the balancer
//! ([`Balancer::sensor_left`], where BLB moves the sensor's clusters) and then asks it, for
//! every live flow that was on that sensor, where the flow goes now ([`Balancer::relocate`]).
//! Flows on the other sensors stay where they are.

mod hash;
mod round_robin;
mod single;

pub use hash::{HashBalancer, HashKey, HashMode};
pub use round_robin::RoundRobin;
pub use single::Single;

use crate::flow_key::FlowKey;
use crate::packet::{Nanos, PacketMeta};
use crate::sensor::{SensorId, SensorSet};

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
    /// Each sensor's per-second sampling noise: the variance (%²) of its load measured over
    /// one second around `loads` (empty when loads are not needed; see [`crate::load`]).
    pub noise: &'a [f64],
    /// The current time.
    pub now: Nanos,
    /// Flows in the flow table now.
    pub live_flows: usize,
    /// The sensors in service: the answer must be a subset (empty when none is).
    pub in_service: SensorSet,
}

/// What a balancer sees when a sensor leaves service.
#[derive(Debug)]
pub struct ServiceContext<'a> {
    /// The sensors still in service (without the one leaving).
    pub in_service: SensorSet,
    /// Tentative loads in percent: the current loads, plus what was already moved. A
    /// balancer that moves load onto a sensor adds it here.
    pub loads: &'a mut [f64],
    /// The load (percent) that the leaving sensor carried.
    pub leaving_load: f64,
    /// The current time.
    pub now: Nanos,
}

/// One live flow whose sensors included a sensor that left service.
#[derive(Debug)]
pub struct Relocation<'a> {
    /// The flow's key.
    pub key: &'a FlowKey,
    /// The tag `assign` gave the flow.
    pub tag: u64,
    /// The flow's sensors before the move (one of them has left).
    pub old: SensorSet,
    /// The sensors still in service.
    pub in_service: SensorSet,
    /// Tentative loads in percent (see [`ServiceContext::loads`]).
    pub loads: &'a mut [f64],
    /// The flow's share of the leaving sensor's load, in percent of a sensor's capacity:
    /// what to add to the tentative load of the sensor it moves to.
    pub share: f64,
}

/// The least-loaded sensor of `among` by `loads` (lowest id on ties); `None` when `among` is
/// empty.
pub fn least_loaded(loads: &[f64], among: SensorSet) -> Option<SensorId> {
    let mut best: Option<(SensorId, f64)> = None;
    for s in among {
        let l = loads.get(usize::from(s)).copied().unwrap_or(0.0);
        if best.is_none_or(|(_, b)| l < b) {
            best = Some((s, l));
        }
    }
    best.map(|(s, _)| s)
}

/// The default relocation: the flow keeps its sensors that are still in service; a flow left
/// with none goes to the least-loaded sensor in service, whose tentative load grows by the
/// flow's share.
pub fn relocate_to_least_loaded(r: &mut Relocation<'_>) -> SensorSet {
    let kept = r.old.intersect(r.in_service);
    if !kept.is_empty() {
        return kept;
    }
    match least_loaded(r.loads, r.in_service) {
        Some(s) => {
            if let Some(l) = r.loads.get_mut(usize::from(s)) {
                *l += r.share;
            }
            SensorSet::one(s)
        }
        None => SensorSet::EMPTY,
    }
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
pub trait Balancer: std::fmt::Debug + Send {
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

    /// A sensor left service: move whatever the balancer keeps on it to the sensors still in
    /// service. Returns how many items (BLB: clusters) moved. The default keeps nothing.
    fn sensor_left(&mut self, _sensor: SensorId, _ctx: &mut ServiceContext<'_>) -> u64 {
        0
    }

    /// Where a live flow goes now that one of its sensors left service (a subset of
    /// `in_service`; empty when none is in service). The default is
    /// [`relocate_to_least_loaded`].
    fn relocate(&mut self, r: &mut Relocation<'_>) -> SensorSet {
        relocate_to_least_loaded(r)
    }

    /// The balancer's own counters, for the summary and the metrics.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
