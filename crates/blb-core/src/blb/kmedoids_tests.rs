//! Tests of PAM: hand-checked cases, invariants against brute force, and the sliced job
//! against the batch run.

use proptest::prelude::*;

use super::*;

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

proptest! {
    /// The job run in slices of any size gives exactly the batch result.
    #[test]
    fn sliced_job_equals_batch(
        pts in prop::collection::vec((0i32..6, 0i32..6), 0..=40),
        k in 0usize..=6,
        budget in prop_oneof![Just(1usize), 1usize..200],
        max_swaps in 0usize..5,
    ) {
        let dist = |i: usize, j: usize| {
            f64::from((pts[i].0 - pts[j].0).pow(2) + (pts[i].1 - pts[j].1).pow(2)).sqrt()
        };
        let batch = pam(pts.len(), k, dist, max_swaps);
        let mut job = PamJob::new(pts.len(), k, max_swaps);
        let mut steps = 0;
        let sliced = loop {
            steps += 1;
            if let Some(m) = job.step(&dist, budget) {
                break m.clone();
            }
        };
        prop_assert_eq!(&sliced, &batch);
        prop_assert_eq!(job.take(), Some(batch));
        prop_assert_eq!(job.take(), None);
        // A small budget really slices the work.
        if budget == 1 && pts.len() > 2 && k > 0 {
            prop_assert!(steps > pts.len());
        }
    }
}

/// A slice does about `budget` units of work: never more than the budget plus one step
/// (at most k·n units), so a balancer that runs one slice per flow bounds the wait of every
/// packet.
#[test]
fn a_slice_keeps_to_its_budget() {
    let n = 300;
    let xs: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64).collect();
    let dist = |i: usize, j: usize| (xs[i] - xs[j]).abs();
    for budget in [1usize, 500, 5_000] {
        let mut job = PamJob::new(n, 10, 50);
        let mut slices = 0;
        loop {
            let before = job.work();
            let done = job.step(&dist, budget).is_some();
            let did = job.work() - before;
            assert!(
                did as usize <= budget + 10 * n,
                "slice of {did} units, budget {budget}"
            );
            slices += 1;
            if done {
                break;
            }
        }
        assert!(slices > 1);
        assert_eq!(job.take(), Some(pam(n, 10, dist, 50)));
    }
}
