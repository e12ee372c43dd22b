//! The BLB balancer itself: Listing 3 around `solve_p`, the cluster set and its indexes, and
//! the per-flow record of which clusters a flow joined.
//!
//! Failover: when a sensor leaves service its clusters move, heaviest first, each to the
//! sensor in service with the least tentative load (the leaving sensor's load is split over
//! its clusters in proportion to their weights), and its live flows follow their clusters.
//! New clusters, warm-up flows and `solve_p`'s choices only ever use sensors in service, and
//! the variance bound is taken over the sensors in service.

use super::cluster::{ClusterSet, ClusterStats, Weights};
use super::distance::{Distance, FlowPoint};
use super::index::Indexed;
use super::kmedoids::{Medoids, PamJob, pam};
use super::solve_p::{BruteForce, Noise, Scoring, Search, solve_p_among};
use super::{BlbConfig, FlowLoad, MAX_TRAIN_FLOWS, SearchMode, Start};
use crate::balancer::{
    Assignment, Balancer, FlowContext, Relocation, ServiceContext, least_loaded,
    relocate_to_least_loaded,
};
use crate::packet::{NANOS_PER_SEC, Nanos, PacketMeta};
use crate::sensor::{SensorId, SensorSet};

/// Most SWAP iterations of the k-medoids start.
const MAX_SWAPS: usize = 50;

/// Work units (distances or cost terms) of the warm-up's k-medoids done per new flow: well
/// under a millisecond, so no packet waits for the start (see `bench/blb_start.sh`).
pub const START_SLICE: usize = 50_000;

/// `want` points spread evenly over `points` (all of them when there are no more).
pub fn sample_evenly<T: Copy>(points: &[T], want: usize) -> Vec<T> {
    let step = (points.len() as f64 / want.max(1) as f64).max(1.0);
    (0..want.min(points.len()))
        .map(|i| points[(i as f64 * step) as usize])
        .collect()
}

/// Where the start stands.
#[derive(Debug)]
enum Starting {
    /// Started (or no start).
    Done,
    /// Collecting the input's first flows.
    Collecting(Vec<FlowPoint>),
    /// k-medoids over the collected flows, a slice per new flow.
    Clustering(Vec<FlowPoint>, Box<PamJob>),
}

/// Counters of the BLB balancer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlbCounters {
    /// New flows decided.
    pub decisions: u64,
    /// Flows placed by `solve_p` on existing clusters.
    pub joined: u64,
    /// Flows for which P had no solution: a new cluster was created.
    pub new_clusters: u64,
    /// Flows placed on the least-loaded sensor while the k-medoids start collected its flows.
    pub warmup_flows: u64,
    /// Extra sensors flows were duplicated to (F > 1).
    pub duplicates: u64,
    /// Cluster set counters.
    pub clusters: ClusterStats,
    /// Clusters live now.
    pub live_clusters: u64,
    /// Clusters moved off sensors that left service.
    pub clusters_moved: u64,
}

/// Which clusters (id, generation) one flow joined; tag − 1 indexes these. The first is
/// inline, so a flow without duplication allocates nothing.
#[derive(Clone, Debug, Default)]
struct FlowSlot {
    first: (u32, u32),
    more: Vec<(u32, u32)>,
    live: bool,
}

impl FlowSlot {
    fn get(&self, k: usize) -> Option<(u32, u32)> {
        if k == 0 {
            Some(self.first)
        } else {
            self.more.get(k - 1).copied()
        }
    }

    fn len(&self) -> usize {
        1 + self.more.len()
    }
}

/// The Benefit-based Load Balancing balancer. See the module documentation.
#[derive(Debug)]
pub struct BlbBalancer {
    cfg: BlbConfig,
    n: usize,
    capacities: Vec<f64>,
    distance: Distance,
    weights: Weights,
    clusters: ClusterSet,
    index: Option<Indexed>,
    flows: Vec<FlowSlot>,
    free: Vec<u32>,
    starting: Starting,
    epoch: Option<Nanos>,
    counters: BlbCounters,
    chosen: Vec<u32>,
    lf: Vec<f64>,
}

