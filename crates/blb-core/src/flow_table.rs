//! The flow table: one entry per bidirectional flow, per-protocol and per-TCP-state idle
//! timeouts driven by a timer wheel, and a hard cap with counted evictions.
//!
//! Expiry costs O(1) amortised per flow: each live flow sits in exactly one wheel slot (one
//! second wide). When a slot comes due, flows whose deadline moved later (because packets
//! arrived) are re-filed into the slot of their new deadline, the others expire. Nothing ever
//! scans the whole table.
//!
//! Memory is bounded by the cap alone, whatever the rate of new flows: the wheel's slots are
//! intrusive doubly-linked lists threaded through the flow entries (a slot is one `u32` head;
//! a flow carries its two links), so a flow is filed in exactly one slot, moving or removing
//! it unlinks it at once, and no slot keeps a buffer sized by the busiest second it ever saw.
//! The table's own storage (entries, free list, index) grows to the peak number of live flows
//! and never past the cap.

use std::collections::HashMap;

use crate::balancer::Assignment;
use crate::flow_key::{Direction, FlowKey, KeyClass};
use crate::packet::{NANOS_PER_SEC, Nanos, PacketMeta, proto, tcp_flags};
use crate::sensor::SensorSet;

/// Idle timeouts in seconds, per protocol and state. Defaults follow Suricata's
/// `flow-timeouts` (Zeek's inactivity timeouts are of the same order).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowTimeouts {
    /// TCP flow that has not yet seen traffic in both directions.
    pub tcp_new: u32,
    /// TCP flow with traffic in both directions (or half-closed).
    pub tcp_established: u32,
    /// TCP flow after a RST, or after FINs in both directions.
    pub tcp_closed: u32,
    /// UDP flow seen in one direction only.
    pub udp_new: u32,
    /// UDP flow seen in both directions.
    pub udp_established: u32,
    /// ICMP / ICMPv6 flow seen in one direction only.
    pub icmp_new: u32,
    /// ICMP / ICMPv6 flow seen in both directions.
    pub icmp_established: u32,
    /// Any other protocol, and non-IP frames, seen in one direction only.
    pub other_new: u32,
    /// Any other protocol, and non-IP frames, seen in both directions.
    pub other_established: u32,
}

impl Default for FlowTimeouts {
    fn default() -> Self {
        FlowTimeouts {
            tcp_new: 60,
            tcp_established: 600,
            tcp_closed: 60,
            udp_new: 30,
            udp_established: 300,
            icmp_new: 30,
            icmp_established: 300,
            other_new: 30,
            other_established: 300,
        }
    }
}

/// Where a flow is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// Seen in one direction only.
    New,
    /// Seen in both directions.
    Established,
    /// TCP: a FIN in one direction.
    Closing,
    /// TCP: RST seen, or FIN in both directions.
    Closed,
}

/// One flow's entry.
#[derive(Clone, Debug)]
pub struct Flow {
    /// The flow's canonical key.
    pub key: FlowKey,
    /// Where the flow's packets go.
    pub sensors: SensorSet,
    /// An opaque value the balancer attached when it assigned the flow (e.g. its cluster).
    pub tag: u64,
    /// Time of the first packet.
    pub created: Nanos,
    /// Time of the last packet.
    pub last_seen: Nanos,
    /// Packets seen.
    pub packets: u64,
    /// Captured bytes seen.
    pub bytes: u64,
    /// Life-cycle state.
    pub state: FlowState,
    /// A sensor asked that the flow's packets go nowhere (until it ends or the request is
    /// cancelled).
    pub bypassed: bool,
    seen_lo_to_hi: bool,
    seen_hi_to_lo: bool,
    fin_lo_to_hi: bool,
    fin_hi_to_lo: bool,
    deadline: Nanos,
    live: bool,
    /// The second of the wheel slot the flow is filed under.
    filed: u64,
    /// The previous and next flow in the same wheel slot ([`NIL`] at either end).
    prev: u32,
    next: u32,
}

