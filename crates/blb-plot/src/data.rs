//! Data preparation: drawable segments, axis ranges, tick labels and per-label styles.
//!
//! Everything here is pure arithmetic on the input series so that the drawing code only ever
//! sees finite coordinates inside non-degenerate ranges, whatever the caller passed in.

use crate::{Figure, Panel};

/// Values whose magnitude exceeds this are treated like NaN: not drawn, not ranged.
///
/// Keeping every drawable value well inside `f64` leaves room for padding the axis ranges
/// without overflowing to infinity.
const MAX_MAGNITUDE: f64 = 1e300;

/// Whether `v` can be placed on a linear axis.
fn drawable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_MAGNITUDE
}

/// Whether `(x, y)` can be drawn on a panel with the given y scale.
fn point_ok(x: f64, y: f64, y_log: bool) -> bool {
    drawable(x) && drawable(y) && (!y_log || y > 0.0)
}

/// Splits `points` into runs of drawable points, in input order.
///
/// A NaN, an infinite value or (on a log axis) a value below the axis, which starts at
/// `log_floor`, ends a run, so the line shows a gap there instead of jumping across it.
pub(crate) fn segments(points: &[(f64, f64)], log_floor: Option<f64>) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        let ok = match log_floor {
            Some(floor) => point_ok(x, y, true) && y >= floor,
            None => point_ok(x, y, false),
        };
        if ok {
            current.push((x, y));
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The shared x range of all panels: the extent of every drawable point.
///
/// Falls back to `0..1` without data and widens a single abscissa to a unit interval.
pub(crate) fn x_range(fig: &Figure) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for panel in &fig.panels {
        for series in &panel.series {
            for &(x, y) in &series.points {
                if point_ok(x, y, panel.y_log) {
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
            }
        }
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// The reference line of `panel`, if its value is finite (and positive on a log axis).
fn raw_hline(panel: &Panel) -> Option<(f64, &str)> {
    match &panel.hline {
        Some((v, label)) if drawable(*v) && (!panel.y_log || *v > 0.0) => Some((*v, label)),
        _ => None,
    }
}

/// The reference line of `panel`, if it can be drawn on its y axis.
pub(crate) fn hline(panel: &Panel) -> Option<(f64, &str)> {
    raw_hline(panel).filter(|(v, _)| *v >= y_range(panel).0)
}

/// The most decades a log axis spans; lower values are left out (as gaps).
///
/// Besides legibility, this keeps plotters' tick search on log axes short.
const MAX_LOG_RATIO: f64 = 1e30;

/// Where the y axis of `panel` starts if it is logarithmic: points below are not drawn.
pub(crate) fn log_floor(panel: &Panel) -> Option<f64> {
    panel.y_log.then(|| y_range(panel).0)
}

/// The y range of `panel`: from 0 (or the lowest value, if negative) to a bit above the
/// larger of the highest value and the reference line.
///
/// A small margin below keeps lines that sit at exactly zero visible above the x axis. On a
/// log axis the range spans the positive values with a factor of two either side, at most
/// [`MAX_LOG_RATIO`] wide.
pub(crate) fn y_range(panel: &Panel) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for series in &panel.series {
        for &(x, y) in &series.points {
            if point_ok(x, y, panel.y_log) {
                lo = lo.min(y);
                hi = hi.max(y);
            }
        }
    }
    if let Some((v, _)) = raw_hline(panel) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if panel.y_log {
        if lo > hi {
            return (1.0, 10.0);
        }
        let hi = hi * 2.0;
        return ((lo / 2.0).max(hi / MAX_LOG_RATIO), hi);
    }
    if lo > hi {
        return (-0.03, 1.08);
    }
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let hi = if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        lo + 1.0
    } else {
        hi
    };
    let span = hi - lo;
    (lo - 0.03 * span, hi + 0.08 * span)
}

/// Formats an axis tick value compactly: `0`, `25`, `2.5`, `0.125`, `1.5e6`, `1e8`.
pub(crate) fn tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    if a < 1e-12 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// How a series line is stroked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// A continuous line.
    Solid,
    /// Dashes of the given length and gap, in pixels at the reference size.
    Dashed(u32, u32),
}

/// The look of one series: colour, stroke pattern and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineLook {
    /// Red, green, blue.
    pub(crate) rgb: (u8, u8, u8),
    /// Stroke pattern.
    pub(crate) pattern: Pattern,
    /// Stroke width in pixels at the reference size.
    pub(crate) width: u32,
}

/// Colour-blind-safe colours (Okabe & Ito), dark enough to read on white.
const PALETTE: [(u8, u8, u8); 7] = [
    (0, 114, 178),   // blue
    (213, 94, 0),    // vermillion
    (0, 158, 115),   // bluish green
    (204, 121, 167), // reddish purple
    (230, 159, 0),   // orange
    (86, 180, 233),  // sky blue
    (128, 64, 0),    // brown
];

/// Stroke patterns, cycled independently of the colours.
const PATTERNS: [(Pattern, u32); 4] = [
    (Pattern::Solid, 3),
    (Pattern::Dashed(14, 7), 3),
    (Pattern::Dashed(3, 5), 4),
    (Pattern::Dashed(22, 5), 3),
];

