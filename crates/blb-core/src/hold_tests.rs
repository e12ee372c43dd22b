//! Tests of holding fragments until their first fragment: the datagram stays whole, the first
//! fragment is never copied, every held packet comes back once, and memory stays at the caps.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::EngineConfig;
use crate::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use crate::blb::{BlbBalancer, BlbConfig};
use crate::packet::{Addr, FragmentInfo, NANOS_PER_SEC, proto};
use crate::stats::DropReason;

const S: Nanos = NANOS_PER_SEC;
const MS: Nanos = 1_000_000;

fn udp(src: u8, sp: u16, dst: u8, dp: u16, ts: Nanos) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4([10, 0, 0, src]),
        dst: Addr::v4([10, 0, 1, dst]),
        src_port: sp,
        dst_port: dp,
        has_ports: true,
        protocol: proto::UDP,
        ethertype: 0x0800,
        cap_len: 1000,
        wire_len: 1000,
        ..Default::default()
    }
}

fn frag(mut p: PacketMeta, id: u32, part: u32, more: bool) -> PacketMeta {
    p.fragment = Some(FragmentInfo {
        id,
        offset: part * 1480,
        more,
    });
    if part > 0 {
        p.has_ports = false;
        p.src_port = 0;
        p.dst_port = 0;
    }
    p
}

fn engine(n: usize, b: Box<dyn Balancer>, tweak: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut cfg = EngineConfig::new(n, 1e6);
    tweak(&mut cfg);
    Engine::new(cfg, b).expect("valid settings")
}

fn released(e: &mut Engine) -> Vec<(HoldHandle, SensorSet)> {
    let mut out = Vec::new();
    e.released(&mut out);
    out
}

#[test]
fn a_late_fragment_waits_for_its_first_and_joins_its_flow() {
    // The flow lives on sensor 0; round robin would put a pseudo-flow on sensor 1. Before
    // holding, the first fragment was copied to both; now the whole datagram goes to 0.
    let mut e = engine(10, Box::new(RoundRobin::new(10)), |_| {});
    let base = udp(1, 4000, 2, 53, S);
    let flow = e.handle_or_hold(&base, 0);
    assert_eq!(flow, Decision::Send(SensorSet::one(0)));
    assert_eq!(
        e.handle_or_hold(&frag(base, 9, 2, false), 1),
        Decision::Held
    );
    assert_eq!(e.handle_or_hold(&frag(base, 9, 1, true), 2), Decision::Held);
    assert_eq!(e.held_packets(), 2);
    assert!(released(&mut e).is_empty());
    let first = e.handle_or_hold(&frag(base, 9, 0, true), 3);
    assert_eq!(first, Decision::Send(SensorSet::one(0)));
    assert_eq!(
        released(&mut e),
        vec![(1, SensorSet::one(0)), (2, SensorSet::one(0))],
        "in arrival order, where the first fragment went"
    );
    let f = e.fragment_stats();
    assert_eq!(
        (f.held, f.flow_conflicts, f.hold_expired, f.hold_overflowed),
        (2, 0, 0, 0)
    );
    assert_eq!(e.stats().copies, 0);
    assert_eq!(e.stats().sensors[0].packets, 4);
    // A fragment after its first fragment follows without being held.
    assert_eq!(
        e.handle_or_hold(&frag(base, 9, 3, false), 4),
        Decision::Send(SensorSet::one(0))
    );
}

#[test]
fn a_hold_past_its_time_limit_falls_back_to_the_pseudo_flow() {
    let mut e = engine(4, Box::new(RoundRobin::new(4)), |_| {});
    let base = udp(1, 4000, 2, 53, S);
    assert_eq!(
        e.handle_or_hold(&frag(base, 5, 1, false), 7),
        Decision::Held
    );
    assert_eq!(e.hold_deadline(), Some(S + 20 * MS));
    // 19 ms later: still held. 20 ms later: placed, before the packet that came then.
    e.handle_or_hold(&udp(3, 1, 4, 1, S + 19 * MS), 8);
    assert!(released(&mut e).is_empty());
    e.handle_or_hold(&udp(3, 1, 4, 1, S + 20 * MS), 9);
    let r = released(&mut e);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, 7);
    assert_eq!(e.fragment_stats().hold_expired, 1);
    assert_eq!(e.held_packets(), 0);
    // The first fragment arriving after that joins the datagram as before holding.
    let first = e.handle_or_hold(&frag(base, 5, 0, true), 10);
    assert_eq!(first, Decision::Send(r[0].1));
}