impl Flow {
    fn update(&mut self, p: &PacketMeta, dir: Direction, now: Nanos, timeouts: &FlowTimeouts) {
        self.last_seen = now;
        self.packets += 1;
        self.bytes += u64::from(p.cap_len);
        match dir {
            Direction::LoToHi => self.seen_lo_to_hi = true,
            Direction::HiToLo => self.seen_hi_to_lo = true,
        }
        let tcp = self.key.class == KeyClass::Ip && self.key.protocol == proto::TCP;
        if tcp {
            let f = p.tcp_flags;
            if f & tcp_flags::SYN != 0 && f & tcp_flags::ACK == 0 && self.state == FlowState::Closed
            {
                // Port reuse: a new connection on a closed 5-tuple keeps the flow's sensor.
                self.state = FlowState::New;
                self.fin_lo_to_hi = false;
                self.fin_hi_to_lo = false;
                self.seen_lo_to_hi = dir == Direction::LoToHi;
                self.seen_hi_to_lo = dir == Direction::HiToLo;
            }
            if f & tcp_flags::RST != 0 {
                self.state = FlowState::Closed;
            } else if f & tcp_flags::FIN != 0 {
                match dir {
                    Direction::LoToHi => self.fin_lo_to_hi = true,
                    Direction::HiToLo => self.fin_hi_to_lo = true,
                }
            }
        }
        if self.state != FlowState::Closed {
            self.state = if self.fin_lo_to_hi && self.fin_hi_to_lo {
                FlowState::Closed
            } else if self.fin_lo_to_hi || self.fin_hi_to_lo {
                FlowState::Closing
            } else if self.seen_lo_to_hi && self.seen_hi_to_lo {
                FlowState::Established
            } else {
                FlowState::New
            };
        }
        self.deadline = now.saturating_add(u64::from(self.timeout(timeouts)) * NANOS_PER_SEC);
    }

    /// The idle timeout (seconds) that applies to the flow in its current state.
    pub fn timeout(&self, t: &FlowTimeouts) -> u32 {
        let both = matches!(self.state, FlowState::Established | FlowState::Closing);
        if self.key.class != KeyClass::Ip {
            return if both {
                t.other_established
            } else {
                t.other_new
            };
        }
        match self.key.protocol {
            proto::TCP => match self.state {
                FlowState::New => t.tcp_new,
                FlowState::Established | FlowState::Closing => t.tcp_established,
                FlowState::Closed => t.tcp_closed,
            },
            proto::UDP => {
                if both {
                    t.udp_established
                } else {
                    t.udp_new
                }
            }
            proto::ICMP | proto::ICMPV6 => {
                if both {
                    t.icmp_established
                } else {
                    t.icmp_new
                }
            }
            _ => {
                if both {
                    t.other_established
                } else {
                    t.other_new
                }
            }
        }
    }

    /// The time at which the flow expires if no packet arrives before.
    pub fn deadline(&self) -> Nanos {
        self.deadline
    }
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Its idle timeout passed.
    Expired,
    /// The table was full and a new flow needed the room.
    Evicted,
}

/// Counters of the flow table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowTableStats {
    /// Flows created.
    pub created: u64,
    /// Flows removed by idle timeout.
    pub expired: u64,
    /// Flows removed because the table was at its cap.
    pub evicted: u64,
    /// Most flows held at once.
    pub peak: u64,
}

const WHEEL_SLOTS: u64 = 1024;

/// The end of a wheel slot's list.
const NIL: u32 = u32::MAX;

/// The flow table. See the module documentation.
#[derive(Debug)]
pub struct FlowTable {
    map: HashMap<FlowKey, u32>,
    flows: Vec<Flow>,
    free: Vec<u32>,
    /// Slots of one second: the first flow filed in each ([`NIL`] when empty).
    wheel: Vec<u32>,
    /// The last second whose slot was processed.
    cursor: Option<u64>,
    cap: usize,
    timeouts: FlowTimeouts,
    stats: FlowTableStats,
}

