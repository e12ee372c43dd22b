//! A synthetic figure shaped like the one `blb experiment` draws, for previews and tests.
//!
//! The numbers are made up (deterministic, no randomness): they only exercise the layout.

use crate::{Figure, Panel, Series};

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
                y_log: false,
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
                y_log: false,
            },
        ],
    }
}
