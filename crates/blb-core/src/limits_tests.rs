//! Unit and property tests of the flow cutoff and bypass: what is cut or bypassed goes
//! nowhere, is counted under its reason, and weighs on no sensor.

use proptest::prelude::*;

use super::*;
use crate::balancer::{HashBalancer, HashKey, HashMode, RoundRobin};
use crate::packet::{FragmentInfo, NANOS_PER_SEC, tcp_flags};
use crate::sensor::SensorSet;
use crate::stats::CutoffStats;

const S: Nanos = NANOS_PER_SEC;

fn tcp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, flags: u8, ts: Nanos) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4(src),
        dst: Addr::v4(dst),
        src_port: sp,
        dst_port: dp,
        has_ports: true,
        protocol: proto::TCP,
        tcp_flags: flags,
        ethertype: 0x0800,
        cap_len: 100,
        wire_len: 100,
        ..Default::default()
    }
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

fn data(ts: Nanos) -> PacketMeta {
    tcp(A, 40000, B, 80, tcp_flags::ACK, ts)
}

fn engine(sensors: usize, cut_bytes: Option<u64>, cut_packets: Option<u64>) -> Engine {
    let mut cfg = EngineConfig::new(sensors, 1e6);
    cfg.flow_cutoff_bytes = cut_bytes;
    cfg.flow_cutoff_packets = cut_packets;
    Engine::new(cfg, Box::new(RoundRobin::new(sensors))).expect("valid settings")
}

fn tuple() -> FiveTuple {
    FiveTuple {
        src: Addr::v4(B),
        dst: Addr::v4(A),
        src_port: 80,
        dst_port: 40000,
        protocol: proto::TCP,
        vlan: 0,
    }
}

fn delivered_bytes(e: &Engine) -> u64 {
    e.stats().sensors.iter().map(|s| s.bytes).sum()
}

#[test]
fn the_byte_cutoff_passes_the_packet_that_crosses_it_and_cuts_the_rest() {
    let mut e = engine(2, Some(250), None);
    let sent: Vec<bool> = (0..6).map(|i| !e.handle(&data(S + i)).is_empty()).collect();
    // 0, 100 and 200 bytes came before packets 1-3: they go; packet 4 had 300 before it.
    assert_eq!(sent, [true, true, true, false, false, false]);
    assert_eq!(e.stats().drops.get(DropReason::FlowCutoff), 3);
    assert_eq!(e.stats().drops.total(), 3);
    assert_eq!(delivered_bytes(&e), 300);
    assert_eq!(
        e.stats().cutoff,
        CutoffStats {
            flows: 1,
            bytes: 300
        }
    );
}

#[test]
fn both_directions_count_toward_one_cutoff() {
    let mut e = engine(2, Some(200), None);
    assert!(!e.handle(&data(S)).is_empty());
    assert!(
        !e.handle(&tcp(B, 80, A, 40000, tcp_flags::ACK, S + 1))
            .is_empty()
    );
    assert!(e.handle(&data(S + 2)).is_empty());
    assert!(
        e.handle(&tcp(B, 80, A, 40000, tcp_flags::ACK, S + 3))
            .is_empty()
    );
}

#[test]
fn the_packet_cutoff_counts_packets() {
    let mut e = engine(2, None, Some(3));
    let sent: Vec<bool> = (0..5).map(|i| !e.handle(&data(S + i)).is_empty()).collect();
    assert_eq!(sent, [true, true, true, false, false]);
    assert_eq!(e.stats().drops.get(DropReason::FlowCutoff), 2);
    assert_eq!(
        e.stats().cutoff,
        CutoffStats {
            flows: 1,
            bytes: 200
        }
    );
}

#[test]
fn fin_and_rst_reach_the_sensor_after_the_cutoff() {
    let mut e = engine(2, None, Some(1));
    let first = e.handle(&data(S));
    assert!(e.handle(&data(S + 1)).is_empty());
    let fin = tcp(A, 40000, B, 80, tcp_flags::FIN | tcp_flags::ACK, S + 2);
    assert_eq!(e.handle(&fin), first);
    assert_eq!(
        e.handle(&tcp(B, 80, A, 40000, tcp_flags::RST, S + 3)),
        first
    );
}