impl FlowTable {
    /// A table that holds at most `cap` flows (at least 1).
    pub fn new(cap: usize, timeouts: FlowTimeouts) -> Self {
        FlowTable {
            map: HashMap::with_capacity(cap.min(1 << 16)),
            flows: Vec::new(),
            free: Vec::new(),
            wheel: vec![NIL; WHEEL_SLOTS as usize],
            cursor: None,
            cap: cap.max(1),
            timeouts,
            stats: FlowTableStats::default(),
        }
    }

    /// Number of live flows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no flow is live.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> FlowTableStats {
        self.stats
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> &FlowTimeouts {
        &self.timeouts
    }

    /// Look a flow up without changing it.
    pub fn get(&self, key: &FlowKey) -> Option<&Flow> {
        self.map.get(key).and_then(|&i| self.flows.get(i as usize))
    }

    /// Record a packet of an existing flow: updates state and deadline, returns the flow.
    pub fn touch(
        &mut self,
        key: &FlowKey,
        p: &PacketMeta,
        dir: Direction,
        now: Nanos,
    ) -> Option<&Flow> {
        let idx = *self.map.get(key)? as usize;
        let flow = self.flows.get_mut(idx)?;
        flow.update(p, dir, now, &self.timeouts);
        // A shorter timeout (RST, both FINs) can move the deadline before the slot the flow is
        // filed in: file it again, earlier (the later entry becomes stale).
        let (deadline, filed) = (flow.deadline, flow.filed);
        if self.slot_second(deadline) < filed {
            self.unlink(idx as u32);
            self.schedule(idx as u32, deadline);
        }
        self.flows.get(idx)
    }

    /// Insert a new flow (the caller checked that `key` is absent). When the table is at its
    /// cap, the flow nearest to its deadline is evicted first and handed to `on_removed`.
    pub fn insert(
        &mut self,
        key: FlowKey,
        p: &PacketMeta,
        dir: Direction,
        assignment: Assignment,
        now: Nanos,
        on_removed: &mut dyn FnMut(&Flow, Removal),
    ) -> &Flow {
        self.start_clock(now);
        if self.map.len() >= self.cap {
            self.evict_one(on_removed);
        }
        let mut flow = Flow {
            key,
            sensors: assignment.sensors,
            tag: assignment.tag,
            created: now,
            last_seen: now,
            packets: 0,
            bytes: 0,
            state: FlowState::New,
            bypassed: false,
            seen_lo_to_hi: false,
            seen_hi_to_lo: false,
            fin_lo_to_hi: false,
            fin_hi_to_lo: false,
            deadline: now,
            live: true,
            filed: 0,
            prev: NIL,
            next: NIL,
        };
        flow.update(p, dir, now, &self.timeouts);
        let idx = match self.free.pop() {
            Some(i) => {
                self.flows[i as usize] = flow;
                i
            }
            None => {
                self.flows.push(flow);
                (self.flows.len() - 1) as u32
            }
        };
        self.map.insert(key, idx);
        self.stats.created += 1;
        self.stats.peak = self.stats.peak.max(self.map.len() as u64);
        let deadline = self.flows[idx as usize].deadline;
        self.schedule(idx, deadline);
        &self.flows[idx as usize]
    }

