//! `solve_p` (Listing 2): the greedy solution of the flow assignment problem P, with the
//! variance constraint (4) or the threshold constraint (4*), and duplication to up to F sensors
//! (at most one cluster per sensor).
//!
//! Both constraints depend only on which sensors receive the flow, not on which cluster there,
//! so each greedy step first computes the set of sensors on which adding the flow keeps the
//! constraint, then asks a [`Search`] for the cluster of greatest benefit among those sensors.
//! With F = 1 this is exactly the optimum of P (§IV).

use super::cluster::ClusterSet;
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

impl Constraint {
    /// Sensors `i` (not in `exclude`) such that adding the flow's predicted load `lf[i]` to
    /// sensor `i`, on top of the tentative `loads`, keeps the constraint.
    ///
    /// Variance: with `μ` and `Var` the mean and population variance of `loads` over n
    /// sensors, adding `L_f` to sensor i gives `Var + 2·L_f·(L_i − μ)/n + L_f²·(n − 1)/n²`,
    /// which is constraint (4) for that assignment, expanded (the mean moves to
    /// `μ + L_f/n`). Threshold: `L_i + L_f < th_l` and every other `L_k < th_l`.
    pub fn feasible(&self, loads: &[f64], lf: &[f64], exclude: SensorSet) -> SensorSet {
        self.feasible_among(loads, lf, exclude, SensorSet::all(loads.len()))
    }

    /// [`Constraint::feasible`] over the sensors `among` only (those in service): the mean,
    /// the variance and the threshold test read only their loads, and only they can be chosen.
    pub fn feasible_among(
        &self,
        loads: &[f64],
        lf: &[f64],
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
        match *self {
            Constraint::Variance(v) => {
                let nf = among.len() as f64;
                let mean = among.iter().map(load).sum::<f64>() / nf;
                let var = among
                    .iter()
                    .map(|i| (load(i) - mean) * (load(i) - mean))
                    .sum::<f64>()
                    / nf;
                for i in among {
                    let l = lf_of(i);
                    let after =
                        var + 2.0 * l * (load(i) - mean) / nf + l * l * (nf - 1.0) / (nf * nf);
                    if after <= v && !exclude.contains(i) {
                        out.insert(i);
                    }
                }
            }
            Constraint::Threshold(th) => {
                // Literally ∀k: L_k + L_f·x_k < th_l, so a sensor already at or above th_l
                // leaves no feasible assignment (P then has no solution: a new cluster goes to
                // the least-loaded sensor).
                let any_over = among.iter().any(|i| load(i) >= th);
                for i in among {
                    if !any_over && load(i) + lf_of(i) < th && !exclude.contains(i) {
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
    /// `ln λ`.
    pub ln_lambda: f64,
    /// Current time, seconds since the balancer's epoch.
    pub t: f64,
}

impl Scoring<'_> {
    /// The benefit `B_j = (1 − D(f, c_j))·W_{j,t}` of adding `f` to a cluster.
    pub fn benefit(&self, f: &FlowPoint, c: &super::cluster::Cluster) -> f64 {
        (1.0 - self.distance.distance(f, &c.centroid)) * c.weight(self.t, self.ln_lambda)
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

/// The rule both searches choose by: a positive benefit, greater than the best so far, or equal
/// to it with a lower cluster id.
pub fn beats(b: f64, id: u32, best: Option<(u32, f64)>) -> bool {
    b > 0.0 && best.is_none_or(|(bid, bb)| b > bb || (b == bb && id < bid))
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
        search, clusters, s, f, constraint, f_max, loads, lf, all, out,
    );
}

/// [`solve_p`] over the sensors `among` (those in service): the constraint is taken over
/// them, and only their clusters can be chosen.
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
    among: SensorSet,
    out: &mut Vec<u32>,
) {
    out.clear();
    let n = loads.len().min(MAX_SENSORS);
    let mut tentative = [0.0f64; MAX_SENSORS];
    tentative[..n].copy_from_slice(&loads[..n]);
    let mut chosen = SensorSet::EMPTY;
    for _ in 0..f_max {
        let allowed = constraint.feasible_among(&tentative[..n], lf, chosen, among);
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
