//! The indexed search decides exactly like the literal scan: every assignment, every chosen
//! cluster, every cluster's state and every counter, on random and adversarial workloads, for
//! both weight rules, any join distance, both constraints, duplication, sensors in and out of
//! service, weights that underflow and time jumps of millions of seconds.

use proptest::prelude::*;

use super::*;
use crate::blb::solve_p::Constraint;
use crate::blb::{BlbConfig, DistanceConfig, FlowLoad, SearchMode, Variant};
use crate::flow_key::{FlowKey, KeyOptions};
use crate::packet::{Addr, PacketMeta, proto};

const S: Nanos = NANOS_PER_SEC;
const VICTIM: u32 = 0x0a0a_0a0a;
const N: usize = 16;

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

/// One step of a random workload: a new flow (small address/port spaces: heavy ties), a time
/// step (now and then a jump of up to 2·10⁶ s), loads and noise, sensors out of service, and
/// packets or ends of earlier flows.
#[derive(Clone, Debug)]
struct Step {
    src: u8,
    dst: u8,
    port: u8,
    protocol: u8,
    dt_ns: u64,
    loads: [u8; N],
    noise: [u8; N],
    out: u16,
    packet_of: Option<u16>,
    end_of: Option<u16>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        (0u8..40, 0u8..12, 0u8..20, 0u8..3),
        prop_oneof![
            6 => Just(0u64),
            12 => 0u64..3 * S,
            1 => S..2_000_000 * S,
        ],
        any::<[u8; N]>(),
        any::<[u8; N]>(),
        prop_oneof![8 => Just(0u16), 1 => any::<u16>()],
        proptest::option::of(any::<u16>()),
        proptest::option::weighted(0.2, any::<u16>()),
    )
        .prop_map(
            |((src, dst, port, protocol), dt_ns, loads, noise, out, packet_of, end_of)| Step {
                src,
                dst,
                port,
                protocol,
                dt_ns,
                loads,
                noise,
                out,
                packet_of,
                end_of,
            },
        )
}

fn decide(b: &mut BlbBalancer, p: &PacketMeta, ctx: (&[f64], &[f64], SensorSet)) -> Assignment {
    let (key, _) = FlowKey::from_packet(p, KeyOptions::default(), true);
    b.assign(&FlowContext {
        packet: p,
        key: &key,
        loads: ctx.0,
        noise: ctx.1,
        now: p.ts,
        live_flows: 100,
        in_service: ctx.2,
    })
}

/// Run the same workload through both searches; every decision and the final state agree.
fn run_pair(steps: &[Step], c: BlbConfig, n: usize, scale: f64) -> Result<(), TestCaseError> {
    let make = |search| {
        BlbBalancer::new(
            vec![10e6; n],
            BlbConfig {
                search,
                ..c.clone()
            },
        )
    };
    let (Ok(mut indexed), Ok(mut brute)) =
        (make(SearchMode::Indexed), make(SearchMode::BruteForce))
    else {
        return Err(TestCaseError::reject("invalid settings"));
    };
    let mut ts = S;
    let mut tags: Vec<u64> = Vec::new();
    for (k, st) in steps.iter().enumerate() {
        ts = ts.saturating_add(st.dt_ns);
        let protocol = [proto::UDP, proto::TCP, proto::ICMP][usize::from(st.protocol)];
        let p = flow(
            u32::from(st.src),
            VICTIM + u32::from(st.dst) * 64,
            75 + u16::from(st.port),
            protocol,
            ts,
        );
        let loads: Vec<f64> = st.loads[..n]
            .iter()
            .map(|&l| f64::from(l) * scale)
            .collect();
        let noise: Vec<f64> = st.noise[..n]
            .iter()
            .map(|&l| f64::from(l) * scale / 16.0)
            .collect();
        let mut up = SensorSet::all(n);
        for i in 0..n.min(16) {
            if st.out & (1 << i) != 0 {
                up.remove(i as u16);
            }
        }
        let a = decide(&mut indexed, &p, (&loads, &noise, up));
        let b = decide(&mut brute, &p, (&loads, &noise, up));
        prop_assert_eq!(a, b, "step {}: assignments differ", k);
        prop_assert_eq!(
            indexed.last_chosen(),
            brute.last_chosen(),
            "step {}: clusters differ",
            k
        );
        tags.push(a.tag);
        if let Some(i) = st.packet_of {
            let tag = tags[usize::from(i) % tags.len()];
            indexed.on_packet(tag, &p, ts);
            brute.on_packet(tag, &p, ts);
        }
        if let Some(i) = st.end_of {
            let tag = tags[usize::from(i) % tags.len()];
            indexed.on_flow_end(tag, ts);
            brute.on_flow_end(tag, ts);
        }
    }
    let state = |b: &BlbBalancer| {
        b.clusters()
            .iter()
            .map(|(i, c)| (i, c.clone()))
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(state(&indexed), state(&brute));
    prop_assert_eq!(indexed.counters(), brute.counters());
    Ok(())
}

/// λ from 1 + 1e-9 to 1e12, log-uniform above the named values.
fn lambda() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(1.0 + 1e-9),
        Just(1.01),
        Just(std::f64::consts::E),
        (1e-9f64.ln()..12f64.ln() * std::f64::consts::LOG10_E.recip()).prop_map(|x| 1.0 + x.exp()),
    ]
}

