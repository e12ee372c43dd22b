//! Unit and property tests of the engine: flows stay whole, fragments follow their datagram,
//! nothing is lost.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::balancer::{HashBalancer, HashKey, HashMode, RoundRobin, Single};
use crate::packet::{Addr, PacketClass, proto, tcp_flags};

const S: Nanos = NANOS_PER_SEC;

fn udp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, ts: Nanos) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4(src),
        dst: Addr::v4(dst),
        src_port: sp,
        dst_port: dp,
        has_ports: true,
        protocol: proto::UDP,
        ethertype: 0x0800,
        cap_len: 100,
        wire_len: 100,
        ..Default::default()
    }
}

fn engine(n: usize, b: Box<dyn Balancer>) -> Engine {
    Engine::new(EngineConfig::new(n, 1e6), b).expect("valid settings")
}

#[test]
fn round_robin_gives_equal_flow_counts() {
    let mut e = engine(4, Box::new(RoundRobin::new(4)));
    for i in 0..103u16 {
        let p = udp([10, 0, 0, 1], 1000 + i, [10, 0, 0, 2], 53, S);
        e.handle(&p);
        e.handle(&udp([10, 0, 0, 2], 53, [10, 0, 0, 1], 1000 + i, S)); // reply, same flow
    }
    let flows: Vec<u64> = e.stats().sensors.iter().map(|s| s.flows).collect();
    assert_eq!(flows.iter().sum::<u64>(), 103);
    let (lo, hi) = (flows.iter().min().copied(), flows.iter().max().copied());
    assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{flows:?}");
    assert_eq!(e.stats().packets_in, 206);
}

#[test]
fn both_directions_reach_one_sensor() {
    let mut e = engine(10, Box::new(RoundRobin::new(10)));
    let mut seen = HashMap::new();
    for i in 0..50u8 {
        let a = e.handle(&udp([10, 0, 0, i], 5000, [10, 0, 1, 1], 53, S));
        let b = e.handle(&udp([10, 0, 1, 1], 53, [10, 0, 0, i], 5000, S));
        assert_eq!(a, b);
        seen.insert(i, a);
    }
    assert!(
        seen.values()
            .collect::<std::collections::HashSet<_>>()
            .len()
            == 10
    );
}

#[test]
fn single_sends_all_to_sensor_zero() {
    let mut e = engine(3, Box::new(Single::new(3)));
    for i in 0..20u16 {
        assert_eq!(
            e.handle(&udp([1, 1, 1, 1], i, [2, 2, 2, 2], 9, S)),
            SensorSet::one(0)
        );
    }
}

fn frag(mut p: PacketMeta, id: u32, offset: u32, more: bool) -> PacketMeta {
    p.fragment = Some(FragmentInfo { id, offset, more });
    if offset > 0 {
        p.has_ports = false;
        p.src_port = 0;
        p.dst_port = 0;
    }
    p
}

#[test]
fn fragments_follow_the_first_fragment() {
    let mut e = engine(10, Box::new(RoundRobin::new(10)));
    // Push the round-robin cursor so that a 3-tuple pseudo-flow would land elsewhere.
    e.handle(&udp([9, 9, 9, 9], 1, [8, 8, 8, 8], 1, S));
    let base = udp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 53, S);
    let first = e.handle(&frag(base, 77, 0, true));
    let second = e.handle(&frag(base, 77, 1480, true));
    let last = e.handle(&frag(base, 77, 2960, false));
    assert_eq!(first, second);
    assert_eq!(first, last);
    assert_eq!(e.stats().fragments, 3);
}

#[test]
fn out_of_order_fragments_stay_together_and_pin_the_flow() {
    let mut e = engine(10, Box::new(RoundRobin::new(10)));
    let base = udp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 53, S);
    let late = e.handle(&frag(base, 5, 1480, false));
    let first = e.handle(&frag(base, 5, 0, true));
    assert_eq!(late, first);
    // The flow was created on the datagram's sensor: later unfragmented packets follow it.
    assert_eq!(e.handle(&base), first);
    assert_eq!(e.fragment_stats().out_of_order, 1);
    assert_eq!(e.fragment_stats().flow_conflicts, 0);
}

