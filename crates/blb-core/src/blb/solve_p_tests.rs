//! Tests of the constraints and of `solve_p` against hand-computed values and against the
//! problem P solved by enumeration.

use proptest::prelude::*;

use super::*;
use crate::blb::cluster::{ClusterSet, WeightRule, Weights};
use crate::blb::distance::{Distance, DistanceConfig, FlowPoint};
use crate::packet::{Addr, PacketMeta, proto};

fn direct_variance(loads: &[f64]) -> f64 {
    let n = loads.len() as f64;
    let mean = loads.iter().sum::<f64>() / n;
    loads.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / n
}

#[test]
fn variance_constraint_hand_computed() {
    // The paper's picture: ten sensors, all 1 MB/s of attack (10 %) on sensor 0: Var = 9.
    let mut loads = [0.0; 10];
    loads[0] = 10.0;
    assert!((direct_variance(&loads) - 9.0).abs() < 1e-12);
    let lf = [1.0; 10];
    let ok = Constraint::Variance(9.0).feasible(&loads, &lf, SensorSet::EMPTY);
    // Sensor 0: 9 + 2·1·(10 − 1)/10 + 1·9/100 = 10.89 > 9; others: 9 − 0.2 + 0.09 = 8.89.
    assert!(!ok.contains(0));
    assert_eq!(ok.len(), 9);
    let mut after = loads;
    after[0] += 1.0;
    assert!((direct_variance(&after) - 10.89).abs() < 1e-9);
    after = loads;
    after[3] += 1.0;
    assert!((direct_variance(&after) - 8.89).abs() < 1e-9);
    // A bound of 11 lets sensor 0 take it too; excluded sensors never appear.
    let ok = Constraint::Variance(11.0).feasible(&loads, &lf, SensorSet::one(5));
    assert!(ok.contains(0) && !ok.contains(5));
}

#[test]
fn threshold_constraint_is_literal() {
    let lf = [15.0, 15.0];
    let ok = Constraint::Threshold(80.0).feasible(&[50.0, 70.0], &lf, SensorSet::EMPTY);
    assert_eq!(ok, SensorSet::one(0));
    // A sensor already at the threshold leaves no feasible assignment anywhere.
    assert!(
        Constraint::Threshold(80.0)
            .feasible(&[85.0, 10.0], &lf, SensorSet::EMPTY)
            .is_empty()
    );
}

proptest! {
    #[test]
    fn variance_feasibility_equals_direct_computation(
        loads in proptest::collection::vec(0.0f64..100.0, 1..12),
        lf in 0.0f64..20.0,
        v in 0.0f64..400.0,
    ) {
        let lfs = vec![lf; loads.len()];
        let ok = Constraint::Variance(v).feasible(&loads, &lfs, SensorSet::EMPTY);
        for i in 0..loads.len() {
            let mut after = loads.clone();
            after[i] += lf;
            let var = direct_variance(&after);
            if (var - v).abs() > 1e-6 {
                prop_assert_eq!(ok.contains(i as u16), var <= v, "sensor {} var {} V {}", i, var, v);
            }
        }
    }
}

fn paper() -> Weights {
    Weights {
        ln_lambda: 1.1f64.ln(),
        rule: WeightRule::Paper,
    }
}

fn point(d: &Distance, src: u8, dst: u8, port: u16) -> FlowPoint {
    d.point(&PacketMeta {
        src: Addr::v4([1, 0, 0, src]),
        dst: Addr::v4([10, 0, dst, 1]),
        dst_port: port,
        src_port: 5000,
        has_ports: true,
        protocol: proto::UDP,
        ..Default::default()
    })
}

/// Clusters on three sensors with hand-computable benefits for flow f = (src 9, dst 1, port 80)
/// at t = 0 (all weights 1): same dst and port: B = 1; same dst only: 0.7; same port only: 0.4;
/// same protocol only: 0.1.
fn setup() -> (Distance, ClusterSet, FlowPoint) {
    let d = Distance::new(DistanceConfig::ddos()).unwrap();
    let w = paper();
    let mut cs = ClusterSet::default();
    cs.insert(w.new_cluster(point(&d, 1, 1, 80), 0, 0.0, 1)); // id 0, s0, B = 1.0
    cs.insert(w.new_cluster(point(&d, 2, 1, 99), 1, 0.0, 1)); // id 1, s1, B = 0.7
    cs.insert(w.new_cluster(point(&d, 3, 7, 80), 2, 0.0, 1)); // id 2, s2, B = 0.4
    cs.insert(w.new_cluster(point(&d, 4, 8, 99), 2, 0.0, 1)); // id 3, s2, B = 0.1
    let f = point(&d, 9, 1, 80);
    (d, cs, f)
}

