//! Tests of failover: a sensor leaving moves only its own flows, new flows avoid it, it
//! takes new flows again once back, and reported loads combine with the estimate.

use std::collections::HashMap;

use super::*;
use crate::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use crate::blb::{BlbBalancer, BlbConfig, FlowLoad};
use crate::engine::EngineConfig;
use crate::packet::{Addr, NANOS_PER_SEC, PacketMeta, proto};
use crate::stats::DropReason;

const S: Nanos = NANOS_PER_SEC;

fn udp(i: u32, ts: Nanos) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4((0x0a00_0000 + i).to_be_bytes()),
        dst: Addr::v4([192, 168, (i % 7) as u8, 1]),
        src_port: 1024 + (i % 50_000) as u16,
        dst_port: 53,
        has_ports: true,
        protocol: proto::UDP,
        ethertype: 0x0800,
        cap_len: 200,
        wire_len: 200,
        ..Default::default()
    }
}

fn engine(n: usize, b: Box<dyn Balancer>) -> Engine {
    Engine::new(EngineConfig::new(n, 1e6), b).expect("valid settings")
}

/// Send one packet of flows `0..flows` at `ts`; returns each flow's sensors.
fn round(e: &mut Engine, flows: u32, ts: Nanos) -> Vec<SensorSet> {
    (0..flows).map(|i| e.handle(&udp(i, ts))).collect()
}

fn check_only_leaver_moves(mut e: Engine, leaver: SensorId) {
    let n = e.config().sensors;
    let before = round(&mut e, 2000, S);
    let on_leaver = before.iter().filter(|s| s.contains(leaver)).count() as u64;
    assert!(
        on_leaver > 0,
        "{} put no flow on sensor {leaver}",
        e.balancer().name()
    );
    let change = e.set_in_service(leaver, false, 2 * S).expect("a change");
    assert!(!change.returned);
    assert_eq!(change.flows_moved, on_leaver);
    assert!(!e.in_service().contains(leaver));
    assert_eq!(e.set_in_service(leaver, false, 2 * S), None, "already out");

    let after = round(&mut e, 2000, 3 * S);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(
            !a.is_empty() && !a.contains(leaver),
            "flow {i} still on {leaver}"
        );
        if !b.contains(leaver) {
            assert_eq!(a, b, "flow {i} on another sensor moved");
        }
    }
    // New flows avoid it while it is out...
    let fresh = (5000..6000).map(|i| e.handle(&udp(i, 3 * S)));
    assert!(fresh.into_iter().all(|s| !s.contains(leaver)));
    // ...and reach it again once it is back, while the moved flows stay put.
    let back = e.set_in_service(leaver, true, 4 * S).expect("a change");
    assert!(back.returned);
    assert_eq!(back.in_service, SensorSet::all(n));
    let again = round(&mut e, 2000, 5 * S);
    assert_eq!(again, after, "a flow moved back");
    let newer: Vec<SensorSet> = (10_000..14_000).map(|i| e.handle(&udp(i, 5 * S))).collect();
    assert!(
        newer.iter().any(|s| s.contains(leaver)),
        "no new flow on {leaver}"
    );
    let f = e.failover_stats();
    assert_eq!((f.sensors_left, f.sensors_returned), (1, 1));
    assert_eq!(f.flows_moved, on_leaver);
}

#[test]
fn hash_moves_only_the_leaving_sensors_flows() {
    let b = HashBalancer::new(5, HashMode::FiveTuple, HashKey([3; 16]));
    check_only_leaver_moves(engine(5, Box::new(b)), 2);
}

#[test]
fn round_robin_skips_a_sensor_out_of_service() {
    check_only_leaver_moves(engine(4, Box::new(RoundRobin::new(4))), 1);
}

#[test]
fn single_falls_over_to_the_next_sensor() {
    let mut e = engine(3, Box::new(Single::new(3)));
    assert_eq!(e.handle(&udp(1, S)), SensorSet::one(0));
    e.set_in_service(0, false, S);
    assert_eq!(e.handle(&udp(1, S)), SensorSet::one(1));
    assert_eq!(e.handle(&udp(2, S)), SensorSet::one(1));
}

#[test]
fn blb_moves_clusters_and_flows_follow_them() {
    let cfg = BlbConfig {
        train_flows: 0,
        flow_load: FlowLoad::Fixed(1000.0),
        ..BlbConfig::default()
    };
    let b = BlbBalancer::new(vec![1e6; 4], cfg).expect("valid");
    let mut e = engine(4, Box::new(b));
    // Flows to seven /24s, with the load high enough to spread clusters over sensors.
    let mut before = Vec::new();
    for r in 0..20 {
        before = round(&mut e, 400, S + r * S / 10);
    }
    let leaver = before[0].first().expect("a sensor");
    let change = e.set_in_service(leaver, false, 3 * S).expect("a change");
    assert!(change.clusters_moved > 0);
    assert!(change.flows_moved > 0);
    let after = round(&mut e, 400, 3 * S);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(!a.is_empty() && !a.contains(leaver), "flow {i}");
        if !b.contains(leaver) {
            assert_eq!(a, b, "flow {i} moved");
        }
    }
    let counters: HashMap<_, _> = e.balancer().counters().into_iter().collect();
    assert_eq!(counters["clusters_moved"], change.clusters_moved);
    // No cluster is left on the sensor that left.
    let fresh: Vec<SensorSet> = (900..1400).map(|i| e.handle(&udp(i, 3 * S))).collect();
    assert!(fresh.iter().all(|s| !s.is_empty() && !s.contains(leaver)));
}

