//! The balancing workers. Each one drains its own capture ring of every interface (one
//! `PACKET_FANOUT_HASH` group per interface, [`blb_live::capture::fanout`]), parses each frame
//! and hands it to the one engine they share: capture, parsing and waiting run in parallel,
//! and every decision is still made by one engine over all the traffic, so correlation,
//! failover, fragments held for their first fragment and the sensors' loads are exactly those
//! of one worker. The kernel keeps both directions of a connection, and every fragment of a
//! datagram, in one ring, in wire order; frames of different rings interleave at the lock.
//!
//! A worker copies up to [`CHUNK`] parsed frames into a buffer of its own, then takes the
//! engine's lock once for all of them: with a lock per frame, two threads on known flows made
//! 3.5–3.6 M decisions/s between them, with one per 64 frames 3.8–4.8 M, one thread alone
//! 5.6–5.7 M (`cargo bench -p blb-daemon --bench packet_path -- shared_engine`). With one worker the lock
//! is taken once per burst and frames are decided straight from the ring.
//!
//! Worker 0 runs on the main thread and does everything else (commands, health checks,
//! timers, snapshots; see `run`). The others only capture; each publishes its rings'
//! counters on a [`Board`] for the snapshots.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use blb_core::packet::PacketMeta;
use blb_live::Frame;
use blb_live::capture::{CaptureStats, PacketSource, wait_readable};

use super::metrics::CaptureSnap;
use super::settings::LiveSettings;
use super::{BURST, Loop, TICK};

/// Frames a worker parses and copies before it takes the shared engine's lock for them.
pub(super) const CHUNK: usize = 64;

/// Frames parsed and copied, waiting for the engine's lock: their bytes back to back.
struct Staged {
    bytes: Vec<u8>,
    frames: Vec<(u64, u32, std::ops::Range<usize>, PacketMeta)>,
}

impl Staged {
    fn new() -> Staged {
        Staged {
            bytes: Vec::with_capacity(CHUNK * 2048),
            frames: Vec::with_capacity(CHUNK),
        }
    }

    fn push(&mut self, frame: &Frame<'_>, meta: PacketMeta) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(frame.data);
        self.frames
            .push((frame.ts, frame.wire_len, start..self.bytes.len(), meta));
    }

    /// Decide and queue every staged frame, in order, and empty the buffer.
    fn take_into(&mut self, looped: &mut Loop, link_type: u32) {
        for (ts, wire_len, range, meta) in self.frames.drain(..) {
            let data = &self.bytes[range];
            looped.take_frame(link_type, Frame { ts, wire_len, data }, &meta);
        }
        self.bytes.clear();
    }
}

/// Lock the shared loop; a worker that panicked while holding it left it usable (each frame
/// is taken whole or not at all), so a poisoned lock is taken anyway.
pub(super) fn lock<'m, 'a>(shared: &'m Mutex<Loop<'a>>) -> MutexGuard<'m, Loop<'a>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the workers publish for the snapshots, and the first fatal error of any of them.
pub(super) struct Board {
    interfaces: Vec<String>,
    /// Per worker, its rings' counters, one per interface.
    capture: Vec<Mutex<Vec<CaptureStats>>>,
    /// Frames each worker took.
    frames: Vec<AtomicU64>,
    /// Set when a worker can no longer wait for frames; every worker then stops.
    pub halt: AtomicBool,
    fatal: Mutex<Option<anyhow::Error>>,
}

impl Board {
    pub(super) fn new(workers: usize, interfaces: &[String]) -> Board {
        Board {
            interfaces: interfaces.to_vec(),
            capture: (0..workers)
                .map(|_| Mutex::new(vec![CaptureStats::default(); interfaces.len()]))
                .collect(),
            frames: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            halt: AtomicBool::new(false),
            fatal: Mutex::new(None),
        }
    }

    /// Every interface's counters, summed over the workers' rings.
    pub(super) fn capture(&self) -> Vec<CaptureSnap> {
        let mut sum = vec![CaptureStats::default(); self.interfaces.len()];
        for w in &self.capture {
            let w = w.lock().unwrap_or_else(PoisonError::into_inner);
            for (s, c) in sum.iter_mut().zip(w.iter()) {
                s.received += c.received;
                s.dropped += c.dropped;
            }
        }
        sum.iter()
            .zip(&self.interfaces)
            .map(|(c, name)| CaptureSnap {
                interface: name.clone(),
                received: c.received,
                dropped: c.dropped,
            })
            .collect()
    }

    /// Frames each worker took so far.
    pub(super) fn frames(&self) -> Vec<u64> {
        self.frames
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .collect()
    }

    /// A worker cannot wait for frames any more: remember the first such error, stop all.
    fn fail(&self, e: anyhow::Error) {
        let mut f = self.fatal.lock().unwrap_or_else(PoisonError::into_inner);
        f.get_or_insert(e);
        self.halt.store(true, Ordering::Relaxed);
    }