impl BlbBalancer {
    /// A BLB balancer over sensors of the given capacities (bytes per second).
    pub fn new(capacities: Vec<f64>, cfg: BlbConfig) -> Result<Self, crate::Error> {
        let n = capacities.len();
        cfg.validate(n)?;
        let distance = Distance::new(cfg.distance.clone())?;
        let index =
            (cfg.search == SearchMode::Indexed).then(|| Indexed::new(&distance, cfg.join_distance));
        let starting = if cfg.train_flows == 0 || cfg.start == Start::Online {
            Starting::Done
        } else {
            Starting::Collecting(Vec::new())
        };
        Ok(BlbBalancer {
            weights: cfg.weights(),
            starting,
            n,
            capacities,
            distance,
            index,
            clusters: ClusterSet::default(),
            flows: Vec::new(),
            free: Vec::new(),
            epoch: None,
            counters: BlbCounters::default(),
            chosen: Vec::new(),
            lf: Vec::new(),
            cfg,
        })
    }

    /// The flow point of a packet (for training from a capture).
    pub fn point(&self, p: &PacketMeta) -> FlowPoint {
        self.distance.point(p)
    }

    /// The k-medoids start (§V): PAM with the logical distance over past flows gives up to n
    /// clusters, medoid k on sensor k. Replaces the warm-up from the input's first flows.
    /// Callers sample the flows down first ([`sample_evenly`] to `train_flows`); more than
    /// [`MAX_TRAIN_FLOWS`] are sampled down here. Returns the number of clusters created.
    pub fn train(&mut self, points: &[FlowPoint]) -> usize {
        self.starting = Starting::Done;
        let sample = sample_evenly(points, MAX_TRAIN_FLOWS);
        let d = &self.distance;
        let m = pam(
            sample.len(),
            self.n,
            |i, j| d.distance(&sample[i], &sample[j]),
            MAX_SWAPS,
        );
        self.start_from(&sample, &m, 0.0, SensorSet::all(self.n))
    }

    /// One slice of the warm-up start for a new flow `f` at `t`; true while it goes on (the
    /// flow then goes to the least-loaded sensor). The slice starts with the flow that
    /// completes the collection, so a start that fits in one slice ends with it.
    fn warm_up(&mut self, f: FlowPoint, t: f64, up: SensorSet) -> bool {
        let (points, mut job) = match std::mem::replace(&mut self.starting, Starting::Done) {
            Starting::Done => return false,
            Starting::Collecting(mut points) => {
                points.push(f);
                self.counters.warmup_flows += 1;
                if points.len() < self.cfg.train_flows {
                    self.starting = Starting::Collecting(points);
                    return true;
                }
                let job = Box::new(PamJob::new(points.len(), self.n, MAX_SWAPS));
                (points, job)
            }
            Starting::Clustering(points, job) => {
                self.counters.warmup_flows += 1;
                (points, job)
            }
        };
        let d = &self.distance;
        let dist = |i: usize, j: usize| d.distance(&points[i], &points[j]);
        if job.step(&dist, START_SLICE).is_some() {
            let m = job.take().unwrap_or_default();
            self.start_from(&points, &m, t, up);
        } else {
            self.starting = Starting::Clustering(points, job);
        }
        true
    }

    fn start_from(&mut self, points: &[FlowPoint], m: &Medoids, t: f64, up: SensorSet) -> usize {
        let up: Vec<SensorId> = if up.is_empty() {
            (0..self.n as SensorId).collect()
        } else {
            up.iter().collect()
        };
        let mut sizes = vec![0u64; m.medoids.len()];
        for &a in &m.assignment {
            if let Some(s) = sizes.get_mut(a) {
                *s += 1;
            }
        }
        for (k, &medoid) in m.medoids.iter().enumerate() {
            let c = self
                .weights
                .new_cluster(points[medoid], up[k % up.len()], t, sizes[k].max(1));
            let id = self.clusters.insert(c);
            if let (Some(ix), Some(c)) = (self.index.as_mut(), self.clusters.get(id)) {
                ix.insert(id, c);
            }
        }
        m.medoids.len()
    }

    /// The clusters (for tests and reports).
    pub fn clusters(&self) -> &ClusterSet {
        &self.clusters
    }

    /// The clusters chosen by the last decision (empty when it created a new cluster or was a
    /// warm-up decision).
    pub fn last_chosen(&self) -> &[u32] {
        &self.chosen
    }

    /// The counters.
    pub fn counters(&self) -> BlbCounters {
        BlbCounters {
            clusters: self.clusters.stats,
            live_clusters: self.clusters.len() as u64,
            ..self.counters
        }
    }

