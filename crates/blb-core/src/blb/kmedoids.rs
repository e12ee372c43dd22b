//! k-medoids clustering by PAM (Kaufman & Rousseeuw 1990: BUILD, then SWAP) over an arbitrary
//! dissimilarity, as a job that can run in bounded slices.
//!
//! [`PamJob`] holds the full n×n dissimilarity matrix (8·n² bytes: 32 MB for n = 2000), so
//! callers must sample their points down to at most a few thousand first. BUILD costs O(k·n²)
//! in total and each SWAP iteration O(k·n²) (every (medoid, non-medoid) pair is evaluated in
//! O(n) from each point's nearest and second-nearest medoid distances). [`PamJob::step`] does
//! at most about `budget` units of that work (a unit is one distance, or one point in a cost
//! sum) and returns, so a balancer can spread the start over many packets without any one of
//! them waiting; [`pam`] runs the same job to the end in one call. Sliced or not, the job does
//! the same arithmetic in the same order and gives the same medoids.
//!
//! Everything is deterministic: ties are broken by lowest index (or position). A NaN
//! dissimilarity counts as +inf and a negative one as 0; costs count infinite terms separately
//! from the finite sum, so a point at +inf never turns a cost change into inf − inf.

/// A SWAP is applied only if it lowers the cost by more than this fraction of the current cost.
const REL_TOL: f64 = 1e-12;

/// Result of k-medoids clustering.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Medoids {
    /// Indices (into the input) of the chosen medoids, in the order BUILD chose them (a medoid
    /// brought in by SWAP takes the position of the one it replaced).
    pub medoids: Vec<usize>,
    /// For each input point, the position in `medoids` of its nearest medoid (ties: lowest
    /// position). Empty when `medoids` is empty.
    pub assignment: Vec<usize>,
    /// Sum over points of the distance to their nearest medoid (+inf if some point is at
    /// infinite distance from every medoid; 0 when `medoids` is empty).
    pub cost: f64,
    /// SWAP iterations performed.
    pub swaps: usize,
}

/// Choose up to `k` medoids among `n` points with dissimilarity `dist(i, j)` (symmetric, >= 0,
/// dist(i, i) = 0). Returns fewer than k medoids when there are fewer than k distinct points
/// (points at distance 0 from an existing medoid are never chosen as a further medoid), none
/// for n = 0 or k = 0. `max_swaps` bounds the SWAP phase (each iteration applies the single
/// best improving swap; stop when none improves by more than 1e-12 relative).
///
/// `dist` is called once per unordered pair, as `dist(i, j)` with `i < j`; NaN is read as
/// +inf and negative values as 0.
///
/// # Complexity
///
/// O(n²) calls to `dist` and O(n²) memory for the distance matrix (callers must sample to at
/// most a few thousand points), O(k·n²) time for BUILD and O(k·n²) per SWAP iteration.
pub fn pam(n: usize, k: usize, dist: impl Fn(usize, usize) -> f64, max_swaps: usize) -> Medoids {
    let mut job = PamJob::new(n, k, max_swaps);
    while job.step(&dist, usize::MAX).is_none() {}
    job.take().unwrap_or_default()
}

const INF: f64 = f64::INFINITY;

/// A sum of distances as (number of infinite terms, sum of the finite ones): tuples compare
/// lexicographically, and infinite distances add and subtract without producing NaN.
type Cost = (i64, f64);

const ZERO: Cost = (0, 0.0);

/// The cost of one (sanitised, non-NaN) distance.
fn cost(d: f64) -> Cost {
    if d.is_finite() { (0, d) } else { (1, 0.0) }
}

fn plus(a: Cost, b: Cost) -> Cost {
    (a.0 + b.0, a.1 + b.1)
}

/// The cost change when a point's distance goes from `from` to `to`.
fn change(from: f64, to: f64) -> Cost {
    let (a, b) = (cost(from), cost(to));
    (b.0 - a.0, b.1 - a.1)
}

/// Keep the lowest cost, ties going to the one seen first.
fn keep_min<T>(best: &mut Option<(T, Cost)>, candidate: T, c: Cost) {
    if best.as_ref().is_none_or(|(_, b)| c < *b) {
        *best = Some((candidate, c));
    }
}

/// A point's nearest medoid (position) and its nearest and second-nearest medoid distances.
#[derive(Clone, Copy)]
struct Near {
    pos: usize,
    d1: f64,
    d2: f64,
}

