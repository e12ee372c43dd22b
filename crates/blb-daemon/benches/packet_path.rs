//! Criterion benchmark of the live loop's per-packet path: parse, engine, enqueue (into
//! queues whose delivery threads discard), for hash and blb, on known flows (the steady
//! state, which allocates nothing: tests/it/alloc.rs) and on new flows.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../tests/it/packet_path.rs"]
mod packet_path;

use packet_path::{Path, frames, udp_frame};

fn known_flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("packet_path/known_flows");
    let frames = frames(2_000, 64);
    g.throughput(Throughput::Elements(frames.len() as u64));
    for algorithm in ["hash", "blb"] {
        let mut path = Path::new(algorithm);
        let mut ts = 1_000_000_000u64;
        for f in &frames {
            path.step(ts, f);
            ts += 1_000;
        }
        g.bench_function(algorithm, |b| {
            b.iter(|| {
                for f in &frames {
                    path.step(ts, f);
                    ts += 1_000;
                }
            })
        });
    }
    g.finish();
}

fn new_flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("packet_path/new_flows");
    const N: usize = 4_096;
    g.throughput(Throughput::Elements(N as u64));
    for algorithm in ["hash", "blb"] {
        let mut path = Path::new(algorithm);
        let (mut ts, mut next) = (1_000_000_000u64, 0u32);
        let mut frame = udp_frame([10, 0, 0, 0], [192, 0, 2, 1], 1024, 80, 64);
        g.bench_function(algorithm, |b| {
            b.iter(|| {
                for _ in 0..N {
                    // A fresh source address and port per packet: every packet a new flow.
                    next = next.wrapping_add(1);
                    frame[27..30].copy_from_slice(&next.to_be_bytes()[1..]);
                    frame[34..36].copy_from_slice(&(next as u16 | 1024).to_be_bytes());
                    path.step(ts, &frame);
                    ts += 1_000;
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, known_flows, new_flows);
criterion_main!(benches);
