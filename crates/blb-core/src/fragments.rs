//! The fragment table: remembers where each fragmented IP datagram went, so that every
//! fragment of a datagram reaches the same sensor.
//!
//! Entries live for a fixed reassembly timeout from the datagram's first sighting (30 s by
//! default, as Linux's `ipfrag_time`), so a FIFO queue expires them exactly; a hard cap bounds
//! memory under a fragment flood, evicting the oldest datagram first (counted).

use std::collections::{HashMap, VecDeque};

use crate::packet::{Addr, Nanos, PacketMeta};
use crate::sensor::SensorSet;

/// Identifies one IP datagram: addresses, protocol and identification field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatagramKey {
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Transport protocol number.
    pub protocol: u8,
    /// IP identification.
    pub id: u32,
}

impl DatagramKey {
    /// The datagram a fragment belongs to: by the fragmented header's addresses and protocol,
    /// which are the packet's own unless the flow was read inside a fragmented outer datagram
    /// (then [`crate::tunnel::Tunnel::datagram`] names the outer header, which the datagram's
    /// later fragments carry).
    pub fn of(p: &PacketMeta, id: u32) -> Self {
        match p.tunnel.datagram {
            Some(h) => DatagramKey {
                src: h.src,
                dst: h.dst,
                protocol: h.protocol,
                id,
            },
            None => DatagramKey {
                src: p.src,
                dst: p.dst,
                protocol: p.protocol,
                id,
            },
        }
    }
}

/// Counters of the fragment table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FragmentStats {
    /// Datagrams tracked.
    pub datagrams: u64,
    /// Datagrams forgotten because the table was full.
    pub evicted: u64,
    /// Non-first fragments that arrived before their datagram's first fragment.
    pub out_of_order: u64,
    /// First fragments whose 5-tuple flow was already on another sensor than the rest of
    /// their datagram (the first fragment is then copied to both; see the engine docs).
    pub flow_conflicts: u64,
    /// Non-first fragments held until their first fragment arrived (see [`crate::hold`]).
    pub held: u64,
    /// Held datagrams placed by the 3-tuple fallback because their first fragment did not
    /// arrive within `fragment_hold` (or before the end of input).
    pub hold_expired: u64,
    /// Held datagrams placed by the 3-tuple fallback early, to keep the hold within
    /// `fragment_hold_bytes` and `fragment_hold_datagrams`.
    pub hold_overflowed: u64,
}

/// The fragment table. See the module documentation.
#[derive(Debug)]
pub struct FragmentTable {
    map: HashMap<DatagramKey, (SensorSet, Nanos)>,
    queue: VecDeque<(Nanos, DatagramKey)>,
    timeout: Nanos,
    cap: usize,
    /// Counters, updated by the table and by the engine.
    pub stats: FragmentStats,
}

impl FragmentTable {
    /// A table with the given reassembly timeout and cap (at least 1).
    pub fn new(timeout: Nanos, cap: usize) -> Self {
        FragmentTable {
            map: HashMap::new(),
            queue: VecDeque::new(),
            timeout,
            cap: cap.max(1),
            stats: FragmentStats::default(),
        }
    }

    /// Where the datagram went, if it is known.
    pub fn get(&self, key: &DatagramKey) -> Option<SensorSet> {
        self.map.get(key).map(|&(s, _)| s)
    }

    /// Remember where a datagram goes.
    pub fn insert(&mut self, key: DatagramKey, sensors: SensorSet, now: Nanos) {
        if !self.map.contains_key(&key) && self.map.len() >= self.cap {
            while let Some((deadline, old)) = self.queue.pop_front() {
                if self.map.get(&old).is_some_and(|&(_, d)| d == deadline) {
                    self.map.remove(&old);
                    self.stats.evicted += 1;
                    break;
                }
            }
        }
        let deadline = now.saturating_add(self.timeout);
        if self.map.insert(key, (sensors, deadline)).is_none() {
            self.stats.datagrams += 1;
        }
        self.queue.push_back((deadline, key));
    }

    /// Forget datagrams whose timeout has passed.
    pub fn advance(&mut self, now: Nanos) {
        while let Some(&(deadline, key)) = self.queue.front() {
            if deadline > now {
                break;
            }
            self.queue.pop_front();
            if self.map.get(&key).is_some_and(|&(_, d)| d == deadline) {
                self.map.remove(&key);
            }
        }
    }

    /// Forget every datagram that went to `sensor` (it left service; later fragments are
    /// placed afresh, by their pseudo-flow). Returns how many were forgotten.
    pub fn forget_sensor(&mut self, sensor: crate::sensor::SensorId) -> u64 {
        let before = self.map.len();
        self.map.retain(|_, (s, _)| !s.contains(sensor));
        (before - self.map.len()) as u64
    }

    /// Bytes of heap held: grows to the peak of tracked datagrams, never past the cap's.
    pub fn heap_bytes(&self) -> usize {
        crate::stats::hash_map_bytes::<DatagramKey, (SensorSet, Nanos)>(self.map.capacity())
            + self.queue.capacity() * std::mem::size_of::<(Nanos, DatagramKey)>()
    }

    /// Datagrams tracked now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no datagram is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::NANOS_PER_SEC as S;

    fn key(id: u32) -> DatagramKey {
        DatagramKey {
            src: Addr::v4([1, 2, 3, 4]),
            dst: Addr::v4([5, 6, 7, 8]),
            protocol: 17,
            id,
        }
    }

    #[test]
    fn remembers_until_timeout() {
        let mut t = FragmentTable::new(30 * S, 10);
        t.insert(key(1), SensorSet::one(3), 100 * S);
        t.advance(129 * S);
        assert_eq!(t.get(&key(1)), Some(SensorSet::one(3)));
        t.advance(130 * S);
        assert_eq!(t.get(&key(1)), None);
        assert!(t.is_empty());
    }

    #[test]
    fn cap_evicts_oldest() {
        let mut t = FragmentTable::new(30 * S, 2);
        t.insert(key(1), SensorSet::one(0), S);
        t.insert(key(2), SensorSet::one(1), 2 * S);
        t.insert(key(3), SensorSet::one(2), 3 * S);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&key(1)), None);
        assert_eq!(t.get(&key(3)), Some(SensorSet::one(2)));
        assert_eq!(t.stats.evicted, 1);
    }
}