    /// Advance the clock to `now`, expiring every flow whose deadline has passed.
    pub fn advance(&mut self, now: Nanos, on_removed: &mut dyn FnMut(&Flow, Removal)) {
        let now_sec = now / NANOS_PER_SEC;
        let Some(mut cursor) = self.cursor else {
            self.start_clock(now);
            return;
        };
        if now_sec <= cursor {
            return;
        }
        if now_sec - cursor > WHEEL_SLOTS {
            cursor = now_sec - WHEEL_SLOTS;
        }
        while cursor < now_sec {
            cursor += 1;
            self.cursor = Some(cursor);
            let slot = (cursor % WHEEL_SLOTS) as usize;
            // Take the slot's whole list; each flow on it expires or is filed again in a
            // later slot (never this one: the horizon is one slot short of the wheel).
            let mut at = std::mem::replace(&mut self.wheel[slot], NIL);
            while let Some(flow) = self.flows.get_mut(at as usize) {
                let idx = at;
                at = flow.next;
                flow.prev = NIL;
                flow.next = NIL;
                if flow.deadline <= now {
                    self.stats.expired += 1;
                    self.remove(idx, Removal::Expired, on_removed);
                } else {
                    let deadline = flow.deadline;
                    self.schedule(idx, deadline);
                }
            }
        }
    }

    /// Visit every live flow in slot order; where `f` answers `Some`, the flow gets that
    /// assignment. Returns how many flows changed. (For failover: rare, O(table).)
    pub fn reassign(&mut self, f: &mut dyn FnMut(&Flow) -> Option<Assignment>) -> u64 {
        let mut changed = 0;
        for flow in self.flows.iter_mut().filter(|f| f.live) {
            if let Some(a) = f(flow) {
                flow.sensors = a.sensors;
                flow.tag = a.tag;
                changed += 1;
            }
        }
        changed
    }

    /// Bypass a live flow, or end its bypass; its previous state (`None`: no such live flow).
    pub fn set_bypass(&mut self, key: &FlowKey, on: bool) -> Option<bool> {
        let idx = *self.map.get(key)?;
        let flow = self.flows.get_mut(idx as usize).filter(|f| f.live)?;
        Some(std::mem::replace(&mut flow.bypassed, on))
    }

    /// Give the live flow `key` a new assignment; false when it is not in the table.
    pub fn set_assignment(&mut self, key: &FlowKey, a: Assignment) -> bool {
        let Some(&idx) = self.map.get(key) else {
            return false;
        };
        match self.flows.get_mut(idx as usize) {
            Some(flow) if flow.live => {
                flow.sensors = a.sensors;
                flow.tag = a.tag;
                true
            }
            _ => false,
        }
    }

    /// Remove every flow (end of input), handing each to `on_removed` as expired.
    pub fn drain(&mut self, on_removed: &mut dyn FnMut(&Flow, Removal)) {
        let live: Vec<u32> = self.map.values().copied().collect();
        for idx in live {
            self.remove(idx, Removal::Expired, on_removed);
        }
    }

