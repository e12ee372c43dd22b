//! Criterion benchmark of the live loop's per-packet path: parse, engine, enqueue (into
//! queues whose delivery threads discard), for hash and blb, on known flows (the steady
//! state, which allocates nothing: tests/it/alloc.rs) and on new flows; and the same known
//! flows from 1 and 2 threads sharing one engine behind a lock, taken per frame or per 64
//! frames as the live workers do (wall time per frame: the rate the shared engine lets all
//! workers reach together).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../tests/it/packet_path.rs"]
mod packet_path;

use packet_path::{Path, frames, parse, udp_frame};

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

fn shared_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("packet_path/shared_engine");
    let frames = frames(2_000, 64);
    g.throughput(Throughput::Elements(frames.len() as u64));
    for algorithm in ["hash", "blb"] {
        let path = Mutex::new(Path::new(algorithm));
        for f in &frames {
            path.lock().unwrap().step(1_000_000_000, f);
        }
        for (threads, chunk) in [(1usize, 64usize), (2, 1), (2, 64)] {
            let name = format!("{algorithm}/{threads}_threads_lock_per_{chunk}");
            g.bench_function(name.as_str(), |b| {
                b.iter_custom(|iters| run_shared(&path, &frames, threads, chunk, iters))
            });
        }
    }
    g.finish();
}

/// `iters` passes over `frames`, split between `threads` threads (each its own flows, as
/// the kernel's fanout gives each worker its own connections), each parsing `chunk` frames
/// before it takes the lock for them (the live workers also copy them first, which 64-byte
/// frames make negligible); wall time.
fn run_shared(
    path: &Mutex<Path>,
    frames: &[Vec<u8>],
    threads: usize,
    chunk: usize,
    iters: u64,
) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut ts = 2_000_000_000u64;
                let mut staged = Vec::with_capacity(chunk);
                for _ in 0..iters {
                    // Frames come in request/reply pairs: a thread takes every pair k with
                    // k mod threads = t.
                    for pair in frames.chunks(2).skip(t).step_by(threads) {
                        for f in pair {
                            staged.push((ts, f, parse(ts, f)));
                            ts += 1_000;
                            if staged.len() >= chunk {
                                let mut p = path.lock().unwrap_or_else(PoisonError::into_inner);
                                for (ts, f, meta) in staged.drain(..) {
                                    p.decide(ts, f, &meta);
                                }
                            }
                        }
                    }
                    let mut p = path.lock().unwrap_or_else(PoisonError::into_inner);
                    for (ts, f, meta) in staged.drain(..) {
                        p.decide(ts, f, &meta);
                    }
                }
            });
        }
    });
    start.elapsed()
}

criterion_group!(benches, known_flows, new_flows, shared_engine);
criterion_main!(benches);