#[test]
fn benefits_hand_computed() {
    let (d, cs, f) = setup();
    let s = Scoring {
        distance: &d,
        weights: paper(),
        join_distance: 1.0,
        t: 0.0,
    };
    let b: Vec<f64> = cs.iter().map(|(_, c)| s.benefit(&f, c)).collect();
    for (got, want) in b.iter().zip([1.0, 0.7, 0.4, 0.1]) {
        assert!((got - want).abs() < 1e-12, "{b:?}");
    }
    // Two seconds later with λ = 1.1 every benefit shrinks by 1.1^-2.
    let s2 = Scoring { t: 2.0, ..s };
    let c0 = cs.get(0).unwrap();
    assert!((s2.benefit(&f, c0) - 1.1f64.powf(-2.0)).abs() < 1e-12);
}

#[test]
fn solve_p_f1_takes_the_best_feasible_cluster() {
    let (d, cs, f) = setup();
    let s = Scoring {
        distance: &d,
        weights: paper(),
        join_distance: 1.0,
        t: 0.0,
    };
    let mut out = Vec::new();
    let lf = [1.0; 3];
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(100.0),
        1,
        &[0.0; 3],
        &lf,
        &mut out,
    );
    assert_eq!(out, vec![0]);
    // Loads [9, 0, 0] (variance 18): f on sensor 0 gives [10, 0, 0], variance 22.2 > 20; on
    // sensor 1, [9, 1, 0], variance 16.2: the next best cluster, on sensor 1.
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(20.0),
        1,
        &[9.0, 0.0, 0.0],
        &lf,
        &mut out,
    );
    assert_eq!(out, vec![1]);
    // Nothing feasible: no solution (a new cluster will be created).
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(0.0),
        1,
        &[9.0, 0.0, 0.0],
        &lf,
        &mut out,
    );
    assert!(out.is_empty());
}

#[test]
fn solve_p_f1_is_the_optimum_of_p() {
    // Enumerate every single-cluster X, check (4) directly, take the best: the same answer.
    let (d, cs, f) = setup();
    let s = Scoring {
        distance: &d,
        weights: paper(),
        join_distance: 1.0,
        t: 0.0,
    };
    for loads in [
        [0.0, 0.0, 0.0],
        [5.0, 0.0, 0.0],
        [5.0, 5.0, 0.0],
        [0.0, 3.0, 6.0],
        [9.0, 9.0, 0.0],
    ] {
        for v in [0.0, 1.0, 4.0, 9.0, 20.0] {
            let lf = [2.0; 3];
            let mut out = Vec::new();
            solve_p(
                &mut BruteForce,
                &cs,
                &s,
                &f,
                Constraint::Variance(v),
                1,
                &loads,
                &lf,
                &mut out,
            );
            let mut best: Option<(u32, f64)> = None;
            for (id, c) in cs.iter() {
                let mut after = loads;
                after[usize::from(c.sensor)] += 2.0;
                let b = s.benefit(&f, c);
                if direct_variance(&after) <= v + 1e-12
                    && b > 0.0
                    && best.is_none_or(|(_, bb)| b > bb)
                {
                    best = Some((id, b));
                }
            }
            assert_eq!(
                out.first().copied(),
                best.map(|(id, _)| id),
                "loads {loads:?} V {v}"
            );
        }
    }
}

#[test]
fn solve_p_f2_duplicates_to_another_sensor() {
    let (d, cs, f) = setup();
    let s = Scoring {
        distance: &d,
        weights: paper(),
        join_distance: 1.0,
        t: 0.0,
    };
    let mut out = Vec::new();
    let lf = [3.0; 3];
    // Generous bound: the best (sensor 0), then the best on another sensor (id 1, sensor 1).
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(100.0),
        2,
        &[0.0; 3],
        &lf,
        &mut out,
    );
    assert_eq!(out, vec![0, 1]);
    // F = 3 adds the best cluster of sensor 2 (id 2, B = 0.4), never two clusters of one sensor.
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(100.0),
        3,
        &[0.0; 3],
        &lf,
        &mut out,
    );
    assert_eq!(out, vec![0, 1, 2]);
    // V = 2: after the first copy loads are [3, 0, 0], variance 2; a second copy to sensor 1
    // gives [3, 3, 0], variance 2 ≤ 2: allowed. With V = 1.9 the first copy alone breaks it.
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(2.0),
        2,
        &[0.0; 3],
        &lf,
        &mut out,
    );
    assert_eq!(out, vec![0, 1]);
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(1.9),
        2,
        &[0.0; 3],
        &lf,
        &mut out,
    );
    assert!(out.is_empty());
    // Loads [0, 0, 6], lf 3, V = 8: first copy to sensor 0 gives [3, 0, 6] (var 6); the second
    // on sensor 1 gives [3, 3, 6] (var 2), on sensor 2 [3, 0, 9] (var 14): sensor 1 it is.
    solve_p(
        &mut BruteForce,
        &cs,
        &s,
        &f,
        Constraint::Variance(8.0),
        2,
        &[0.0, 0.0, 6.0],
        &lf,
        &mut out,
    );
    assert_eq!(out, vec![0, 1]);
}

