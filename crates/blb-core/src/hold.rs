//! Holding fragments that arrive before their first fragment, until the first fragment says
//! where the datagram's flow goes, so that every fragment of a datagram reaches one sensor
//! (as AF_PACKET's defragmenting fanout keeps them) and no first fragment is copied.
//!
//! The core is sans-IO and never holds packet bytes: the caller does. It hands each packet to
//! [`Engine::handle_or_hold`] with a handle of its own choosing; a non-first fragment whose
//! datagram is not placed yet comes back [`Decision::Held`], and the caller keeps the frame
//! under that handle. When the datagram is placed, the engine queues `(handle, sensors)`,
//! which the caller collects with [`Engine::released`] after every call to `handle_or_hold`,
//! [`Engine::tick`] and [`Engine::finish`], and delivers *before* the packet it just handed
//! over (the released ones arrived earlier). Every held packet comes back exactly once.
//!
//! A datagram is placed, and its held fragments released, when:
//!
//! * its first fragment arrives: the datagram goes where the first fragment's 5-tuple flow
//!   goes, held fragments included;
//! * its hold reaches the time limit (`fragment_hold`, capture time; at the latest at
//!   [`Engine::finish`]): counted in `hold_expired`;
//! * holding it would pass the memory cap (`fragment_hold_bytes`, each packet counted as its
//!   captured length plus [`HOLD_OVERHEAD`], and `fragment_hold_datagrams`): the oldest held
//!   datagrams make room first; each datagram placed early is counted in `hold_overflowed`.
//!
//! The last two fall back to the rule used without holding: the 3-tuple pseudo-flow of the
//! datagram's first held fragment (see [`crate::engine`]), where a first fragment arriving
//! later may then be copied to its flow's sensor too (counted in `flow_conflicts`).
//!
//! Memory is bounded by the caps: at most `fragment_hold_datagrams` datagrams and
//! `fragment_hold_bytes / HOLD_OVERHEAD` packet records, whatever the rate of fragments.

use std::collections::{HashMap, VecDeque};

use crate::engine::Engine;
use crate::fragments::DatagramKey;
use crate::packet::{Nanos, PacketMeta};
use crate::sensor::SensorSet;

/// The caller's name for a held packet (an index into its own store, say).
pub type HoldHandle = u64;

/// Bytes of bookkeeping counted against `fragment_hold_bytes` for every held packet, beside
/// its captured length: the engine's record of it and the caller's.
pub const HOLD_OVERHEAD: usize = 256;

/// What to do with a packet handed to [`Engine::handle_or_hold`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Deliver it now to these sensors (empty: dropped and counted as `no_sensor_available`).
    Send(SensorSet),
    /// Keep it under its handle: [`Engine::released`] gives its sensors later.
    Held,
}

/// One held packet, on its datagram's list.
#[derive(Clone, Copy, Debug)]
struct HeldPacket {
    meta: PacketMeta,
    handle: HoldHandle,
    next: u32,
}

/// One held datagram: its packets in arrival order.
#[derive(Clone, Copy, Debug)]
struct HeldDatagram {
    head: u32,
    tail: u32,
    since: Nanos,
}

const NIL: u32 = u32::MAX;

/// The held datagrams. See the module documentation.
#[derive(Debug)]
pub(crate) struct FragmentHold {
    limit: Nanos,
    max_bytes: usize,
    max_datagrams: usize,
    map: HashMap<DatagramKey, HeldDatagram>,
    /// Datagrams in the order their holds began (entries of datagrams placed since are stale:
    /// `since` no longer matches).
    order: VecDeque<(Nanos, DatagramKey)>,
    packets: Vec<HeldPacket>,
    free: Vec<u32>,
    bytes: usize,
    held: usize,
    /// Released packets the caller has not collected yet.
    released: Vec<(HoldHandle, SensorSet)>,
}

impl FragmentHold {
    /// Holding for `limit` (0: never hold) within `max_bytes` and `max_datagrams`.
    pub(crate) fn new(limit: Nanos, max_bytes: usize, max_datagrams: usize) -> Self {
        FragmentHold {
            limit,
            max_bytes,
            max_datagrams,
            map: HashMap::new(),
            order: VecDeque::new(),
            packets: Vec::new(),
            free: Vec::new(),
            bytes: 0,
            held: 0,
            released: Vec::new(),
        }
    }

    fn cost(p: &PacketMeta) -> usize {
        p.cap_len as usize + HOLD_OVERHEAD
    }

    /// True when a packet of `cost` bytes of datagram `key` fits without making room.
    fn fits(&self, key: &DatagramKey, cost: usize) -> bool {
        let room = self.bytes + cost <= self.max_bytes;
        room && (self.map.contains_key(key) || self.map.len() < self.max_datagrams)
    }

