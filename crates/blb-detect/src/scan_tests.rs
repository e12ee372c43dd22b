//! Unit tests of the scan detector: probe classification, thresholds, window expiry, caps.

use super::*;
use blb_core::packet::{FragmentInfo, NANOS_PER_SEC};

const T0: u64 = 1_700_000_000 * NANOS_PER_SEC;

fn tcp(ts: u64, src: [u8; 4], dst: [u8; 4], dport: u16, flags: u8) -> PacketMeta {
    PacketMeta {
        ts,
        class: PacketClass::Ip,
        src: Addr::v4(src),
        dst: Addr::v4(dst),
        src_port: 40000,
        dst_port: dport,
        has_ports: true,
        protocol: proto::TCP,
        tcp_flags: flags,
        ..PacketMeta::default()
    }
}

fn syn(ts: u64, src: [u8; 4], dst: [u8; 4], dport: u16) -> PacketMeta {
    tcp(ts, src, dst, dport, tcp_flags::SYN)
}

#[test]
fn probe_classification() {
    let c = ScanConfig::default();
    let s = [1, 1, 1, 1];
    let d = [2, 2, 2, 2];
    assert!(c.probe_target(&syn(0, s, d, 80)).is_some());
    assert!(c.probe_target(&tcp(0, s, d, 80, 0)).is_some(), "NULL scan");
    assert!(c.probe_target(&tcp(0, s, d, 80, tcp_flags::FIN)).is_some());
    let synack = tcp(0, s, d, 80, tcp_flags::SYN | tcp_flags::ACK);
    assert!(c.probe_target(&synack).is_none());
    assert!(c.probe_target(&tcp(0, s, d, 80, tcp_flags::RST)).is_none());
    let mut udp = syn(0, s, d, 53);
    udp.protocol = proto::UDP;
    udp.tcp_flags = 0;
    assert!(c.probe_target(&udp).is_some());
    let mut reply = udp;
    reply.src_port = 53;
    reply.dst_port = 40000;
    assert!(c.probe_target(&reply).is_none(), "looks like a DNS answer");
    let mut frag = syn(0, s, d, 80);
    frag.fragment = Some(FragmentInfo {
        id: 1,
        offset: 8,
        more: false,
    });
    assert!(c.probe_target(&frag).is_none());
    let mut icmp = syn(0, s, d, 0);
    icmp.protocol = proto::ICMP;
    icmp.has_ports = false;
    assert_eq!(c.probe_target(&icmp), Some((Addr::v4(d), proto::ICMP, 0)));
    assert!(c.probe_target(&PacketMeta::default()).is_none());
}

#[test]
fn port_scan_of_one_host_alarms_at_the_hundredth_port() {
    let mut d = ScanDetector::new(ScanConfig::default(), Some(T0)).unwrap();
    // 50 probes per second to ports 1, 2, ... of one host.
    for i in 0..200u64 {
        let ts = T0 + i * NANOS_PER_SEC / 50;
        d.observe(&syn(ts, [6, 6, 6, 6], [10, 0, 0, 1], i as u16 + 1));
        // A repeated probe of the same port does not add a target.
        d.observe(&syn(ts, [6, 6, 6, 6], [10, 0, 0, 1], i as u16 + 1));
    }
    d.finish(T0 + 4 * NANOS_PER_SEC);
    let iv = d.intervals();
    assert_eq!(iv.len(), 4);
    assert!(!iv[0].alarm);
    assert_eq!(iv[0].max_targets_per_source, 50);
    assert!(iv[1].alarm);
    assert_eq!(iv[1].scanning_sources, 1);
    assert_eq!(iv[1].swept_ports, 0);
    assert_eq!(iv[1].top_source, Some(Addr::v4([6, 6, 6, 6])));
    assert_eq!(iv[1].max_targets_per_source, 100);
    let a = d.first_alarm().unwrap();
    assert_eq!(a.index, 1);
    assert_eq!(a.alarm_ts, Some(T0 + 99 * NANOS_PER_SEC / 50));
    assert_eq!(iv[1].probes, 100);
    assert_eq!(
        d.stats().alarm_intervals,
        3,
        "intervals 1, 2 and 3 still see the scanner"
    );
}