#[test]
fn other_flows_are_not_cut() {
    let mut e = engine(2, None, Some(2));
    for i in 0..10 {
        e.handle(&data(S + i));
    }
    for port in 1..20u16 {
        let p = tcp(A, port, B, 80, tcp_flags::SYN, 2 * S);
        assert!(!e.handle(&p).is_empty(), "port {port}");
    }
    assert_eq!(e.stats().drops.get(DropReason::FlowCutoff), 8);
    assert_eq!(e.stats().cutoff.flows, 1, "only the long flow reached it");
}

#[test]
fn a_first_packet_can_reach_the_cutoff() {
    let mut e = engine(2, None, Some(1));
    e.handle(&data(S));
    assert_eq!(e.stats().cutoff.flows, 1);
    let mut e = engine(2, Some(100), None);
    e.handle(&data(S));
    assert_eq!(e.stats().cutoff.flows, 1);
    let mut e = engine(2, Some(101), None);
    e.handle(&data(S));
    assert_eq!(e.stats().cutoff.flows, 0);
}

#[test]
fn cut_bytes_weigh_on_no_sensor() {
    let mut e = engine(1, Some(1000), None);
    for i in 0..100 {
        e.handle(&data(S + i * 1000));
    }
    e.finish();
    assert_eq!(delivered_bytes(&e), 1000);
    let second = e.seconds().first().copied().expect("one second of traffic");
    // 1000 bytes of a 1e6-bytes/s sensor: 0.1 %, not 1 %.
    assert!((second.max_load - 0.1).abs() < 1e-9, "{second:?}");
}

#[test]
fn fragments_are_never_cut() {
    let mut e = engine(2, None, Some(1));
    let to = e.handle(&data(S));
    assert!(e.handle(&data(S + 1)).is_empty());
    let mut first = data(S + 2);
    first.fragment = Some(FragmentInfo {
        id: 7,
        offset: 0,
        more: true,
    });
    let mut rest = first;
    rest.has_ports = false;
    rest.fragment = Some(FragmentInfo {
        id: 7,
        offset: 1480,
        more: false,
    });
    assert_eq!(e.handle(&first), to);
    assert_eq!(e.handle(&rest), to);
}

#[test]
fn a_bypass_silences_a_flow_named_in_either_direction_until_cancelled() {
    let mut e = engine(2, None, None);
    let to = e.handle(&data(S));
    assert!(e.bypass(&tuple()));
    assert!(e.bypass(&tuple()), "asking twice is no error");
    assert_eq!(e.stats().bypass.requested, 1, "but one bypass");
    assert!(e.handle(&data(S + 1)).is_empty());
    assert!(
        e.handle(&tcp(B, 80, A, 40000, tcp_flags::ACK, S + 2))
            .is_empty()
    );
    assert_eq!(e.stats().drops.get(DropReason::Bypassed), 2);
    assert_eq!(e.stats().bypass.bytes, 200);
    assert!(e.cancel_bypass(&tuple()));
    assert!(!e.cancel_bypass(&tuple()), "no longer bypassed");
    assert_eq!(e.handle(&data(S + 3)), to);
    assert_eq!(e.stats().bypass.cancelled, 1);
}

#[test]
fn a_bypass_of_no_live_flow_is_refused_and_counted() {
    let mut e = engine(2, None, None);
    assert!(!e.bypass(&tuple()));
    assert_eq!(e.stats().bypass.unknown_flow, 1);
    assert_eq!(e.stats().bypass.requested, 0);
    // The flow that starts afterwards is not bypassed.
    assert!(!e.handle(&data(S)).is_empty());
}

#[test]
fn a_bypass_ends_with_its_flow() {
    let mut e = engine(2, None, None);
    e.handle(&data(S));
    assert!(e.bypass(&tuple()));
    // Far past every idle timeout: the flow expires, and its bypass with it.
    e.tick(10_000 * S);
    assert_eq!(e.stats().bypass.expired, 1);
    assert_eq!(e.live_flows(), 0);
    assert!(
        !e.handle(&data(10_001 * S)).is_empty(),
        "a new flow is sent"
    );
}

