//! Unit tests of the flow table: timeouts per state, the timer wheel and the cap.

use super::*;
use crate::flow_key::{FlowKey, KeyOptions};
use crate::packet::{Addr, PacketMeta};

const S: Nanos = NANOS_PER_SEC;

fn tcp(src: u8, sp: u16, dst: u8, dp: u16, flags: u8, ts: Nanos) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4([10, 0, 0, src]),
        dst: Addr::v4([10, 0, 0, dst]),
        src_port: sp,
        dst_port: dp,
        has_ports: true,
        protocol: proto::TCP,
        tcp_flags: flags,
        cap_len: 60,
        wire_len: 60,
        ..Default::default()
    }
}

fn udp(src: u8, dst: u8, ts: Nanos) -> PacketMeta {
    PacketMeta {
        protocol: proto::UDP,
        tcp_flags: 0,
        ..tcp(src, 1000, dst, 53, 0, ts)
    }
}

/// Feed a packet: touch or insert. Returns removals that happened.
fn feed(t: &mut FlowTable, p: &PacketMeta, log: &mut Vec<(FlowKey, Removal)>) {
    let mut cb = |f: &Flow, r: Removal| log.push((f.key, r));
    t.advance(p.ts, &mut cb);
    let (key, dir) = FlowKey::from_packet(p, KeyOptions::default(), true);
    if t.touch(&key, p, dir, p.ts).is_none() {
        t.insert(
            key,
            p,
            dir,
            Assignment {
                sensors: SensorSet::one(0),
                tag: 7,
            },
            p.ts,
            &mut cb,
        );
    }
}

#[test]
fn udp_flow_expires_after_new_timeout() {
    let mut t = FlowTable::new(100, FlowTimeouts::default());
    let mut log = Vec::new();
    feed(&mut t, &udp(1, 2, 1000 * S), &mut log);
    assert_eq!(t.len(), 1);
    feed(&mut t, &udp(3, 4, 1029 * S), &mut log);
    assert!(log.is_empty(), "not yet expired at 29 s");
    feed(&mut t, &udp(3, 4, 1031 * S), &mut log);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].1, Removal::Expired);
    assert_eq!(t.len(), 1);
    assert_eq!(t.stats().expired, 1);
}

#[test]
fn established_udp_gets_longer_timeout() {
    let mut t = FlowTable::new(100, FlowTimeouts::default());
    let mut log = Vec::new();
    let query = udp(1, 2, 1000 * S);
    let reply = PacketMeta {
        src_port: 53,
        dst_port: 1000,
        ..udp(2, 1, 1000 * S + 1)
    };
    feed(&mut t, &query, &mut log);
    feed(&mut t, &reply, &mut log);
    assert_eq!(t.len(), 1, "query and reply are one flow");
    let (key, _) = FlowKey::from_packet(&query, KeyOptions::default(), true);
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::Established));
    feed(&mut t, &udp(9, 9, 1200 * S), &mut log);
    assert!(log.is_empty(), "300 s timeout once established, not 30 s");
    feed(&mut t, &udp(9, 9, 1301 * S), &mut log);
    // Both the established flow (deadline 1300 s) and the idle 9↔9 flow (1230 s) are gone.
    assert_eq!(log.len(), 2);
    assert!(log.iter().any(|(k, _)| *k == key));
}

#[test]
fn tcp_states_follow_flags() {
    let mut t = FlowTable::new(100, FlowTimeouts::default());
    let mut log = Vec::new();
    let syn = tcp(1, 40000, 2, 80, tcp_flags::SYN, 10 * S);
    feed(&mut t, &syn, &mut log);
    let (key, _) = FlowKey::from_packet(&syn, KeyOptions::default(), true);
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::New));
    feed(
        &mut t,
        &tcp(2, 80, 1, 40000, tcp_flags::SYN | tcp_flags::ACK, 10 * S),
        &mut log,
    );
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::Established));
    feed(
        &mut t,
        &tcp(1, 40000, 2, 80, tcp_flags::FIN | tcp_flags::ACK, 11 * S),
        &mut log,
    );
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::Closing));
    feed(
        &mut t,
        &tcp(2, 80, 1, 40000, tcp_flags::FIN | tcp_flags::ACK, 11 * S),
        &mut log,
    );
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::Closed));
    assert_eq!(t.get(&key).map(|f| f.deadline()), Some(71 * S));
    // Port reuse: a new SYN reopens the flow and keeps its sensor.
    feed(
        &mut t,
        &tcp(1, 40000, 2, 80, tcp_flags::SYN, 12 * S),
        &mut log,
    );
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::New));
    assert_eq!(t.get(&key).map(|f| f.packets), Some(5));
}