fn config() -> impl Strategy<Value = (BlbConfig, usize, f64)> {
    (
        (1usize..=N, 1usize..=4, any::<bool>(), any::<bool>()),
        (
            prop_oneof![Just(0.5f64), Just(9.0), 0.0f64..50.0],
            prop_oneof![Just(1.0f64), Just(0.5), 0.05f64..1.0],
            prop_oneof![Just(None), Just(Some(2.0f64)), (0.0f64..4.0).prop_map(Some)],
            0.0f64..0.2,
        ),
        (
            lambda(),
            1usize..60,
            0.0f64..0.6,
            prop_oneof![Just(0.0f64), Just(1.0)],
        ),
        (any::<bool>(), 0u8..3),
    )
        .prop_map(
            |(
                (n, f, robust, threshold),
                (v, join, noise, headroom),
                (lambda, m_max, th_w, refresh),
                (preset, groups),
            )| {
                // Port groups: none; a few that overlap (80, 85 and 91 are in two); or port 80
                // in ten groups, more than the search keeps inline.
                let port_groups = match groups {
                    0 => Vec::new(),
                    1 => vec![vec![75, 80, 85], vec![80, 90, 91], vec![85, 91]],
                    _ => (0..10).map(|i| vec![80, 76 + i]).collect(),
                };
                let base = if preset {
                    DistanceConfig::ddos()
                } else {
                    DistanceConfig::port()
                };
                let distance = DistanceConfig {
                    port_groups,
                    ..base
                };
                let constraint = if threshold {
                    Constraint::Threshold(10.0 + 3.0 * v)
                } else {
                    Constraint::Variance(v)
                };
                let c = BlbConfig {
                    variant: if robust {
                        Variant::Robust
                    } else {
                        Variant::Paper
                    },
                    distance,
                    constraint,
                    duplication: f.min(n),
                    m_max,
                    cluster_cap: m_max + 1 + m_max / 2,
                    th_w,
                    refresh_interval: refresh,
                    lambda,
                    join_distance: join,
                    noise_sigmas: noise,
                    headroom,
                    train_flows: 0,
                    flow_load: FlowLoad::Mean,
                    ..BlbConfig::robust()
                };
                // Loads near the bound: a few percent around 0..=3·sqrt(V).
                let scale = 3.0 * v.max(1.0).sqrt() / 255.0;
                (c, n, scale)
            },
        )
}

/// Cases of the equivalence property: 256 by default, `BLB_PROPTEST_CASES` for a long run.
fn cases() -> u32 {
    std::env::var("BLB_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn indexed_search_decides_exactly_like_the_scan(
        steps in proptest::collection::vec(step(), 1..300),
        (c, n, scale) in config(),
    ) {
        run_pair(&steps, c, n, scale)?;
    }
}