#[test]
fn conflicting_first_fragment_is_copied_to_both() {
    let mut e = engine(10, Box::new(RoundRobin::new(10)));
    let base = udp([10, 0, 0, 1], 4000, [10, 0, 0, 2], 53, S);
    let flow = e.handle(&base); // flow on sensor 0
    let late = e.handle(&frag(base, 9, 1480, false)); // pseudo-flow on sensor 1
    assert_ne!(flow, late);
    let first = e.handle(&frag(base, 9, 0, true));
    assert!(first.contains(flow.first().unwrap_or(99)));
    assert!(first.contains(late.first().unwrap_or(99)));
    assert_eq!(e.fragment_stats().flow_conflicts, 1);
    assert_eq!(e.stats().copies, 1);
}

#[test]
fn non_ip_frames_follow_the_mac_pair() {
    let mut e = engine(4, Box::new(RoundRobin::new(4)));
    let arp = |src: u8, dst: u8| PacketMeta {
        class: PacketClass::NonIp,
        src: Addr::mac([0, 0, 0, 0, 0, src]),
        dst: Addr::mac([0, 0, 0, 0, 0, dst]),
        ethertype: 0x0806,
        cap_len: 60,
        ts: S,
        ..Default::default()
    };
    let a = e.handle(&arp(1, 2));
    let b = e.handle(&arp(2, 1));
    let c = e.handle(&arp(3, 4));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(e.stats().non_ip, 3);
}

#[derive(Debug)]
struct Nowhere;
impl Balancer for Nowhere {
    fn name(&self) -> &'static str {
        "nowhere"
    }
    fn sensors(&self) -> usize {
        2
    }
    fn assign(&mut self, _ctx: &FlowContext<'_>) -> Assignment {
        Assignment {
            sensors: SensorSet::EMPTY,
            tag: 0,
        }
    }
}

#[test]
fn no_sensor_is_a_counted_drop() {
    let mut e = engine(2, Box::new(Nowhere));
    assert!(
        e.handle(&udp([1, 1, 1, 1], 1, [2, 2, 2, 2], 2, S))
            .is_empty()
    );
    assert_eq!(e.stats().drops.get(DropReason::NoSensorAvailable), 1);
}

#[test]
fn settings_are_validated() {
    assert!(Engine::new(EngineConfig::new(0, 1e6), Box::new(Single::new(0))).is_err());
    assert!(Engine::new(EngineConfig::new(65, 1e6), Box::new(Single::new(65))).is_err());
    assert!(Engine::new(EngineConfig::new(2, 0.0), Box::new(Single::new(2))).is_err());
    let err = Engine::new(EngineConfig::new(2, 1e6), Box::new(Single::new(3))).unwrap_err();
    assert!(err.to_string().contains("sensors"));
}

#[test]
fn time_going_backwards_is_tolerated() {
    let mut e = engine(2, Box::new(RoundRobin::new(2)));
    let a = e.handle(&udp([1, 1, 1, 1], 1, [2, 2, 2, 2], 2, 100 * S));
    let b = e.handle(&udp([1, 1, 1, 1], 1, [2, 2, 2, 2], 2, 5 * S));
    assert_eq!(a, b);
    assert_eq!(e.now(), 100 * S);
}

#[test]
fn load_variance_is_reported_per_second() {
    let mut e = engine(10, Box::new(Single::new(10)));
    // 1 MB in one second to sensor 0 of 10 sensors of 1 MB/s capacity: loads 100,0,..: var 900.
    for i in 0..1000u64 {
        let mut p = udp([1, 1, 1, 1], 1, [2, 2, 2, 2], 2, 7 * S + i * 1_000_000);
        p.cap_len = 1000;
        e.handle(&p);
    }
    e.finish();
    let s = e.seconds();
    assert_eq!(s.len(), 1);
    assert!((s[0].variance - 900.0).abs() < 1e-6, "{}", s[0].variance);
    assert!((s[0].max_load - 100.0).abs() < 1e-6);
}

#[test]
fn tcp_flow_expiry_lets_a_new_flow_be_balanced_again() {
    let mut e = engine(2, Box::new(RoundRobin::new(2)));
    let mut syn = udp([1, 1, 1, 1], 1, [2, 2, 2, 2], 80, S);
    syn.protocol = proto::TCP;
    syn.tcp_flags = tcp_flags::SYN;
    let a = e.handle(&syn);
    syn.ts = 100 * S; // past tcp_new (60 s)
    let b = e.handle(&syn);
    assert_ne!(a, b);
    assert_eq!(e.flow_stats().expired, 1);
}

