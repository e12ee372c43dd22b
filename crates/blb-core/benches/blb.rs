//! Criterion benchmark of the BLB decision per new flow, brute force and indexed in one group,
//! for the paper's BLB and robust BLB (with per-second noise on every sensor, so its
//! noise-aware constraint does its full work), with 100, 1 000 and 10 000 live clusters.

use std::hint::black_box;

use blb_core::balancer::{Balancer, FlowContext};
use blb_core::blb::{BlbBalancer, BlbConfig, FlowLoad, SearchMode, Variant};
use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::packet::{Addr, NANOS_PER_SEC, PacketMeta, proto};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A deterministic pseudo-random flow: sources and destinations spread over a /8 of victims and
/// public sources, destination ports over common and random ports, TCP/UDP/ICMP.
fn flow(i: u64, ts: u64) -> PacketMeta {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ i;
    let protocol = [proto::TCP, proto::TCP, proto::UDP, proto::ICMP][(h % 4) as usize];
    let ports = [80u16, 443, 53, 22, 25, 8080];
    let dst_port = if h.is_multiple_of(3) {
        ports[(h >> 8) as usize % ports.len()]
    } else {
        (h >> 16) as u16 | 1024
    };
    PacketMeta {
        ts,
        src: Addr::v4(((h >> 24) as u32 | 0x4000_0000).to_be_bytes()),
        dst: Addr::v4((0x0a00_0000 | ((h >> 40) as u32 & 0x00ff_ffff)).to_be_bytes()),
        src_port: 40000,
        dst_port,
        has_ports: protocol != proto::ICMP,
        protocol,
        cap_len: 600,
        wire_len: 600,
        ..Default::default()
    }
}

/// A balancer holding `clusters` live clusters, created over 100 s (so weights differ): while it
/// is built the loads break the variance bound on every sensor, so P has no solution and each
/// flow creates a cluster; th_w = 0 and a large m_max keep them all.
fn balancer(variant: Variant, search: SearchMode, clusters: usize) -> BlbBalancer {
    let cfg = BlbConfig {
        search,
        train_flows: 0,
        flow_load: FlowLoad::Fixed(1000.0),
        m_max: 1 << 20,
        cluster_cap: 1 << 21,
        th_w: 0.0,
        ..BlbConfig::for_variant(variant)
    };
    let mut b = BlbBalancer::new(vec![10e6; 10], cfg).expect("settings");
    let mut i = 0u64;
    while b.clusters().len() < clusters {
        // Every sensor at 100 % but one at 0: the variance (900) breaks V everywhere, and the
        // new cluster goes to the idle sensor, a different one each time.
        let mut loads = [100.0; 10];
        loads[(i % 10) as usize] = 0.0;
        let p = flow(i, NANOS_PER_SEC + i * 100 * NANOS_PER_SEC / clusters as u64);
        let (key, _) = FlowKey::from_packet(&p, KeyOptions::default(), true);
        b.assign(&FlowContext {
            packet: &p,
            key: &key,
            loads: &loads,
            noise: &[],
            now: p.ts,
            live_flows: 1000,
            in_service: blb_core::sensor::SensorSet::all(loads.len()),
        });
        i += 1;
    }
    b
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("blb_decision");
    let probes: Vec<PacketMeta> = (0..1000u64)
        .map(|i| flow(1_000_000 + i, 102 * NANOS_PER_SEC))
        .collect();
    let keys: Vec<FlowKey> = probes
        .iter()
        .map(|p| FlowKey::from_packet(p, KeyOptions::default(), true).0)
        .collect();
    let loads = [1.0, 2.0, 0.5, 3.0, 1.0, 1.5, 0.0, 2.5, 1.0, 0.8];
    let noise = [0.1, 0.3, 0.05, 0.4, 0.1, 0.2, 0.0, 0.3, 0.1, 0.1];
    g.throughput(Throughput::Elements(probes.len() as u64));
    for clusters in [100usize, 1_000, 10_000] {
        for (name, variant, mode) in [
            ("paper/indexed", Variant::Paper, SearchMode::Indexed),
            ("paper/brute_force", Variant::Paper, SearchMode::BruteForce),
            ("robust/indexed", Variant::Robust, SearchMode::Indexed),
            (
                "robust/brute_force",
                Variant::Robust,
                SearchMode::BruteForce,
            ),
        ] {
            // Built once. Under the paper's BLB the probes then join clusters (or, rarely,
            // create one), so the set stays near `clusters`; robust BLB's join distance keeps
            // these unrelated probes apart, so most create a cluster and the set grows during
            // the run: its figure is for the costlier path (search, then insertion).
            let mut bal = balancer(variant, mode, clusters);
            g.bench_function(BenchmarkId::new(name, clusters), |b| {
                b.iter(|| {
                    for (p, k) in probes.iter().zip(&keys) {
                        black_box(bal.assign(&FlowContext {
                            packet: p,
                            key: k,
                            loads: &loads,
                            noise: &noise,
                            now: p.ts,
                            live_flows: 1000,
                            in_service: blb_core::sensor::SensorSet::all(loads.len()),
                        }));
                    }
                })
            });
        }
    }
    g.finish();
}

/// One slice of the warm-up's k-medoids (what one new flow waits for during the start), at
/// the largest start (2 000 flows), in its costliest phase: filling the distance matrix, a
/// logical distance per unit of work.
fn start_slice(c: &mut Criterion) {
    let cfg = BlbConfig::paper();
    let d = blb_core::blb::Distance::new(cfg.distance).expect("distance");
    let points: Vec<_> = (0..blb_core::blb::MAX_TRAIN_FLOWS as u64)
        .map(|i| d.point(&flow(i, 0)))
        .collect();
    let dist = |i: usize, j: usize| d.distance(&points[i], &points[j]);
    let mut g = c.benchmark_group("blb_start");
    g.sample_size(20);
    g.bench_function("slice/2000", |b| {
        b.iter_batched(
            || blb_core::blb::kmedoids::PamJob::new(points.len(), 10, 50),
            |mut job| {
                black_box(job.step(&dist, blb_core::blb::START_SLICE).is_some());
                job
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench, start_slice);
criterion_main!(benches);
