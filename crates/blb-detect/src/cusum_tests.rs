//! Hand-computed CUSUM sequences: the NOTES figures (20 s, 25 s, never), gaps, counting once.

use super::*;
use crate::addrdb::AddressDbConfig;
use blb_core::packet::{NANOS_PER_SEC, proto};

const T0: u64 = 1_700_000_000 * NANOS_PER_SEC;

fn src(i: u32) -> Addr {
    Addr::v4(i.to_be_bytes())
}

fn pkt(ts: u64, s: Addr) -> PacketMeta {
    PacketMeta {
        ts,
        class: PacketClass::Ip,
        src: s,
        dst: Addr::v4([10, 10, 10, 10]),
        protocol: proto::UDP,
        has_ports: true,
        ..PacketMeta::default()
    }
}

fn detector(db: AddressDb) -> Cusum {
    Cusum::new(CusumConfig::default(), db, Some(T0)).unwrap()
}

/// Feeds `rate` fresh sources per second for `secs` seconds from T0, then finishes.
fn steady(rate: u32, secs: u32) -> Cusum {
    let mut c = detector(AddressDb::default());
    let mut next = 1u32;
    for s in 0..u64::from(secs) {
        for k in 0..u64::from(rate) {
            let ts = T0 + s * NANOS_PER_SEC + k * NANOS_PER_SEC / u64::from(rate);
            c.observe(&pkt(ts, src(next)));
            next += 1;
        }
    }
    c.finish(T0 + u64::from(secs) * NANOS_PER_SEC);
    c
}

#[test]
fn hundred_per_second_alarms_at_second_20() {
    let c = steady(100, 40);
    let iv = c.intervals();
    assert_eq!(iv.len(), 40);
    for (n, i) in iv.iter().enumerate() {
        assert_eq!(i.index, n as u64);
        assert_eq!(i.new_sources, 100);
        assert_eq!(i.x, 2.0);
        assert_eq!(i.y, n as f64 + 1.0, "Y_n = n + 1");
        assert_eq!(i.alarm, n >= 20);
    }
    let a = c.first_alarm().unwrap();
    assert_eq!(a.index, 20);
    assert_eq!(a.start_ts, T0 + 20 * NANOS_PER_SEC);
    assert_eq!(a.end_ts, T0 + 21 * NANOS_PER_SEC);
    assert_eq!(c.first_alarm_secs(), Some(20.0));
    assert_eq!(c.max_y(), 40.0);
    assert_eq!(c.stats().alarm_intervals, 20);
}

#[test]
fn ninety_per_second_alarms_at_second_25() {
    let c = steady(90, 60);
    let iv = c.intervals();
    assert!(
        (iv[24].y - 20.0).abs() < 1e-9,
        "Y_24 = 25 × 0.8 = 20, not above"
    );
    assert!(!iv[24].alarm);
    assert!(iv[25].alarm);
    assert_eq!(c.first_alarm().unwrap().index, 25);
    assert_eq!(c.first_alarm_secs(), Some(25.0));
}

#[test]
fn ten_per_second_never_alarms() {
    let c = steady(10, 100);
    assert_eq!(c.intervals().len(), 100);
    assert!(c.first_alarm().is_none());
    assert_eq!(c.max_y(), 0.0);
    assert!(c.intervals().iter().all(|i| i.y == 0.0 && i.x == 0.2));
}

#[test]
fn empty_intervals_decay_y() {
    let mut c = detector(AddressDb::default());
    // 5 s of 200 new sources/s: X = 4, Y = 3, 6, 9, 12, 15.
    let mut next = 1;
    for s in 0..5u64 {
        for _ in 0..200 {
            c.observe(&pkt(T0 + s * NANOS_PER_SEC, src(next)));
            next += 1;
        }
    }
    // Nothing for 4 s, then one packet of a known (already seen) source at 9.5 s.
    c.observe(&pkt(T0 + 9 * NANOS_PER_SEC + NANOS_PER_SEC / 2, src(1)));
    let ys: Vec<f64> = c.intervals().iter().map(|i| i.y).collect();
    assert_eq!(ys, [3.0, 6.0, 9.0, 12.0, 15.0, 14.0, 13.0, 12.0, 11.0]);
    // advance_to closes only complete intervals; the one at 9 s is still open.
    c.advance_to(T0 + 9 * NANOS_PER_SEC + 999_999_999);
    assert_eq!(c.intervals().len(), 9);
    c.advance_to(T0 + 30 * NANOS_PER_SEC);
    let iv = c.intervals();
    assert_eq!(iv.len(), 30);
    assert_eq!(iv[9].packets, 1);
    assert_eq!(iv[9].new_sources, 0, "a source counts once");
    assert_eq!(iv[9].y, 10.0);
    assert_eq!(iv[19].y, 0.0);
    assert_eq!(iv[29].y, 0.0);
}