/// (src, dst, src port, dst port, protocol, fragment (id, part), gap).
type PacketSpec = (u8, u8, u8, u8, u8, Option<(u8, u8)>, u32);

/// An arbitrary packet over a small address and port space, so flows repeat.
fn arb_packet() -> impl Strategy<Value = PacketSpec> {
    (
        0u8..6,
        0u8..6,
        0u8..4,
        0u8..4,
        0u8..3,
        proptest::option::weighted(0.2, (0u8..4, 0u8..3)),
        0u32..50_000_000,
    )
}

fn build(t: &PacketSpec, ts: Nanos) -> PacketMeta {
    let &(s, d, sp, dp, pr, fr, _) = t;
    let mut p = udp(
        [10, 0, 0, s],
        1000 + u16::from(sp),
        [10, 0, 0, d],
        1000 + u16::from(dp),
        ts,
    );
    p.protocol = [proto::UDP, proto::TCP, proto::ICMP][usize::from(pr)];
    if p.protocol == proto::ICMP {
        p.has_ports = false;
        p.src_port = 0;
        p.dst_port = 0;
    }
    if let Some((id, part)) = fr {
        p = frag(p, u32::from(id), u32::from(part) * 1480, part < 2);
    }
    p
}

proptest! {
    #[test]
    fn packets_in_equal_packets_out_and_no_flow_splits(
        pkts in proptest::collection::vec(arb_packet(), 1..300),
        algo in 0u8..3,
        n in 1usize..12,
    ) {
        let balancer: Box<dyn Balancer> = match algo {
            0 => Box::new(Single::new(n)),
            1 => Box::new(RoundRobin::new(n)),
            _ => Box::new(HashBalancer::new(n, HashMode::FiveTuple, HashKey([3; 16]))),
        };
        let mut e = engine(n, balancer);
        let mut ts = S;
        let mut flow_sensor: HashMap<FlowKey, SensorSet> = HashMap::new();
        let mut datagram_sensor: HashMap<DatagramKey, SensorSet> = HashMap::new();
        let mut delivered = 0u64;
        for t in &pkts {
            ts += u64::from(t.6) / 1000; // at most 50 ms apart: nothing expires
            let p = build(t, ts);
            let out = e.handle(&p);
            prop_assert!(!out.is_empty());
            prop_assert!(out.iter().all(|s| usize::from(s) < n));
            delivered += 1;
            match p.fragment {
                None => {
                    let (k, _) = FlowKey::from_packet(&p, KeyOptions::default(), true);
                    let first = *flow_sensor.entry(k).or_insert(out);
                    prop_assert_eq!(first, out, "flow split");
                }
                Some(f) => {
                    let dk = DatagramKey::of(&p, f.id);
                    let first = *datagram_sensor.entry(dk).or_insert(out);
                    prop_assert!(first.iter().all(|s| out.contains(s)) || out.iter().all(|s| first.contains(s)),
                        "datagram split: {:?} vs {:?}", first, out);
                    if f.is_first() && p.has_ports {
                        let (k, _) = FlowKey::from_packet(&p, KeyOptions::default(), true);
                        if let Some(fs) = flow_sensor.get(&k) {
                            prop_assert!(fs.iter().all(|s| out.contains(s)), "first fragment left its flow");
                        } else {
                            flow_sensor.insert(k, out);
                        }
                    }
                }
            }
        }
        let st = e.stats();
        prop_assert_eq!(st.packets_in, delivered);
        let out_total: u64 = st.sensors.iter().map(|s| s.packets).sum();
        prop_assert_eq!(out_total, delivered + st.copies);
        prop_assert_eq!(st.drops.total(), 0);
    }

    #[test]
    fn flow_key_is_symmetric(a in any::<[u8; 16]>(), b in any::<[u8; 16]>(), sp in any::<u16>(), dp in any::<u16>(),
                             v6 in any::<bool>(), pr in any::<u8>()) {
        let addr = |x: [u8; 16]| if v6 { Addr::v6(x) } else { Addr::v4([x[0], x[1], x[2], x[3]]) };
        let p = PacketMeta { src: addr(a), dst: addr(b), src_port: sp, dst_port: dp, has_ports: true, protocol: pr, ..Default::default() };
        let q = PacketMeta { src: addr(b), dst: addr(a), src_port: dp, dst_port: sp, ..p };
        let (kp, dp_) = FlowKey::from_packet(&p, KeyOptions::default(), true);
        let (kq, dq) = FlowKey::from_packet(&q, KeyOptions::default(), true);
        prop_assert_eq!(kp, kq);
        if (p.src, sp) != (p.dst, dp) { prop_assert_ne!(dp_, dq); }
        let h = HashBalancer::new(10, HashMode::FiveTuple, HashKey([5; 16]));
        prop_assert_eq!(h.hash(&kp), h.hash(&kq));
    }
}

