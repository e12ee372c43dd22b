//! The bounded per-sensor queue: a sink on its own thread, batches, counted drops.
//!
//! The capture thread copies each frame into the current batch (one contiguous byte
//! buffer plus a small record per frame). A full batch — or a partial one at
//! [`SensorQueue::flush`] — is handed to the sensor's thread with `try_send` on a channel of
//! `depth` batches. When that channel is full the whole batch is dropped and counted, so a slow
//! or stuck sensor never stalls capture or the other sensors. Emptied batches come back through
//! a return channel, so the steady state allocates nothing.
//!
//! The sensor's thread hands each batch to its [`FrameSink`] whole
//! ([`FrameSink::send_batch`]: one `sendmmsg` per 1 024 frames for interfaces and VXLAN),
//! counts the outcomes (the shared counters move once per batch), and flushes the sink
//! whenever its input is momentarily empty.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{FrameBatch, FrameSink, SendError};
use crate::{Frame, LiveError};

/// Delivery counters of one sensor, shared between its queue, its thread and the metrics.
#[derive(Debug, Default)]
pub struct SensorCounters {
    /// Frames handed to the sensor's thread (in batches that were not dropped).
    pub queued: AtomicU64,
    /// Frames the sink accepted.
    pub sent_packets: AtomicU64,
    /// Captured bytes of those frames (without any encapsulation).
    pub sent_bytes: AtomicU64,
    /// Frames dropped because the queue was full (or its thread had stopped).
    pub queue_full: AtomicU64,
    /// Frames the sink refused with [`SendError::Frame`].
    pub frame_errors: AtomicU64,
    /// Frames lost to [`SendError::Path`], plus failed flushes of the sink (one each).
    pub path_errors: AtomicU64,
    /// Path errors since the last successful send.
    pub consecutive_path_errors: AtomicU64,
    /// The most recent error message of the sink.
    pub last_error: Mutex<Option<String>>,
}

/// The counters of [`SensorCounters`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SensorCountersSnapshot {
    /// See [`SensorCounters::queued`].
    pub queued: u64,
    /// See [`SensorCounters::sent_packets`].
    pub sent_packets: u64,
    /// See [`SensorCounters::sent_bytes`].
    pub sent_bytes: u64,
    /// See [`SensorCounters::queue_full`].
    pub queue_full: u64,
    /// See [`SensorCounters::frame_errors`].
    pub frame_errors: u64,
    /// See [`SensorCounters::path_errors`].
    pub path_errors: u64,
    /// See [`SensorCounters::consecutive_path_errors`].
    pub consecutive_path_errors: u64,
}

impl SensorCounters {
    /// Reads every counter (each atomically, not all at one instant).
    pub fn snapshot(&self) -> SensorCountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SensorCountersSnapshot {
            queued: get(&self.queued),
            sent_packets: get(&self.sent_packets),
            sent_bytes: get(&self.sent_bytes),
            queue_full: get(&self.queue_full),
            frame_errors: get(&self.frame_errors),
            path_errors: get(&self.path_errors),
            consecutive_path_errors: get(&self.consecutive_path_errors),
        }
    }

    /// A copy of the most recent error message.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_last_error(&self, msg: &str) {
        let mut g = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_deref() != Some(msg) {
            *g = Some(msg.to_string());
        }
    }
}

/// Sizes of a sensor queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// A batch is handed over once it holds this many bytes of frames (default 256 KiB).
    pub batch_bytes: usize,
    /// … or this many frames (default 1024).
    pub batch_frames: usize,
    /// Batches waiting for the sensor's thread (default 32).
    pub depth: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            batch_bytes: 256 * 1024,
            batch_frames: 1024,
            depth: 32,
        }
    }
}

/// One frame of a batch.
#[derive(Clone, Copy, Debug)]
struct Record {
    ts: u64,
    wire_len: u32,
    link_type: u32,
    offset: usize,
    len: usize,
    token: u64,
}

/// Frames copied into one buffer.
#[derive(Debug, Default)]
struct Batch {
    data: Vec<u8>,
    records: Vec<Record>,
}

impl Batch {
    fn with_capacity(cfg: &QueueConfig) -> Self {
        Self {
            data: Vec::with_capacity(cfg.batch_bytes),
            records: Vec::with_capacity(cfg.batch_frames),
        }
    }

    fn clear(&mut self) {
        self.data.clear();
        self.records.clear();
    }
}

impl FrameBatch for Batch {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn frame(&self, i: usize) -> (u32, Frame<'_>) {
        let r = &self.records[i];
        let frame = Frame {
            ts: r.ts,
            wire_len: r.wire_len,
            data: &self.data[r.offset..r.offset + r.len],
        };
        (r.link_type, frame)
    }
}