#[test]
fn long_gaps_are_fast_forwarded() {
    let cfg = CusumConfig {
        max_gap_records: 3,
        ..CusumConfig::default()
    };
    let mut c = Cusum::new(cfg, AddressDb::default(), Some(T0)).unwrap();
    for i in 0..500 {
        c.observe(&pkt(T0, src(i + 1)));
    }
    // X = 10, Y_0 = 9; then a gap of 100 intervals.
    c.observe(&pkt(T0 + 100 * NANOS_PER_SEC, src(1)));
    c.finish(u64::MAX);
    let iv = c.intervals();
    let idx: Vec<u64> = iv.iter().take(5).map(|i| i.index).collect();
    assert_eq!(idx, [0, 1, 2, 3, 100]);
    assert_eq!(iv[3].y, 6.0);
    assert_eq!(iv[4].y, 0.0);
    assert!(c.stats().skipped_intervals > 96);
    assert!(c.intervals().len() <= 10, "a huge gap stores few records");
}

#[test]
fn training_sources_never_count_and_each_new_source_counts_once() {
    let cfg = AddressDbConfig {
        require_bidirectional: false,
        ..AddressDbConfig::default()
    };
    let mut db = AddressDb::new(cfg).unwrap();
    for i in 0..50 {
        db.learn(&pkt(T0 - NANOS_PER_SEC, src(i)));
    }
    let mut c = detector(db);
    assert!(
        !c.address_db().is_training(),
        "Cusum::new finishes training"
    );
    for rep in 0..3u64 {
        for i in 0..100 {
            c.observe(&pkt(T0 + rep * NANOS_PER_SEC, src(i)));
        }
    }
    c.finish(T0 + 3 * NANOS_PER_SEC);
    let news: Vec<u64> = c.intervals().iter().map(|i| i.new_sources).collect();
    assert_eq!(news, [50, 0, 0]);
    assert_eq!(c.seen_len(), 50);
}

#[test]
fn origin_from_first_packet_reorders_and_non_ip() {
    let mut c = Cusum::new(CusumConfig::default(), AddressDb::default(), None).unwrap();
    c.finish(T0); // nothing seen: nothing to close
    assert!(c.intervals().is_empty());
    c.observe(&pkt(T0 + 500, src(1)));
    c.observe(&pkt(T0 + NANOS_PER_SEC + 600, src(2)));
    c.observe(&pkt(T0, src(3))); // older: counts in the current interval (1)
    c.observe(&PacketMeta {
        ts: T0 + NANOS_PER_SEC + 700,
        ..PacketMeta::default()
    });
    c.finish(T0 + NANOS_PER_SEC + 700);
    assert_eq!(c.origin(), Some(T0 + 500));
    let iv = c.intervals();
    assert_eq!(iv.len(), 2);
    assert_eq!((iv[0].packets, iv[0].new_sources), (1, 1));
    assert_eq!((iv[1].packets, iv[1].new_sources), (3, 2));
    assert_eq!(c.stats().non_ip, 1);
}

#[test]
fn seen_cap_evicts_and_counts_again() {
    let cfg = CusumConfig {
        seen_cap: 2,
        ..CusumConfig::default()
    };
    let mut c = Cusum::new(cfg, AddressDb::default(), Some(T0)).unwrap();
    for i in [1, 2, 3, 1] {
        c.observe(&pkt(T0, src(i)));
    }
    c.finish(T0 + 1);
    assert_eq!(c.intervals()[0].new_sources, 4);
    assert_eq!(c.stats().seen_evictions, 2);
    assert_eq!(c.seen_len(), 2);
}

#[test]
fn bad_configs_are_errors() {
    for cfg in [
        CusumConfig {
            c: 0.0,
            ..CusumConfig::default()
        },
        CusumConfig {
            beta: f64::NAN,
            ..CusumConfig::default()
        },
        CusumConfig {
            threshold: -1.0,
            ..CusumConfig::default()
        },
        CusumConfig {
            interval_secs: 0.0,
            ..CusumConfig::default()
        },
        CusumConfig {
            seen_cap: 0,
            ..CusumConfig::default()
        },
    ] {
        assert!(Cusum::new(cfg, AddressDb::default(), None).is_err());
    }
}
