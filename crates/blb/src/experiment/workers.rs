//! Several live balancing workers, simulated (`blb experiment --workers K`): the order in
//! which K workers hand the traffic to the engine they share.
//!
//! Live, the kernel spreads the capture over K rings by its symmetric flow hash (ports left
//! out for fragments), and each worker drains its own ring a block at a time; the engine
//! then sees the frames of different rings interleaved, not in wire order. The model here
//! is the worst that happens at the experiment's rates: a block is handed over when its
//! timeout ends (10 ms, `[live] ring_block_timeout_ms`), each ring's blocks on their own
//! phase, and a handed-over block is taken whole before the next ring's. Within a ring, the
//! wire's order is kept. Only the engine's decisions see this order; the detectors behind
//! the sensors still see each packet at its own time.

use std::hash::{DefaultHasher, Hash, Hasher};

use blb_core::packet::{Nanos, PacketMeta};

/// The block timeout of a live ring (the default of `[live] ring_block_timeout_ms`).
pub const BLOCK_NS: Nanos = 10_000_000;

/// The ring (of `workers`) the kernel's symmetric hash would give `p`: both directions of
/// a connection alike, and every fragment of a datagram by its addresses and protocol.
pub fn ring_of(p: &PacketMeta, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let ports = p.fragment.is_none() && p.has_ports;
    let a = (p.src, if ports { p.src_port } else { 0 });
    let b = (p.dst, if ports { p.dst_port } else { 0 });
    let mut h = DefaultHasher::new();
    (a.min(b), a.max(b), p.protocol).hash(&mut h);
    (h.finish() % workers as u64) as usize
}

/// The indices of `packets` (in capture order) in the order K workers hand them to the
/// engine (module documentation). One worker: capture order.
pub fn arrival_order(packets: &[PacketMeta], workers: usize, block: Nanos) -> Vec<usize> {
    let mut order: Vec<usize> = (0..packets.len()).collect();
    if workers <= 1 {
        return order;
    }
    let block = block.max(1);
    let handed = |i: usize| {
        let p = &packets[i];
        let w = ring_of(p, workers);
        let phase = block / workers as u64 * w as u64;
        let over = (p.ts.saturating_add(phase) / block + 1) * block - phase;
        (over, w, i)
    };
    order.sort_by_cached_key(|&i| handed(i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use blb_core::packet::Addr;

    fn udp(ts: Nanos, src: u8, sport: u16, dst: u8, dport: u16) -> PacketMeta {
        PacketMeta {
            ts,
            src: Addr::v4([10, 0, 0, src]),
            dst: Addr::v4([10, 0, 1, dst]),
            src_port: sport,
            dst_port: dport,
            has_ports: true,
            protocol: 17,
            ..PacketMeta::default()
        }
    }

    #[test]
    fn both_directions_share_a_ring_and_one_worker_keeps_the_order() {
        for k in 1..6 {
            for c in 0..200u16 {
                let there = udp(0, c as u8, 1000 + c, 7, 53);
                let back = PacketMeta {
                    src: there.dst,
                    dst: there.src,
                    src_port: 53,
                    dst_port: 1000 + c,
                    ..there
                };
                assert_eq!(ring_of(&there, k), ring_of(&back, k));
                assert!(ring_of(&there, k) < k);
            }
        }
        let packets: Vec<_> = (0..100)
            .map(|i| udp(i * 1_000_000, i as u8, 9, 1, 2))
            .collect();
        assert_eq!(
            arrival_order(&packets, 1, BLOCK_NS),
            (0..100).collect::<Vec<_>>()
        );
    }

    #[test]
    fn rings_interleave_by_block_and_keep_their_own_order() {
        let packets: Vec<_> = (0..3000u64)
            .map(|i| udp(i * 100_000, (i % 50) as u8, 2000 + (i % 50) as u16, 1, 53))
            .collect();
        let order = arrival_order(&packets, 2, BLOCK_NS);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..3000).collect::<Vec<_>>(), "a permutation");
        assert_ne!(order, sorted, "two rings reorder");
        for w in 0..2 {
            let mine: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| ring_of(&packets[i], 2) == w)
                .collect();
            assert!(mine.windows(2).all(|p| p[0] < p[1]), "ring {w} reordered");
            assert!(!mine.is_empty());
        }
        // Nothing arrives more than two blocks late.
        let mut latest = 0;
        for &i in &order {
            latest = latest.max(packets[i].ts);
            assert!(latest - packets[i].ts <= 2 * BLOCK_NS);
        }
    }
}