    /// Bytes of heap the table holds now (from its containers' capacities; the hash index
    /// counted as hashbrown lays it out: one control byte per bucket, buckets at 7/8 load).
    /// Grows to the peak of live flows and never past what the cap needs.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        crate::stats::hash_map_bytes::<FlowKey, u32>(self.map.capacity())
            + self.flows.capacity() * size_of::<Flow>()
            + self.free.capacity() * size_of::<u32>()
            + self.wheel.capacity() * size_of::<u32>()
    }

    /// Check the wheel's lists (tests): every live flow is filed in exactly one slot, at the
    /// slot of its `filed` second, and the links agree both ways.
    #[cfg(test)]
    pub(crate) fn check_wheel(&self) {
        let mut seen = vec![false; self.flows.len()];
        for (slot, &head) in self.wheel.iter().enumerate() {
            let (mut at, mut prev) = (head, NIL);
            while at != NIL {
                let f = &self.flows[at as usize];
                assert!(f.live, "a removed flow is still filed");
                assert_eq!(f.prev, prev, "broken back link");
                assert_eq!(
                    (f.filed % WHEEL_SLOTS) as usize,
                    slot,
                    "filed in the wrong slot"
                );
                assert!(!seen[at as usize], "a flow is filed twice");
                seen[at as usize] = true;
                (prev, at) = (at, f.next);
            }
        }
        let live = self.flows.iter().filter(|f| f.live).count();
        assert_eq!(live, self.map.len());
        assert_eq!(
            seen.iter().filter(|s| **s).count(),
            live,
            "a live flow is not filed"
        );
    }

    fn start_clock(&mut self, now: Nanos) {
        if self.cursor.is_none() {
            self.cursor = Some(now / NANOS_PER_SEC);
        }
    }

    /// The second of the slot a deadline is filed in: clamped to the wheel's horizon.
    fn slot_second(&self, deadline: Nanos) -> u64 {
        let cursor = self.cursor.unwrap_or(deadline / NANOS_PER_SEC);
        (deadline / NANOS_PER_SEC).clamp(cursor + 1, cursor + WHEEL_SLOTS - 1)
    }

    /// File `idx` (not filed anywhere) in the slot of `deadline`, at the head of its list.
    fn schedule(&mut self, idx: u32, deadline: Nanos) {
        let sec = self.slot_second(deadline);
        let slot = (sec % WHEEL_SLOTS) as usize;
        let head = self.wheel[slot];
        if let Some(f) = self.flows.get_mut(idx as usize) {
            f.filed = sec;
            f.prev = NIL;
            f.next = head;
        }
        if let Some(h) = self.flows.get_mut(head as usize) {
            h.prev = idx;
        }
        self.wheel[slot] = idx;
    }

    /// Take `idx` out of the slot it is filed in.
    fn unlink(&mut self, idx: u32) {
        let Some(f) = self.flows.get_mut(idx as usize) else {
            return;
        };
        let (prev, next, filed) = (f.prev, f.next, f.filed);
        f.prev = NIL;
        f.next = NIL;
        match self.flows.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => {
                let slot = (filed % WHEEL_SLOTS) as usize;
                if self.wheel[slot] == idx {
                    self.wheel[slot] = next;
                }
            }
        }
        if let Some(n) = self.flows.get_mut(next as usize) {
            n.prev = prev;
        }
    }

    fn remove(&mut self, idx: u32, why: Removal, on_removed: &mut dyn FnMut(&Flow, Removal)) {
        let Some(flow) = self.flows.get_mut(idx as usize) else {
            return;
        };
        if !flow.live {
            return;
        }
        flow.live = false;
        let key = flow.key;
        on_removed(flow, why);
        self.unlink(idx);
        self.map.remove(&key);
        self.free.push(idx);
    }

    /// Evict the live flow whose deadline comes first (to within one wheel slot).
    fn evict_one(&mut self, on_removed: &mut dyn FnMut(&Flow, Removal)) {
        let cursor = self.cursor.unwrap_or(0);
        for step in 1..=WHEEL_SLOTS {
            let sec = cursor + step;
            let slot = (sec % WHEEL_SLOTS) as usize;
            let mut at = self.wheel[slot];
            while let Some(flow) = self.flows.get(at as usize) {
                let (idx, deadline) = (at, flow.deadline);
                at = flow.next;
                let due = (deadline / NANOS_PER_SEC).clamp(cursor + 1, cursor + WHEEL_SLOTS - 1);
                if due <= sec {
                    self.stats.evicted += 1;
                    self.remove(idx, Removal::Evicted, on_removed);
                    return;
                }
                // Filed early (its deadline moved later since): file it where it belongs.
                self.unlink(idx);
                self.schedule(idx, deadline);
            }
        }
        // Every flow is filed in some slot, so the loop above always finds one; if the
        // invariant were ever broken, fall back to any live flow rather than exceed the cap.
        if let Some(&idx) = self.map.values().next() {
            self.stats.evicted += 1;
            self.remove(idx, Removal::Evicted, on_removed);
        }
    }
}

#[cfg(test)]
#[path = "flow_table_tests.rs"]
mod tests;