#[test]
fn rst_closes_immediately() {
    let mut t = FlowTable::new(100, FlowTimeouts::default());
    let mut log = Vec::new();
    feed(&mut t, &tcp(1, 1, 2, 2, tcp_flags::SYN, 0), &mut log);
    feed(
        &mut t,
        &tcp(2, 2, 1, 1, tcp_flags::RST | tcp_flags::ACK, S),
        &mut log,
    );
    let (key, _) = FlowKey::from_packet(&tcp(1, 1, 2, 2, 0, 0), KeyOptions::default(), true);
    assert_eq!(t.get(&key).map(|f| f.state), Some(FlowState::Closed));
    feed(&mut t, &udp(5, 6, 62 * S), &mut log);
    assert_eq!(log.len(), 1);
}

#[test]
fn active_flow_never_expires() {
    let mut t = FlowTable::new(100, FlowTimeouts::default());
    let mut log = Vec::new();
    for s in 0..5000u64 {
        feed(&mut t, &udp(1, 2, s * S), &mut log);
    }
    assert!(log.is_empty());
    assert_eq!(t.len(), 1);
}

#[test]
fn long_gap_expires_everything_once() {
    let mut t = FlowTable::new(1000, FlowTimeouts::default());
    let mut log = Vec::new();
    for i in 0..200u8 {
        feed(&mut t, &udp(i, 250, 5 * S), &mut log);
    }
    // 22 days later (as in merged captures).
    feed(&mut t, &udp(251, 252, 22 * 86_400 * S), &mut log);
    assert_eq!(log.len(), 200);
    assert_eq!(t.len(), 1);
}

#[test]
fn cap_evicts_the_flow_nearest_its_deadline() {
    let mut t = FlowTable::new(3, FlowTimeouts::default());
    let mut log = Vec::new();
    // Flow A: TCP established (600 s); flow B: UDP new (30 s); flow C: TCP new (60 s).
    feed(&mut t, &tcp(1, 1, 2, 2, tcp_flags::SYN, S), &mut log);
    feed(
        &mut t,
        &tcp(2, 2, 1, 1, tcp_flags::SYN | tcp_flags::ACK, S),
        &mut log,
    );
    feed(&mut t, &udp(3, 4, S), &mut log);
    feed(&mut t, &tcp(5, 5, 6, 6, tcp_flags::SYN, S), &mut log);
    assert_eq!(t.len(), 3);
    feed(&mut t, &udp(7, 8, 2 * S), &mut log);
    assert_eq!(t.len(), 3);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].1, Removal::Evicted);
    assert_eq!(
        log[0].0.protocol,
        proto::UDP,
        "the UDP flow had the earliest deadline"
    );
    assert_eq!(t.stats().evicted, 1);
    assert_eq!(t.stats().peak, 3);
}

#[test]
fn cap_holds_under_a_flood() {
    let mut t = FlowTable::new(50, FlowTimeouts::default());
    let mut log = Vec::new();
    for i in 0..10_000u32 {
        let p = PacketMeta {
            src_port: (i % 60000) as u16,
            ..udp((i / 60000) as u8, 9, u64::from(i) * 1_000_000)
        };
        feed(&mut t, &p, &mut log);
        assert!(t.len() <= 50);
    }
    assert_eq!(
        t.stats().evicted + t.stats().expired + t.len() as u64,
        10_000
    );
}

#[test]
fn drain_removes_all() {
    let mut t = FlowTable::new(10, FlowTimeouts::default());
    let mut log = Vec::new();
    feed(&mut t, &udp(1, 2, S), &mut log);
    feed(&mut t, &udp(3, 4, S), &mut log);
    let mut n = 0;
    t.drain(&mut |_, _| n += 1);
    assert_eq!(n, 2);
    assert!(t.is_empty());
}