#[test]
fn tick_releases_expired_holds_and_finish_releases_the_rest() {
    let mut e = engine(4, Box::new(Single::new(4)), |_| {});
    let a = udp(1, 1, 2, 2, S);
    let b = udp(5, 1, 6, 2, S + 10 * MS);
    assert_eq!(e.handle_or_hold(&frag(a, 1, 1, false), 1), Decision::Held);
    assert_eq!(e.handle_or_hold(&frag(b, 2, 1, false), 2), Decision::Held);
    e.tick(S + 25 * MS);
    assert_eq!(released(&mut e), vec![(1, SensorSet::one(0))]);
    assert_eq!(e.hold_deadline(), Some(S + 30 * MS));
    e.finish();
    assert_eq!(released(&mut e), vec![(2, SensorSet::one(0))]);
    assert_eq!(e.fragment_stats().hold_expired, 2);
    assert_eq!(e.stats().sensors[0].packets, 2);
    assert_eq!(e.hold_deadline(), None);
}

#[test]
fn the_caps_place_the_oldest_datagrams_early() {
    // Two datagrams at most: a third places the oldest.
    let mut e = engine(4, Box::new(RoundRobin::new(4)), |c| {
        c.fragment_hold_datagrams = 2
    });
    for id in 0..3u32 {
        let p = frag(udp(1, 1, 2, 2, S), id, 1, false);
        assert_eq!(e.handle_or_hold(&p, u64::from(id)), Decision::Held);
    }
    assert_eq!(
        released(&mut e).iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(e.fragment_stats().hold_overflowed, 1);
    // A datagram larger than the byte cap is placed at once, with what it held.
    let mut e = engine(4, Box::new(RoundRobin::new(4)), |c| {
        c.fragment_hold_bytes = 1 << 16
    });
    let mut big = frag(udp(1, 1, 2, 2, S), 9, 1, true);
    big.cap_len = 40_000;
    assert_eq!(e.handle_or_hold(&big, 1), Decision::Held);
    let out = e.handle_or_hold(&frag(big, 9, 2, true), 2);
    let Decision::Send(sensors) = out else {
        panic!("not placed: {out:?}")
    };
    assert_eq!(released(&mut e), vec![(1, sensors)]);
    assert_eq!(e.fragment_stats().hold_overflowed, 1);
}

#[test]
fn without_a_handle_or_with_holding_off_nothing_is_held() {
    let mut e = engine(4, Box::new(Single::new(4)), |c| c.fragment_hold = 0);
    let p = frag(udp(1, 1, 2, 2, S), 1, 1, false);
    assert_eq!(e.handle_or_hold(&p, 1), Decision::Send(SensorSet::one(0)));
    let mut e = engine(4, Box::new(Single::new(4)), |_| {});
    assert_eq!(e.handle(&p), SensorSet::one(0));
    assert_eq!(e.held_packets(), 0);
}

#[test]
fn every_sensor_out_drops_released_packets_counted() {
    let mut e = engine(2, Box::new(Single::new(2)), |_| {});
    let base = udp(1, 1, 2, 2, S);
    assert_eq!(
        e.handle_or_hold(&frag(base, 3, 1, false), 1),
        Decision::Held
    );
    e.set_in_service(0, false, S);
    e.set_in_service(1, false, S);
    assert_eq!(
        e.handle_or_hold(&frag(base, 3, 0, true), 2),
        Decision::Send(SensorSet::EMPTY)
    );
    assert_eq!(released(&mut e), vec![(1, SensorSet::EMPTY)]);
    assert_eq!(e.stats().drops.get(DropReason::NoSensorAvailable), 2);
}

#[test]
fn settings_name_what_is_wrong() {
    let check = |tweak: &dyn Fn(&mut EngineConfig), name: &str| {
        let mut cfg = EngineConfig::new(2, 1e6);
        tweak(&mut cfg);
        let err = cfg.validate().expect_err("invalid").to_string();
        assert!(err.contains(&format!("'{name}'")), "{err}");
    };
    check(&|c| c.fragment_hold = 2 * S, "fragment_hold");
    check(&|c| c.fragment_hold_bytes = 1000, "fragment_hold_bytes");
    check(
        &|c| c.fragment_hold_datagrams = 0,
        "fragment_hold_datagrams",
    );
    check(&|c| c.load_history_seconds = 0, "load_history_seconds");
    check(&|c| c.variance_bound = f64::NAN, "variance_bound");
    let mut off = EngineConfig::new(2, 1e6);
    off.fragment_hold = 0;
    off.fragment_hold_datagrams = 0;
    assert!(
        off.validate().is_ok(),
        "the hold's caps do not matter when it is off"
    );
}

#[test]
fn a_flood_of_orphan_fragments_stays_within_the_caps() {
    // A million non-first fragments whose first fragment never comes, 100 per millisecond.
    let mut e = engine(
        4,
        Box::new(HashBalancer::new(4, HashMode::FiveTuple, HashKey([1; 16]))),
        |_| {},
    );
    let mut out = Vec::new();
    let mut peak = 0;
    for i in 0..1_000_000u64 {
        let mut p = frag(
            udp(1, 1, 2, 2, S + i * 10_000),
            (i / 3) as u32,
            1 + (i % 3) as u32,
            true,
        );
        p.src = Addr::v4([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        e.handle_or_hold(&p, i);
        e.released(&mut out);
        out.clear();
        peak = peak.max(e.memory().hold);
    }
    e.finish();
    e.released(&mut out);
    let f = e.fragment_stats();
    assert_eq!(f.held, 1_000_000);
    let out_total: u64 = e.stats().sensors.iter().map(|s| s.packets).sum();
    assert_eq!(out_total, 1_000_000);
    let packets = (4 << 20) / HOLD_OVERHEAD;
    let records = packets * (std::mem::size_of::<HeldPacket>() + 4 + 16 + 16);
    let datagrams = crate::stats::hash_map_bytes::<DatagramKey, HeldDatagram>(4096 * 16 / 7)
        + (2 * 4096 + 17) * 2 * std::mem::size_of::<(Nanos, DatagramKey)>();
    assert!(
        peak <= records + datagrams,
        "{peak} > {records} + {datagrams}"
    );
}

/// One generated packet: (datagram, fragment index) or an unfragmented packet of datagram
/// d's flow; plus the gap before it (µs) and whether a tick comes first.
#[derive(Clone, Debug)]
struct Item {
    datagram: usize,
    part: Option<u32>,
    gap_us: u32,
    tick: bool,
}

/// Datagrams (source, destination, source port, fragments) and the packets in their order.
type Case = (Vec<(u8, u8, u8, u32)>, Vec<Item>);

fn arb_case() -> impl Strategy<Value = Case> {
    // Datagrams: (source, destination, source port, fragments).
    proptest::collection::vec((0u8..4, 0u8..3, 0u8..3, 2u32..5), 1..12).prop_flat_map(|dgs| {
        let mut items = Vec::new();
        for (d, &(_, _, _, n)) in dgs.iter().enumerate() {
            for part in 0..n {
                items.push((d, Some(part)));
            }
            items.push((d, None));
        }
        let items = Just(items).prop_shuffle();
        let gaps = proptest::collection::vec(
            (
                prop_oneof![3 => 0u32..3000, 1 => 0u32..40_000],
                any::<bool>(),
            ),
            64,
        );
        (Just(dgs), items, gaps).prop_map(|(dgs, items, gaps)| {
            let items = items
                .into_iter()
                .zip(gaps.into_iter().cycle())
                .map(|((datagram, part), (gap_us, tick))| Item {
                    datagram,
                    part,
                    gap_us,
                    tick: tick && gap_us % 7 == 0,
                })
                .collect();
            (dgs, items)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn datagrams_stay_whole_unless_a_hold_fell_back(
        (dgs, items) in arb_case(),
        algo in 0u8..4,
        n in 1usize..11,
        datagram_cap in 1usize..6,
        small_bytes in any::<bool>(),
    ) {
        let balancer: Box<dyn Balancer> = match algo {
            0 => Box::new(Single::new(n)),
            1 => Box::new(RoundRobin::new(n)),
            2 => Box::new(HashBalancer::new(n, HashMode::FiveTuple, HashKey([7; 16]))),
            _ => Box::new(BlbBalancer::new(vec![1e6; n], BlbConfig::default()).expect("blb")),
        };
        let mut e = engine(n, balancer, |c| {
            c.fragment_hold_datagrams = datagram_cap;
            if small_bytes {
                c.fragment_hold_bytes = 1 << 16;
            }
        });
        let limit = e.config().fragment_hold;
        let mut ts = 10 * S;
        let mut got: Vec<Option<SensorSet>> = vec![None; items.len()];
        let mut held_at: HashMap<u64, Nanos> = HashMap::new();
        let mut out = Vec::new();
        let mut take = |e: &mut Engine, got: &mut Vec<Option<SensorSet>>, held_at: &mut HashMap<u64, Nanos>| -> Result<(), TestCaseError> {
            out.clear();
            e.released(&mut out);
            for &(h, s) in &out {
                prop_assert!(held_at.remove(&h).is_some(), "released twice or never held: {}", h);
                prop_assert!(got[h as usize].replace(s).is_none());
            }
            Ok(())
        };
        for (i, it) in items.iter().enumerate() {
            ts += u64::from(it.gap_us) * 1000;
            if it.tick {
                e.tick(ts);
                take(&mut e, &mut got, &mut held_at)?;
            }
            let (src, dst, sp, count) = dgs[it.datagram];
            let base = udp(src, 1000 + u16::from(sp), dst, 53, ts);
            let p = match it.part {
                Some(part) => frag(base, it.datagram as u32, part, part + 1 < count),
                None => base,
            };
            match e.handle_or_hold(&p, i as u64) {
                Decision::Send(s) => got[i] = Some(s),
                Decision::Held => { held_at.insert(i as u64, ts); }
            }
            take(&mut e, &mut got, &mut held_at)?;
            // Nothing stays held past the limit (in capture time).
            prop_assert!(held_at.values().all(|&t| t + limit > ts), "held past the limit");
        }
        e.finish();
        take(&mut e, &mut got, &mut held_at)?;
        prop_assert!(held_at.is_empty(), "held at the end: {:?}", held_at);
        prop_assert!(got.iter().all(|g| g.is_some()), "a packet got no decision");

        // Conservation: packets in = packets out (first copies) + counted drops.
        let st = e.stats();
        let out_total: u64 = st.sensors.iter().map(|s| s.packets).sum();
        prop_assert_eq!(st.packets_in, items.len() as u64);
        prop_assert_eq!(out_total + st.drops.total(), st.packets_in + st.copies);

        // Every datagram on one sensor set, its first fragment not copied, unless a hold fell
        // back (then the old guarantee: its fragments share a sensor).
        let f = e.fragment_stats();
        let fell_back = f.hold_expired + f.hold_overflowed;
        let mut whole = 0;
        for d in 0..dgs.len() {
            let sets: Vec<SensorSet> = items.iter().zip(&got)
                .filter(|(it, _)| it.datagram == d && it.part.is_some())
                .filter_map(|(_, g)| *g)
                .collect();
            let same = sets.windows(2).all(|w| w[0] == w[1]) && sets.iter().all(|s| s.len() == 1);
            if same {
                whole += 1;
            } else {
                prop_assert!(fell_back > 0, "datagram {} split with no fallback: {:?}", d, sets);
                let shared = sets.iter().fold(SensorSet::all(n), |a, s| a.intersect(*s));
                prop_assert!(!shared.is_empty(), "datagram {} has no common sensor: {:?}", d, sets);
            }
        }
        prop_assert!(dgs.len() - whole <= fell_back as usize);
        if fell_back == 0 {
            prop_assert_eq!(f.flow_conflicts, 0);
            prop_assert_eq!(st.copies, 0);
        }
    }
}
