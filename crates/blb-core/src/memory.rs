//! Memory accounting: the heap bytes each bounded structure of the engine holds, from its
//! containers' capacities. Every one is bounded by a setting, whatever the rate of the
//! traffic or the length of the capture (docs/memory.md gives the bytes per entry and the
//! ceiling they add up to).

use crate::engine::Engine;

/// Heap bytes held by each bounded structure of an engine (the balancer's own excepted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryUse {
    /// Flow table: entries, index, free list and timer wheel.
    pub flows: usize,
    /// Fragment table.
    pub fragments: usize,
    /// Held fragments' records (the frames are the caller's).
    pub hold: usize,
    /// Destination spread.
    pub destinations: usize,
    /// Per-second load samples.
    pub load_samples: usize,
}

impl MemoryUse {
    /// The sum.
    pub fn total(&self) -> usize {
        self.flows + self.fragments + self.hold + self.destinations + self.load_samples
    }
}

impl Engine {
    /// Heap bytes held by each bounded structure (the balancer's own excepted).
    pub fn memory(&self) -> MemoryUse {
        MemoryUse {
            flows: self.flows.heap_bytes(),
            fragments: self.frags.heap_bytes(),
            hold: self.hold_heap_bytes(),
            destinations: self.stats.destinations.heap_bytes(),
            load_samples: self.seconds.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::balancer::{HashBalancer, HashKey, HashMode};
    use crate::packet::{Addr, NANOS_PER_SEC, PacketMeta, proto, tcp_flags};
    use crate::{Engine, EngineConfig};

    #[test]
    fn a_long_flood_stays_within_the_caps() {
        // 200 new flows a second, each to a new destination, for 5 000 s of capture time,
        // through small caps: the heap is set by the caps, not by the flood or its length.
        let mut cfg = EngineConfig::new(4, 1e6);
        cfg.flow_cap = 500;
        cfg.destination_cap = 300;
        cfg.load_history_seconds = 100;
        let b = HashBalancer::new(4, HashMode::FiveTuple, HashKey([2; 16]));
        let mut e = Engine::new(cfg, Box::new(b)).expect("engine");
        let mut peak = super::MemoryUse::default();
        for i in 0..1_000_000u32 {
            let p = PacketMeta {
                ts: u64::from(i) * NANOS_PER_SEC / 200,
                src: Addr::v4((i | 1 << 31).to_be_bytes()),
                dst: Addr::v4((i | 1 << 30).to_be_bytes()),
                src_port: 1024,
                dst_port: 80,
                has_ports: true,
                protocol: proto::TCP,
                tcp_flags: tcp_flags::SYN,
                cap_len: 60,
                wire_len: 60,
                ..Default::default()
            };
            e.handle(&p);
            let m = e.memory();
            peak.flows = peak.flows.max(m.flows);
            peak.destinations = peak.destinations.max(m.destinations);
            peak.load_samples = peak.load_samples.max(m.load_samples);
        }
        e.finish();
        assert_eq!(e.load_totals().seconds, 5000);
        assert_eq!(e.seconds().len(), 100);
        assert_eq!(e.seconds().last().map(|s| s.second), Some(4999));
        assert_eq!(e.stats().destinations.untracked_flows, 1_000_000 - 300);
        let flow = std::mem::size_of::<crate::flow_table::Flow>() + 4;
        let key = std::mem::size_of::<(crate::flow_key::FlowKey, u32)>() + 1;
        assert!(
            peak.flows <= 512 * flow + 2048 * key + 4096 + 64,
            "{peak:?}"
        );
        assert!(peak.destinations <= 512 * 41 + 16, "{peak:?}");
        let sample = std::mem::size_of::<crate::load::SecondSample>();
        assert!(peak.load_samples <= 200 * sample + 64, "{peak:?}");
    }
}
