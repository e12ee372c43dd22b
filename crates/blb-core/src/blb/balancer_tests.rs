//! Tests of the BLB balancer: Listing 3's behaviour, the k-medoids start, deletion and the cap,
//! and the equivalence of the indexed search with the literal scan.

use super::*;
use crate::blb::solve_p::Constraint;
use crate::blb::{BlbConfig, DistanceConfig, FlowLoad, SearchMode};
use crate::flow_key::{FlowKey, KeyOptions};
use crate::packet::{Addr, PacketMeta, proto};

const S: Nanos = NANOS_PER_SEC;

fn flow(src: u32, dst: u32, port: u16, protocol: u8, ts: Nanos) -> PacketMeta {
    PacketMeta {
        ts,
        src: Addr::v4(src.to_be_bytes()),
        dst: Addr::v4(dst.to_be_bytes()),
        src_port: 40000,
        dst_port: port,
        has_ports: protocol != proto::ICMP,
        protocol,
        cap_len: 1000,
        wire_len: 1000,
        ..Default::default()
    }
}

fn decide(b: &mut BlbBalancer, p: &PacketMeta, loads: &[f64], live: usize) -> Assignment {
    let (key, _) = FlowKey::from_packet(p, KeyOptions::default(), true);
    b.assign(&FlowContext {
        packet: p,
        key: &key,
        loads,
        noise: &[],
        now: p.ts,
        live_flows: live,
        in_service: crate::sensor::SensorSet::all(loads.len()),
    })
}

/// The paper's BLB without a start.
fn cfg(search: SearchMode) -> BlbConfig {
    BlbConfig {
        train_flows: 0,
        search,
        flow_load: FlowLoad::Fixed(10_000.0),
        ..BlbConfig::paper()
    }
}

/// Robust BLB (its start is on-line).
fn robust(search: SearchMode) -> BlbConfig {
    BlbConfig {
        search,
        flow_load: FlowLoad::Fixed(10_000.0),
        ..BlbConfig::robust()
    }
}

const VICTIM: u32 = 0x0a0a_0a0a;

#[test]
fn first_flow_creates_a_cluster_and_correlated_flows_join_it() {
    let mut b = BlbBalancer::new(vec![10e6; 4], cfg(SearchMode::Indexed)).unwrap();
    let loads = [3.0, 1.0, 2.0, 5.0];
    let a = decide(&mut b, &flow(1, VICTIM, 80, proto::UDP, S), &loads, 0);
    assert_eq!(
        a.sensors,
        SensorSet::one(1),
        "a new cluster goes to the least-loaded sensor"
    );
    assert_eq!(b.counters().new_clusters, 1);
    for src in 2..1000u32 {
        let a = decide(
            &mut b,
            &flow(src, VICTIM, 1000 + src as u16, proto::UDP, S),
            &loads,
            0,
        );
        assert_eq!(
            a.sensors,
            SensorSet::one(1),
            "flows to the victim stay together"
        );
    }
    assert_eq!(b.clusters().len(), 1);
    assert_eq!(b.clusters().get(0).map(|c| c.flows), Some(999));
}

#[test]
fn variance_bound_spreads_when_it_binds() {
    let mut c = cfg(SearchMode::Indexed);
    c.flow_load = FlowLoad::Fixed(100_000.0); // 1 % of a 10 MB/s sensor
    c.constraint = Constraint::Variance(9.0);
    let mut b = BlbBalancer::new(vec![10e6; 10], c).unwrap();
    let mut loads = [0.0; 10];
    let first = decide(&mut b, &flow(1, VICTIM, 80, proto::UDP, S), &loads, 0)
        .sensors
        .first()
        .unwrap();
    // Sensor `first` carries 10 % (variance 9): one more flow there would break V = 9.
    loads[usize::from(first)] = 10.0;
    let a = decide(&mut b, &flow(2, VICTIM, 81, proto::UDP, S), &loads, 0);
    assert!(!a.sensors.contains(first));
    // With the load at 5 % there is room: back to the victim's cluster.
    loads[usize::from(first)] = 5.0;
    let a = decide(&mut b, &flow(3, VICTIM, 82, proto::UDP, S), &loads, 0);
    assert!(a.sensors.contains(first));
}

