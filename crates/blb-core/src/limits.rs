//! Elephant flows: a per-flow cutoff (after N bytes or packets, as Suricata's stream depth,
//! Arkime and the Time Machine cut long flows) and bypass at a sensor's request (Suricata's
//! bypass, done at the balancer). Packets cut or bypassed go nowhere and are counted under
//! their own drop reasons (`flow_cutoff`, `bypassed`); they are not delivered, so they weigh
//! on no sensor's load either.

use crate::balancer::Balancer;
use crate::engine::{Engine, EngineConfig};
use crate::flow_key::{FlowKey, KeyOptions};
use crate::flow_table::Flow;
use crate::packet::{Addr, Nanos, PacketClass, PacketMeta, proto};
use crate::stats::{BypassStats, DropReason};

/// TCP FIN and RST: a connection's end still reaches the sensor after the cutoff.
const TEARDOWN: u8 = 0x01 | 0x04;

/// What the limits say of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// It goes where its flow goes.
    Pass,
    /// It goes, and its flow reaches the cutoff with it.
    Reached,
    /// It goes nowhere, for this reason.
    Drop(DropReason),
}

/// What happens to `p`, just counted in `flow`. Fragments always go where their datagram
/// goes (a datagram is cut whole or not at all, and the engine places a datagram's fragments
/// before it knows which flow they carry), so neither limit applies to them.
pub(crate) fn limit(cfg: &EngineConfig, flow: &Flow, p: &PacketMeta) -> Limit {
    if p.fragment.is_some() {
        return Limit::Pass;
    }
    if flow.bypassed {
        return Limit::Drop(DropReason::Bypassed);
    }
    let (bytes, packets) = (flow.bytes, flow.packets);
    let (before_bytes, before_packets) = (
        bytes.saturating_sub(u64::from(p.cap_len)),
        packets.saturating_sub(1),
    );
    let past = |limit: Option<u64>, before: u64| limit.is_some_and(|c| before >= c);
    if past(cfg.flow_cutoff_bytes, before_bytes) || past(cfg.flow_cutoff_packets, before_packets) {
        let teardown = p.protocol == proto::TCP && p.tcp_flags & TEARDOWN != 0;
        return if teardown {
            Limit::Pass
        } else {
            Limit::Drop(DropReason::FlowCutoff)
        };
    }
    if past(cfg.flow_cutoff_bytes, bytes) || past(cfg.flow_cutoff_packets, packets) {
        return Limit::Reached;
    }
    Limit::Pass
}

/// Whether a flow's first packet `p` already reaches the cutoff.
pub(crate) fn reached_by_first(cfg: &EngineConfig, p: &PacketMeta) -> bool {
    p.fragment.is_none()
        && (cfg.flow_cutoff_packets == Some(1)
            || cfg
                .flow_cutoff_bytes
                .is_some_and(|c| u64::from(p.cap_len) >= c))
}

/// A flow ended (expired, evicted, or the input did): the balancer forgets it, and its
/// bypass, if any, ends with it.
pub(crate) fn flow_ended(
    balancer: &mut dyn Balancer,
    bypass: &mut BypassStats,
    flow: &Flow,
    now: Nanos,
) {
    if flow.bypassed {
        bypass.expired += 1;
    }
    balancer.on_flow_end(flow.tag, now);
}

/// A flow named as a sensor names it: a 5-tuple, either direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiveTuple {
    /// One end's address.
    pub src: Addr,
    /// The other end's address.
    pub dst: Addr,
    /// `src`'s port (0 without ports).
    pub src_port: u16,
    /// `dst`'s port.
    pub dst_port: u16,
    /// IP protocol.
    pub protocol: u8,
    /// Outermost VLAN id, when VLANs are part of flow keys.
    pub vlan: u16,
}

impl FiveTuple {
    /// The canonical flow key of this tuple (the same for both directions).
    pub fn key(&self, opts: KeyOptions) -> FlowKey {
        let has_ports = proto::has_ports(self.protocol);
        let mut p = PacketMeta {
            class: PacketClass::Ip,
            src: self.src,
            dst: self.dst,
            src_port: if has_ports { self.src_port } else { 0 },
            dst_port: if has_ports { self.dst_port } else { 0 },
            has_ports,
            protocol: self.protocol,
            ..PacketMeta::default()
        };
        if self.vlan != 0 {
            p.vlans[0] = self.vlan;
            p.vlan_count = 1;
        }
        FlowKey::from_packet(&p, opts, true).0
    }
}

impl Engine {
    /// Bypass the live flow `tuple` (a sensor's request: its packets go nowhere, counted as
    /// `bypassed`, until the flow ends or [`Engine::cancel_bypass`]). False when no such flow
    /// lives (counted as `unknown_flow`).
    pub fn bypass(&mut self, tuple: &FiveTuple) -> bool {
        let key = tuple.key(self.cfg.key);
        match self.flows.set_bypass(&key, true) {
            Some(was) => {
                if !was {
                    self.stats.bypass.requested += 1;
                }
                true
            }
            None => {
                self.stats.bypass.unknown_flow += 1;
                false
            }
        }
    }

    /// End the bypass of the live flow `tuple`; false when no such flow lives (or it was not
    /// bypassed).
    pub fn cancel_bypass(&mut self, tuple: &FiveTuple) -> bool {
        let key = tuple.key(self.cfg.key);
        match self.flows.set_bypass(&key, false) {
            Some(true) => {
                self.stats.bypass.cancelled += 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