#[test]
fn destination_spread_counts_sensors_per_destination() {
    let mut e = engine(4, Box::new(RoundRobin::new(4)));
    for i in 0..200u16 {
        e.handle(&udp(
            [10, 0, (i >> 8) as u8, i as u8],
            1000,
            [10, 10, 10, 10],
            53,
            S,
        ));
    }
    for i in 0..100u16 {
        e.handle(&udp([10, 1, 0, i as u8], 1000, [10, 10, 10, 11], 53, S));
    }
    let spread = e.stats().destinations.at_least(100);
    assert_eq!(spread.len(), 2);
    assert_eq!((spread[0].flows, spread[0].sensors), (200, 4));
    assert_eq!((spread[1].flows, spread[1].sensors), (100, 4));
    assert!(e.stats().destinations.at_least(201).is_empty());
}

/// `inner` as a parser balancing on inner headers gives it from the first fragment of a
/// fragmented outer UDP datagram `outer_src → outer_dst` (id `id`), and that datagram's later
/// fragment, which carries only the outer header.
fn tunnelled_fragments(
    inner: PacketMeta,
    outer_src: [u8; 4],
    outer_dst: [u8; 4],
    id: u32,
) -> (PacketMeta, PacketMeta) {
    use crate::tunnel::{DatagramHeader, TunnelKind};
    let mut first = frag(inner, id, 0, true);
    first.tunnel.push(TunnelKind::Vxlan);
    first.tunnel.datagram = Some(DatagramHeader {
        src: Addr::v4(outer_src),
        dst: Addr::v4(outer_dst),
        protocol: proto::UDP,
    });
    let later = frag(udp(outer_src, 0, outer_dst, 0, inner.ts), id, 1480, false);
    (first, later)
}

#[test]
fn fragmented_outer_datagram_follows_the_inner_flow() {
    let mut e = engine(4, Box::new(RoundRobin::new(4)));
    let fwd = udp([192, 168, 0, 1], 4000, [192, 168, 0, 2], 53, S);
    let rev = udp([192, 168, 0, 2], 53, [192, 168, 0, 1], 4000, S);
    let flow = e.handle(&fwd);
    // Move the round-robin cursor on, so that the outer pseudo-flow would land elsewhere.
    e.handle(&udp([9, 9, 9, 9], 1, [8, 8, 8, 8], 1, S));
    // The reply comes in another tunnel, its outer datagram fragmented: first fragment first.
    let (first, later) = tunnelled_fragments(rev, [172, 16, 0, 2], [172, 16, 0, 1], 7);
    assert_eq!(e.handle(&first), flow);
    assert_eq!(e.handle(&later), flow);
    // Later fragment first: held until the first fragment, then both go with the flow.
    let (first, later) = tunnelled_fragments(rev, [172, 16, 0, 2], [172, 16, 0, 1], 8);
    assert_eq!(e.handle_or_hold(&later, 1), Decision::Held);
    assert_eq!(e.handle_or_hold(&first, 2), Decision::Send(flow));
    let mut out = Vec::new();
    e.released(&mut out);
    assert_eq!(out, vec![(1, flow)]);
    let st = e.stats();
    assert_eq!(
        (st.tunnels.packets, st.tunnels.fragmented_outer, st.copies),
        (2, 2, 0)
    );
    assert_eq!(
        st.tunnels.by_kind[crate::tunnel::TunnelKind::Vxlan.index()],
        2
    );
    assert_eq!(e.fragment_stats().flow_conflicts, 0);
}