/// A sensor's bounded queue and the thread that drains it into the sensor's sink.
#[derive(Debug)]
pub struct SensorQueue {
    name: String,
    cfg: QueueConfig,
    current: Batch,
    tx: Option<SyncSender<Batch>>,
    recycled: Receiver<Batch>,
    thread: Option<JoinHandle<Result<(), LiveError>>>,
    counters: Arc<SensorCounters>,
}

impl SensorQueue {
    /// Starts the thread (named `name`) that sends to `sink`.
    pub fn spawn(
        name: String,
        sink: Box<dyn FrameSink>,
        cfg: QueueConfig,
        counters: Arc<SensorCounters>,
    ) -> Result<Self, LiveError> {
        if cfg.batch_bytes == 0 || cfg.batch_frames == 0 || cfg.depth == 0 {
            return Err(LiveError::Invalid(format!(
                "sensor {name}: queue batch sizes and depth must be positive"
            )));
        }
        let (tx, rx) = mpsc::sync_channel::<Batch>(cfg.depth);
        // Every batch that will ever circulate is made here: the current one and depth + 1
        // spares. After a batch is handed over, at most `depth` wait in the queue and the
        // thread holds at most one, so a spare is always back: the balancing thread never
        // allocates a batch (tests/it/alloc.rs of blb-daemon counts it). The channel has room
        // for all of them, so that returning one never blocks.
        let (back_tx, recycled) = mpsc::sync_channel::<Batch>(cfg.depth + 2);
        for _ in 0..=cfg.depth {
            let _ = back_tx.try_send(Batch::with_capacity(&cfg));
        }
        let c = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name(name.replace('\0', " "))
            .spawn(move || run(sink, rx, back_tx, &c))
            .map_err(|source| LiveError::Io {
                what: format!("starting the delivery thread of sensor {name}"),
                os: source,
            })?;
        Ok(Self {
            name,
            current: Batch::with_capacity(&cfg),
            cfg,
            tx: Some(tx),
            recycled,
            thread: Some(thread),
            counters,
        })
    }

    /// The sensor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sensor's counters.
    pub fn counters(&self) -> &Arc<SensorCounters> {
        &self.counters
    }

    /// Frames in the current batch, not yet handed over.
    pub fn pending(&self) -> usize {
        self.current.records.len()
    }

    /// Copies `frame` into the current batch and hands the batch over once it is full. When
    /// a batch is dropped because the queue is full, `dropped(token, cap_len)` is called for
    /// each of its frames.
    pub fn push(
        &mut self,
        link_type: u32,
        frame: Frame<'_>,
        token: u64,
        dropped: &mut dyn FnMut(u64, u32),
    ) {
        let len = frame.data.len();
        if !self.current.records.is_empty() && self.current.data.len() + len > self.cfg.batch_bytes
        {
            self.hand_over(dropped);
        }
        let offset = self.current.data.len();
        self.current.data.extend_from_slice(frame.data);
        self.current.records.push(Record {
            ts: frame.ts,
            wire_len: frame.wire_len,
            link_type,
            offset,
            len,
            token,
        });
        if self.current.records.len() >= self.cfg.batch_frames
            || self.current.data.len() >= self.cfg.batch_bytes
        {
            self.hand_over(dropped);
        }
    }

    /// Hands over the current batch, however small (call it when capture goes idle).
    pub fn flush(&mut self, dropped: &mut dyn FnMut(u64, u32)) {
        if !self.current.records.is_empty() {
            self.hand_over(dropped);
        }
    }

    fn hand_over(&mut self, dropped: &mut dyn FnMut(u64, u32)) {
        let n = self.current.records.len() as u64;
        let Some(tx) = &self.tx else { return };
        match tx.try_send(std::mem::take(&mut self.current)) {
            Ok(()) => {
                self.counters.queued.fetch_add(n, Ordering::Relaxed);
                // A spare is always back (see `spawn`); a new batch only should that fail.
                self.current = self
                    .recycled
                    .try_recv()
                    .unwrap_or_else(|_| Batch::with_capacity(&self.cfg));
            }
            Err(e) => {
                let mut batch = match e {
                    TrySendError::Full(b) => b,
                    TrySendError::Disconnected(b) => {
                        self.counters.set_last_error(&format!(
                            "sensor {}: the delivery thread has stopped",
                            self.name
                        ));
                        // Held against the sensor's health, like failed sends.
                        self.counters
                            .consecutive_path_errors
                            .fetch_add(n, Ordering::Relaxed);
                        b
                    }
                };
                self.counters.queue_full.fetch_add(n, Ordering::Relaxed);
                for r in &batch.records {
                    dropped(r.token, r.len as u32);
                }
                batch.clear();
                self.current = batch;
            }
        }
    }

