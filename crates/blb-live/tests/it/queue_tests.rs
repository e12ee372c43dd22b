//! Tests of the sensor queue: batches, drops when full, counters, close and drop, with
//! scripted sinks.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use blb_live::deliver::queue::{QueueConfig, SensorCounters, SensorQueue};
use blb_live::deliver::{FrameSink, SendError};
use blb_live::{Frame, LiveError};

use crate::deliver::{T0, TIMEOUT, fr, frame_bytes, full_disk_sink, wait_until};

#[derive(Default)]
struct Log {
    tokens: Vec<u64>,
    flushes: usize,
    /// Frames sent after the last flush.
    unflushed: usize,
}

/// A sink that reports each frame's token (its first 8 bytes), optionally waits for a go
/// from the test before its first send, and plays a script of results.
struct Scripted {
    log: Arc<Mutex<Log>>,
    entered: Option<mpsc::Sender<()>>,
    gate: Option<mpsc::Receiver<()>>,
    script: Vec<bool>,
    flush_error: bool,
}

impl Scripted {
    fn new(log: &Arc<Mutex<Log>>) -> Self {
        Self {
            log: Arc::clone(log),
            entered: None,
            gate: None,
            script: Vec::new(),
            flush_error: false,
        }
    }
}

impl FrameSink for Scripted {
    fn describe(&self) -> String {
        "scripted".into()
    }
    fn accepts(&self, _: u32) -> bool {
        true
    }
    fn send(&mut self, _: u32, frame: Frame<'_>) -> Result<(), SendError> {
        if let Some(tx) = self.entered.take() {
            tx.send(()).unwrap();
        }
        if let Some(gate) = self.gate.take() {
            gate.recv_timeout(TIMEOUT)
                .expect("the test never opened the gate");
        }
        let ok = if self.script.is_empty() {
            true
        } else {
            self.script.remove(0)
        };
        if !ok {
            return Err(SendError::Path(LiveError::Invalid("link down".into())));
        }
        let mut log = self.log.lock().unwrap();
        log.tokens
            .push(u64::from_be_bytes(frame.data[..8].try_into().unwrap()));
        log.unflushed += 1;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), LiveError> {
        let mut log = self.log.lock().unwrap();
        log.flushes += 1;
        log.unflushed = 0;
        if self.flush_error {
            return Err(LiveError::Invalid("flush failed".into()));
        }
        Ok(())
    }
}

fn push(q: &mut SensorQueue, token: u64, dropped: &mut Vec<(u64, u32)>) {
    let data = frame_bytes(token, 100);
    let frame = fr(T0 + token, &data);
    q.push(1, frame, token, &mut |t, len| dropped.push((t, len)));
}

#[test]
fn queue_drops_whole_batches_when_full() {
    let log = Arc::new(Mutex::new(Log::default()));
    let (entered_tx, entered_rx) = mpsc::channel();
    let (gate_tx, gate_rx) = mpsc::channel();
    let mut sink = Scripted::new(&log);
    sink.entered = Some(entered_tx);
    sink.gate = Some(gate_rx);
    let counters = Arc::new(SensorCounters::default());
    let cfg = QueueConfig {
        batch_bytes: 1 << 20,
        batch_frames: 10,
        depth: 1,
    };
    let mut q = SensorQueue::spawn(
        "sensor-t".into(),
        Box::new(sink),
        cfg,
        Arc::clone(&counters),
    )
    .unwrap();
    let mut dropped = Vec::new();
    // The first batch reaches the thread, which blocks in its first send.
    for t in 0..10 {
        push(&mut q, t, &mut dropped);
    }
    entered_rx.recv_timeout(TIMEOUT).unwrap();
    // The second batch fills the channel; batches 3 to 10 are dropped whole.
    for t in 10..100 {
        push(&mut q, t, &mut dropped);
    }
    // Three frames left in a partial batch, also dropped at flush.
    for t in 100..103 {
        push(&mut q, t, &mut dropped);
    }
    q.flush(&mut |t, len| dropped.push((t, len)));
    let expected: Vec<(u64, u32)> = (20..103).map(|t| (t, 100)).collect();
    assert_eq!(dropped, expected);
    let s = counters.snapshot();
    assert_eq!((s.queued, s.queue_full), (20, 83));
    assert_eq!(s.queued + s.queue_full, 103);

    gate_tx.send(()).unwrap();
    // After the release the queue takes frames again.
    wait_until("the queue to drain", || {
        counters.snapshot().sent_packets == 20
    });
    for t in 103..108 {
        push(&mut q, t, &mut dropped);
    }
    assert_eq!(q.pending(), 5);
    q.close().unwrap();
    assert_eq!(dropped.len(), 83);
    let s = counters.snapshot();
    assert_eq!(s.queued, 25);
    assert_eq!(s.queued + s.queue_full, 108);
    assert_eq!(s.sent_packets, s.queued);
    assert_eq!(s.sent_bytes, 25 * 100);
    assert_eq!((s.frame_errors, s.path_errors), (0, 0));
    let log = log.lock().unwrap();
    let sent: BTreeSet<u64> = log.tokens.iter().copied().collect();
    let lost: BTreeSet<u64> = dropped.iter().map(|&(t, _)| t).collect();
    assert!(sent.is_disjoint(&lost));
    assert_eq!(sent.len() + lost.len(), 108);
    assert_eq!(log.tokens, (0..20).chain(103..108).collect::<Vec<_>>());
    assert!(log.flushes >= 1 && log.unflushed == 0, "close flushes");
}

