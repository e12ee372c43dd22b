//! k-medoids clustering by PAM (Kaufman & Rousseeuw 1990: BUILD, then SWAP) over an arbitrary
//! dissimilarity.
//!
//! [`pam`] precomputes the full n×n dissimilarity matrix (8·n² bytes: 32 MB for n = 2000), so
//! callers must sample their points down to at most a few thousand first. BUILD costs O(k·n²)
//! in total and each SWAP iteration O(k·n²) (every (medoid, non-medoid) pair is evaluated in
//! O(n) from each point's nearest and second-nearest medoid distances).
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
    let mut out = Medoids::default();
    if n == 0 || k == 0 {
        return out;
    }
    let matrix = Matrix::new(n, dist);
    out.medoids = build(&matrix, k);
    while out.swaps < max_swaps && swap(&matrix, &mut out.medoids) {
        out.swaps += 1;
    }
    let near = nearest(&matrix, &out.medoids);
    out.assignment = near.iter().map(|x| x.pos).collect();
    let total = near.iter().map(|x| cost(x.d1)).fold(ZERO, plus);
    out.cost = if total.0 > 0 { INF } else { total.1 };
    out
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

/// The index with the lowest cost, ties going to the first one yielded.
fn argmin(costs: impl Iterator<Item = (usize, Cost)>) -> Option<(usize, Cost)> {
    costs.fold(None, |best, (i, c)| match best {
        Some((_, b)) if c < b => Some((i, c)),
        Some(_) => best,
        None => Some((i, c)),
    })
}

/// The symmetric n×n distance matrix, row-major, with NaN mapped to +inf and negatives to 0.
struct Matrix {
    n: usize,
    d: Vec<f64>,
}

impl Matrix {
    fn new(n: usize, dist: impl Fn(usize, usize) -> f64) -> Self {
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let v = dist(i, j);
                let v = if v.is_nan() { INF } else { v.max(0.0) };
                d[i * n + j] = v;
                d[j * n + i] = v;
            }
        }
        Matrix { n, d }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.d[i * self.n..(i + 1) * self.n]
    }
}

/// BUILD: greedily add the point that decreases the total cost most (the first one, starting
/// from "every point at +inf", is the one with the least total distance), never a point at
/// distance 0 from a chosen medoid.
fn build(m: &Matrix, k: usize) -> Vec<usize> {
    let mut medoids = Vec::new();
    let mut near = vec![INF; m.n];
    while medoids.len() < k {
        let gains = (0..m.n).filter(|&c| near[c] > 0.0).map(|c| {
            let gain = near
                .iter()
                .zip(m.row(c))
                .map(|(&a, &d)| change(a, a.min(d)));
            (c, gain.fold(ZERO, plus))
        });
        let Some((c, _)) = argmin(gains) else { break };
        medoids.push(c);
        for (a, &d) in near.iter_mut().zip(m.row(c)) {
            *a = a.min(d);
        }
    }
    medoids
}

/// A point's nearest medoid (position) and its nearest and second-nearest medoid distances.
#[derive(Clone, Copy)]
struct Near {
    pos: usize,
    d1: f64,
    d2: f64,
}

fn nearest(m: &Matrix, medoids: &[usize]) -> Vec<Near> {
    let mut near = vec![
        Near {
            pos: 0,
            d1: INF,
            d2: INF
        };
        m.n
    ];
    for (p, &med) in medoids.iter().enumerate() {
        for (x, &d) in near.iter_mut().zip(m.row(med)) {
            if d < x.d1 {
                (x.pos, x.d1, x.d2) = (p, d, x.d1);
            } else if d < x.d2 {
                x.d2 = d;
            }
        }
    }
    near
}

