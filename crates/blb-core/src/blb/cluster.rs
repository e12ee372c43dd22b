//! Clusters of flows (§V): centroid, decaying weight, last-update time t_j, flow count s_j and
//! owning sensor; the paper's weight update; and the bounded set of live clusters.
//!
//! A cluster's weight decays between events: `W_{j,t} = λ^{(t_j − t)}·W_{j,t_j}`. It is stored
//! as one number, the decay-normalised key `k_j = ln W_{j,t_j} + t_j·ln λ` (NOTES.md), so that
//! `W_{j,t} = e^{k_j − t·ln λ}`: the key orders clusters by current weight at every instant and
//! decay costs nothing. Every computation of a weight, in every search, goes through
//! [`Cluster::weight`], so that the reference scan and the indexed search see the same numbers.

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

impl Cluster {
    /// Weight at time `t` (seconds): `e^{k − t·ln λ}`.
    pub fn weight(&self, t: f64, ln_lambda: f64) -> f64 {
        (self.key - t * ln_lambda).exp()
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

/// The paper's weight update when flow `f` at distance `d` joins a cluster at time `t`:
/// `W = λ^{(t_j−t)}W_{t_j} + (1 − λ^{(t_j−t)}W_{t_j})·e^{−D}/(s_j + 1)`, then `s_j += 1`, `t_j = t`.
pub fn add_flow(c: &mut Cluster, d: f64, t: f64, ln_lambda: f64) {
    let decayed = c.weight(t, ln_lambda);
    let w = decayed + (1.0 - decayed) * (-d).exp() / (c.flows as f64 + 1.0);
    c.flows += 1;
    c.t_j = c.t_j.max(t);
    c.key = w.ln() + c.t_j * ln_lambda;
}

/// A packet of one of the cluster's flows at time `t`: the cluster's idle time restarts
/// (`t_j = t`, the weight at `t_j` kept), so an active cluster does not decay.
pub fn refresh(c: &mut Cluster, t: f64, ln_lambda: f64) {
    if t > c.t_j {
        c.key += (t - c.t_j) * ln_lambda;
        c.t_j = t;
    }
}

/// A new cluster of weight 1 at time `t`, centroid `f`, holding `flows` flows.
pub fn new_cluster(f: FlowPoint, sensor: SensorId, t: f64, flows: u64, ln_lambda: f64) -> Cluster {
    Cluster {
        centroid: f,
        key: t * ln_lambda,
        t_j: t,
        flows,
        sensor,
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
            group: 0,
            protocol: 6,
        }
    }

    #[test]
    fn weight_decays_by_lambda_per_second() {
        let ln_l = 1.1f64.ln();
        let c = new_cluster(point(), 0, 10.0, 1, ln_l);
        assert!((c.weight(10.0, ln_l) - 1.0).abs() < 1e-12);
        // W_{j,t} = λ^{(t_j − t)}: 1.1^{-5}.
        assert!((c.weight(15.0, ln_l) - 1.1f64.powf(-5.0)).abs() < 1e-12);
    }

    #[test]
    fn weight_update_matches_the_paper() {
        let ln_l = 2.0f64.ln();
        let mut c = new_cluster(point(), 0, 0.0, 1, ln_l);
        // After 1 s with λ = 2 the weight is 0.5; a flow at D = 0.3 adds (1 − 0.5)·e^{−0.3}/2.
        add_flow(&mut c, 0.3, 1.0, ln_l);
        let expected = 0.5 + 0.5 * (-0.3f64).exp() / 2.0;
        assert!((c.weight(1.0, ln_l) - expected).abs() < 1e-12);
        assert_eq!(c.flows, 2);
        assert_eq!(c.t_j, 1.0);
        // Then decay: one more second halves it.
        assert!((c.weight(2.0, ln_l) - expected / 2.0).abs() < 1e-12);
        // Never above 1.
        for _ in 0..1000 {
            add_flow(&mut c, 0.0, 2.0, ln_l);
        }
        assert!(c.weight(2.0, ln_l) <= 1.0 + 1e-12);
    }

    #[test]
    fn refresh_restarts_idle_time() {
        let ln_l = 2.0f64.ln();
        let mut c = new_cluster(point(), 0, 0.0, 1, ln_l);
        add_flow(&mut c, 1.0, 1.0, ln_l); // W = 0.5 + 0.5·e^{-1}/2 at t = 1
        let w = c.weight(1.0, ln_l);
        refresh(&mut c, 3.0, ln_l);
        assert!((c.weight(3.0, ln_l) - w).abs() < 1e-12);
        assert!((c.weight(4.0, ln_l) - w / 2.0).abs() < 1e-12);
    }

    #[test]
    fn set_orders_by_weight_for_deletion() {
        let ln_l = 1.5f64.ln();
        let mut s = ClusterSet::default();
        let a = s.insert(new_cluster(point(), 0, 0.0, 1, ln_l));
        let b = s.insert(new_cluster(point(), 1, 5.0, 1, ln_l));
        assert_eq!(s.lightest(), Some(a));
        s.update(a, |c| refresh(c, 6.0, ln_l));
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