    /// The error a worker stopped on, if one did.
    pub(super) fn take_fatal(&self) -> Option<anyhow::Error> {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// One worker's rings (one per capture interface, in the order of `--interface`).
pub(super) struct Capture {
    worker: usize,
    sources: Vec<Box<dyn PacketSource>>,
    pub(super) fds: Vec<RawFd>,
    /// Per source, the error it last failed with (said once, until it works again).
    errors: Vec<Option<String>>,
    /// Whether other workers share the loop (then its lock is taken per frame).
    shared: bool,
    /// Which headers decide a tunnelled packet's flow.
    tunnels: blb_wire::Tunnels,
    staged: Staged,
    frames: u64,
}

impl Capture {
    pub(super) fn new(
        worker: usize,
        sources: Vec<Box<dyn PacketSource>>,
        shared: bool,
        tunnels: blb_wire::Tunnels,
    ) -> Self {
        Capture {
            worker,
            fds: sources.iter().map(|s| s.raw_fd()).collect(),
            errors: vec![None; sources.len()],
            sources,
            shared,
            tunnels,
            staged: Staged::new(),
            frames: 0,
        }
    }

    /// The worker's number (0 runs on the main thread).
    pub(super) fn worker(&self) -> usize {
        self.worker
    }

    /// Drain every source once; returns the frames taken and whether any source failed. A
    /// capture interface that goes down (a cable pulled, a flapping tap) must not stop the
    /// balancer: its failure is said once, and the source is tried again.
    pub(super) fn drain_all(&mut self, shared: &Mutex<Loop>) -> (usize, bool) {
        let (mut got, mut failing) = (0, false);
        for k in 0..self.sources.len() {
            match self.drain(k, shared) {
                Ok(n) => {
                    got += n;
                    if n > 0 && self.errors[k].take().is_some() {
                        tracing::info!(
                            interface = self.sources[k].name(),
                            worker = self.worker,
                            "capture works again"
                        );
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    if self.errors[k].as_deref() != Some(msg.as_str()) {
                        tracing::error!(interface = self.sources[k].name(), worker = self.worker, error = %msg, "capture failed; retrying");
                        self.errors[k] = Some(msg);
                    }
                    failing = true;
                }
            }
        }
        self.frames += got as u64;
        (got, failing)
    }

    /// Drain source `k`: parse each frame ready, then decide and queue it in the shared loop
    /// (alone: straight from the ring, under one lock; with other workers: [`CHUNK`] frames
    /// at a time, copied first).
    fn drain(&mut self, k: usize, shared: &Mutex<Loop>) -> anyhow::Result<usize> {
        let src = self.sources[k].as_mut();
        let (link_type, tunnels) = (src.link_type(), self.tunnels);
        let parse =
            |f: &Frame<'_>| blb_wire::parse_with(tunnels, link_type, f.ts, f.wire_len, f.data);
        if !self.shared {
            let mut looped = lock(shared);
            let n = src.drain(BURST, &mut |frame| {
                let meta = parse(&frame);
                looped.take_frame(link_type, frame, &meta);
            })?;
            looped.settle_drops();
            return Ok(n);
        }
        let staged = &mut self.staged;
        let n = src.drain(BURST, &mut |frame| {
            staged.push(&frame, parse(&frame));
            if staged.frames.len() >= CHUNK {
                staged.take_into(&mut lock(shared), link_type);
            }
        });
        // What was staged goes out even when the source failed after it.
        let mut looped = lock(shared);
        staged.take_into(&mut looped, link_type);
        looped.settle_drops();
        Ok(n?)
    }

    /// Publish this worker's counters on the board.
    pub(super) fn publish(&mut self, board: &Board) {
        let stats: Vec<CaptureStats> = self
            .sources
            .iter_mut()
            .map(|s| s.stats().unwrap_or_default())
            .collect();
        if let Some(slot) = board.capture.get(self.worker) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = stats;
        }
        if let Some(f) = board.frames.get(self.worker) {
            f.store(self.frames, Ordering::Relaxed);
        }
    }

    /// [`run`](Self::run), and should it panic, the board says so and every worker stops:
    /// the run ends with a summary and an error naming the worker, not with a crash.
    pub(super) fn run_guarded(&mut self, shared: &Mutex<Loop>, board: &Board, live: &LiveSettings) {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run(shared, board, live)
        }));
        if ran.is_err() {
            board.fail(anyhow::anyhow!(
                "balancing worker {} failed (a panic)",
                self.worker
            ));
        }
    }

    /// A worker other than the first: capture until the board halts, then take what was
    /// captured and publish the last counters.
    pub(super) fn run(&mut self, shared: &Mutex<Loop>, board: &Board, live: &LiveSettings) {
        let mut next_publish = Instant::now();
        while !board.halt.load(Ordering::Relaxed) {
            let (got, failing) = self.drain_all(shared);
            if failing && got == 0 {
                std::thread::sleep(TICK);
            }
            if got == 0 {
                lock(shared).flush();
                if let Err(e) = wait_readable(&self.fds, 20) {
                    board.fail(anyhow::Error::new(e));
                    break;
                }
            }
            if Instant::now() >= next_publish {
                self.publish(board);
                next_publish = Instant::now() + TICK;
            }
        }
        self.take_captured(shared, live);
        self.publish(board);
    }

    /// Take the frames already captured: stop each capture, then drain until the kernel has
    /// handed over the block it was filling (after the block timeout).
    pub(super) fn take_captured(&mut self, shared: &Mutex<Loop>, live: &LiveSettings) {
        for src in self.sources.iter_mut() {
            if let Err(e) = src.stop() {
                tracing::warn!(interface = src.name(), error = %e, "cannot stop the capture");
            }
        }
        let settle = Duration::from_millis(u64::from(live.ring_block_timeout_ms) * 2 + 50)
            .min(Duration::from_secs(2));
        let until = Instant::now() + settle;
        let hard_stop = until + Duration::from_secs(1);
        loop {
            let (got, _) = self.drain_all(shared);
            let now = Instant::now();
            if (now >= until && got == 0) || now >= hard_stop {
                break;
            }
            if got == 0 {
                let _ = wait_readable(&self.fds, 10);
            }
        }
        lock(shared).flush();
    }
}
