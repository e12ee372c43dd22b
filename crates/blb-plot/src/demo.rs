//! A synthetic figure shaped like the one `blb experiment` draws, for previews and tests.
//!
//! The numbers are made up (deterministic, no randomness): they only exercise the layout.

use crate::{Figure, Marker, Panel, Series};

/// A cheap deterministic wiggle in `[-1, 1]`.
fn wiggle(t: f64, k: f64) -> f64 {
    (0.9 * (t * 0.7 + k).sin() + 0.6 * (t * 1.9 + 2.0 * k).sin()) / 1.5
}

/// The two-panel figure of the experiment with made-up data over 100 s: `Y_n` of `single`
/// rising to 80, of `blb` rising slower, of `round-robin` and `hash` staying 0 (threshold 20);
/// load variance per second between 0 and 12 (bound V = 9).
pub fn figure() -> Figure {
    let ts: Vec<f64> = (0..=200).map(|i| f64::from(i) * 0.5).collect();
    let curve = |f: &dyn Fn(f64) -> f64| ts.iter().map(|&t| (t, f(t))).collect::<Vec<_>>();
    let y_single = curve(&|t| (0.8 * t + 1.5 * wiggle(t, 0.0)).max(0.0));
    let y_blb = curve(&|t| (0.42 * (t - 15.0) + 1.2 * wiggle(t, 1.0)).max(0.0));
    let zero = curve(&|_| 0.0);
    let secs: Vec<f64> = (0..=100).map(f64::from).collect();
    let var = |base: f64, amp: f64, k: f64| {
        secs.iter()
            .map(|&t| (t, (base + amp * wiggle(t, k)).max(0.0)))
            .collect::<Vec<_>>()
    };
    Figure {
        title: "blb experiment: CUSUM statistic and load balance (synthetic data)".into(),
        x_label: "time (s)".into(),
        panels: vec![
            Panel {
                title: "Y_n over time".into(),
                y_label: "max Y_n over sensors".into(),
                series: vec![
                    Series::new("single", y_single),
                    Series::new("round-robin", zero.clone()),
                    Series::new("hash", zero),
                    Series::new("blb", y_blb),
                ],
                hline: Some((20.0, "threshold th_y = 20".into())),
                ..Panel::default()
            },
            Panel {
                title: "load variance per second".into(),
                y_label: "load variance".into(),
                series: vec![
                    Series::new("single", var(8.0, 4.0, 0.3)),
                    Series::new("round-robin", var(4.0, 2.5, 1.7)),
                    Series::new("hash", var(6.0, 3.0, 2.9)),
                    Series::new("blb", var(2.0, 1.5, 4.1)),
                ],
                hline: Some((9.0, "V = 9".into())),
                ..Panel::default()
            },
        ],
    }
}

/// A figure that uses every feature beyond [`figure`], with made-up data: vertical markers
/// (alarms, two of them close together, one grey) over overlapping lines; a strip plot of
/// detection delays per algorithm (point markers, category x axis with its own label); and
/// a panel of point sets and a line over an x axis of its own.
pub fn features() -> Figure {
    let algorithms = ["single", "round-robin", "hash", "blb"];
    let ts: Vec<f64> = (0..=120).map(|i| f64::from(i) * 0.5).collect();
    let curve = |f: &dyn Fn(f64) -> f64| ts.iter().map(|&t| (t, f(t))).collect::<Vec<_>>();
    let marker = |x: f64, label: &str, series: Option<&str>| Marker {
        x,
        label: label.into(),
        series: series.map(Into::into),
    };
    // Five runs per algorithm, spread a little around the category so they do not pile up.
    let strip = |k: usize, base: f64, spread: f64| {
        let points = (0..5)
            .map(|run| {
                let r = f64::from(run);
                let x = k as f64 + 0.08 * (r - 2.0);
                (x, base + spread * wiggle(r * 3.1, k as f64))
            })
            .collect();
        Series::points(algorithms[k], points)
    };
    let rates: Vec<f64> = (1..=12).map(|i| f64::from(i) * 25.0).collect();
    let scatter = |k: f64, slope: f64| {
        rates
            .iter()
            .map(|&r| (r, (slope * r / 100.0 + 0.8 * wiggle(r / 10.0, k)).max(0.0)))
            .collect::<Vec<_>>()
    };
    Figure {
        title: "blb-plot features (synthetic data)".into(),
        x_label: "time (s)".into(),
        panels: vec![
            Panel {
                title: "Y_n with alarms".into(),
                y_label: "max Y_n".into(),
                series: vec![
                    Series::new("single", curve(&|t| (1.1 * t + wiggle(t, 0.0)).max(0.0))),
                    Series::new("round-robin", curve(&|_| 0.0)),
                    Series::new("hash", curve(&|_| 0.0)),
                    Series::new("blb", curve(&|t| (0.6 * (t - 10.0)).max(0.0))),
                ],
                hline: Some((20.0, "th_y = 20".into())),
                markers: vec![
                    marker(0.0, "attack starts", None),
                    marker(18.2, "single alarm", Some("single")),
                    marker(19.0, "operator paged", Some("not a series")),
                    marker(43.4, "blb alarm", Some("blb")),
                    marker(f64::NAN, "never shown", None),
                ],
                ..Panel::default()
            },
            Panel {
                title: "seconds to alarm per run".into(),
                y_label: "seconds".into(),
                series: vec![
                    strip(0, 18.0, 1.0),
                    strip(1, 55.0, 4.0),
                    strip(2, 48.0, 6.0),
                    strip(3, 42.0, 2.5),
                ],
                x_label: Some("algorithm".into()),
                x_categories: algorithms.iter().map(|&a| a.into()).collect(),
                ..Panel::default()
            },
            Panel {
                title: "load variance against offered load".into(),
                y_label: "load variance".into(),
                series: vec![
                    Series::points("round-robin", scatter(1.0, 1.2)),
                    Series::points("hash", scatter(2.0, 2.0)),
                    Series::new("blb", scatter(3.0, 0.6)),
                ],
                hline: Some((9.0, "V = 9".into())),
                x_label: Some("offered load (kpps)".into()),
                markers: vec![marker(200.0, "link saturated", None)],
                ..Panel::default()
            },
        ],
    }
}
