//! Clusters of flows (§V): centroid, decaying weight, last-update time t_j, flow count s_j and
//! owning sensor; the two weight rules; and the bounded set of live clusters.
//!
//! A cluster stores one decaying quantity `Q`, which decays between events as the paper's
//! weight does: `Q_{j,t} = λ^{(t_j − t)}·Q_{j,t_j}`. It is kept as the decay-normalised key
//! `k_j = ln Q_{j,t_j} + t_j·ln λ` (NOTES.md), so that `Q_{j,t} = e^{k_j − t·ln λ}`: the key
//! orders clusters by current `Q` at every instant and decay costs nothing. The weight is a
//! non-decreasing function of `Q` ([`WeightRule`]):
//!
//! * [`WeightRule::Paper`]: `Q` is the paper's weight itself. A flow at distance D adds
//!   `(1 − W)·e^{−D}/(s_j + 1)`, so a large cluster gains almost nothing per flow, and a new
//!   cluster starts at 1, above any cluster that has decayed a little.
//! * [`WeightRule::Mass`] (robust BLB): `Q` is the cluster's decayed mass, the sum of `e^{−D}`
//!   over the flows that joined it (Aggarwal et al.'s decayed counts), and `W = Q/(1 + Q)`. A
//!   new cluster starts at ½, the weight keeps growing with the cluster and stays below 1, so a
//!   large cluster outweighs a fresh one at the same distance.
//!
//! Because the weight is monotone in the key under both rules, both searches order clusters by
//! key. Every weight, in every search, goes through [`Weights::of`], so that the reference scan
//! and the indexed search see the same numbers; a weight below `f64::MIN_POSITIVE` (a subnormal)
//! counts as 0 in both.

use std::collections::BTreeSet;

use super::distance::FlowPoint;
use crate::sensor::SensorId;

/// One cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// The flow that represents the cluster.
    pub centroid: FlowPoint,
    /// Decay-normalised weight key `ln W_{j,t_j} + t_j·ln λ`.
    pub key: f64,
    /// Last time (seconds since the balancer's epoch) a flow or packet was assigned.
    pub t_j: f64,
    /// Number of flows assigned (`s_j`).
    pub flows: u64,
    /// The sensor that owns the cluster.
    pub sensor: SensorId,
}

/// How a cluster's weight follows from its decaying quantity (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightRule {
    /// The paper's weight update; the quantity is the weight.
    Paper,
    /// Decayed mass `M`; the weight is `M/(1 + M)`.
    Mass,
}

impl WeightRule {
    /// The weight for a decayed quantity `e^x` (x = key − t·ln λ); subnormal weights are 0.
    pub fn weight(self, x: f64) -> f64 {
        let w = match self {
            WeightRule::Paper => x.exp(),
            WeightRule::Mass => 1.0 / (1.0 + (-x).exp()),
        };
        if w < f64::MIN_POSITIVE { 0.0 } else { w }
    }
}

/// The weight rule with its decay: everything that turns a cluster's key into a weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// `ln λ`.
    pub ln_lambda: f64,
    /// The rule.
    pub rule: WeightRule,
}

impl Weights {
    /// The weight of cluster `c` at time `t` (seconds).
    pub fn of(&self, c: &Cluster, t: f64) -> f64 {
        self.rule.weight(c.key - t * self.ln_lambda)
    }

    /// Flow `f` at distance `d` joins `c` at time `t`: the rule's update, then `s_j += 1` and
    /// `t_j = t`.
    ///
    /// * Paper: `W = λ^{(t_j−t)}W_{t_j} + (1 − λ^{(t_j−t)}W_{t_j})·e^{−D}/(s_j + 1)`.
    /// * Mass: `M = λ^{(t_j−t)}M_{t_j} + e^{−D}`.
    pub fn add_flow(&self, c: &mut Cluster, d: f64, t: f64) {
        let x = c.key - t * self.ln_lambda;
        let q = match self.rule {
            WeightRule::Paper => {
                let w = self.rule.weight(x);
                w + (1.0 - w) * (-d).exp() / (c.flows as f64 + 1.0)
            }
            WeightRule::Mass => x.exp() + (-d).exp(),
        };
        c.flows += 1;
        c.t_j = c.t_j.max(t);
        c.key = q.ln() + c.t_j * self.ln_lambda;
    }

    /// A packet of one of the cluster's flows at time `t`: the cluster's idle time restarts
    /// (`t_j = t`, the quantity at `t_j` kept), so an active cluster does not decay.
    pub fn refresh(&self, c: &mut Cluster, t: f64) {
        if t > c.t_j {
            c.key += (t - c.t_j) * self.ln_lambda;
            c.t_j = t;
        }
    }