/// One SWAP iteration: find the (medoid, non-medoid) exchange that lowers the cost most and
/// apply it if it improves by more than [`REL_TOL`] relative. Returns whether it swapped.
fn swap(m: &Matrix, medoids: &mut [usize]) -> bool {
    let near = nearest(m, medoids);
    let total = near.iter().map(|x| cost(x.d1)).fold(ZERO, plus);
    let mut best: Option<(usize, usize, Cost)> = None;
    for p in 0..medoids.len() {
        // Skip current medoids and duplicates (distance 0) of the medoids that stay.
        let eligible = |o: usize| {
            let d = m.row(o);
            o != medoids[p]
                && medoids
                    .iter()
                    .enumerate()
                    .all(|(q, &mq)| q == p || d[mq] > 0.0)
        };
        let deltas = (0..m.n).filter(|&o| eligible(o)).map(|o| {
            let delta = near.iter().zip(m.row(o)).map(|(x, &d)| {
                let keep = if x.pos == p { x.d2 } else { x.d1 };
                change(x.d1, keep.min(d))
            });
            (o, delta.fold(ZERO, plus))
        });
        if let Some((o, delta)) = argmin(deltas)
            && best.is_none_or(|(_, _, b)| delta < b)
        {
            best = Some((p, o, delta));
        }
    }
    match best {
        Some((p, o, (inf, fin))) if inf < 0 || (inf == 0 && fin < -REL_TOL * total.1) => {
            medoids[p] = o;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(xs: &[f64]) -> impl Fn(usize, usize) -> f64 + '_ {
        move |i, j| (xs[i] - xs[j]).abs()
    }

    fn sorted(mut v: Vec<usize>) -> Vec<usize> {
        v.sort_unstable();
        v
    }

    /// Cost of a medoid set recomputed directly from `dist`.
    fn cost_of(n: usize, dist: &impl Fn(usize, usize) -> f64, meds: &[usize]) -> f64 {
        (0..n)
            .map(|i| {
                meds.iter()
                    .map(|&m| dist(i, m))
                    .fold(f64::INFINITY, f64::min)
            })
            .sum()
    }

    /// Optimal cost over all subsets of `size` points.
    fn brute(n: usize, size: usize, dist: &impl Fn(usize, usize) -> f64) -> f64 {
        (0u32..1 << n)
            .filter(|s| s.count_ones() as usize == size)
            .map(|s| {
                cost_of(
                    n,
                    dist,
                    &(0..n).filter(|i| (s >> i) & 1 == 1).collect::<Vec<_>>(),
                )
            })
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn two_clusters_on_a_line() {
        let xs = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let r = pam(6, 2, line(&xs), 100);
        assert_eq!(sorted(r.medoids.clone()), vec![1, 4]);
        assert_eq!(r.cost, 4.0);
        let a = &r.assignment;
        assert!(a[0] == a[1] && a[1] == a[2] && a[3] == a[4] && a[4] == a[5] && a[0] != a[3]);
        assert_eq!(r.medoids[a[0]], 1);
    }

    #[test]
    fn k1_is_the_median() {
        let xs = [10.0, 0.0, 11.0, 2.0, 1.0];
        let r = pam(5, 1, line(&xs), 100);
        assert_eq!((r.medoids, r.cost, r.swaps), (vec![3], 20.0, 0));
        assert_eq!(r.assignment, vec![0; 5]);
        // Two medians (2 and 10) tie: the lowest index wins.
        let r = pam(6, 1, line(&[0.0, 1.0, 2.0, 10.0, 11.0, 12.0]), 100);
        assert_eq!((r.medoids, r.cost), (vec![2], 30.0));
    }

    #[test]
    fn k_at_least_distinct_points_costs_zero() {
        let xs = [0.0, 0.0, 5.0, 5.0, 7.0];
        for k in 3..8 {
            let r = pam(5, k, line(&xs), 100);
            assert_eq!((sorted(r.medoids.clone()), r.cost), (vec![0, 2, 4], 0.0));
            assert_eq!(r.assignment.len(), 5);
        }
    }

    #[test]
    fn degenerate_inputs() {
        let empty = Medoids::default();
        assert_eq!(pam(0, 3, |_, _| 1.0, 10), empty);
        assert_eq!(pam(4, 0, |_, _| 1.0, 10), empty);
        let same = pam(5, 3, |_, _| 0.0, 10);
        assert_eq!(
            (same.medoids, same.assignment, same.cost),
            (vec![0], vec![0; 5], 0.0)
        );
        let r = pam(3, 10, line(&[3.0, 1.0, 2.0]), 10);
        assert_eq!((r.medoids.len(), r.cost), (3, 0.0));
        let one = pam(1, 1, |_, _| f64::NAN, 10);
        assert_eq!(
            (one.medoids, one.assignment, one.cost),
            (vec![0], vec![0], 0.0)
        );
        // Negative distances are read as 0: both points are duplicates.
        assert_eq!(pam(2, 2, |_, _| -1.0, 10).medoids, vec![0]);
    }

    #[test]
    fn nan_distances_are_infinite() {
        // Point 0 and point 2 are incomparable; point 1 is close to both.
        let d = |i: usize, j: usize| if i + j == 2 && i != j { f64::NAN } else { 1.0 };
        let r = pam(3, 1, d, 10);
        assert_eq!((r.medoids, r.cost), (vec![1], 2.0));
        let all_nan = |_: usize, _: usize| f64::NAN;
        let r = pam(3, 2, all_nan, 10);
        assert_eq!((r.medoids, r.cost, r.swaps), (vec![0, 1], f64::INFINITY, 0));
        assert_eq!(r.assignment, vec![0, 1, 0]);
        let r = pam(3, 3, all_nan, 10);
        assert_eq!((r.medoids, r.cost), (vec![0, 1, 2], 0.0));
        // Fewer infinite terms beat any finite saving.
        let d = |i: usize, j: usize| if i.min(j) == 0 { f64::NAN } else { 1.0 };
        let r = pam(4, 1, d, 10);
        assert_eq!((r.medoids, r.cost), (vec![1], f64::INFINITY));
        let r = pam(4, 2, d, 10);
        assert_eq!((sorted(r.medoids), r.cost), (vec![0, 1], 2.0));
    }

    #[test]
    fn swap_improves_on_build() {
        // Weighted clusters 3 at 0, 2 at 5, 3 at 10: BUILD takes the median 5 then 0 (cost 15);
        // the optimum is {0, 10} (cost 10).
        let xs = [0.0, 0.0, 0.0, 5.0, 5.0, 10.0, 10.0, 10.0];
        let b = pam(8, 2, line(&xs), 0);
        assert_eq!((b.medoids, b.cost, b.swaps), (vec![3, 0], 15.0, 0));
        let r = pam(8, 2, line(&xs), 100);
        assert_eq!((r.medoids, r.cost, r.swaps), (vec![5, 0], 10.0, 1));
        assert_eq!(r.cost, brute(8, 2, &line(&xs)));
    }

    #[test]
    fn deterministic_and_bounded() {
        let xs: Vec<f64> = (0..40).map(|i| ((i * 37) % 23) as f64 * 1.5).collect();
        let a = pam(40, 4, line(&xs), 100);
        assert_eq!(a, pam(40, 4, line(&xs), 100));
        assert!(pam(40, 4, line(&xs), 1).swaps <= 1);
    }

    /// All the invariants of a PAM result on a metric `dist` over `n` points with `distinct`
    /// distinct points.
    fn check(n: usize, k: usize, distinct: usize, dist: impl Fn(usize, usize) -> f64) {
        let r = pam(n, k, &dist, 1000);
        let build = pam(n, k, &dist, 0);
        let meds = &r.medoids;
        assert_eq!(meds.len(), k.min(distinct));
        for (p, &a) in meds.iter().enumerate() {
            assert!(
                meds[..p].iter().all(|&b| dist(a, b) > 0.0),
                "distinct medoids"
            );
        }
        if meds.is_empty() {
            assert_eq!((r.assignment.len(), r.cost), (0, 0.0));
            return;
        }
        assert_eq!(r.assignment.len(), n);
        for (i, &a) in r.assignment.iter().enumerate() {
            let d = dist(i, meds[a]);
            assert!(meds.iter().all(|&m| dist(i, m) >= d), "nearest medoid");
            assert!(
                meds[..a].iter().all(|&m| dist(i, m) > d),
                "lowest position on ties"
            );
        }
        assert!((r.cost - cost_of(n, &dist, meds)).abs() < 1e-9);
        assert!(r.cost <= build.cost + 1e-9);
        assert!(r.cost >= brute(n, meds.len(), &dist) - 1e-9);
        assert!(r.swaps < 1000);
        // Local optimum: no single eligible swap improves.
        for p in 0..meds.len() {
            for o in 0..n {
                let mut s = meds.clone();
                s[p] = o;
                if (0..s.len()).all(|q| q == p || dist(o, s[q]) > 0.0) {
                    assert!(cost_of(n, &dist, &s) >= r.cost - 1e-9, "swap {p} -> {o}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn pam_on_a_line(xs in prop::collection::vec(0i32..20, 0..=9), k in 0usize..=4) {
            let mut d = xs.clone();
            d.sort_unstable();
            d.dedup();
            check(xs.len(), k, d.len(), |i, j| f64::from((xs[i] - xs[j]).abs()));
        }

        #[test]
        fn pam_on_a_grid(
            pts in prop::collection::vec((0i32..4, 0i32..4), 0..=9),
            k in 0usize..=4,
        ) {
            let mut d = pts.clone();
            d.sort_unstable();
            d.dedup();
            check(pts.len(), k, d.len(), |i, j| {
                f64::from((pts[i].0 - pts[j].0).pow(2) + (pts[i].1 - pts[j].1).pow(2)).sqrt()
            });
        }
    }
}
