//! Tests of the BLB balancer: Listing 3's behaviour, the k-medoids start, deletion and the cap,
//! and the equivalence of the indexed search with the literal scan.

use proptest::prelude::*;

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
        now: p.ts,
        live_flows: live,
        in_service: crate::sensor::SensorSet::all(loads.len()),
    })
}

fn cfg(search: SearchMode) -> BlbConfig {
    BlbConfig {
        train_flows: 0,
        search,
        flow_load: FlowLoad::Fixed(10_000.0),
        ..BlbConfig::default()
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

/// One step of a random workload: a new flow (small address/port spaces: heavy ties), with
/// a time step, loads, and packets or ends of earlier flows.
#[derive(Clone, Debug)]
struct Step {
    src: u8,
    dst: u8,
    port: u8,
    protocol: u8,
    dt_ms: u16,
    loads: [u8; 4],
    packet_of: Option<u16>,
    end_of: Option<u16>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..40,
        0u8..12,
        0u8..20,
        0u8..3,
        prop_oneof![Just(0u16), 0u16..3000],
        any::<[u8; 4]>(),
        proptest::option::of(any::<u16>()),
        proptest::option::weighted(0.2, any::<u16>()),
    )
        .prop_map(
            |(src, dst, port, protocol, dt_ms, loads, packet_of, end_of)| Step {
                src,
                dst,
                port,
                protocol,
                dt_ms,
                loads,
                packet_of,
                end_of,
            },
        )
}

fn run_pair(steps: &[Step], c: BlbConfig, v: f64) -> Result<(), TestCaseError> {
    let mut indexed = BlbBalancer::new(
        vec![10e6; 4],
        BlbConfig {
            search: SearchMode::Indexed,
            ..c.clone()
        },
    )
    .unwrap();
    let mut brute = BlbBalancer::new(
        vec![10e6; 4],
        BlbConfig {
            search: SearchMode::BruteForce,
            ..c
        },
    )
    .unwrap();
    let mut ts = S;
    let mut tags: Vec<u64> = Vec::new();
    for (n, st) in steps.iter().enumerate() {
        ts += u64::from(st.dt_ms) * 1_000_000;
        let protocol = [proto::UDP, proto::TCP, proto::ICMP][usize::from(st.protocol)];
        let p = flow(
            u32::from(st.src),
            VICTIM + u32::from(st.dst) * 64,
            75 + u16::from(st.port),
            protocol,
            ts,
        );
        // Loads near the bound: a few percent around 0..=3·sqrt(V).
        let scale = 3.0 * v.sqrt() / 255.0;
        let loads: Vec<f64> = st.loads.iter().map(|&l| f64::from(l) * scale).collect();
        let a = decide(&mut indexed, &p, &loads, n);
        let b = decide(&mut brute, &p, &loads, n);
        prop_assert_eq!(a, b, "step {}: assignments differ", n);
        prop_assert_eq!(
            indexed.last_chosen(),
            brute.last_chosen(),
            "step {}: clusters differ",
            n
        );
        tags.push(a.tag);
        if let Some(k) = st.packet_of {
            let tag = tags[usize::from(k) % tags.len()];
            indexed.on_packet(tag, &p, ts);
            brute.on_packet(tag, &p, ts);
        }
        if let Some(k) = st.end_of {
            let tag = tags[usize::from(k) % tags.len()];
            indexed.on_flow_end(tag, ts);
            brute.on_flow_end(tag, ts);
        }
    }
    let ci: Vec<_> = indexed
        .clusters()
        .iter()
        .map(|(i, c)| (i, c.clone()))
        .collect();
    let cb: Vec<_> = brute
        .clusters()
        .iter()
        .map(|(i, c)| (i, c.clone()))
        .collect();
    prop_assert_eq!(ci, cb);
    prop_assert_eq!(indexed.counters(), brute.counters());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn indexed_search_decides_exactly_like_the_scan(
        steps in proptest::collection::vec(step(), 1..400),
        v in prop_oneof![Just(0.5f64), Just(9.0), 0.0f64..50.0],
        f in 1usize..3,
        preset in any::<bool>(),
        refresh in prop_oneof![Just(0.0f64), Just(1.0)],
        lambda in prop_oneof![Just(1.05f64), Just(2.0), 1.001f64..3.0],
    ) {
        let c = BlbConfig {
            distance: if preset { DistanceConfig::ddos() } else { DistanceConfig { port_groups: vec![vec![75, 80, 85], vec![90, 91]], ..DistanceConfig::port() } },
            constraint: Constraint::Variance(v),
            duplication: f,
            m_max: 60,
            cluster_cap: 120,
            th_w: 0.3,
            refresh_interval: refresh,
            lambda,
            train_flows: 0,
            flow_load: FlowLoad::Mean,
            search: SearchMode::Indexed,
        };
        run_pair(&steps, c, v)?;
    }
}

/// Thousands of clusters: unrelated flows make a new cluster each, with a cap far above
/// m_max and weights that never fall below th_w, then correlated flows probe them.
#[test]
fn indexed_equals_scan_with_thousands_of_clusters() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 3,
        ..ProptestConfig::default()
    });
    let strategy = proptest::collection::vec(step(), 3000..3001);
    runner
        .run(&strategy, |steps| {
            let c = BlbConfig {
                constraint: Constraint::Variance(4.0),
                m_max: 2000,
                cluster_cap: 2500,
                th_w: 0.0,
                train_flows: 0,
                ..BlbConfig::default()
            };
            // Spread flows over a large space so most make their own cluster.
            let wide: Vec<Step> = steps
                .iter()
                .enumerate()
                .map(|(i, s)| Step {
                    src: (i % 251) as u8,
                    dst: s.dst,
                    port: (i % 19) as u8,
                    dt_ms: s.dt_ms % 5,
                    ..s.clone()
                })
                .collect();
            run_pair(&wide, c, 4.0)
        })
        .unwrap();
}

/// Far from the epoch (large keys), tied clusters must still go to the lowest id: the bound
/// must round like the weights do.
#[test]
fn ties_far_from_the_epoch_go_to_the_lowest_id() {
    for (lambda, secs) in [
        (1.01f64, 4_000_000_000u64),
        (2.0, 10_000_000),
        (1e6, 100_000),
    ] {
        let mut out = Vec::new();
        for search in [SearchMode::Indexed, SearchMode::BruteForce] {
            let c = BlbConfig {
                lambda,
                ..cfg(search)
            };
            let mut b = BlbBalancer::new(vec![10e6; 4], c).unwrap();
            let loads = [0.0; 4];
            let far = secs * S;
            // Epoch: an unrelated cluster (id 0).
            decide(&mut b, &flow(9, 0x0c00_0001, 0, 47, S), &loads, 0);
            // Cluster 1 shares only f's destination, cluster 2 only its source; same time.
            decide(
                &mut b,
                &flow(2, 0x0a00_0001, 5000, proto::TCP, far),
                &loads,
                0,
            );
            decide(
                &mut b,
                &flow(1, 0x0b00_0001, 0, proto::ICMP, far),
                &loads,
                0,
            );
            assert_eq!(b.clusters().len(), 3);
            decide(
                &mut b,
                &flow(1, 0x0a00_0001, 80, proto::UDP, far),
                &loads,
                0,
            );
            out.push(b.last_chosen().to_vec());
        }
        assert_eq!(out[0], out[1], "λ {lambda}, t {secs} s");
        assert_eq!(out[0], vec![1]);
    }
}