    /// A new cluster at time `t`, centroid `f`, standing for `flows` flows: weight 1 under the
    /// paper's rule; mass `flows` (one per flow it stands for) under the mass rule.
    pub fn new_cluster(&self, f: FlowPoint, sensor: SensorId, t: f64, flows: u64) -> Cluster {
        let q = match self.rule {
            WeightRule::Paper => 1.0,
            WeightRule::Mass => flows.max(1) as f64,
        };
        Cluster {
            centroid: f,
            key: q.ln() + t * self.ln_lambda,
            t_j: t,
            flows,
            sensor,
        }
    }
}

/// Map an f64 to a u64 with the same order (total order; NaN never occurs here).
pub fn ordered_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// Counters of the cluster set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClusterStats {
    /// Clusters created (k-medoids start included).
    pub created: u64,
    /// Clusters deleted because the count exceeded m_max and their weight was below th_w.
    pub deleted: u64,
    /// Clusters deleted, lowest weight first, to stay under the hard cap.
    pub evicted: u64,
}

/// The live clusters: a slab with generation-checked ids and a global order by key (lowest
/// weight first) for deletion.
///
/// Keys only grow (a flow or a packet adds weight or restarts idle time), so the deletion order
/// is kept lazily: each cluster is filed under the key it had when filed, a lower bound of its
/// key now, and re-filed only when it reaches the front. The front is then always a true
/// lightest cluster, and a join costs no reordering.
#[derive(Clone, Debug, Default)]
pub struct ClusterSet {
    slots: Vec<Option<Cluster>>,
    filed: Vec<f64>,
    generations: Vec<u32>,
    free: Vec<u32>,
    by_key: BTreeSet<(u64, u32)>,
    live: usize,
    /// Counters.
    pub stats: ClusterStats,
}

impl ClusterSet {
    /// Number of live clusters.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no cluster lives.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// A live cluster.
    pub fn get(&self, id: u32) -> Option<&Cluster> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// The generation of slot `id` (changes when the slot is reused).
    pub fn generation(&self, id: u32) -> u32 {
        self.generations.get(id as usize).copied().unwrap_or(0)
    }