#[test]
fn packets_restart_idle_time_and_deletion_respects_m_max() {
    let mut c = cfg(SearchMode::Indexed);
    c.m_max = 3;
    c.cluster_cap = 5;
    c.th_w = 0.5;
    c.lambda = 2.0;
    let mut b = BlbBalancer::new(vec![10e6; 2], c).unwrap();
    let loads = [0.0; 2];
    // Unrelated flows (different everything, including protocol) each make a cluster.
    let protos = [proto::UDP, proto::TCP, proto::ICMP, 47, 50, 51, 132];
    let mut tags = Vec::new();
    for (i, &pr) in protos.iter().enumerate().take(4) {
        let p = flow(
            (100 + i as u32) << 16,
            (200 + i as u32) << 16,
            1000 + i as u16,
            pr,
            S,
        );
        tags.push(decide(&mut b, &p, &loads, 0).tag);
    }
    assert_eq!(b.clusters().len(), 4);
    // Keep cluster 0 alive with packets; at t = 3 s the others weigh 2^-2 < th_w.
    b.on_packet(
        tags[0],
        &flow(100 << 16, 200 << 16, 1000, proto::UDP, 3 * S),
        3 * S,
    );
    let p = flow(300 << 16, 400 << 16, 2000, protos[4], 3 * S);
    decide(&mut b, &p, &loads, 0);
    // 4 > m_max = 3: the three idle clusters are deleted, the refreshed one stays.
    assert_eq!(b.counters().clusters.deleted, 3);
    assert_eq!(b.clusters().len(), 2);
    assert!(b.clusters().get(0).is_some());
    // Hard cap: nothing light enough to delete, so the lightest go to stay under 5.
    for (i, &pr) in protos.iter().enumerate().skip(5) {
        decide(
            &mut b,
            &flow(
                (500 + i as u32) << 16,
                (600 + i as u32) << 16,
                3000 + i as u16,
                pr,
                3 * S,
            ),
            &loads,
            0,
        );
    }
    for i in 0..10u32 {
        decide(
            &mut b,
            &flow(
                (700 + i) << 16,
                (800 + i) << 16,
                4000 + i as u16,
                100 + i as u8,
                3 * S,
            ),
            &loads,
            0,
        );
    }
    assert!(b.clusters().len() <= 5, "never above the hard cap");
    assert!(b.counters().clusters.evicted > 0);
    // A flow whose cluster was deleted keeps working (its packets are ignored by BLB).
    b.on_packet(
        tags[1],
        &flow(101 << 16, 201 << 16, 1001, proto::TCP, 4 * S),
        4 * S,
    );
    b.on_flow_end(tags[1], 4 * S);
}

#[test]
fn k_medoids_start_maps_medoids_to_sensors() {
    let mut c = cfg(SearchMode::Indexed);
    c.train_flows = 40;
    let mut b = BlbBalancer::new(vec![10e6; 4], c).unwrap();
    // Four groups of ten flows: to four different victims.
    let loads = [0.0; 4];
    for i in 0..40u32 {
        let a = decide(
            &mut b,
            &flow(1000 + i, VICTIM + (i % 4) * 256, 80, proto::UDP, S),
            &loads,
            0,
        );
        assert_eq!(a.sensors.len(), 1);
    }
    assert_eq!(b.counters().warmup_flows, 40);
    assert_eq!(b.clusters().len(), 4);
    let mut sensors: Vec<u16> = b.clusters().iter().map(|(_, c)| c.sensor).collect();
    sensors.sort();
    assert_eq!(sensors, vec![0, 1, 2, 3]);
    let mut dsts: Vec<Addr> = b.clusters().iter().map(|(_, c)| c.centroid.dst).collect();
    dsts.sort();
    dsts.dedup();
    assert_eq!(dsts.len(), 4, "one medoid per victim");
    // The next flow to victim 2 joins that victim's cluster.
    let a = decide(
        &mut b,
        &flow(5000, VICTIM + 2 * 256, 80, proto::UDP, S),
        &loads,
        0,
    );
    let owner = b
        .clusters()
        .iter()
        .find(|(_, c)| c.centroid.dst == Addr::v4((VICTIM + 512).to_be_bytes()))
        .map(|(_, c)| c.sensor);
    assert_eq!(a.sensors.first(), owner);
}