#[test]
fn noise_hand_computed() {
    // Loads 10, 0, ..., 0 (variance 9) and a flow of no load: feasible everywhere under V = 20.
    let mut loads = [0.0; 10];
    loads[0] = 10.0;
    let lf = [0.0; 10];
    let all = SensorSet::all(10);
    let plain = Constraint::Variance(20.0).feasible(&loads, &lf, SensorSet::EMPTY);
    assert_eq!(plain, all);
    // σ² = 4 on sensor 0, 2 sigmas: E[S] = 9 + 9/100·4 = 9.36; sd = √(4·81·4 + 2·16)/10 =
    // 3.644; 9.36 + 7.29 = 16.65: feasible under V = 20, not under V = 16.
    let mut noise = [0.0; 10];
    noise[0] = 4.0;
    let z = Some(Noise {
        variance: &noise,
        sigmas: 2.0,
    });
    let c = |v: f64| Constraint::Variance(v).feasible_among(&loads, &lf, z, SensorSet::EMPTY, all);
    assert_eq!(c(16.7), all);
    assert!(c(16.6).is_empty());
    // Threshold: L_i + 2σ_i + L_f < th_l for the sensor, and L_k + 2σ_k < th_l for all.
    let t =
        |th: f64| Constraint::Threshold(th).feasible_among(&loads, &lf, z, SensorSet::EMPTY, all);
    assert_eq!(t(14.01), all);
    assert!(t(14.0).is_empty());
}

/// A deterministic standard normal sampler (xorshift and Box–Muller).
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn sample(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The noise terms are the mean and standard deviation of the measured variance: checked by
/// simulating the per-second loads, `L'_i + e_i` with `e_i ~ N(0, σ_i²)`.
#[test]
fn noise_terms_match_a_simulation() {
    let loads = [12.0, 3.0, 1.0, 0.5, 2.0, 0.0, 1.5, 4.0];
    let noise: [f64; 8] = [2.0, 0.5, 0.1, 0.0, 1.0, 0.3, 0.2, 3.0];
    let lf = [1.0; 8];
    let mut rng = Normal(0x9e37_79b9_7f4a_7c15);
    for k in 0..8 {
        let mut after = loads;
        after[k] += lf[k];
        let runs = 200_000;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..runs {
            let x: Vec<f64> = after
                .iter()
                .zip(noise)
                .map(|(l, s)| l + s.sqrt() * rng.sample())
                .collect();
            let v = direct_variance(&x);
            sum += v;
            sum2 += v * v;
        }
        let mean = sum / runs as f64;
        let sd = (sum2 / runs as f64 - mean * mean).sqrt();
        // The constraint's own figure for (mean + 2·sd), found by bisection on V.
        let z = Some(Noise {
            variance: &noise,
            sigmas: 2.0,
        });
        let (mut lo, mut hi) = (0.0, 1000.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            let ok = Constraint::Variance(mid)
                .feasible_among(&loads, &lf, z, SensorSet::EMPTY, SensorSet::all(8))
                .contains(k as u16);
            if ok { hi = mid } else { lo = mid }
        }
        let want = mean + 2.0 * sd;
        assert!(
            (hi - want).abs() < 0.02 * want,
            "sensor {k}: {hi} vs simulated {want}"
        );
    }
}

proptest! {
    /// Noise only ever removes sensors, and zero noise changes nothing.
    #[test]
    fn noise_is_conservative(
        loads in proptest::collection::vec(0.0f64..100.0, 1..12),
        noise in proptest::collection::vec(0.0f64..20.0, 12),
        lf in 0.0f64..20.0,
        v in 0.0f64..400.0,
        sigmas in 0.0f64..4.0,
        threshold in any::<bool>(),
    ) {
        let n = loads.len();
        let lfs = vec![lf; n];
        let all = SensorSet::all(n);
        let c = if threshold { Constraint::Threshold(v) } else { Constraint::Variance(v) };
        let plain = c.feasible(&loads, &lfs, SensorSet::EMPTY);
        let z = Some(Noise { variance: &noise[..n], sigmas });
        let noisy = c.feasible_among(&loads, &lfs, z, SensorSet::EMPTY, all);
        prop_assert_eq!(noisy.intersect(plain), noisy);
        let zero = vec![0.0; n];
        let none = Some(Noise { variance: &zero, sigmas });
        prop_assert_eq!(c.feasible_among(&loads, &lfs, none, SensorSet::EMPTY, all), plain);
    }
}
