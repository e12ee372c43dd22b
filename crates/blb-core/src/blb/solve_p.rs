//! `solve_p` (Listing 2): the greedy solution of the flow assignment problem P, with the
//! variance constraint (4) or the threshold constraint (4*), and duplication to up to F sensors
//! (at most one cluster per sensor).
//!
//! Both constraints depend only on which sensors receive the flow, not on which cluster there,
//! so each greedy step first computes the set of sensors on which adding the flow keeps the
//! constraint, then asks a [`Search`] for the cluster of greatest benefit among those sensors.
//! With F = 1 this is exactly the optimum of P (§IV).

use super::cluster::{ClusterSet, Weights};
use super::distance::{Distance, FlowPoint};
use crate::sensor::{MAX_SENSORS, SensorId, SensorSet};

/// The load-balancing constraint of P.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Constraint {
    /// (4): the variance of sensor loads after the assignment is at most V (%²).
    Variance(f64),
    /// (4*): every sensor's load after the assignment is below th_l (%).
    Threshold(f64),
}

/// The per-second sampling noise of the loads, for a constraint that must hold on the loads an
/// operator measures each second rather than on the smoothed estimate (robust BLB).
#[derive(Clone, Copy, Debug)]
pub struct Noise<'a> {
    /// Each sensor's noise variance σ_i² (%²), as [`crate::load::LoadEstimator::noise`] gives.
    pub variance: &'a [f64],
    /// How many standard deviations of the measured value must stay within the bound.
    pub sigmas: f64,
}

impl Constraint {
    /// Sensors `i` (not in `exclude`) such that adding the flow's predicted load `lf[i]` to
    /// sensor `i`, on top of the tentative `loads`, keeps the constraint.
    ///
    /// Variance: with `μ` and `Var` the mean and population variance of `loads` over n
    /// sensors, adding `L_f` to sensor i gives `Var + 2·L_f·(L_i − μ)/n + L_f²·(n − 1)/n²`,
    /// which is constraint (4) for that assignment, expanded (the mean moves to
    /// `μ + L_f/n`). Threshold: `L_i + L_f < th_l` and every other `L_k < th_l`.
    pub fn feasible(&self, loads: &[f64], lf: &[f64], exclude: SensorSet) -> SensorSet {
        self.feasible_among(loads, lf, None, exclude, SensorSet::all(loads.len()))
    }

    /// [`Constraint::feasible`] over the sensors `among` only (those in service): the mean,
    /// the variance and the threshold test read only their loads, and only they can be chosen.
    ///
    /// With `noise`, the constraint must hold on the loads measured over one second, which
    /// are the planned loads `L'_i` plus independent noise `e_i` of variance `σ_i²`. Their
    /// variance S then has mean `Var(L') + (n − 1)/n²·Σσ_i²` and, to first order, variance
    /// `4/n²·Σ d_i²σ_i² + 2/n²·Σσ_i⁴` (with `d_i = L'_i − μ'`: an elevated sensor's noise moves S
    /// the most); the test is mean + `sigmas`·sd ≤ V. Under (4*), `L'_i + sigmas·σ_i < th_l`.
    /// Without noise (or with zero noise) both are exactly (4) and (4*).
    pub fn feasible_among(
        &self,
        loads: &[f64],
        lf: &[f64],
        noise: Option<Noise<'_>>,
        exclude: SensorSet,
        among: SensorSet,
    ) -> SensorSet {
        let n = loads.len().min(MAX_SENSORS);
        let among = among.intersect(SensorSet::all(n));
        let mut out = SensorSet::EMPTY;
        if among.is_empty() {
            return out;
        }
        let load = |i: SensorId| loads[usize::from(i)];
        let lf_of = |i: SensorId| lf.get(usize::from(i)).copied().unwrap_or(0.0);
        let (sigmas, noise_of) = match noise {
            Some(z) => (z.sigmas, z.variance),
            None => (0.0, &[][..]),
        };
        let s_of = |i: SensorId| {
            noise_of
                .get(usize::from(i))
                .copied()
                .unwrap_or(0.0)
                .max(0.0)
        };
        match *self {
            Constraint::Variance(v) => {
                let nf = among.len() as f64;
                let mean = among.iter().map(load).sum::<f64>() / nf;
                let (mut var, mut a, mut b, mut c, mut c2) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for i in among {
                    let (d, s) = (load(i) - mean, s_of(i));
                    var += d * d;
                    a += d * d * s;
                    b += d * s;
                    c += s;
                    c2 += s * s;
                }
                var /= nf;
                for i in among {
                    let (l, d, s) = (lf_of(i), load(i) - mean, s_of(i));
                    let mut after =
                        var + 2.0 * l * (load(i) - mean) / nf + l * l * (nf - 1.0) / (nf * nf);
                    // The noise only adds: a sensor over the bound without it stays over.
                    if c > 0.0 && after <= v {
                        let shift = l / nf;
                        let a_after = a - 2.0 * shift * b
                            + shift * shift * c
                            + s * l * (2.0 * (d - shift) + l);
                        let sd = (4.0 * a_after.max(0.0) + 2.0 * c2).sqrt() / nf;
                        after += (nf - 1.0) / (nf * nf) * c + sigmas * sd;
                    }
                    if after <= v && !exclude.contains(i) {
                        out.insert(i);
                    }
                }
            }
            Constraint::Threshold(th) => {
                // Literally ∀k: L_k + L_f·x_k < th_l, so a sensor already at or above th_l
                // leaves no feasible assignment (P then has no solution: a new cluster goes to
                // the least-loaded sensor).
                let high = |i: SensorId| load(i) + sigmas * s_of(i).sqrt();
                let any_over = among.iter().any(|i| high(i) >= th);
                for i in among {
                    if !any_over && high(i) + lf_of(i) < th && !exclude.contains(i) {
                        out.insert(i);
                    }
                }
            }
        }
        out
    }
}

