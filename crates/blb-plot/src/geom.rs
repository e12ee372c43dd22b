//! Pixel geometry: dash patterns along a path, marker positions along a line and rows for
//! labels that would overlap.
//!
//! Pure arithmetic on canvas coordinates (finite, at most a few thousand pixels), kept apart
//! from the drawing code so that it can be tested without a backend.

use std::collections::BTreeSet;

/// A point in pixels.
pub(crate) type Px = (f64, f64);

/// Cuts `path` into the dashes of `pattern` (dash, gap, dash, gap, … lengths in pixels),
/// continuing the pattern across the vertices.
///
/// An empty or odd pattern, or one with a length that is not positive, draws the path solid.
pub(crate) fn dashes(path: &[Px], pattern: &[f64]) -> Vec<Vec<Px>> {
    if path.len() < 2 {
        return Vec::new();
    }
    let valid = !pattern.is_empty()
        && pattern.len().is_multiple_of(2)
        && pattern.iter().all(|d| d.is_finite() && *d > 0.0);
    if !valid {
        return vec![path.to_vec()];
    }
    let mut out = Vec::new();
    let mut k = 0usize;
    let mut left = pattern[0];
    let mut current = vec![path[0]];
    for w in path.windows(2) {
        let (mut a, b) = (w[0], w[1]);
        let mut d = (b.0 - a.0).hypot(b.1 - a.1);
        while d > left {
            let t = left / d;
            let p = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            if k.is_multiple_of(2) {
                current.push(p);
                out.push(std::mem::take(&mut current));
            } else {
                current = vec![p];
            }
            a = p;
            d -= left;
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= d;
        if k.is_multiple_of(2) {
            current.push(b);
        }
    }
    if k.is_multiple_of(2) && current.len() > 1 {
        out.push(current);
    }
    out
}

/// Where `path` first crosses each vertical line `x = phase + k * spacing` (k an integer):
/// the spots for the small markers that tell overlapping lines apart.
///
/// Lines with different phases get their markers at different abscissas, so the markers of
/// two series that lie on top of each other never coincide.
pub(crate) fn line_marks(path: &[Px], phase: f64, spacing: f64) -> Vec<Px> {
    let mut out = Vec::new();
    if !(spacing.is_finite() && spacing >= 1.0 && phase.is_finite()) {
        return out;
    }
    let mut seen = BTreeSet::new();
    for w in path.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (lo, hi) = (a.0.min(b.0), a.0.max(b.0));
        if !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        let first = ((lo - phase) / spacing).ceil() as i64;
        let last = ((hi - phase) / spacing).floor() as i64;
        for k in first..=last {
            if !seen.insert(k) {
                continue;
            }
            let x = phase + k as f64 * spacing;
            let t = if hi > lo {
                (x - a.0) / (b.0 - a.0)
            } else {
                0.0
            };
            out.push((x, a.1 + (b.1 - a.1) * t));
        }
    }
    out
}