    /// Iterate over live clusters in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Cluster)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i as u32, c)))
    }

    /// Insert a cluster; returns its id (the lowest free slot is not guaranteed; ids are reused).
    pub fn insert(&mut self, c: Cluster) -> u32 {
        let key = c.key;
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(c);
                self.filed[id as usize] = key;
                id
            }
            None => {
                self.slots.push(Some(c));
                self.generations.push(0);
                self.filed.push(key);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_key.insert((ordered_bits(key), id));
        self.live += 1;
        self.stats.created += 1;
        id
    }

    /// Change a cluster; returns the old value. The key may only grow (checked: a smaller key
    /// is re-filed at once).
    pub fn update(&mut self, id: u32, f: impl FnOnce(&mut Cluster)) -> Option<Cluster> {
        let slot = self.slots.get_mut(id as usize)?.as_mut()?;
        let old = slot.clone();
        f(slot);
        let filed = self.filed[id as usize];
        if slot.key < filed {
            self.by_key.remove(&(ordered_bits(filed), id));
            self.by_key.insert((ordered_bits(slot.key), id));
            self.filed[id as usize] = slot.key;
        }
        Some(old)
    }

    /// Remove a cluster.
    pub fn remove(&mut self, id: u32) -> Option<Cluster> {
        let c = self.slots.get_mut(id as usize)?.take()?;
        self.by_key
            .remove(&(ordered_bits(self.filed[id as usize]), id));
        self.generations[id as usize] = self.generations[id as usize].wrapping_add(1);
        self.free.push(id);
        self.live -= 1;
        Some(c)
    }

    /// The live cluster of lowest weight (lowest id among equals).
    pub fn lightest(&mut self) -> Option<u32> {
        loop {
            let &(filed, id) = self.by_key.first()?;
            let now = ordered_bits(self.slots.get(id as usize)?.as_ref()?.key);
            if now == filed {
                return Some(id);
            }
            self.by_key.pop_first();
            self.by_key.insert((now, id));
            self.filed[id as usize] = self.slots[id as usize].as_ref()?.key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Addr;

    fn point() -> FlowPoint {
        FlowPoint {
            src: Addr::v4([1, 1, 1, 1]),
            dst: Addr::v4([2, 2, 2, 2]),
            dst_subnet: Addr::NONE,
            dst_port: 80,
            family: 0,
            groups: 0,
            protocol: 6,
        }
    }

    fn paper(lambda: f64) -> Weights {
        Weights {
            ln_lambda: lambda.ln(),
            rule: WeightRule::Paper,
        }
    }

    fn mass(lambda: f64) -> Weights {
        Weights {
            rule: WeightRule::Mass,
            ..paper(lambda)
        }
    }

    #[test]
    fn weight_decays_by_lambda_per_second() {
        let w = paper(1.1);
        let c = w.new_cluster(point(), 0, 10.0, 1);
        assert!((w.of(&c, 10.0) - 1.0).abs() < 1e-12);
        // W_{j,t} = λ^{(t_j − t)}: 1.1^{-5}.
        assert!((w.of(&c, 15.0) - 1.1f64.powf(-5.0)).abs() < 1e-12);
    }

    #[test]
    fn weight_update_matches_the_paper() {
        let w = paper(2.0);
        let mut c = w.new_cluster(point(), 0, 0.0, 1);
        // After 1 s with λ = 2 the weight is 0.5; a flow at D = 0.3 adds (1 − 0.5)·e^{−0.3}/2.
        w.add_flow(&mut c, 0.3, 1.0);
        let expected = 0.5 + 0.5 * (-0.3f64).exp() / 2.0;
        assert!((w.of(&c, 1.0) - expected).abs() < 1e-12);
        assert_eq!(c.flows, 2);
        assert_eq!(c.t_j, 1.0);
        // Then decay: one more second halves it.
        assert!((w.of(&c, 2.0) - expected / 2.0).abs() < 1e-12);
        // Never above 1.
        for _ in 0..1000 {
            w.add_flow(&mut c, 0.0, 2.0);
        }
        assert!(w.of(&c, 2.0) <= 1.0 + 1e-12);
    }

    #[test]
    fn mass_weight_grows_with_decayed_mass_and_stays_below_one() {
        let w = mass(2.0);
        let mut c = w.new_cluster(point(), 0, 0.0, 1);
        // Mass 1: weight ½, below the weight of any cluster that has gained a flow since.
        assert!((w.of(&c, 0.0) - 0.5).abs() < 1e-12);
        // After 1 s with λ = 2 the mass is ½; a flow at D = 0.3 adds e^{−0.3}.
        w.add_flow(&mut c, 0.3, 1.0);
        let m = 0.5 + (-0.3f64).exp();
        assert!((w.of(&c, 1.0) - m / (1.0 + m)).abs() < 1e-12);
        // Decay halves the mass, not the weight.
        assert!((w.of(&c, 2.0) - (m / 2.0) / (1.0 + m / 2.0)).abs() < 1e-12);
        // Each close flow adds weight, however large the cluster; the weight stays below 1,
        // and a cluster standing for 50 flows starts heavier than a fresh one.
        let mut last = w.of(&c, 2.0);
        for _ in 0..1000 {
            w.add_flow(&mut c, 0.0, 2.0);
            let now = w.of(&c, 2.0);
            assert!(now > last && now < 1.0);
            last = now;
        }
        let seeded = w.new_cluster(point(), 0, 2.0, 50);
        assert!((w.of(&seeded, 2.0) - 50.0 / 51.0).abs() < 1e-12);
    }

    #[test]
    fn subnormal_weights_count_as_zero() {
        // λ = e, 745 s idle: e^{−745} is subnormal (about 5e-324).
        for w in [paper(std::f64::consts::E), mass(std::f64::consts::E)] {
            let c = w.new_cluster(point(), 0, 0.0, 1);
            assert!(w.of(&c, 700.0) > 0.0);
            assert_eq!(w.of(&c, 745.0), 0.0);
            assert_eq!(w.rule.weight(f64::NEG_INFINITY), 0.0);
        }
    }

    #[test]
    fn refresh_restarts_idle_time() {
        for w in [paper(2.0), mass(2.0)] {
            let mut c = w.new_cluster(point(), 0, 0.0, 1);
            w.add_flow(&mut c, 1.0, 1.0);
            let before = w.of(&c, 1.0);
            w.refresh(&mut c, 3.0);
            assert!((w.of(&c, 3.0) - before).abs() < 1e-12);
            assert!(w.of(&c, 4.0) < before);
        }
        // Under the paper's rule one idle second with λ = 2 halves the weight.
        let w = paper(2.0);
        let mut c = w.new_cluster(point(), 0, 0.0, 1);
        w.add_flow(&mut c, 1.0, 1.0); // W = 0.5 + 0.5·e^{-1}/2 at t = 1
        let before = w.of(&c, 1.0);
        w.refresh(&mut c, 3.0);
        assert!((w.of(&c, 4.0) - before / 2.0).abs() < 1e-12);
    }

    #[test]
    fn set_orders_by_weight_for_deletion() {
        let w = paper(1.5);
        let mut s = ClusterSet::default();
        let a = s.insert(w.new_cluster(point(), 0, 0.0, 1));
        let b = s.insert(w.new_cluster(point(), 1, 5.0, 1));
        assert_eq!(s.lightest(), Some(a));
        s.update(a, |c| w.refresh(c, 6.0));
        assert_eq!(s.lightest(), Some(b));
        let g = s.generation(a);
        s.remove(a);
        assert_ne!(s.generation(a), g);
        assert_eq!(s.len(), 1);
        assert!(
            ordered_bits(-1.0) < ordered_bits(-0.5)
                && ordered_bits(-0.5) < ordered_bits(0.0)
                && ordered_bits(0.0) < ordered_bits(2.0)
        );
    }
}