#[test]
fn training_from_points_replaces_the_warm_up() {
    let mut c = cfg(SearchMode::Indexed);
    c.train_flows = 1000;
    let mut b = BlbBalancer::new(vec![10e6; 3], c).unwrap();
    let pts: Vec<FlowPoint> = (0..30u32)
        .map(|i| b.point(&flow(i, VICTIM + (i % 3), 53, proto::UDP, 0)))
        .collect();
    assert_eq!(b.train(&pts), 3);
    decide(&mut b, &flow(99, VICTIM, 53, proto::UDP, S), &[0.0; 3], 0);
    assert_eq!(b.counters().warmup_flows, 0);
    assert_eq!(b.counters().joined, 1);
}

#[test]
fn duplication_sends_to_f_sensors() {
    let mut c = cfg(SearchMode::Indexed);
    c.duplication = 2;
    c.constraint = Constraint::Variance(1000.0);
    let mut b = BlbBalancer::new(vec![10e6; 3], c).unwrap();
    // Three start clusters: the victim's (sensor 0), port 80 over TCP elsewhere (B = 0.3 for
    // the flow below), and an unrelated one (B = 0).
    let pts = [
        b.point(&flow(1, VICTIM, 80, proto::UDP, 0)),
        b.point(&flow(2, 0x0b00_0001, 80, proto::TCP, 0)),
        b.point(&flow(3, 0x0c00_0001, 9999, proto::ICMP, 0)),
    ];
    assert_eq!(b.train(&pts), 3);
    let loads = [0.0, 1.0, 2.0];
    let a = decide(&mut b, &flow(3, VICTIM, 80, proto::UDP, S), &loads, 0);
    assert_eq!(a.sensors.len(), 2);
    assert!(a.sensors.contains(0) && a.sensors.contains(1));
    assert_eq!(b.counters().duplicates, 1);
}

#[test]
fn bad_settings_are_named() {
    let bad = |c: BlbConfig, name: &str| {
        let e = BlbBalancer::new(vec![1e6; 4], c).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    };
    bad(
        BlbConfig {
            lambda: 1.0,
            ..BlbConfig::default()
        },
        "lambda",
    );
    bad(
        BlbConfig {
            duplication: 5,
            ..BlbConfig::default()
        },
        "duplication",
    );
    bad(
        BlbConfig {
            cluster_cap: 10,
            m_max: 10,
            ..BlbConfig::default()
        },
        "cluster_cap",
    );
    bad(
        BlbConfig {
            constraint: Constraint::Variance(-1.0),
            ..BlbConfig::default()
        },
        "variance_bound",
    );
    bad(
        BlbConfig {
            distance: DistanceConfig {
                alpha_port: 0.5,
                ..DistanceConfig::ddos()
            },
            ..BlbConfig::default()
        },
        "alpha",
    );
}

/// Robust BLB: a flow joins only a cluster within the join distance, so a flood to a victim
/// forms its own cluster instead of joining an unrelated cluster of the same protocol, and
/// no flow waits for a start.
#[test]
fn robust_flows_join_only_close_clusters() {
    let mut b = BlbBalancer::new(vec![10e6; 4], robust(SearchMode::Indexed)).unwrap();
    let loads = [0.0, 1.0, 2.0, 3.0];
    // A DNS client's flow: cluster on sensor 0 (least loaded).
    decide(
        &mut b,
        &flow(0x0a0a_0001, 0x0808_0808, 53, proto::UDP, S),
        &loads,
        0,
    );
    // A flood flow to another host shares only UDP (D = 0.9 > 0.5): its own cluster, on the
    // least-loaded sensor, not the DNS cluster.
    let loads = [5.0, 1.0, 2.0, 3.0];
    let a = decide(&mut b, &flow(7, VICTIM, 999, proto::UDP, S), &loads, 0);
    assert_eq!(a.sensors, SensorSet::one(1));
    assert_eq!(b.counters().new_clusters, 2);
    assert_eq!(b.counters().warmup_flows, 0);
    // The next flood flows (same victim, D = 0.3) join the victim's cluster.
    for src in 8..100 {
        let a = decide(
            &mut b,
            &flow(src, VICTIM, src as u16, proto::UDP, S),
            &loads,
            0,
        );
        assert_eq!(a.sensors, SensorSet::one(1));
    }
    assert_eq!(b.counters().new_clusters, 2);
}