    /// Hold `p` (the caller checked [`FragmentHold::fits`]).
    fn push(&mut self, key: DatagramKey, p: &PacketMeta, handle: HoldHandle, now: Nanos) {
        let rec = HeldPacket {
            meta: *p,
            handle,
            next: NIL,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.packets[i as usize] = rec;
                i
            }
            None => {
                self.packets.push(rec);
                (self.packets.len() - 1) as u32
            }
        };
        self.bytes += Self::cost(p);
        self.held += 1;
        match self.map.get_mut(&key) {
            Some(d) => {
                if let Some(t) = self.packets.get_mut(d.tail as usize) {
                    t.next = idx;
                }
                d.tail = idx;
            }
            None => {
                self.map.insert(
                    key,
                    HeldDatagram {
                        head: idx,
                        tail: idx,
                        since: now,
                    },
                );
                self.order.push_back((now, key));
                if self.order.len() > 2 * self.max_datagrams + 16 {
                    let map = &self.map;
                    self.order
                        .retain(|(since, k)| map.get(k).is_some_and(|d| d.since == *since));
                }
            }
        }
    }

    /// The oldest held datagram, if its hold began at or before `before`.
    fn oldest(&mut self, before: Nanos) -> Option<DatagramKey> {
        while let Some(&(since, key)) = self.order.front() {
            if self.map.get(&key).is_some_and(|d| d.since == since) {
                return (since <= before).then_some(key);
            }
            self.order.pop_front();
        }
        None
    }

    /// The first held packet of `key`.
    fn first(&self, key: &DatagramKey) -> Option<PacketMeta> {
        let d = self.map.get(key)?;
        self.packets.get(d.head as usize).map(|p| p.meta)
    }

    /// Take `key` off hold: its packets' (handle, captured length), in arrival order, into
    /// `out`.
    fn take(&mut self, key: &DatagramKey, out: &mut Vec<(HoldHandle, u32)>) {
        let Some(d) = self.map.remove(key) else {
            return;
        };
        let mut at = d.head;
        while let Some(p) = self.packets.get(at as usize) {
            out.push((p.handle, p.meta.cap_len));
            self.bytes -= Self::cost(&p.meta);
            self.held -= 1;
            self.free.push(at);
            at = p.next;
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        crate::stats::hash_map_bytes::<DatagramKey, HeldDatagram>(self.map.capacity())
            + self.order.capacity() * size_of::<(Nanos, DatagramKey)>()
            + self.packets.capacity() * size_of::<HeldPacket>()
            + self.free.capacity() * 4
            + self.released.capacity() * size_of::<(HoldHandle, SensorSet)>()
    }
}

impl Engine {
    /// Decide where a packet goes, or hold it: see the module documentation. After every
    /// call, collect [`Engine::released`] and deliver those first.
    pub fn handle_or_hold(&mut self, p: &PacketMeta, handle: HoldHandle) -> Decision {
        self.decide(p, Some(handle))
    }

    /// Move the packets released since the last call, `(handle, sensors)` in the order they
    /// arrived per datagram and datagrams in the order they were placed, to the end of `out`.
    /// An empty set means the packet was dropped (counted as `no_sensor_available`).
    pub fn released(&mut self, out: &mut Vec<(HoldHandle, SensorSet)>) {
        out.append(&mut self.hold.released);
    }

    /// Packets held now (handed over, not yet released).
    pub fn held_packets(&self) -> usize {
        self.hold.held
    }

    /// When the oldest hold reaches its time limit: [`Engine::tick`] at that time releases
    /// it. `None` when nothing is held. (A live caller waits no longer than this.)
    pub fn hold_deadline(&mut self) -> Option<Nanos> {
        let key = self.hold.oldest(Nanos::MAX)?;
        let since = self.hold.map.get(&key)?.since;
        Some(since.saturating_add(self.hold.limit))
    }

    /// Try to hold `p`, a non-first fragment of the unplaced datagram `key`, making room by
    /// placing the oldest held datagrams. False (counted) when it cannot be held: the caller
    /// places it by the fallback rule, its datagram's held packets with it.
    pub(crate) fn try_hold(
        &mut self,
        key: DatagramKey,
        p: &PacketMeta,
        handle: HoldHandle,
    ) -> bool {
        let cost = FragmentHold::cost(p);
        if self.hold.limit == 0 {
            return false;
        }
        while !self.hold.fits(&key, cost) {
            match self.hold.oldest(Nanos::MAX) {
                Some(old) if old != key => {
                    self.frags.stats.hold_overflowed += 1;
                    self.fall_back(old);
                }
                _ => {
                    self.frags.stats.hold_overflowed += 1;
                    return false;
                }
            }
        }
        self.hold.push(key, p, handle, self.now);
        self.frags.stats.held += 1;
        true
    }

    /// Place the datagrams whose hold began `fragment_hold` or more before `now`.
    pub(crate) fn expire_holds(&mut self, now: Nanos) {
        let before = now.saturating_sub(self.hold.limit);
        while let Some(key) = self.hold.oldest(before) {
            self.frags.stats.hold_expired += 1;
            self.fall_back(key);
        }
    }

    /// Place every held datagram (end of input).
    pub(crate) fn expire_all_holds(&mut self) {
        while let Some(key) = self.hold.oldest(Nanos::MAX) {
            self.frags.stats.hold_expired += 1;
            self.fall_back(key);
        }
    }

    /// Place a held datagram by the rule used without holding: the pseudo-flow of its first
    /// held fragment; every held fragment follows.
    fn fall_back(&mut self, key: DatagramKey) {
        let Some(first) = self.hold.first(&key) else {
            return;
        };
        let sensors = self.handle_flow(&first, false, None);
        if !sensors.is_empty() {
            self.frags.insert(key, sensors, self.now);
        }
        self.release_held(&key, sensors);
    }

    /// The datagram `key` was placed on `sensors`: release its held fragments there.
    /// Returns how many were released.
    pub(crate) fn release_held(&mut self, key: &DatagramKey, sensors: SensorSet) -> usize {
        if self.hold.held == 0 {
            return 0;
        }
        let mut taken = std::mem::take(&mut self.take_buf);
        taken.clear();
        self.hold.take(key, &mut taken);
        for &(handle, cap_len) in &taken {
            self.account(sensors, cap_len);
            self.hold.released.push((handle, sensors));
        }
        let n = taken.len();
        self.take_buf = taken;
        n
    }

    /// Heap bytes of the hold's records (the frames themselves are the caller's).
    pub(crate) fn hold_heap_bytes(&self) -> usize {
        self.hold.heap_bytes() + self.take_buf.capacity() * 16
    }
}

#[cfg(test)]
#[path = "hold_tests.rs"]
mod tests;
