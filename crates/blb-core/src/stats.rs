//! Counters the engine keeps for the summary and the metrics: per sensor, per class of
//! packet, and drops by named reason.

use crate::packet::PacketClass;

/// Why a packet was not delivered. Every packet is delivered to at least one sensor or counted
/// under one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The balancer had no sensor to offer (all sensors out of service).
    NoSensorAvailable,
    /// The packet's link type differs from the one its output file was opened with.
    LinkTypeMismatch,
    /// A sensor's output failed (write error, closed socket).
    SensorWriteError,
    /// A sensor's queue was full (live mode: the sensor could not keep up).
    SensorQueueFull,
    /// The packet's flow had passed its cutoff (`flow_cutoff_bytes` or `_packets`).
    FlowCutoff,
    /// A sensor asked to bypass the packet's flow.
    Bypassed,
}

impl DropReason {
    /// All reasons, in reporting order.
    pub const ALL: [DropReason; 6] = [
        DropReason::NoSensorAvailable,
        DropReason::LinkTypeMismatch,
        DropReason::SensorWriteError,
        DropReason::SensorQueueFull,
        DropReason::FlowCutoff,
        DropReason::Bypassed,
    ];

    /// The reason's name in summaries and metrics.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::NoSensorAvailable => "no_sensor_available",
            DropReason::LinkTypeMismatch => "link_type_mismatch",
            DropReason::SensorWriteError => "sensor_write_error",
            DropReason::SensorQueueFull => "sensor_queue_full",
            DropReason::FlowCutoff => "flow_cutoff",
            DropReason::Bypassed => "bypassed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What happened to bypass requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BypassStats {
    /// Flows bypassed at a sensor's request.
    pub requested: u64,
    /// Bypasses cancelled by a sensor.
    pub cancelled: u64,
    /// Requests for a flow that was not live (refused).
    pub unknown_flow: u64,
    /// Bypassed flows that ended (their bypass ended with them).
    pub expired: u64,
    /// Captured bytes of the packets bypassed (their count is the `bypassed` drop reason).
    pub bytes: u64,
}

/// What the per-flow cutoff did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CutoffStats {
    /// Flows that reached the cutoff.
    pub flows: u64,
    /// Captured bytes of the packets cut (their count is the `flow_cutoff` drop reason).
    pub bytes: u64,
}

/// Drop counters by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops([u64; DropReason::ALL.len()]);

impl Drops {
    /// Count one drop.
    pub fn add(&mut self, reason: DropReason, n: u64) {
        self.0[reason.index()] += n;
    }
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason.index()]
    }
    /// Total drops.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    /// `(name, count)` for every reason, zero or not.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r.name(), self.get(r)))
    }
}

/// How many sensors the flows to each destination address reached: the measure of how much a
/// balancer tears apart traffic aimed at one host (a DDoS victim, a scanned server). Bounded:
/// at most `cap` destinations are tracked; flows to further ones are counted, not tracked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DestinationSpread {
    map: std::collections::HashMap<crate::packet::Addr, (u64, crate::sensor::SensorSet)>,
    cap: usize,
    /// Flows whose destination could not be tracked because the table was full.
    pub untracked_flows: u64,
}

/// One destination's spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    /// The destination address.
    pub dst: crate::packet::Addr,
    /// Flows to it.
    pub flows: u64,
    /// Sensors those flows reached.
    pub sensors: usize,
}

impl DestinationSpread {
    /// Track at most `cap` destinations.
    pub fn new(cap: usize) -> Self {
        DestinationSpread {
            cap,
            ..Default::default()
        }
    }

    /// A flow to `dst` went to `sensors`.
    pub fn add(&mut self, dst: crate::packet::Addr, sensors: crate::sensor::SensorSet) {
        if !dst.is_ip() {
            return;
        }
        let full = self.map.len() >= self.cap;
        match self.map.get_mut(&dst) {
            Some((n, s)) => {
                *n += 1;
                for x in sensors {
                    s.insert(x);
                }
            }
            None if full => self.untracked_flows += 1,
            None => {
                self.map.insert(dst, (1, sensors));
            }
        }
    }

