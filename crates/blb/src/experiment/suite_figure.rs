//! The detection suite's figure: every run's detection delay against a single sensor, per
//! algorithm; and the same delays against the balance each run kept (the share of seconds
//! whose load variance exceeded V), the recall-against-balance picture of the suite.

use super::suite::{RunResult, SUITE_ALGORITHMS};
use super::suite_report::{DELAY_SLACK, SuiteReport};

/// (algorithm index, delay or None for a miss, share of seconds over V) of every run whose
/// single sensor detected, for the algorithms other than single.
fn points(report: &SuiteReport) -> Vec<(usize, &RunResult, Option<f64>)> {
    let single = |r: &RunResult| {
        report
            .runs
            .iter()
            .find(|s| s.scenario == r.scenario && s.seed == r.seed && s.algorithm == "single")
            .and_then(|s| s.detection_secs)
    };
    let mut out = Vec::new();
    for r in &report.runs {
        let Some(k) = SUITE_ALGORITHMS
            .iter()
            .position(|(a, _)| *a == r.algorithm)
            .filter(|&k| k > 0)
        else {
            continue;
        };
        let Some(s) = single(r) else { continue };
        out.push((k - 1, r, r.detection_secs.map(|d| d - s)));
    }
    out
}

/// The figure.
pub fn figure(report: &SuiteReport) -> blb_plot::Figure {
    let pts = points(report);
    let worst = pts.iter().filter_map(|p| p.2).fold(DELAY_SLACK, f64::max);
    let miss_y = (worst / 5.0).ceil() * 5.0 + 5.0;
    let scenario_index = |name: &str| {
        report
            .scenarios
            .iter()
            .position(|s| s.0 == name)
            .unwrap_or(0)
    };
    let spread = report.scenarios.len().max(1) as f64;
    let jitter = |r: &RunResult| {
        let s = scenario_index(&r.scenario) as f64 / spread - 0.5;
        let seed = (r.seed % 7) as f64 / 7.0 - 0.5;
        0.6 * s + 0.08 * seed
    };
    let mut detected = Vec::new();
    let mut missed = Vec::new();
    for (k, r, d) in &pts {
        let x = *k as f64 + jitter(r);
        match d {
            Some(d) => detected.push((x, *d)),
            None => missed.push((x, miss_y)),
        }
    }
    let over = |r: &RunResult| {
        if r.seconds == 0 {
            0.0
        } else {
            100.0 * r.seconds_over_v as f64 / r.seconds as f64
        }
    };
    let by_algorithm: Vec<blb_plot::Series> = SUITE_ALGORITHMS[1..]
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            blb_plot::Series::points(
                *name,
                pts.iter()
                    .filter(|p| p.0 == k)
                    .map(|p| (over(p.1), p.2.unwrap_or(miss_y)))
                    .collect(),
            )
        })
        .collect();
    let slack = Some((DELAY_SLACK, format!("single + {DELAY_SLACK} s")));
    blb_plot::Figure {
        title: format!(
            "Detection suite: {} scenarios × {} seeds (runs where a single sensor detects)",
            report.scenarios.len(),
            report.seeds
        ),
        x_label: String::new(),
        panels: vec![
            blb_plot::Panel {
                title: "detection delay against a single sensor, every run".into(),
                y_label: "delay (s)".into(),
                series: vec![
                    blb_plot::Series::points("detected", detected),
                    blb_plot::Series::points(format!("missed (drawn at {miss_y} s)"), missed),
                ],
                hline: slack.clone(),
                x_categories: SUITE_ALGORITHMS[1..]
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .collect(),
                x_label: Some("algorithm (points spread by scenario)".into()),
                ..Default::default()
            },
            blb_plot::Panel {
                title: "detection delay against balance".into(),
                y_label: "delay (s); misses at the top".into(),
                series: by_algorithm,
                hline: slack,
                x_label: Some("seconds with load variance over V (% of the attack)".into()),
                ..Default::default()
            },
        ],
    }
}