    fn time(&mut self, now: Nanos) -> f64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_sub(epoch) as f64 / NANOS_PER_SEC as f64
    }

    /// The sensor of the flow's first live cluster, plus those of its other live clusters.
    fn sensors_of_slot(&self, tag: u64) -> SensorSet {
        let mut out = SensorSet::EMPTY;
        let Some(slot) = tag.checked_sub(1).and_then(|i| self.flows.get(i as usize)) else {
            return out;
        };
        if !slot.live {
            return out;
        }
        for k in 0..slot.len() {
            if let Some((id, generation)) = slot.get(k)
                && self.clusters.generation(id) == generation
                && let Some(c) = self.clusters.get(id)
            {
                out.insert(c.sensor);
            }
        }
        out
    }

    fn predicted_loads(&mut self, loads: &[f64], live_flows: usize) {
        let rate = match self.cfg.flow_load {
            FlowLoad::Fixed(r) => r,
            FlowLoad::Mean => {
                let total: f64 = loads
                    .iter()
                    .zip(&self.capacities)
                    .map(|(l, c)| l * c / 100.0)
                    .sum();
                total / live_flows.max(1) as f64
            }
        };
        self.lf.clear();
        self.lf
            .extend(self.capacities.iter().map(|c| 100.0 * rate / c));
    }

    /// Listing 3, lines 5–7, plus the hard cap.
    fn make_room(&mut self, t: f64) {
        if self.clusters.len() > self.cfg.m_max {
            while let Some(id) = self.clusters.lightest() {
                let light = self
                    .clusters
                    .get(id)
                    .is_some_and(|c| self.weights.of(c, t) < self.cfg.th_w);
                if !light {
                    break;
                }
                self.delete(id);
                self.clusters.stats.deleted += 1;
            }
        }
        while self.clusters.len() >= self.cfg.cluster_cap {
            let Some(id) = self.clusters.lightest() else {
                break;
            };
            self.delete(id);
            self.clusters.stats.evicted += 1;
        }
    }

    fn delete(&mut self, id: u32) {
        if let Some(c) = self.clusters.remove(id)
            && let Some(ix) = self.index.as_mut()
        {
            ix.remove(id, &c);
        }
    }

    fn new_slot(&mut self, first: (u32, u32), more: Vec<(u32, u32)>) -> u64 {
        let slot = FlowSlot {
            first,
            more,
            live: true,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.flows[i as usize] = slot;
                i
            }
            None => {
                self.flows.push(slot);
                (self.flows.len() - 1) as u32
            }
        };
        u64::from(i) + 1
    }
}