#[test]
fn with_every_sensor_out_packets_are_counted_then_placed_again() {
    let b = HashBalancer::new(2, HashMode::FiveTuple, HashKey([1; 16]));
    let mut e = engine(2, Box::new(b));
    round(&mut e, 10, S);
    e.set_in_service(0, false, S);
    e.set_in_service(1, false, S);
    assert_eq!(e.in_service(), SensorSet::EMPTY);
    let out = round(&mut e, 20, 2 * S);
    assert!(out.iter().all(SensorSet::is_empty));
    assert_eq!(e.stats().drops.get(DropReason::NoSensorAvailable), 20);
    e.set_in_service(1, true, 3 * S);
    let back = round(&mut e, 20, 3 * S);
    assert!(back.iter().all(|s| *s == SensorSet::one(1)));
    // The ten moved flows and the ten that arrived while nothing was in service.
    assert_eq!(e.failover_stats().flows_replaced, 20);
    assert_eq!(e.set_in_service(7, false, 3 * S), None, "no such sensor");
}

#[test]
fn reported_load_combines_with_the_estimate_until_stale() {
    let mut e = engine(2, Box::new(RoundRobin::new(2)));
    assert!(e.report_load(1, 70.0, S));
    assert!(!e.report_load(5, 70.0, S));
    let loads = e.loads();
    assert!((loads[1] - 70.0).abs() < 1e-9, "{loads:?}");
    assert!(loads[0].abs() < 1e-9);
    // Past the stale time (10 s by default) the estimate alone counts.
    e.handle(&udp(1, 12 * S));
    let loads = e.loads();
    assert!(loads[1] < 1.0, "{loads:?}");
    assert_eq!(e.reported_loads().accepted, 1);
}

/// Counts what the engine tells a balancer.
#[derive(Debug, Default)]
struct Recorder {
    next_tag: u64,
    live: std::collections::HashSet<u64>,
}

impl Balancer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn sensors(&self) -> usize {
        2
    }
    fn assign(&mut self, ctx: &crate::balancer::FlowContext<'_>) -> crate::balancer::Assignment {
        self.next_tag += 1;
        self.live.insert(self.next_tag);
        crate::balancer::Assignment {
            sensors: ctx
                .in_service
                .first()
                .map_or(SensorSet::EMPTY, SensorSet::one),
            tag: self.next_tag,
        }
    }
    fn on_flow_end(&mut self, tag: u64, _now: Nanos) {
        assert!(self.live.remove(&tag), "flow end for unknown tag {tag}");
    }
}

#[test]
fn a_flow_placed_again_ends_its_old_placement() {
    let mut e = engine(2, Box::new(Recorder::default()));
    round(&mut e, 10, S);
    e.set_in_service(0, false, S);
    e.set_in_service(1, false, S);
    e.set_in_service(1, true, 2 * S);
    round(&mut e, 10, 2 * S);
    assert_eq!(e.failover_stats().flows_replaced, 10);
    // Ten moved onto sensor 1 when sensor 0 left, ten placed again when it came back.
    assert_eq!(
        e.stats().sensors[1].flows,
        20,
        "the new placements are counted"
    );
    e.finish();
    // Every placement, old and new, was ended exactly once (the recorder panics otherwise).
    let dbg = format!("{:?}", e.balancer());
    assert!(dbg.contains("live: {}"), "placements never ended: {dbg}");
}

#[test]
fn a_datagram_seen_while_every_sensor_is_out_is_placed_once_one_is_back() {
    use crate::packet::FragmentInfo;
    let b = HashBalancer::new(2, HashMode::FiveTuple, HashKey([4; 16]));
    let mut e = engine(2, Box::new(b));
    e.set_in_service(0, false, S);
    e.set_in_service(1, false, S);
    let mut first = udp(1, S);
    first.fragment = Some(FragmentInfo {
        id: 77,
        offset: 0,
        more: true,
    });
    let mut later = first;
    later.has_ports = false;
    later.fragment = Some(FragmentInfo {
        id: 77,
        offset: 185,
        more: false,
    });
    assert!(e.handle(&first).is_empty());
    e.set_in_service(1, true, 2 * S);
    // The later fragment is placed (by its pseudo-flow), not dropped for 30 s.
    assert_eq!(e.handle(&later), SensorSet::one(1));
}
