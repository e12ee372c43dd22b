//! Tests of the loss monitor: windows over Suricata's counters, the hysteresis, staleness.
//! (The recorded Suricata and Zeek files are replayed in the `blb` crate's tests.)

use super::*;

const S: Nanos = NANOS_PER_SEC;

fn rec(at: Nanos, packets: u64, drops: u64) -> Counters {
    Counters {
        at,
        packets,
        drops,
        decoded: packets - drops,
        workers: Vec::new(),
    }
}

fn sample(step: Step) -> Sample {
    match step {
        Step::Sample(s) => s,
        other => panic!("expected a sample, got {other:?}"),
    }
}

#[test]
fn windows_span_at_least_the_minimum_and_repeats_close_nothing_early() {
    let mut m = LossMonitor::new(LossConfig::suricata());
    assert_eq!(m.counters(0, rec(0, 0, 0)), Step::Held);
    assert_eq!(m.report(0), None, "no sample yet");
    assert_eq!(m.counters(2 * S, rec(2 * S, 1000, 0)), Step::Held);
    // 4 s after the start: a window of 2000 packets, no drops.
    let s = sample(m.counters(4 * S, rec(4 * S, 2000, 0)));
    assert_eq!((s.packets, s.drops, s.span), (2000, 0, 4 * S));
    assert_eq!(m.report(4 * S), Some(0.0));
    // A repeat 2 s later is held (the window is 2 s long) and counted.
    assert_eq!(m.counters(6 * S, rec(6 * S, 2000, 0)), Step::Repeat);
    assert_eq!(m.stats.repeats, 1);
    // Another 2 s: the window 4..8 s closes with the counters published meanwhile.
    let s = sample(m.counters(8 * S, rec(8 * S, 3000, 100)));
    assert_eq!((s.packets, s.drops), (1000, 100));
    assert!((s.loss_percent - 10.0).abs() < 1e-12);
    // Nothing moved over a whole window: an idle sensor, 0 %.
    m.counters(10 * S, rec(10 * S, 3000, 100));
    let s = sample(m.counters(12 * S, rec(12 * S, 3000, 100)));
    assert_eq!((s.packets, s.loss_percent), (0, 0.0));
    assert_eq!(m.stats.samples, 3);
    assert_eq!(m.stats.records, 7);
}

#[test]
fn two_samples_in_a_row_enter_and_two_release() {
    let mut m = LossMonitor::new(LossConfig::zeek());
    let t = std::cell::Cell::new(0);
    let feed = |m: &mut LossMonitor, loss: f64| {
        t.set(t.get() + 60 * S);
        sample(
            m.interval(t.get(), Some(t.get()), loss)
                .expect("a percentage"),
        )
    };
    assert!(
        !feed(&mut m, 35.0).overloaded,
        "one noisy sample moves nothing"
    );
    assert!(!feed(&mut m, 0.0).overloaded);
    assert!(!feed(&mut m, 35.0).overloaded);
    let s = feed(&mut m, 10.0);
    assert!(s.overloaded && s.changed, "two in a row at or above 10 %");
    assert_eq!(m.report(t.get()), Some(OVERLOAD_LOAD));
    // Between the release and the enter levels: stays overloaded, and breaks a release run.
    assert!(feed(&mut m, 0.5).overloaded);
    assert!(feed(&mut m, 5.0).overloaded);
    assert!(feed(&mut m, 0.5).overloaded);
    let s = feed(&mut m, 0.0);
    assert!(!s.overloaded && s.changed);
    assert_eq!(m.report(t.get()), Some(0.0));
    assert_eq!((m.stats.entered, m.stats.released), (1, 1));
    // Not a percentage: garbled, no sample.
    assert_eq!(m.interval(t.get(), None, f64::NAN), None);
    assert_eq!(m.interval(t.get(), None, 101.0), None);
    assert_eq!(m.stats.garbled, 2);
}