/// Robust BLB: when the bound binds, the overflow goes to one secondary cluster (the primary
/// keeps growing heavier than it), and new flows return to the primary as soon as it is
/// feasible again; under the paper's weights a fresh cluster (weight 1) outweighs the large
/// one and takes the flood away for good.
#[test]
fn robust_spill_returns_to_the_primary() {
    let spill = |c: BlbConfig| {
        let mut c = c;
        c.flow_load = FlowLoad::Fixed(100_000.0); // 1 % of a 10 MB/s sensor
        c.constraint = Constraint::Variance(9.0);
        c.headroom = 0.0;
        c.lambda = 1.05;
        let mut b = BlbBalancer::new(vec![10e6; 10], c).unwrap();
        let mut loads = [0.0; 10];
        let mut src = 1;
        let mut go = |b: &mut BlbBalancer, loads: &[f64; 10], t: u64| {
            src += 1;
            decide(b, &flow(src, VICTIM, src as u16, proto::UDP, t), loads, 0)
                .sensors
                .first()
                .unwrap()
        };
        let primary = go(&mut b, &loads, S);
        for _ in 0..200 {
            assert_eq!(go(&mut b, &loads, S), primary);
        }
        // The primary is full: the overflow goes elsewhere, to one sensor.
        loads[usize::from(primary)] = 10.0;
        let secondary = go(&mut b, &loads, 2 * S);
        assert_ne!(secondary, primary);
        for _ in 0..20 {
            assert_eq!(go(&mut b, &loads, 2 * S), secondary);
        }
        // Room again on the primary, a second later: where do new flows go?
        loads[usize::from(primary)] = 5.0;
        go(&mut b, &loads, 3 * S) == primary
    };
    assert!(spill(robust(SearchMode::Indexed)));
    assert!(spill(robust(SearchMode::BruteForce)));
    assert!(!spill(BlbConfig {
        lambda: 1.05,
        ..cfg(SearchMode::Indexed)
    }));
}

/// The paper's warm-up does its k-medoids in slices, one per new flow, so no flow waits for
/// the whole start: with 1 500 flows the start ends many flows after the collection, and the
/// medoids it gives are those of the one-go run.
#[test]
fn warm_up_runs_in_slices() {
    let mut c = cfg(SearchMode::Indexed);
    c.train_flows = 1500;
    c.start = crate::blb::Start::WarmUp;
    let mut b = BlbBalancer::new(vec![10e6; 4], c).unwrap();
    let loads = [0.0; 4];
    let mut i = 0u32;
    let mut pts = Vec::new();
    while b.clusters().is_empty() {
        let p = flow(
            1000 + i,
            VICTIM + (i % 16) * 256,
            80 + (i % 7) as u16,
            proto::UDP,
            S,
        );
        if pts.len() < 1500 {
            pts.push(b.point(&p));
        }
        decide(&mut b, &p, &loads, 0);
        i += 1;
        assert!(i < 100_000, "the start never ends");
    }
    assert!(b.counters().warmup_flows > 1510, "{:?}", b.counters());
    let d = b.distance.clone();
    let batch = pam(1500, 4, |x, y| d.distance(&pts[x], &pts[y]), MAX_SWAPS);
    let mut got: Vec<FlowPoint> = b.clusters().iter().map(|(_, c)| c.centroid).collect();
    let mut want: Vec<FlowPoint> = batch.medoids.iter().map(|&m| pts[m]).collect();
    got.sort_by_key(|p| (p.dst.bytes, p.dst_port));
    want.sort_by_key(|p| (p.dst.bytes, p.dst_port));
    assert_eq!(got, want);
}