impl Balancer for BlbBalancer {
    fn name(&self) -> &'static str {
        "blb"
    }

    fn sensors(&self) -> usize {
        self.n
    }

    fn needs_loads(&self) -> bool {
        true
    }

    fn assign(&mut self, ctx: &FlowContext<'_>) -> Assignment {
        let t = self.time(ctx.now);
        let f = self.distance.point(ctx.packet);
        self.chosen.clear();
        self.counters.decisions += 1;
        let up = ctx.in_service.intersect(SensorSet::all(self.n));
        let Some(least) = least_loaded(ctx.loads, up) else {
            return Assignment {
                sensors: SensorSet::EMPTY,
                tag: 0,
            };
        };
        if self.warm_up(f, t, up) {
            return Assignment::to(least);
        }
        self.predicted_loads(ctx.loads, ctx.live_flows);
        let scoring = Scoring {
            distance: &self.distance,
            weights: self.weights,
            join_distance: self.cfg.join_distance,
            t,
        };
        let mut brute = BruteForce;
        let search: &mut dyn Search = match self.index.as_mut() {
            Some(ix) => ix,
            None => &mut brute,
        };
        let mut chosen = std::mem::take(&mut self.chosen);
        solve_p_among(
            search,
            &self.clusters,
            &scoring,
            &f,
            self.cfg.planning_constraint(),
            self.cfg.duplication,
            ctx.loads,
            &self.lf,
            self.cfg.noise_sigmas.map(|sigmas| Noise {
                variance: ctx.noise,
                sigmas,
            }),
            up,
            &mut chosen,
        );
        self.chosen = chosen;

        if self.chosen.is_empty() {
            self.counters.new_clusters += 1;
            self.make_room(t);
            let sensor = least;
            let id = self
                .clusters
                .insert(self.weights.new_cluster(f, sensor, t, 1));
            if let (Some(ix), Some(c)) = (self.index.as_mut(), self.clusters.get(id)) {
                ix.insert(id, c);
            }
            let tag = self.new_slot((id, self.clusters.generation(id)), Vec::new());
            return Assignment {
                sensors: SensorSet::one(sensor),
                tag,
            };
        }

        self.counters.joined += 1;
        self.counters.duplicates += self.chosen.len() as u64 - 1;
        let mut sensors = SensorSet::EMPTY;
        let mut first = None;
        let mut more = Vec::new();
        for i in 0..self.chosen.len() {
            let id = self.chosen[i];
            let (distance, weights) = (&self.distance, self.weights);
            let Some(old) = self.clusters.update(id, |c| {
                weights.add_flow(c, distance.distance(&f, &c.centroid), t);
            }) else {
                continue;
            };
            if let (Some(ix), Some(c)) = (self.index.as_mut(), self.clusters.get(id)) {
                ix.update(id, &old, c);
            }
            sensors.insert(old.sensor);
            let joined = (id, self.clusters.generation(id));
            if first.is_none() {
                first = Some(joined);
            } else {
                more.push(joined);
            }
        }
        let Some(first) = first else {
            return Assignment { sensors, tag: 0 };
        };
        let tag = self.new_slot(first, more);
        Assignment { sensors, tag }
    }

    fn on_packet(&mut self, tag: u64, _packet: &PacketMeta, now: Nanos) {
        let Some(slot) = tag.checked_sub(1).and_then(|i| self.flows.get(i as usize)) else {
            return;
        };
        if !slot.live {
            return;
        }
        let joined = slot.len();
        let t = self.time(now);
        for k in 0..joined {
            let Some((id, generation)) = self.flows[(tag - 1) as usize].get(k) else {
                break;
            };
            if self.clusters.generation(id) != generation {
                continue; // deleted: the flow keeps its sensor
            }
            let due = self
                .clusters
                .get(id)
                .is_some_and(|c| t - c.t_j >= self.cfg.refresh_interval && t > c.t_j);
            if !due {
                continue;
            }
            let weights = self.weights;
            if let Some(old) = self.clusters.update(id, |c| weights.refresh(c, t))
                && let (Some(ix), Some(c)) = (self.index.as_mut(), self.clusters.get(id))
            {
                ix.update(id, &old, c);
            }
        }
    }

    fn on_flow_end(&mut self, tag: u64, _now: Nanos) {
        let Some(i) = tag.checked_sub(1) else { return };
        if let Some(slot) = self.flows.get_mut(i as usize)
            && slot.live
        {
            slot.live = false;
            slot.more = Vec::new();
            self.free.push(i as u32);
        }
    }

    fn sensor_left(&mut self, sensor: SensorId, ctx: &mut ServiceContext<'_>) -> u64 {
        let t = match self.epoch {
            Some(epoch) => ctx.now.saturating_sub(epoch) as f64 / NANOS_PER_SEC as f64,
            None => 0.0,
        };
        let weights = self.weights;
        let mut leaving: Vec<(f64, u32)> = self
            .clusters
            .iter()
            .filter(|(_, c)| c.sensor == sensor)
            .map(|(id, c)| (weights.of(c, t), id))
            .collect();
        // Heaviest first (ties by id, for determinism).
        leaving.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let total: f64 = leaving.iter().map(|(w, _)| w).sum();
        let mut moved = 0;
        for (w, id) in leaving {
            let Some(to) = least_loaded(ctx.loads, ctx.in_service) else {
                break;
            };
            if let Some(l) = ctx.loads.get_mut(usize::from(to))
                && total > 0.0
            {
                *l += ctx.leaving_load * w / total;
            }
            if let Some(old) = self.clusters.update(id, |c| c.sensor = to)
                && let (Some(ix), Some(c)) = (self.index.as_mut(), self.clusters.get(id))
            {
                ix.update(id, &old, c);
            }
            moved += 1;
        }
        self.counters.clusters_moved += moved;
        moved
    }

    fn relocate(&mut self, r: &mut Relocation<'_>) -> SensorSet {
        // A flow follows its clusters (already moved by `sensor_left`); a warm-up flow, or
        // one whose clusters were deleted, goes to the least-loaded sensor in service.
        let followed = self.sensors_of_slot(r.tag).intersect(r.in_service);
        if !followed.is_empty() {
            return followed;
        }
        relocate_to_least_loaded(r)
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = BlbBalancer::counters(self);
        vec![
            ("decisions", c.decisions),
            ("joined", c.joined),
            ("new_clusters", c.new_clusters),
            ("warmup_flows", c.warmup_flows),
            ("duplicates", c.duplicates),
            ("clusters_created", c.clusters.created),
            ("clusters_deleted", c.clusters.deleted),
            ("clusters_evicted", c.clusters.evicted),
            ("clusters_live", c.live_clusters),
            ("clusters_moved", c.clusters_moved),
        ]
    }
}

#[cfg(test)]
#[path = "balancer_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "equivalence_tests.rs"]
mod equivalence_tests;