#[test]
fn the_worst_worker_counts() {
    let mut m = LossMonitor::new(LossConfig::suricata());
    let w = |at, a: (u64, u64), b: (u64, u64)| Counters {
        at,
        packets: a.0 + b.0,
        drops: a.1 + b.1,
        decoded: a.0 + b.0 - a.1 - b.1,
        workers: vec![a, b],
    };
    m.counters(0, w(0, (0, 0), (0, 0)));
    // Worker 1 drops 5 % of its packets; the total is 0.5 %.
    let s = sample(m.counters(4 * S, w(4 * S, (9000, 0), (1000, 50))));
    assert!((s.total_percent - 0.5).abs() < 1e-12);
    assert_eq!(s.worst_worker_percent, Some(5.0));
    assert_eq!(s.loss_percent, 5.0);
    // Workers that come and go: the total alone.
    let mut one = w(8 * S, (18_000, 0), (2000, 50));
    one.workers.pop();
    let s = sample(m.counters(8 * S, one));
    assert_eq!((s.worst_worker_percent, s.loss_percent), (None, 0.0));
}

#[test]
fn counters_going_back_start_a_new_window() {
    let mut m = LossMonitor::new(LossConfig::suricata());
    m.counters(0, rec(0, 5000, 10));
    m.counters(2 * S, rec(2 * S, 9000, 10));
    assert_eq!(m.counters(4 * S, rec(4 * S, 100, 0)), Step::Reset);
    assert_eq!(m.counters(6 * S, rec(6 * S, 200, 0)), Step::Held);
    let s = sample(m.counters(8 * S, rec(8 * S, 1100, 10)));
    assert_eq!((s.packets, s.drops), (1000, 10));
    assert_eq!(m.stats.resets, 1);
}

#[test]
fn a_silent_source_goes_stale_once_and_starts_afresh() {
    let mut m = LossMonitor::new(LossConfig::suricata());
    m.counters(0, rec(0, 0, 0));
    sample(m.counters(4 * S, rec(4 * S, 1000, 500)));
    sample(m.counters(8 * S, rec(8 * S, 2000, 1000)));
    assert_eq!(m.report(8 * S), Some(OVERLOAD_LOAD));
    // Garbled records do not keep it fresh.
    m.garbled();
    assert_eq!(
        m.report(28 * S),
        Some(OVERLOAD_LOAD),
        "20 s is not yet stale"
    );
    assert_eq!(m.report(28 * S + 1), None);
    assert_eq!(m.report(40 * S), None);
    assert_eq!(m.stats.stale, 1);
    assert!(!m.overloaded(), "the state is forgotten");
    // Back: a new window from the first record, no sample until it closes.
    assert_eq!(m.counters(41 * S, rec(41 * S, 3000, 1000)), Step::Held);
    assert_eq!(m.report(41 * S), None);
    let s = sample(m.counters(45 * S, rec(45 * S, 4000, 1000)));
    assert!(!s.overloaded);
    assert_eq!(m.report(45 * S), Some(0.0));
    // A record made long before it was read is old: counted, and nothing else.
    assert_eq!(m.counters(100 * S, rec(60 * S, 5000, 1000)), Step::Old);
    assert_eq!(m.stats.old, 1);
    assert_eq!(m.report(100 * S), None);
    assert_eq!(m.stats.stale, 2);
}

#[test]
fn settings_are_checked_by_key() {
    assert_eq!(LossConfig::suricata().validate(), Ok(()));
    assert_eq!(LossConfig::zeek().validate(), Ok(()));
    let bad = |f: &dyn Fn(&mut LossConfig)| {
        let mut c = LossConfig::suricata();
        f(&mut c);
        c.validate().expect_err("refused").setting()
    };
    assert_eq!(bad(&|c| c.enter_percent = 0.0), "loss_enter_percent");
    assert_eq!(bad(&|c| c.enter_percent = 101.0), "loss_enter_percent");
    assert_eq!(bad(&|c| c.release_percent = 2.0), "loss_release_percent");
    assert_eq!(bad(&|c| c.release_percent = -1.0), "loss_release_percent");
    assert_eq!(bad(&|c| c.samples = 0), "loss_samples");
    assert_eq!(bad(&|c| c.stale_after = 0), "loss_stale_after");
}