/// Thousands of clusters: unrelated flows make a new cluster each, with a cap far above
/// m_max and weights that never fall below th_w, then correlated flows probe them.
#[test]
fn indexed_equals_scan_with_thousands_of_clusters() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 4,
        ..ProptestConfig::default()
    });
    let strategy = (proptest::collection::vec(step(), 3000..3001), any::<bool>());
    runner
        .run(&strategy, |(steps, robust)| {
            let c = BlbConfig {
                constraint: Constraint::Variance(4.0),
                m_max: 2000,
                cluster_cap: 2500,
                th_w: 0.0,
                train_flows: 0,
                ..if robust {
                    BlbConfig::robust()
                } else {
                    BlbConfig::paper()
                }
            };
            // Spread flows over a large space so most make their own cluster.
            let wide: Vec<Step> = steps
                .iter()
                .enumerate()
                .map(|(i, s)| Step {
                    src: (i % 251) as u8,
                    dst: s.dst,
                    port: (i % 19) as u8,
                    dt_ns: s.dt_ns % (5 * 1_000_000),
                    out: 0,
                    ..s.clone()
                })
                .collect();
            run_pair(&wide, c, 4, 3.0 * 2.0 / 255.0)
        })
        .unwrap();
}

/// The case that once split them: a cluster that matches only on destination and protocol,
/// λ = e, idle for 745 s, so its weight is subnormal (about 5e-324). Neither search joins it;
/// both create a cluster.
#[test]
fn an_underflowing_weight_counts_as_zero_in_both_searches() {
    for variant in [Variant::Paper, Variant::Robust] {
        let mut chosen = Vec::new();
        for search in [SearchMode::Indexed, SearchMode::BruteForce] {
            let c = BlbConfig {
                lambda: std::f64::consts::E,
                search,
                train_flows: 0,
                flow_load: FlowLoad::Fixed(0.0),
                ..BlbConfig::for_variant(variant)
            };
            let mut b = BlbBalancer::new(vec![10e6; 2], c).unwrap();
            let ctx = ([0.0; 2].as_slice(), [0.0; 2].as_slice(), SensorSet::all(2));
            decide(&mut b, &flow(1, VICTIM, 80, proto::UDP, S), ctx);
            decide(&mut b, &flow(2, VICTIM, 81, proto::UDP, 746 * S), ctx);
            chosen.push((b.counters().new_clusters, b.counters().joined));
        }
        assert_eq!(chosen[0], chosen[1], "{variant:?}");
        assert_eq!(chosen[0], (2, 0), "{variant:?}");
    }
}

/// Far from the epoch (large keys), tied clusters must still go to the lowest id: the bound
/// must round like the weights do.
#[test]
fn ties_far_from_the_epoch_go_to_the_lowest_id() {
    for variant in [Variant::Paper, Variant::Robust] {
        for (lambda, secs) in [
            (1.01f64, 4_000_000_000u64),
            (2.0, 10_000_000),
            (1e6, 100_000),
        ] {
            let mut out = Vec::new();
            for search in [SearchMode::Indexed, SearchMode::BruteForce] {
                let c = BlbConfig {
                    lambda,
                    search,
                    train_flows: 0,
                    join_distance: 1.0,
                    flow_load: FlowLoad::Fixed(10_000.0),
                    ..BlbConfig::for_variant(variant)
                };
                let mut b = BlbBalancer::new(vec![10e6; 4], c).unwrap();
                let ctx = ([0.0; 4].as_slice(), [0.0; 4].as_slice(), SensorSet::all(4));
                let far = secs * S;
                // Epoch: an unrelated cluster (id 0).
                decide(&mut b, &flow(9, 0x0c00_0001, 0, 47, S), ctx);
                // Cluster 1 shares only f's destination, cluster 2 only its source; same time.
                decide(&mut b, &flow(2, 0x0a00_0001, 5000, proto::TCP, far), ctx);
                decide(&mut b, &flow(1, 0x0b00_0001, 0, proto::ICMP, far), ctx);
                assert_eq!(b.clusters().len(), 3);
                decide(&mut b, &flow(1, 0x0a00_0001, 80, proto::UDP, far), ctx);
                out.push(b.last_chosen().to_vec());
            }
            assert_eq!(out[0], out[1], "{variant:?} λ {lambda}, t {secs} s");
            assert_eq!(out[0], vec![1], "{variant:?} λ {lambda}, t {secs} s");
        }
    }
}