    /// Bytes of heap held: at most `cap` destinations' worth, whatever the number of flows.
    pub fn heap_bytes(&self) -> usize {
        hash_map_bytes::<crate::packet::Addr, (u64, crate::sensor::SensorSet)>(self.map.capacity())
    }

    /// Destinations with at least `min_flows` flows, most flows first (then by address).
    pub fn at_least(&self, min_flows: u64) -> Vec<Spread> {
        let mut v: Vec<Spread> = self
            .map
            .iter()
            .filter(|(_, (n, _))| *n >= min_flows)
            .map(|(a, (n, s))| Spread {
                dst: *a,
                flows: *n,
                sensors: s.len(),
            })
            .collect();
        v.sort_by(|a, b| b.flows.cmp(&a.flows).then(a.dst.cmp(&b.dst)));
        v
    }
}

/// Most destinations whose spread over sensors is tracked by default (the engine's
/// `destination_cap`; about 80 bytes each in the hash map).
pub const DESTINATIONS_TRACKED: usize = 1 << 20;

/// Heap bytes of a `HashMap<K, V>` able to hold `capacity` entries, as hashbrown lays it out:
/// buckets a power of two at most 7/8 full, each one `(K, V)` and one control byte (plus a
/// group of control bytes). An estimate for the memory accounting, exact to a few bytes.
pub fn hash_map_bytes<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        if capacity < 4 { 4 } else { 8 }
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (std::mem::size_of::<(K, V)>() + 1) + 16
}

/// Per-sensor counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SensorStats {
    /// Packets delivered (copies included).
    pub packets: u64,
    /// Captured bytes delivered.
    pub bytes: u64,
    /// Flows the balancer assigned to this sensor.
    pub flows: u64,
}

/// The engine's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineStats {
    /// Packets handed to the engine.
    pub packets_in: u64,
    /// Captured bytes handed to the engine.
    pub bytes_in: u64,
    /// Per sensor.
    pub sensors: Vec<SensorStats>,
    /// Flows created (including non-IP and fragment pseudo-flows).
    pub flows: u64,
    /// Flows created without asking the balancer, on the sensor their datagram's earlier
    /// fragments already went to (see the engine docs). They are not in the per-sensor flow
    /// counts, which count the balancer's decisions.
    pub pinned_flows: u64,
    /// Non-IP frames (ARP, STP, LLDP, ...), forwarded by MAC pair.
    pub non_ip: u64,
    /// Frames that could not be parsed, forwarded by whatever addresses were recovered.
    pub unparsable: u64,
    /// IP fragments.
    pub fragments: u64,
    /// Tunnelled packets by kind, and tunnels nested too deep or malformed.
    pub tunnels: crate::tunnel::TunnelStats,
    /// Extra copies delivered beyond the first sensor of each packet (duplication).
    pub copies: u64,
    /// Packets not delivered, by reason.
    pub drops: Drops,
    /// Bypass requests of sensors.
    pub bypass: BypassStats,
    /// The per-flow cutoff.
    pub cutoff: CutoffStats,
    /// Sensors reached by the flows to each destination.
    pub destinations: DestinationSpread,
}

impl EngineStats {
    /// Counters for `n` sensors, tracking the spread of at most `destination_cap`
    /// destinations.
    pub fn new(n: usize, destination_cap: usize) -> Self {
        EngineStats {
            sensors: vec![SensorStats::default(); n],
            destinations: DestinationSpread::new(destination_cap),
            ..Default::default()
        }
    }

    /// A packet that a flow limit sends nowhere.
    pub(crate) fn count_limited(&mut self, reason: DropReason, cap_len: u32) {
        let bytes = u64::from(cap_len);
        match reason {
            DropReason::Bypassed => self.bypass.bytes += bytes,
            _ => self.cutoff.bytes += bytes,
        }
    }

    pub(crate) fn count_class(&mut self, class: PacketClass) {
        match class {
            PacketClass::Ip => {}
            PacketClass::NonIp => self.non_ip += 1,
            PacketClass::Unparsable => self.unparsable += 1,
        }
    }
}