/// Where the job stands.
enum Phase {
    /// Filling the matrix, row by row.
    Matrix { row: usize },
    /// BUILD: candidates `cand..` for the next medoid are still to be weighed.
    Build {
        medoids: Vec<usize>,
        near: Vec<f64>,
        cand: usize,
        best: Option<(usize, Cost)>,
    },
    /// One SWAP iteration: pairs from (p, o) on are still to be weighed.
    Swap {
        medoids: Vec<usize>,
        swaps: usize,
        near: Vec<Near>,
        total: Cost,
        p: usize,
        o: usize,
        best_o: Option<(usize, Cost)>,
        best: Option<((usize, usize), Cost)>,
    },
    /// Finished (the result not yet taken).
    Done(Option<Medoids>),
}

/// PAM as a job that runs in slices of bounded work. See the module documentation.
pub struct PamJob {
    n: usize,
    k: usize,
    max_swaps: usize,
    d: Vec<f64>,
    phase: Phase,
    work: u64,
}

impl std::fmt::Debug for PamJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PamJob")
            .field("n", &self.n)
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

impl PamJob {
    /// A job choosing up to `k` medoids among `n` points (see [`pam`]).
    pub fn new(n: usize, k: usize, max_swaps: usize) -> Self {
        let phase = if n == 0 || k == 0 {
            Phase::Done(Some(Medoids::default()))
        } else {
            Phase::Matrix { row: 0 }
        };
        PamJob {
            n,
            k,
            max_swaps,
            d: if n == 0 || k == 0 {
                Vec::new()
            } else {
                vec![0.0; n * n]
            },
            phase,
            work: 0,
        }
    }

    /// Units of work done so far (one step never takes more than `k·n`: the nearest medoids
    /// of every point, at the end of a SWAP iteration).
    pub fn work(&self) -> u64 {
        self.work
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.d[i * self.n..(i + 1) * self.n]
    }

    /// Do about `budget` units of work (at least one step, so the job always advances).
    /// Returns the medoids once the job is done (and on every later call, until taken).
    pub fn step(&mut self, dist: &dyn Fn(usize, usize) -> f64, budget: usize) -> Option<&Medoids> {
        let mut spent = 0usize;
        loop {
            if matches!(self.phase, Phase::Done(_)) {
                break;
            }
            let units = self.advance(dist);
            self.work += units as u64;
            spent = spent.saturating_add(units);
            if spent >= budget {
                break;
            }
        }
        match &self.phase {
            Phase::Done(m) => m.as_ref(),
            _ => None,
        }
    }

    /// The result, once: `None` before the job is done or after it was taken.
    pub fn take(&mut self) -> Option<Medoids> {
        match &mut self.phase {
            Phase::Done(m) => m.take(),
            _ => None,
        }
    }

    /// One step; returns the units of work it took.
    fn advance(&mut self, dist: &dyn Fn(usize, usize) -> f64) -> usize {
        let n = self.n;
        let phase = std::mem::replace(&mut self.phase, Phase::Done(None));
        let (next, work) = match phase {
            Phase::Matrix { row } => {
                for j in row + 1..n {
                    let v = dist(row, j);
                    let v = if v.is_nan() { INF } else { v.max(0.0) };
                    self.d[row * n + j] = v;
                    self.d[j * n + row] = v;
                }
                let next = if row + 1 < n {
                    Phase::Matrix { row: row + 1 }
                } else {
                    Phase::Build {
                        medoids: Vec::new(),
                        near: vec![INF; n],
                        cand: 0,
                        best: None,
                    }
                };
                (next, n - row)
            }
            Phase::Build {
                medoids,
                near,
                cand,
                best,
            } => self.build_step(medoids, near, cand, best),
            Phase::Swap {
                medoids,
                swaps,
                near,
                total,
                p,
                o,
                best_o,
                best,
            } => self.swap_step(medoids, swaps, near, total, (p, o), best_o, best),
            Phase::Done(m) => (Phase::Done(m), 1),
        };
        self.phase = next;
        work
    }