/// What a search needs to score clusters.
pub struct Scoring<'a> {
    /// The distance.
    pub distance: &'a Distance,
    /// The weight rule and its decay.
    pub weights: Weights,
    /// A flow joins only clusters whose centroid is at most this far (1: any).
    pub join_distance: f64,
    /// Current time, seconds since the balancer's epoch.
    pub t: f64,
}

impl Scoring<'_> {
    /// The benefit `B_j = (1 − D(f, c_j))·W_{j,t}` of adding `f` to a cluster; 0 beyond the
    /// join distance.
    pub fn benefit(&self, f: &FlowPoint, c: &super::cluster::Cluster) -> f64 {
        let d = self.distance.distance(f, &c.centroid);
        if d > self.join_distance {
            return 0.0;
        }
        (1.0 - d) * self.weights.of(c, self.t)
    }
}

/// A way to find the cluster of greatest benefit.
pub trait Search {
    /// Among live clusters owned by a sensor in `allowed`, the one with the greatest positive
    /// benefit for `f`; ties go to the lowest cluster id. `None` when no cluster has a positive
    /// benefit there.
    fn best(
        &mut self,
        clusters: &ClusterSet,
        s: &Scoring<'_>,
        f: &FlowPoint,
        allowed: SensorSet,
    ) -> Option<(u32, f64)>;
}

/// The rule both searches choose by: a positive benefit (a subnormal one counts as 0, so that
/// both searches agree where weights underflow), greater than the best so far, or equal to it
/// with a lower cluster id.
pub fn beats(b: f64, id: u32, best: Option<(u32, f64)>) -> bool {
    b >= f64::MIN_POSITIVE && best.is_none_or(|(bid, bb)| b > bb || (b == bb && id < bid))
}

/// The reference implementation: the literal O(m) scan of all clusters.
#[derive(Clone, Copy, Debug, Default)]
pub struct BruteForce;

impl Search for BruteForce {
    fn best(
        &mut self,
        clusters: &ClusterSet,
        s: &Scoring<'_>,
        f: &FlowPoint,
        allowed: SensorSet,
    ) -> Option<(u32, f64)> {
        let mut best: Option<(u32, f64)> = None;
        for (id, c) in clusters.iter() {
            if !allowed.contains(c.sensor) {
                continue;
            }
            let b = s.benefit(f, c);
            if beats(b, id, best) {
                best = Some((id, b));
            }
        }
        best
    }
}

/// Listing 2. Returns the chosen clusters (at most `f_max`, at most one per sensor) in the
/// order chosen, written to `out`. `loads` are the sensors' current loads and `lf` the flow's
/// predicted load on each sensor, in percent.
#[allow(clippy::too_many_arguments)]
pub fn solve_p(
    search: &mut dyn Search,
    clusters: &ClusterSet,
    s: &Scoring<'_>,
    f: &FlowPoint,
    constraint: Constraint,
    f_max: usize,
    loads: &[f64],
    lf: &[f64],
    out: &mut Vec<u32>,
) {
    let all = SensorSet::all(loads.len());
    solve_p_among(
        search, clusters, s, f, constraint, f_max, loads, lf, None, all, out,
    );
}

/// [`solve_p`] over the sensors `among` (those in service): the constraint is taken over
/// them, and only their clusters can be chosen; with `noise`, on the loads measured per second
/// ([`Constraint::feasible_among`]).
#[allow(clippy::too_many_arguments)]
pub fn solve_p_among(
    search: &mut dyn Search,
    clusters: &ClusterSet,
    s: &Scoring<'_>,
    f: &FlowPoint,
    constraint: Constraint,
    f_max: usize,
    loads: &[f64],
    lf: &[f64],
    noise: Option<Noise<'_>>,
    among: SensorSet,
    out: &mut Vec<u32>,
) {
    out.clear();
    let n = loads.len().min(MAX_SENSORS);
    let mut tentative = [0.0f64; MAX_SENSORS];
    tentative[..n].copy_from_slice(&loads[..n]);
    let mut chosen = SensorSet::EMPTY;
    for _ in 0..f_max {
        let allowed = constraint.feasible_among(&tentative[..n], lf, noise, chosen, among);
        if allowed.is_empty() {
            break;
        }
        let Some((id, _)) = search.best(clusters, s, f, allowed) else {
            break;
        };
        let Some(c) = clusters.get(id) else { break };
        out.push(id);
        chosen.insert(c.sensor);
        if let Some(l) = tentative.get_mut(usize::from(c.sensor)) {
            *l += lf.get(usize::from(c.sensor)).copied().unwrap_or(0.0);
        }
    }
}

#[cfg(test)]
#[path = "solve_p_tests.rs"]
mod tests;