#[test]
fn a_bypass_ends_when_the_input_does() {
    let mut e = engine(2, None, None);
    e.handle(&data(S));
    e.bypass(&tuple());
    e.finish();
    assert_eq!(e.stats().bypass.expired, 1);
}

#[test]
fn vlans_name_different_flows_when_they_are_part_of_keys() {
    let mut e = engine(2, None, None);
    let mut tagged = data(S);
    tagged.vlans[0] = 100;
    tagged.vlan_count = 1;
    e.handle(&tagged);
    let mut t = tuple();
    let keyed_by_vlan = e.config().key.vlan_in_key;
    assert_eq!(
        e.bypass(&t),
        !keyed_by_vlan,
        "VLAN 0 names the untagged flow"
    );
    t.vlan = 100;
    assert!(e.bypass(&t));
}

#[test]
fn a_zero_cutoff_is_refused_by_name() {
    let mut cfg = EngineConfig::new(2, 1e6);
    cfg.flow_cutoff_packets = Some(0);
    let err = Engine::new(cfg, Box::new(RoundRobin::new(2))).err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("flow_cutoff_packets"), "{msg}");
}

proptest! {
    /// Whatever the traffic and the cutoffs: packets in = delivered + dropped, no flow sends
    /// more than its cutoff plus one packet (teardowns aside), and cut packets are counted.
    #[test]
    fn every_packet_is_delivered_or_counted(
        packets in proptest::collection::vec((0u16..6, 0u16..4, 40u32..1500, any::<bool>()), 1..300),
        cut_bytes in proptest::option::of(1u64..20_000),
        cut_packets in proptest::option::of(1u64..40),
    ) {
        let mut cfg = EngineConfig::new(3, 1e6);
        cfg.flow_cutoff_bytes = cut_bytes;
        cfg.flow_cutoff_packets = cut_packets;
        let hash = HashBalancer::new(3, HashMode::FiveTuple, HashKey([9; 16]));
        let mut e = Engine::new(cfg, Box::new(hash)).expect("valid settings");
        let mut sent = std::collections::HashMap::<u16, (u64, u64)>::new();
        for (i, &(port, host, len, reply)) in packets.iter().enumerate() {
            let (a, b) = ([10, 0, 0, host as u8], [10, 0, 1, 1]);
            let mut p = if reply {
                tcp(b, 80, a, 1000 + port, tcp_flags::ACK, S + i as u64)
            } else {
                tcp(a, 1000 + port, b, 80, tcp_flags::ACK, S + i as u64)
            };
            p.cap_len = len;
            if !e.handle(&p).is_empty() {
                let s = sent.entry(port * 16 + host).or_default();
                s.0 += u64::from(len);
                s.1 += 1;
            }
        }
        let st = e.stats();
        let out: u64 = st.sensors.iter().map(|s| s.packets).sum();
        prop_assert_eq!(st.packets_in, out + st.drops.total());
        prop_assert_eq!(st.drops.total(), st.drops.get(DropReason::FlowCutoff));
        let delivered: u64 = st.sensors.iter().map(|s| s.bytes).sum();
        prop_assert_eq!(st.bytes_in, delivered + st.cutoff.bytes);
        let flows_cut = u64::try_from(sent.values().filter(|s| {
            cut_bytes.is_some_and(|c| s.0 >= c) || cut_packets.is_some_and(|c| s.1 >= c)
        }).count()).unwrap_or(0);
        prop_assert_eq!(st.cutoff.flows, flows_cut);
        for &(bytes, count) in sent.values() {
            if let Some(c) = cut_bytes {
                prop_assert!(bytes < c + 1500);
            }
            if let Some(c) = cut_packets {
                prop_assert!(count <= c);
            }
        }
    }
}

#[test]
fn no_cutoff_cuts_nothing() {
    let mut e = engine(2, None, None);
    for i in 0..1000 {
        assert_ne!(e.handle(&data(S + i)), SensorSet::EMPTY);
    }
    assert_eq!(e.stats().drops.total(), 0);
}