/// The colour of the dashed reference line.
pub(crate) const HLINE_RGB: (u8, u8, u8) = (40, 40, 40);

/// The look of the `index`-th distinct label of a figure.
///
/// Colours and patterns have co-prime cycle lengths, so the first 28 labels all differ.
pub(crate) fn look(index: usize) -> LineLook {
    let (pattern, width) = PATTERNS[index % PATTERNS.len()];
    LineLook {
        rgb: PALETTE[index % PALETTE.len()],
        pattern,
        width,
    }
}

/// The distinct series labels of `fig` in order of first appearance: the index of a label
/// here picks its [`look`], so a label looks the same in every panel.
pub(crate) fn label_order(fig: &Figure) -> Vec<&str> {
    let mut labels: Vec<&str> = Vec::new();
    for series in fig.panels.iter().flat_map(|p| &p.series) {
        if !labels.contains(&series.label.as_str()) {
            labels.push(&series.label);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Series;

    fn panel(points: Vec<(f64, f64)>, hline: Option<f64>) -> Panel {
        Panel {
            series: vec![Series::new("s", points)],
            hline: hline.map(|v| (v, "ref".to_string())),
            ..Panel::default()
        }
    }

    #[test]
    fn segments_split_at_non_finite() {
        let pts = [
            (0.0, 1.0),
            (1.0, f64::NAN),
            (2.0, 2.0),
            (3.0, 3.0),
            (f64::INFINITY, 1.0),
        ];
        assert_eq!(
            segments(&pts, None),
            vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]
        );
        let log = [(0.0, 0.0), (1.0, 5.0), (2.0, 1.0)];
        assert_eq!(segments(&log, Some(2.0)), vec![vec![(1.0, 5.0)]]);
        assert!(segments(&[], None).is_empty());
    }

    #[test]
    fn y_range_covers_data_and_hline() {
        let (lo, hi) = y_range(&panel(vec![(0.0, 0.0), (1.0, 80.0)], Some(20.0)));
        assert!(lo < 0.0 && lo > -5.0 && hi > 80.0 && hi < 90.0);
        let (_, hi) = y_range(&panel(vec![(0.0, 1.0), (1.0, 5.0)], Some(9.0)));
        assert!(hi > 9.0 && hi < 11.0);
        let (lo, hi) = y_range(&panel(vec![(0.0, 0.0), (1.0, 0.0)], None));
        assert!(lo < 0.0 && hi > 1.0);
        let (lo, hi) = y_range(&panel(vec![], None));
        assert!(lo < hi);
        let (lo, hi) = y_range(&panel(vec![(0.0, -1e300), (1.0, 1e300)], None));
        assert!(lo.is_finite() && hi.is_finite() && (hi - lo).is_finite());
        let (lo, hi) = y_range(&panel(vec![(0.0, f64::MAX)], None));
        assert!(lo < hi && hi.is_finite());
    }

    #[test]
    fn log_range_is_positive() {
        let mut p = panel(vec![(0.0, 0.0), (1.0, 10.0), (2.0, 1000.0)], Some(-3.0));
        p.y_log = true;
        assert_eq!(y_range(&p), (5.0, 2000.0));
        assert!(hline(&p).is_none());
        p.series[0].points.push((3.0, 1e-200));
        assert_eq!(y_range(&p), (2000.0 / MAX_LOG_RATIO, 2000.0));
        p.hline = Some((1e-100, "low".into()));
        assert!(hline(&p).is_none());
        p.series.clear();
        p.hline = None;
        assert_eq!(y_range(&p), (1.0, 10.0));
    }

    #[test]
    fn x_range_degenerate() {
        let mut fig = Figure::default();
        assert_eq!(x_range(&fig), (0.0, 1.0));
        fig.panels
            .push(panel(vec![(5.0, 1.0), (f64::NAN, 2.0)], None));
        assert_eq!(x_range(&fig), (4.5, 5.5));
        fig.panels.push(panel(vec![(0.0, 1.0), (100.0, 2.0)], None));
        assert_eq!(x_range(&fig), (0.0, 100.0));
    }

    #[test]
    fn ticks_are_compact() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-0.0), "0");
        assert_eq!(tick(20.0), "20");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(1.5e7), "1.5e7");
        assert_eq!(tick(1e8), "1e8");
        assert_eq!(tick(-2.25e-5), "-2.25e-5");
        assert_eq!(tick(f64::NAN), "");
    }

    #[test]
    fn same_label_same_look() {
        let fig = Figure {
            panels: vec![
                Panel {
                    series: vec![Series::new("a", vec![]), Series::new("b", vec![])],
                    ..Panel::default()
                },
                Panel {
                    series: vec![Series::new("b", vec![]), Series::new("c", vec![])],
                    ..Panel::default()
                },
            ],
            ..Figure::default()
        };
        assert_eq!(label_order(&fig), vec!["a", "b", "c"]);
        let looks: Vec<_> = (0..28).map(look).collect();
        for (i, a) in looks.iter().enumerate() {
            for b in &looks[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