    /// Hands over the partial batch (waiting for room if need be), lets the thread drain the
    /// queue, and returns the sink's final flush error, if any.
    pub fn close(mut self) -> Result<(), LiveError> {
        let batch = std::mem::take(&mut self.current);
        let n = batch.records.len() as u64;
        if let Some(tx) = self.tx.take()
            && n > 0
        {
            match tx.send(batch) {
                Ok(()) => self.counters.queued.fetch_add(n, Ordering::Relaxed),
                Err(_) => self.counters.queue_full.fetch_add(n, Ordering::Relaxed),
            };
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(res)) => res,
            Some(Err(_)) => Err(LiveError::Invalid(format!(
                "sensor {}: the delivery thread panicked",
                self.name
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for SensorQueue {
    /// Without [`close`](SensorQueue::close): the partial batch is offered without waiting,
    /// and the thread is left to drain and flush on its own (never joined, so a stuck sink
    /// cannot hang the caller).
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let batch = std::mem::take(&mut self.current);
            let n = batch.records.len() as u64;
            if n > 0 {
                match tx.try_send(batch) {
                    Ok(()) => self.counters.queued.fetch_add(n, Ordering::Relaxed),
                    Err(_) => self.counters.queue_full.fetch_add(n, Ordering::Relaxed),
                };
            }
        }
    }
}

/// The sensor's thread.
fn run(
    mut sink: Box<dyn FrameSink>,
    rx: Receiver<Batch>,
    back: SyncSender<Batch>,
    c: &SensorCounters,
) -> Result<(), LiveError> {
    // The last message stored, kept here so that only a change takes the lock.
    let mut last = String::new();
    let mut msg = String::new();
    let mut note = |e: &dyn std::fmt::Display| {
        msg.clear();
        let _ = write!(msg, "{e}");
        if last != msg {
            last.clone_from(&msg);
            c.set_last_error(&msg);
        }
    };
    let mut dirty = false;
    loop {
        let mut batch = match rx.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) => {
                // The input is empty for now: push out what the sink buffers.
                if dirty && let Err(e) = sink.flush() {
                    c.consecutive_path_errors.fetch_add(1, Ordering::Relaxed);
                    note(&e);
                }
                count_lost(sink.as_mut(), c);
                match rx.recv() {
                    Ok(b) => b,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        let mut t = Tally::default();
        sink.send_batch(&batch, &mut |i, result| match result {
            Ok(()) => {
                t.sent += 1;
                t.bytes += batch.records[i].len as u64;
                t.any_sent = true;
                t.errors_since_sent = 0;
            }
            Err(SendError::Frame(e)) => {
                t.frame_errors += 1;
                note(&e);
            }
            Err(SendError::Path(e)) => {
                t.path_errors += 1;
                t.errors_since_sent += 1;
                note(&e);
            }
        });
        t.publish(c);
        count_lost(sink.as_mut(), c);
        dirty = true;
        batch.clear();
        let _ = back.try_send(batch);
    }
    let res = sink.flush().inspect_err(|e| note(e));
    count_lost(sink.as_mut(), c);
    res
}

/// The outcomes of one batch, published to the shared counters at once.
#[derive(Default)]
struct Tally {
    sent: u64,
    bytes: u64,
    frame_errors: u64,
    path_errors: u64,
    /// Whether any frame of the batch went.
    any_sent: bool,
    /// Path errors after the batch's last sent frame.
    errors_since_sent: u64,
}

impl Tally {
    /// Adds the batch to the counters. A sent frame resets the consecutive path errors, so
    /// they end as the errors after the batch's last sent frame (or grow by the batch's
    /// errors when nothing went), as if counted frame by frame.
    fn publish(&self, c: &SensorCounters) {
        let add = |counter: &AtomicU64, n: u64| {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        };
        add(&c.sent_packets, self.sent);
        add(&c.sent_bytes, self.bytes);
        add(&c.frame_errors, self.frame_errors);
        add(&c.path_errors, self.path_errors);
        if self.any_sent {
            if c.consecutive_path_errors.load(Ordering::Relaxed) != self.errors_since_sent {
                c.consecutive_path_errors
                    .store(self.errors_since_sent, Ordering::Relaxed);
            }
        } else {
            add(&c.consecutive_path_errors, self.errors_since_sent);
        }
    }
}

/// Frames the sink reported as sent but lost later (a failed write of its buffer) move from
/// the sent counters to the path errors.
fn count_lost(sink: &mut dyn FrameSink, c: &SensorCounters) {
    let (frames, bytes) = sink.take_lost();
    if frames > 0 {
        c.sent_packets.fetch_sub(frames, Ordering::Relaxed);
        c.sent_bytes.fetch_sub(bytes, Ordering::Relaxed);
        c.path_errors.fetch_add(frames, Ordering::Relaxed);
    }
}