    /// BUILD: weigh candidate `cand` (the gain of adding it, never a point at distance 0 from
    /// a chosen medoid); after the last, add the best (the first, starting from "every point
    /// at +inf", is the one with the least total distance).
    fn build_step(
        &self,
        mut medoids: Vec<usize>,
        mut near: Vec<f64>,
        cand: usize,
        mut best: Option<(usize, Cost)>,
    ) -> (Phase, usize) {
        let n = self.n;
        if cand < n {
            if near[cand] > 0.0 {
                let gain = near
                    .iter()
                    .zip(self.row(cand))
                    .map(|(&a, &d)| change(a, a.min(d)))
                    .fold(ZERO, plus);
                keep_min(&mut best, cand, gain);
            }
            let next = Phase::Build {
                medoids,
                near,
                cand: cand + 1,
                best,
            };
            return (next, n);
        }
        if let Some((c, _)) = best {
            medoids.push(c);
            for (a, &d) in near.iter_mut().zip(self.row(c)) {
                *a = a.min(d);
            }
            if medoids.len() < self.k {
                let next = Phase::Build {
                    medoids,
                    near,
                    cand: 0,
                    best: None,
                };
                return (next, n);
            }
        }
        (self.start_swap(medoids, 0), n)
    }

    /// Start a SWAP iteration (or finish when the iterations are used up).
    fn start_swap(&self, medoids: Vec<usize>, swaps: usize) -> Phase {
        if swaps >= self.max_swaps {
            return self.finish(medoids, swaps);
        }
        let near = self.nearest(&medoids);
        let total = near.iter().map(|x| cost(x.d1)).fold(ZERO, plus);
        Phase::Swap {
            medoids,
            swaps,
            near,
            total,
            p: 0,
            o: 0,
            best_o: None,
            best: None,
        }
    }

    /// SWAP: weigh exchanging medoid `p` for point `o` (skipping current medoids and
    /// duplicates, at distance 0, of the medoids that stay); after the last pair, apply the
    /// exchange that lowers the cost most if it improves by more than [`REL_TOL`] relative.
    #[allow(clippy::too_many_arguments)]
    fn swap_step(
        &self,
        mut medoids: Vec<usize>,
        swaps: usize,
        near: Vec<Near>,
        total: Cost,
        (p, o): (usize, usize),
        mut best_o: Option<(usize, Cost)>,
        mut best: Option<((usize, usize), Cost)>,
    ) -> (Phase, usize) {
        let (n, k) = (self.n, medoids.len());
        if p < k {
            let d = self.row(o);
            let eligible = o != medoids[p]
                && medoids
                    .iter()
                    .enumerate()
                    .all(|(q, &mq)| q == p || d[mq] > 0.0);
            if eligible {
                let delta = near
                    .iter()
                    .zip(d)
                    .map(|(x, &d)| {
                        let keep = if x.pos == p { x.d2 } else { x.d1 };
                        change(x.d1, keep.min(d))
                    })
                    .fold(ZERO, plus);
                keep_min(&mut best_o, o, delta);
            }
            let (p2, o2) = if o + 1 < n { (p, o + 1) } else { (p + 1, 0) };
            if p2 != p
                && let Some((o_best, delta)) = best_o.take()
            {
                keep_min(&mut best, (p, o_best), delta);
            }
            let next = Phase::Swap {
                medoids,
                swaps,
                near,
                total,
                p: p2,
                o: o2,
                best_o,
                best,
            };
            return (next, n + k);
        }
        match best {
            Some(((p, o), (inf, fin))) if inf < 0 || (inf == 0 && fin < -REL_TOL * total.1) => {
                medoids[p] = o;
                (self.start_swap(medoids, swaps + 1), k * n)
            }
            _ => (self.finish(medoids, swaps), k * n),
        }
    }

    fn nearest(&self, medoids: &[usize]) -> Vec<Near> {
        let mut near = vec![
            Near {
                pos: 0,
                d1: INF,
                d2: INF
            };
            self.n
        ];
        for (p, &med) in medoids.iter().enumerate() {
            for (x, &d) in near.iter_mut().zip(self.row(med)) {
                if d < x.d1 {
                    (x.pos, x.d1, x.d2) = (p, d, x.d1);
                } else if d < x.d2 {
                    x.d2 = d;
                }
            }
        }
        near
    }

    fn finish(&self, medoids: Vec<usize>, swaps: usize) -> Phase {
        let near = self.nearest(&medoids);
        let total = near.iter().map(|x| cost(x.d1)).fold(ZERO, plus);
        Phase::Done(Some(Medoids {
            assignment: near.iter().map(|x| x.pos).collect(),
            cost: if total.0 > 0 { INF } else { total.1 },
            medoids,
            swaps,
        }))
    }
}

#[cfg(test)]
#[path = "kmedoids_tests.rs"]
mod tests;