#[test]
fn distributed_sweep_alarms_per_port() {
    let mut d = ScanDetector::new(ScanConfig::default(), Some(T0)).unwrap();
    // 50 sources, each probing 5 hosts on port 445: no source reaches 100, the port reaches 200.
    for i in 0..250u32 {
        let src = [7, 7, 0, (i % 50) as u8];
        let dst = [10, 20, (i >> 8) as u8, i as u8];
        d.observe(&syn(T0 + u64::from(i) * 1000, src, dst, 445));
    }
    d.finish(T0 + NANOS_PER_SEC);
    let iv = d.intervals()[0];
    assert!(iv.alarm);
    assert_eq!(iv.scanning_sources, 0);
    assert_eq!(iv.swept_ports, 1);
    assert_eq!(iv.top_port, Some((proto::TCP, 445)));
    assert_eq!(iv.max_dsts_per_port, 250);
    assert_eq!(iv.max_targets_per_source, 5);
}

#[test]
fn window_expires_old_targets() {
    let cfg = ScanConfig {
        window_secs: 2.0,
        ..ScanConfig::default()
    };
    let mut d = ScanDetector::new(cfg, Some(T0)).unwrap();
    // 60 targets per second: in a 2 s window at most 120 ... but with 1 s pauses in between.
    for burst in 0..5u64 {
        for i in 0..60u64 {
            let ts = T0 + burst * 3 * NANOS_PER_SEC + i;
            d.observe(&syn(
                ts,
                [6, 6, 6, 6],
                [10, 0, 0, 1],
                (burst * 60 + i) as u16 + 1,
            ));
        }
    }
    d.finish(T0 + 20 * NANOS_PER_SEC);
    assert!(d.first_alarm().is_none(), "never 100 targets within 2 s");
    assert!(d.intervals().iter().all(|i| i.max_targets_per_source <= 60));
    assert_eq!(
        d.window_len(),
        0,
        "finish closed intervals; advance_to expires"
    );
    d.advance_to(T0 + 30 * NANOS_PER_SEC);
    assert_eq!(d.window_len(), 0);
    assert_eq!(d.targets_of(&Addr::v4([6, 6, 6, 6])), 0);
}

#[test]
fn refreshed_targets_survive_expiry_of_their_older_entries() {
    let cfg = ScanConfig {
        window_secs: 2.0,
        ..ScanConfig::default()
    };
    let mut d = ScanDetector::new(cfg, Some(T0)).unwrap();
    let s = [6, 6, 6, 6];
    d.observe(&syn(T0, s, [10, 0, 0, 1], 1));
    d.observe(&syn(T0 + NANOS_PER_SEC, s, [10, 0, 0, 1], 1));
    d.advance_to(T0 + 2 * NANOS_PER_SEC + 1);
    assert_eq!(
        d.targets_of(&Addr::v4(s)),
        1,
        "refreshed at 1 s, still in the window"
    );
    d.advance_to(T0 + 3 * NANOS_PER_SEC);
    assert_eq!(d.targets_of(&Addr::v4(s)), 0);
}

#[test]
fn max_entries_caps_memory_and_counts() {
    let cfg = ScanConfig {
        max_entries: 10,
        ..ScanConfig::default()
    };
    let mut d = ScanDetector::new(cfg, Some(T0)).unwrap();
    for i in 0..1000u32 {
        let src = (i + 1).to_be_bytes();
        d.observe(&syn(T0, src, [10, 0, 0, 1], 80));
    }
    assert_eq!(d.window_len(), 10);
    assert_eq!(d.stats().evictions, 990);
    assert!(d.by_source.len() <= 10);
    assert!(d.by_port.values().all(|m| m.len() <= 10));
}

#[test]
fn gaps_store_few_records_and_bad_configs_fail() {
    let cfg = ScanConfig {
        max_gap_records: 2,
        ..ScanConfig::default()
    };
    let mut d = ScanDetector::new(cfg, None).unwrap();
    d.observe(&syn(T0, [1, 1, 1, 1], [2, 2, 2, 2], 1));
    d.observe(&syn(u64::MAX, [1, 1, 1, 1], [2, 2, 2, 2], 1));
    d.finish(u64::MAX);
    assert_eq!(d.intervals().len(), 4);
    assert!(d.stats().skipped_intervals > 1_000_000);
    for bad in [
        ScanConfig {
            source_threshold: 0,
            ..ScanConfig::default()
        },
        ScanConfig {
            window_secs: -1.0,
            ..ScanConfig::default()
        },
        ScanConfig {
            max_entries: 0,
            ..ScanConfig::default()
        },
    ] {
        assert!(ScanDetector::new(bad, None).is_err());
    }
}