/// Rows (0 = top) for labels spanning `spans` (`(left, right)` in pixels) so that labels in
/// the same row are at least `gap` apart; at most `max_rows` rows, after which a label goes
/// to the row where it overlaps least.
pub(crate) fn stagger(spans: &[(f64, f64)], gap: f64, max_rows: usize) -> Vec<usize> {
    let max_rows = max_rows.max(1);
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| spans[a].0.total_cmp(&spans[b].0));
    let mut ends: Vec<f64> = Vec::new();
    let mut rows = vec![0; spans.len()];
    for i in order {
        let (left, right) = spans[i];
        let row = match ends.iter().position(|&end| end + gap <= left) {
            Some(r) => r,
            None if ends.len() < max_rows => {
                ends.push(f64::NEG_INFINITY);
                ends.len() - 1
            }
            None => (0..ends.len())
                .min_by(|&a, &b| ends[a].total_cmp(&ends[b]))
                .unwrap_or(0),
        };
        ends[row] = ends[row].max(right);
        rows[i] = row;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first and last abscissa of each dash, rounded to 1e-6.
    fn spans(d: &[Vec<Px>]) -> Vec<(f64, f64)> {
        let r = |v: f64| (v * 1e6).round() / 1e6;
        d.iter().map(|p| (r(p[0].0), r(p[p.len() - 1].0))).collect()
    }

    #[test]
    fn dashes_follow_the_pattern_across_vertices() {
        let path = [(0.0, 0.0), (5.0, 0.0), (20.0, 0.0)];
        assert_eq!(
            spans(&dashes(&path, &[4.0, 2.0])),
            vec![(0.0, 4.0), (6.0, 10.0), (12.0, 16.0), (18.0, 20.0)]
        );
        // A dash that turns a corner keeps the corner.
        let corner = dashes(&[(0.0, 0.0), (2.0, 0.0), (2.0, 2.0)], &[3.0, 1.0]);
        assert_eq!(corner[0], vec![(0.0, 0.0), (2.0, 0.0), (2.0, 1.0)]);
        // Dash-dot patterns cycle through all lengths.
        let dd = dashes(&[(0.0, 0.0), (30.0, 0.0)], &[10.0, 2.0, 3.0, 2.0]);
        assert_eq!(
            spans(&dd),
            vec![(0.0, 10.0), (12.0, 15.0), (17.0, 27.0), (29.0, 30.0)]
        );
        assert_eq!(dashes(&path, &[]), vec![path.to_vec()]);
        assert_eq!(dashes(&path, &[1.0, 0.0]), vec![path.to_vec()]);
        assert_eq!(dashes(&path, &[f64::NAN, 1.0]), vec![path.to_vec()]);
        assert!(dashes(&[(1.0, 1.0)], &[1.0, 1.0]).is_empty());
        // Repeated points do not stall the walk.
        let still = dashes(&[(0.0, 0.0), (0.0, 0.0), (3.0, 0.0)], &[1.0, 1.0]);
        assert_eq!(still.len(), 2);
    }

    #[test]
    fn line_marks_sit_on_a_grid_once_each() {
        let path = [(0.0, 0.0), (100.0, 100.0), (250.0, 100.0)];
        assert_eq!(
            line_marks(&path, 10.0, 100.0),
            vec![(10.0, 10.0), (110.0, 100.0), (210.0, 100.0)]
        );
        // Going back and forth marks each grid line once.
        let zigzag = [(0.0, 0.0), (50.0, 0.0), (0.0, 10.0), (50.0, 20.0)];
        assert_eq!(line_marks(&zigzag, 20.0, 100.0), vec![(20.0, 0.0)]);
        // A vertical run on a grid line.
        assert_eq!(
            line_marks(&[(20.0, 0.0), (20.0, 9.0)], 20.0, 100.0),
            vec![(20.0, 0.0)]
        );
        assert!(line_marks(&path, 0.0, 0.0).is_empty());
        assert!(line_marks(&path, f64::NAN, 100.0).is_empty());
        assert!(line_marks(&[(5.0, 5.0)], 5.0, 100.0).is_empty());
    }

    #[test]
    fn stagger_keeps_close_labels_apart() {
        let spans = [(0.0, 50.0), (30.0, 80.0), (45.0, 100.0), (200.0, 240.0)];
        assert_eq!(stagger(&spans, 4.0, 3), vec![0, 1, 2, 0]);
        assert_eq!(stagger(&spans, 4.0, 2), vec![0, 1, 0, 0]);
        // Input order does not matter, only the positions.
        assert_eq!(stagger(&[(30.0, 80.0), (0.0, 50.0)], 4.0, 3), vec![1, 0]);
        assert_eq!(stagger(&[(0.0, 10.0), (1.0, 11.0)], 0.0, 0), vec![0, 0]);
        assert!(stagger(&[], 4.0, 3).is_empty());
    }
}
