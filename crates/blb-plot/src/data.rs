//! Data preparation: drawable segments, axis ranges and tick labels.
//!
//! Everything here is pure arithmetic on the input series so that the drawing code only ever
//! sees finite coordinates inside non-degenerate ranges, whatever the caller passed in.

use crate::{Figure, Marker, Panel};

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

/// Whether `panel` has an x range of its own instead of the figure's shared one.
pub(crate) fn own_x_axis(panel: &Panel) -> bool {
    panel.x_label.is_some() || !panel.x_categories.is_empty()
}

/// The x-axis label under `panel`: its own, or else the figure's.
pub(crate) fn x_label<'a>(fig: &'a Figure, panel: &'a Panel) -> &'a str {
    panel.x_label.as_deref().unwrap_or(&fig.x_label)
}

/// The markers of `panel` that can be drawn: those with a drawable abscissa.
pub(crate) fn markers(panel: &Panel) -> impl Iterator<Item = &Marker> {
    panel.markers.iter().filter(|m| drawable(m.x))
}

/// The lowest and highest abscissa of the drawable points and markers of `panels`.
fn x_extent<'a>(panels: impl IntoIterator<Item = &'a Panel>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for panel in panels {
        for series in &panel.series {
            for &(x, y) in &series.points {
                if point_ok(x, y, panel.y_log) {
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
            }
        }
        for m in markers(panel) {
            lo = lo.min(m.x);
            hi = hi.max(m.x);
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// An x range from an extent: `0..1` without one, a unit interval around a single abscissa.
fn x_range_from(extent: Option<(f64, f64)>) -> (f64, f64) {
    let Some((lo, hi)) = extent else {
        return (0.0, 1.0);
    };
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// The shared x range of the panels without an x axis of their own: the extent of their
/// drawable points and markers.
///
/// Falls back to `0..1` without data and widens a single abscissa to a unit interval.
pub(crate) fn x_range(fig: &Figure) -> (f64, f64) {
    x_range_from(x_extent(fig.panels.iter().filter(|p| !own_x_axis(p))))
}

/// The x range of a panel with its own x axis: like [`x_range`] over its points and
/// markers alone or, with categories, from `-0.5` to `len - 0.5` widened to half a unit
/// beyond any point or marker outside.
pub(crate) fn own_x_range(panel: &Panel) -> (f64, f64) {
    let extent = x_extent(std::iter::once(panel));
    if panel.x_categories.is_empty() {
        return x_range_from(extent);
    }
    let n = panel.x_categories.len() as f64;
    let (lo, hi) = extent.unwrap_or((0.0, 0.0));
    ((lo - 0.5).min(-0.5), (hi + 0.5).max(n - 0.5))
}

/// The positions of the category ticks of `panel` inside `range`, with their names.
pub(crate) fn category_ticks(panel: &Panel, (lo, hi): (f64, f64)) -> Vec<(f64, &str)> {
    panel
        .x_categories
        .iter()
        .enumerate()
        .map(|(i, name)| (i as f64, name.as_str()))
        .filter(|&(x, _)| lo <= x && x <= hi)
        .collect()
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
    fn own_axes_and_markers_set_x_ranges() {
        let marker = |x: f64| Marker {
            x,
            label: "m".into(),
            series: None,
        };
        let mut own = panel(vec![(1000.0, 1.0), (2000.0, 2.0)], None);
        own.x_label = Some("rate".into());
        own.markers = vec![marker(3000.0), marker(f64::NAN), marker(f64::INFINITY)];
        let mut shared = panel(vec![(0.0, 1.0), (10.0, 2.0)], None);
        shared.markers = vec![marker(-5.0), marker(f64::NEG_INFINITY)];
        let fig = Figure {
            x_label: "time (s)".into(),
            panels: vec![own.clone(), shared.clone()],
            ..Figure::default()
        };
        assert_eq!(x_range(&fig), (-5.0, 10.0));
        assert_eq!(own_x_range(&own), (1000.0, 3000.0));
        assert_eq!(markers(&own).count(), 1);
        assert_eq!(x_label(&fig, &own), "rate");
        assert_eq!(x_label(&fig, &shared), "time (s)");
        assert!(own_x_axis(&own) && !own_x_axis(&shared));
        // Only own-axis panels: the shared range falls back to 0..1.
        let fig = Figure {
            panels: vec![own],
            ..Figure::default()
        };
        assert_eq!(x_range(&fig), (0.0, 1.0));
        // A lone marker is widened like a lone point.
        let mut lone = Panel::default();
        lone.markers.push(marker(7.0));
        assert_eq!(own_x_range(&lone), (6.5, 7.5));
    }

    #[test]
    fn categories_set_the_x_range() {
        let mut p = panel(vec![(0.0, 1.0), (2.0, 2.0)], None);
        p.x_categories = vec!["a".into(), "b".into(), "c".into()];
        assert!(own_x_axis(&p));
        assert_eq!(own_x_range(&p), (-0.5, 2.5));
        assert_eq!(
            category_ticks(&p, own_x_range(&p)),
            vec![(0.0, "a"), (1.0, "b"), (2.0, "c")]
        );
        p.series[0].points.push((4.0, 1.0));
        p.series[0].points.push((f64::NAN, 1.0));
        assert_eq!(own_x_range(&p), (-0.5, 4.5));
        p.series.clear();
        assert_eq!(own_x_range(&p), (-0.5, 2.5));
        assert_eq!(category_ticks(&p, (0.5, 1.5)), vec![(1.0, "b")]);
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
}