#[test]
fn rst_after_establishment_expires_at_the_shorter_timeout() {
    // Established (600 s), then RST at 1100 s: closed, deadline 1160 s, not 1665 s.
    let mut t = FlowTable::new(100, FlowTimeouts::default());
    let mut log = Vec::new();
    feed(
        &mut t,
        &tcp(1, 5, 2, 80, tcp_flags::SYN, 1000 * S),
        &mut log,
    );
    feed(
        &mut t,
        &tcp(2, 80, 1, 5, tcp_flags::SYN | tcp_flags::ACK, 1000 * S),
        &mut log,
    );
    feed(
        &mut t,
        &tcp(1, 5, 2, 80, tcp_flags::ACK, 1065 * S),
        &mut log,
    );
    feed(
        &mut t,
        &tcp(1, 5, 2, 80, tcp_flags::RST, 1100 * S),
        &mut log,
    );
    feed(&mut t, &udp(7, 8, 1159 * S), &mut log);
    assert!(log.is_empty());
    feed(&mut t, &udp(7, 8, 1161 * S), &mut log);
    assert_eq!(log.len(), 1, "expired at 1160 s");
    assert_eq!(log[0].0.protocol, proto::TCP);
    // Much later the stale entry of the old deadline does nothing.
    feed(&mut t, &udp(7, 8, 1700 * S), &mut log);
    assert_eq!(
        log.iter().filter(|(k, _)| k.protocol == proto::TCP).count(),
        1
    );
}

#[test]
fn memory_stays_at_the_cap_under_a_long_flood() {
    // 1 000 new flows a second for 2 100 s (two turns of the wheel) into a table of 1 000:
    // the heap never grows past what 1 000 flows need, however many seconds the slots saw.
    // (The hash index may double once under churn: hashbrown rehashes in place only while
    // at most 7/16 of its buckets are live, so it settles at up to 16/7 buckets per flow.)
    let cap = 1000;
    let mut t = FlowTable::new(cap, FlowTimeouts::default());
    let mut log = Vec::new();
    let mut peak = 0;
    for i in 0..2_100_000u64 {
        let ts = i * S / 1000;
        let p = PacketMeta {
            src: Addr::v4(((i as u32) | 1 << 31).to_be_bytes()),
            protocol: proto::TCP,
            tcp_flags: tcp_flags::SYN,
            ..udp(1, 2, ts)
        };
        feed(&mut t, &p, &mut log);
        log.clear();
        peak = peak.max(t.heap_bytes());
    }
    assert!(t.len() <= cap);
    t.check_wheel();
    let entries = cap.next_power_of_two() * (std::mem::size_of::<Flow>() + 4);
    let index =
        (cap * 16 / 7 + 1).next_power_of_two() * (std::mem::size_of::<(FlowKey, u32)>() + 1);
    assert!(
        peak <= entries + index + 4 * 1024 + 64,
        "{peak} bytes for {cap} flows"
    );
}

/// One step of the wheel property test: (source, protocol, TCP flags, gap in ms).
type Step = (u8, u8, u8, u32);

fn arb_step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    (
        0u8..40,
        0u8..2,
        0u8..8,
        prop_oneof![0u32..2000, 0u32..200_000, 0u32..3_000_000],
    )
}

proptest::proptest! {
    #[test]
    fn wheel_files_every_live_flow_once_and_expires_on_time(
        steps in proptest::collection::vec(arb_step(), 1..400),
        cap in 1usize..30,
    ) {
        let mut t = FlowTable::new(cap, FlowTimeouts::default());
        let mut removed = Vec::new();
        let mut now = 1_000 * S;
        for &(src, pr, fl, gap_ms) in &steps {
            now += u64::from(gap_ms) * 1_000_000;
            let flags = [0, tcp_flags::SYN, tcp_flags::SYN | tcp_flags::ACK, tcp_flags::FIN,
                tcp_flags::RST, tcp_flags::ACK, tcp_flags::FIN | tcp_flags::ACK, 0][usize::from(fl)];
            let p = if pr == 0 { udp(src, 200, now) } else { tcp(src, 7, 200, 80, flags, now) };
            t.advance(now, &mut |f: &Flow, r: Removal| removed.push((f.deadline(), r)));
            // Nothing expired early; nothing live is more than a second past its deadline.
            for (deadline, r) in removed.drain(..) {
                if r == Removal::Expired {
                    proptest::prop_assert!(deadline <= now);
                }
            }
            for f in t.flows.iter().filter(|f| f.live) {
                proptest::prop_assert!(f.deadline() + S > now, "overdue by more than a slot");
            }
            let (key, dir) = FlowKey::from_packet(&p, KeyOptions::default(), true);
            if t.touch(&key, &p, dir, now).is_none() {
                let a = Assignment { sensors: SensorSet::one(0), tag: 0 };
                t.insert(key, &p, dir, a, now, &mut |_, r| assert_eq!(r, Removal::Evicted));
            }
            proptest::prop_assert!(t.len() <= cap);
            t.check_wheel();
        }
        let mut n = 0;
        t.drain(&mut |_, _| n += 1);
        t.check_wheel();
        proptest::prop_assert!(t.is_empty());
    }
}