#[test]
fn queue_counts_path_errors_and_success_resets() {
    let log = Arc::new(Mutex::new(Log::default()));
    let mut sink = Scripted::new(&log);
    sink.script = vec![false, false, false, true, false];
    let counters = Arc::new(SensorCounters::default());
    let cfg = QueueConfig {
        batch_frames: 3,
        ..QueueConfig::default()
    };
    let mut q = SensorQueue::spawn(
        "sensor-p".into(),
        Box::new(sink),
        cfg,
        Arc::clone(&counters),
    )
    .unwrap();
    assert!(Arc::ptr_eq(q.counters(), &counters));
    let mut dropped = Vec::new();
    for t in 0..3 {
        push(&mut q, t, &mut dropped);
    }
    wait_until("three path errors", || counters.snapshot().path_errors == 3);
    let s = counters.snapshot();
    assert_eq!(s.consecutive_path_errors, 3);
    assert_eq!(s.sent_packets, 0);
    assert_eq!(counters.last_error().as_deref(), Some("link down"));

    push(&mut q, 3, &mut dropped);
    q.flush(&mut |t, len| dropped.push((t, len)));
    wait_until("a success", || counters.snapshot().sent_packets == 1);
    assert_eq!(counters.snapshot().consecutive_path_errors, 0);

    push(&mut q, 4, &mut dropped);
    q.close().unwrap();
    assert!(dropped.is_empty());
    let s = counters.snapshot();
    assert_eq!((s.queued, s.sent_packets, s.path_errors), (5, 1, 4));
    assert_eq!(s.consecutive_path_errors, 1);
    assert_eq!(log.lock().unwrap().tokens, [3]);
}

#[test]
fn queue_close_flushes_and_reports_flush_errors() {
    let log = Arc::new(Mutex::new(Log::default()));
    let counters = Arc::new(SensorCounters::default());
    let q = SensorQueue::spawn(
        "sensor-f".into(),
        Box::new(Scripted::new(&log)),
        QueueConfig::default(),
        Arc::clone(&counters),
    );
    let mut q = q.unwrap();
    let mut dropped = Vec::new();
    for t in 0..7 {
        push(&mut q, t, &mut dropped);
    }
    assert_eq!(q.pending(), 7);
    q.close().unwrap();
    {
        let log = log.lock().unwrap();
        assert_eq!(log.tokens, (0..7).collect::<Vec<_>>());
        assert!(log.flushes >= 1 && log.unflushed == 0);
    }
    assert_eq!(counters.snapshot().sent_packets, 7);

    let mut sink = Scripted::new(&log);
    sink.flush_error = true;
    let q = SensorQueue::spawn(
        "sensor-e".into(),
        Box::new(sink),
        QueueConfig::default(),
        Arc::new(SensorCounters::default()),
    )
    .unwrap();
    let e = q.close().unwrap_err();
    assert!(e.to_string().contains("flush failed"), "{e}");
}

#[test]
fn queue_drop_without_close_does_not_hang() {
    let log = Arc::new(Mutex::new(Log::default()));
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let mut sink = Scripted::new(&log);
    sink.gate = Some(gate_rx);
    let counters = Arc::new(SensorCounters::default());
    let mut q = SensorQueue::spawn(
        "sensor-d".into(),
        Box::new(sink),
        QueueConfig {
            batch_frames: 1,
            depth: 1,
            ..QueueConfig::default()
        },
        Arc::clone(&counters),
    )
    .unwrap();
    let mut dropped = Vec::new();
    for t in 0..5 {
        push(&mut q, t, &mut dropped);
    }
    drop(q);
    // The thread may still be stuck in the sink; dropping returned anyway. Let it finish.
    gate_tx.send(()).unwrap();
    let s = counters.snapshot();
    assert_eq!(s.queued + s.queue_full, 5);
    assert_eq!(counters.queued.load(Ordering::Relaxed), s.queued);
}

/// Frames a pcap sink buffered and then lost to a failed write (a full disk) are not left
/// counted as sent: they move to the path errors, so sent + errors = pushed.
#[test]
fn frames_lost_to_a_full_disk_are_counted_not_sent() {
    let Some((_dir, _path, sink)) = full_disk_sink() else {
        return;
    };
    let counters = Arc::new(SensorCounters::default());
    let mut q = SensorQueue::spawn(
        "sensor-full".into(),
        Box::new(sink),
        QueueConfig::default(),
        Arc::clone(&counters),
    )
    .unwrap();
    let f = frame_bytes(1, 1000);
    let pushed = 3000u64;
    let mut refused = 0u64;
    for i in 0..pushed {
        q.push(1, fr(T0 + i, &f), i, &mut |_, _| refused += 1);
    }
    q.flush(&mut |_, _| refused += 1);
    assert!(q.close().is_err(), "the final flush fails on a full disk");
    let c = counters.snapshot();
    assert_eq!(refused, c.queue_full);
    assert_eq!(c.sent_packets, 0, "{c:?}");
    assert_eq!(c.sent_bytes, 0, "{c:?}");
    assert_eq!(c.path_errors + c.queue_full, pushed, "{c:?}");
}
