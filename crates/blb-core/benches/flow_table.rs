//! Criterion benchmarks of the flow table and the engine's per-packet path.

use std::hint::black_box;

use blb_core::balancer::{HashBalancer, HashKey, HashMode};
use blb_core::packet::{Addr, NANOS_PER_SEC, PacketMeta, proto};
use blb_core::{Engine, EngineConfig};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn packet(i: u32, ts: u64) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4(i.to_be_bytes()),
        dst: Addr::v4([10, 10, 10, 10]),
        src_port: (i % 50_000) as u16 + 1024,
        dst_port: 443,
        has_ports: true,
        protocol: proto::TCP,
        cap_len: 600,
        wire_len: 600,
        ..Default::default()
    }
}

fn engine(cap: usize) -> Engine {
    let mut cfg = EngineConfig::new(10, 125e6);
    cfg.flow_cap = cap;
    Engine::new(
        cfg,
        Box::new(HashBalancer::new(10, HashMode::FiveTuple, HashKey([1; 16]))),
    )
    .expect("engine")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    for live in [1_000u32, 100_000] {
        // Packets of known flows: the hot path.
        let mut e = engine(1 << 20);
        for i in 0..live {
            e.handle(&packet(i, NANOS_PER_SEC));
        }
        let pkts: Vec<PacketMeta> = (0..10_000u32)
            .map(|i| packet((i * 7919) % live, NANOS_PER_SEC))
            .collect();
        g.throughput(Throughput::Elements(pkts.len() as u64));
        g.bench_function(format!("known_flow_packets/{live}_live"), |b| {
            b.iter(|| {
                for p in &pkts {
                    black_box(e.handle(p));
                }
            })
        });
    }
    // New flows into a full table: every packet creates a flow and evicts one.
    let pkts: Vec<PacketMeta> = (0..10_000u32)
        .map(|i| packet(i + 1_000_000, NANOS_PER_SEC))
        .collect();
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("new_flows_at_cap_10000", |b| {
        b.iter_batched_ref(
            || {
                let mut e = engine(10_000);
                for i in 0..10_000u32 {
                    e.handle(&packet(i, NANOS_PER_SEC));
                }
                e
            },
            |e| {
                for p in &pkts {
                    black_box(e.handle(p));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
