//! The detection suite's report: per scenario and algorithm, the distribution over seeds of
//! the detection delay against a single sensor, the misses, the seconds over V and the largest
//! share of the attack on one sensor (median and worst); the checks of the robust-BLB issue;
//! and the figure (delays per algorithm, and delay against balance). Written as `suite.md`,
//! `suite.json`, `runs.csv`, `suite.png` and `suite.svg`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::suite::{Judge, RunResult, SUITE_ALGORITHMS, SuiteScenario, SuiteSettings};

/// Delays are judged against a single sensor plus this many seconds.
pub const DELAY_SLACK: f64 = 3.0;
/// One sensor carries the attack under V when single's per-second variance exceeds V in at
/// most this fraction of the attack's seconds.
pub const CARRIES: f64 = 0.02;
/// No per-flow placement holds V when even round robin's per-second variance exceeds it in
/// more than this fraction of seconds.
pub const UNHOLDABLE: f64 = 0.5;
/// A single sensor is a reference only while it can take everything: a run whose single
/// sensor goes above this load (% of its capacity) in some second would drop packets, so its
/// detection time is not one a real sensor would have, and delays are not measured against it.
pub const SINGLE_CAPACITY: f64 = 100.0;

/// One algorithm on one scenario, over all seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Aggregate {
    /// Scenario.
    pub scenario: String,
    /// Algorithm.
    pub algorithm: String,
    /// Runs (seeds).
    pub runs: usize,
    /// Runs that detected.
    pub detected: usize,
    /// Runs in which single detected (within its capacity, [`SINGLE_CAPACITY`]) and this
    /// algorithm did not.
    pub misses: usize,
    /// Detection delay against single, over runs where both detected: median and worst.
    pub delay_median: Option<f64>,
    /// See `delay_median`.
    pub delay_worst: Option<f64>,
    /// Runs where single detected and this algorithm detected within single + 3 s.
    pub within_slack: usize,
    /// Runs where single detected within its capacity.
    pub single_detected: usize,
    /// Seconds of all runs, and those over V.
    pub seconds: usize,
    /// See `seconds`.
    pub seconds_over_v: usize,
    /// Seconds over V per run: median and worst.
    pub over_v_median: f64,
    /// See `over_v_median`.
    pub over_v_worst: f64,
    /// Mean per-second variance, averaged over runs (%²).
    pub variance_mean: f64,
    /// Largest share of attack sources on one sensor: median and worst (lowest) over runs.
    pub source_share_median: f64,
    /// See `source_share_median`.
    pub source_share_worst: f64,
    /// Largest share of attack packets on one sensor: median and worst.
    pub packet_share_median: f64,
    /// See `packet_share_median`.
    pub packet_share_worst: f64,
}

/// One check of the robust-BLB issue, with what it found.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What is checked.
    pub what: String,
    /// Whether it holds.
    pub pass: bool,
    /// The figures behind it.
    pub found: String,
}

/// The checks.
pub type Checks = Vec<Check>;

/// The whole suite report.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    /// Seeds per scenario, from the first.
    pub seeds: u64,
    /// The first seed.
    pub first_seed: u64,
    /// Sensors, capacity, V and detector, in words.
    pub setup: String,
    /// The scenarios run: name, description, judge, listed in the issue.
    pub scenarios: Vec<(String, String, Judge, bool)>,
    /// Scenarios skipped, and why.
    pub skipped: Vec<String>,
    /// Per scenario and algorithm.
    pub aggregates: Vec<Aggregate>,
    /// The checks on robust BLB.
    pub checks: Checks,
    /// Every run.
    pub runs: Vec<RunResult>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

fn aggregate(scenario: &str, algorithm: &str, runs: &[RunResult]) -> Aggregate {
    let mine: Vec<&RunResult> = runs
        .iter()
        .filter(|r| r.scenario == scenario && r.algorithm == algorithm)
        .collect();
    let single = |seed: u64| {
        runs.iter()
            .find(|r| r.scenario == scenario && r.algorithm == "single" && r.seed == seed)
            .filter(|r| r.max_load <= SINGLE_CAPACITY)
            .and_then(|r| r.detection_secs)
    };
    let mut delays = Vec::new();
    let (mut misses, mut within, mut single_detected) = (0, 0, 0);
    for r in &mine {
        let Some(s) = single(r.seed) else { continue };
        single_detected += 1;
        match r.detection_secs {
            Some(d) => {
                delays.push(d - s);
                if d - s <= DELAY_SLACK {
                    within += 1;
                }
            }
            None => misses += 1,
        }
    }
    let over: Vec<f64> = mine.iter().map(|r| r.seconds_over_v as f64).collect();
    let sources: Vec<f64> = mine.iter().map(|r| r.source_share).collect();
    let packets: Vec<f64> = mine.iter().map(|r| r.packet_share).collect();
    let n = mine.len().max(1) as f64;
    Aggregate {
        scenario: scenario.to_string(),
        algorithm: algorithm.to_string(),
        runs: mine.len(),
        detected: mine.iter().filter(|r| r.detection_secs.is_some()).count(),
        misses,
        delay_worst: delays.iter().copied().reduce(f64::max),
        delay_median: median(delays),
        within_slack: within,
        single_detected,
        seconds: mine.iter().map(|r| r.seconds).sum(),
        seconds_over_v: mine.iter().map(|r| r.seconds_over_v).sum(),
        over_v_median: median(over.clone()).unwrap_or(0.0),
        over_v_worst: over.iter().copied().fold(0.0, f64::max),
        variance_mean: mine.iter().map(|r| r.variance_mean).sum::<f64>() / n,
        source_share_median: median(sources.clone()).unwrap_or(0.0),
        source_share_worst: sources.iter().copied().fold(1.0, f64::min),
        packet_share_median: median(packets.clone()).unwrap_or(0.0),
        packet_share_worst: packets.iter().copied().fold(1.0, f64::min),
    }
}

fn frac(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

/// The checks, on robust BLB ("blb") over the scenarios the issue lists.
fn checks(scenarios: &[SuiteScenario], aggs: &[Aggregate]) -> Checks {
    let get = |sc: &str, alg: &str| aggs.iter().find(|a| a.scenario == sc && a.algorithm == alg);
    let listed: Vec<&str> = scenarios
        .iter()
        .filter(|s| s.listed)
        .map(|s| s.name)
        .collect();
    let robust: Vec<&Aggregate> = listed.iter().filter_map(|s| get(s, "blb")).collect();
    let holds_v = |sc: &str| {
        get(sc, "round-robin").is_some_and(|a| frac(a.seconds_over_v, a.seconds) <= UNHOLDABLE)
    };
    let carried =
        |sc: &str| get(sc, "single").is_some_and(|a| frac(a.seconds_over_v, a.seconds) <= CARRIES);
    let mut out = Vec::new();
    let misses: usize = robust.iter().map(|a| a.misses).sum();
    let single: usize = robust.iter().map(|a| a.single_detected).sum();
    out.push(Check {
        what: "wherever single detects (within its capacity), robust BLB detects (no miss)".into(),
        pass: misses == 0,
        found: format!("{misses} misses in {single} runs where single detected"),
    });
    let within: usize = robust.iter().map(|a| a.within_slack).sum();
    out.push(Check {
        what: format!(
            "robust BLB detects within single + {DELAY_SLACK} s in at least 95 % of runs"
        ),
        pass: frac(within, single) >= 0.95,
        found: format!("{within} of {single} runs ({})", pct(frac(within, single))),
    });
    let held: Vec<&&Aggregate> = robust.iter().filter(|a| holds_v(&a.scenario)).collect();
    let (secs, over) = held
        .iter()
        .fold((0, 0), |(s, o), a| (s + a.seconds, o + a.seconds_over_v));
    out.push(Check {
        what: "per-second variance ≤ V in at least 98 % of seconds (every scenario but those where round robin exceeds V in most seconds)".into(),
        pass: frac(secs - over, secs) >= 0.98,
        found: format!("{} of {secs} seconds ({}) over {} scenarios", secs - over, pct(frac(secs - over, secs)), held.len()),
    });
    let carriable: Vec<&&Aggregate> = robust.iter().filter(|a| carried(&a.scenario)).collect();
    let worst = carriable
        .iter()
        .map(|a| a.source_share_worst)
        .fold(1.0, f64::min);
    out.push(Check {
        what: "where one sensor carries the attack under V, the largest share of attack sources is at least 90 %".into(),
        pass: worst >= 0.9,
        found: format!(
            "worst {} over {} scenarios ({})",
            pct(worst),
            carriable.len(),
            carriable.iter().map(|a| a.scenario.as_str()).collect::<Vec<_>>().join(", ")
        ),
    });
    let unholdable: Vec<&str> = listed.iter().copied().filter(|s| !holds_v(s)).collect();
    let mut worse = Vec::new();
    let mut shares = Vec::new();
    for sc in &unholdable {
        if let (Some(b), Some(r)) = (get(sc, "blb"), get(sc, "round-robin")) {
            if b.variance_mean > r.variance_mean {
                worse.push(format!(
                    "{sc}: {:.1} > {:.1}",
                    b.variance_mean, r.variance_mean
                ));
            }
            shares.push(format!(
                "{sc}: variance {:.1} vs round robin {:.1}, largest share {} (round robin {})",
                b.variance_mean,
                r.variance_mean,
                pct(b.source_share_median),
                pct(r.source_share_median)
            ));
        }
    }
    out.push(Check {
        what: "where no placement holds V (round robin exceeds it in most seconds), robust BLB's variance is no worse than round robin's".into(),
        pass: worse.is_empty(),
        found: if shares.is_empty() {
            "no such scenario".into()
        } else {
            shares.join("; ")
        },
    });
    let paper_floods = ["flood", "flood-no-training", "flood-late"];
    let detected: usize = paper_floods
        .iter()
        .flat_map(|s| ["round-robin", "hash"].map(|a| get(s, a)))
        .flatten()
        .map(|a| a.detected)
        .sum();
    out.push(Check {
        what: "round robin and hash never detect the paper's flood".into(),
        pass: detected == 0,
        found: format!("{detected} detections in {}", paper_floods.join(", ")),
    });
    out
}

impl SuiteReport {
    /// Aggregate the runs.
    pub fn new(
        settings: &SuiteSettings,
        scenarios: &[SuiteScenario],
        runs: Vec<RunResult>,
        skipped: Vec<String>,
    ) -> Self {
        let mut aggregates = Vec::new();
        for sc in scenarios {
            for (alg, _) in SUITE_ALGORITHMS {
                aggregates.push(aggregate(sc.name, alg, &runs));
            }
        }
        let b = &settings.base;
        SuiteReport {
            seeds: settings.seeds,
            first_seed: settings.first_seed,
            setup: format!(
                "{}{} sensors, V = {}, F = {}, λ = {}, CUSUM C = {}, β = {}, th_y = {}; capacity 10 MB/s unless the scenario says otherwise",
                super::report::tier_words(b),
                b.sensors,
                b.blb_variance_bound(),
                b.blb.duplication,
                b.blb.lambda,
                b.cusum.c,
                b.cusum.beta,
                b.cusum.threshold
            ),
            scenarios: scenarios
                .iter()
                .map(|s| (s.name.to_string(), s.about.to_string(), s.judge, s.listed))
                .collect(),
            skipped,
            checks: checks(scenarios, &aggregates),
            aggregates,
            runs,
        }
    }

    /// The compact table: per scenario, each algorithm's median (worst) delay against single
    /// and median largest share of attack sources.
    pub fn summary_table(&self) -> String {
        let mut out = String::from("| scenario |");
        for (alg, _) in SUITE_ALGORITHMS {
            let _ = write!(out, " {alg} |");
        }
        out.push_str("\n|---|");
        for _ in SUITE_ALGORITHMS {
            out.push_str("---|");
        }
        out.push('\n');
        for (name, _, _, listed) in &self.scenarios {
            let mark = if *listed { "" } else { " †" };
            let _ = write!(out, "| {name}{mark} |");
            for (alg, _) in SUITE_ALGORITHMS {
                let Some(a) = self
                    .aggregates
                    .iter()
                    .find(|a| &a.scenario == name && a.algorithm == alg)
                else {
                    out.push_str(" |");
                    continue;
                };
                let delay = if alg == "single" {
                    format!("{}/{}", a.detected, a.runs)
                } else {
                    match (a.delay_median, a.delay_worst, a.misses) {
                        (Some(m), Some(w), 0) => format!("{m:+.0} ({w:+.0})"),
                        (Some(m), Some(w), k) => format!("{m:+.0} ({w:+.0}), {k} miss"),
                        _ if a.single_detected == 0 => format!("{}/{} det.", a.detected, a.runs),
                        (_, _, k) => format!("{k} miss"),
                    }
                };
                let _ = write!(
                    out,
                    " {delay}; {}; {} |",
                    pct(a.source_share_median),
                    pct(frac(a.seconds - a.seconds_over_v, a.seconds))
                );
            }
            out.push('\n');
        }
        out
    }

    /// The full table.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| scenario | algorithm | detected | misses | delay vs single median / worst (s) | within +3 s | seconds ≤ V | over V per run median / worst | variance mean (%²) | largest share of sources median / worst | of packets median / worst |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        let s = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:+.0}"));
        for a in &self.aggregates {
            let _ = writeln!(
                out,
                "| {} | {} | {}/{} | {} | {} / {} | {}/{} | {} | {:.0} / {:.0} | {:.2} | {} / {} | {} / {} |",
                a.scenario,
                a.algorithm,
                a.detected,
                a.runs,
                a.misses,
                s(a.delay_median),
                s(a.delay_worst),
                a.within_slack,
                a.single_detected,
                pct(frac(a.seconds - a.seconds_over_v, a.seconds)),
                a.over_v_median,
                a.over_v_worst,
                a.variance_mean,
                pct(a.source_share_median),
                pct(a.source_share_worst),
                pct(a.packet_share_median),
                pct(a.packet_share_worst),
            );
        }
        out
    }

    /// The checks, as a Markdown list.
    pub fn checks_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let _ = writeln!(
                out,
                "- **{}** {}: {}.",
                if c.pass { "PASS" } else { "FAIL" },
                c.what,
                c.found
            );
        }
        out
    }

    /// Write suite.md, suite.json, runs.csv, suite.png and suite.svg.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut md = format!(
            "# blb detection suite\n\n{} seeds per scenario (from seed {}). {}.\n\n",
            self.seeds, self.first_seed, self.setup
        );
        md.push_str("Scenarios († : beyond the issue's list):\n\n");
        for (name, about, judge, listed) in &self.scenarios {
            let _ = writeln!(
                md,
                "- `{name}`{}: {about}; judged by the {}.",
                if *listed { "" } else { " †" },
                match judge {
                    Judge::Cusum => "source-address CUSUM",
                    Judge::Scan => "scan detector",
                }
            );
        }
        for s in &self.skipped {
            let _ = writeln!(md, "- skipped: {s}");
        }
        md.push_str("\nPer cell: detection delay against a single sensor, median (worst) over seeds, and misses (runs where single detected and the algorithm did not); the median largest share of the attack's own sources on one sensor; the share of seconds whose per-second load variance stayed ≤ V. For single: runs detected. A single sensor counts as the reference only where it can take all the traffic (at most 100 % of its capacity in every second); where it cannot, the cell says how many runs detected (“det.”).\n\n");
        md.push_str(&self.summary_table());
        md.push_str("\n## Checks (robust BLB, scenarios of the issue)\n\n");
        md.push_str(&self.checks_text());
        md.push_str("\n## Every figure\n\n");
        md.push_str(&self.table());
        md.push_str("\n![delays and balance](suite.png)\n");
        let write = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
        };
        write("suite.md", md)?;
        write("suite.json", serde_json::to_string_pretty(self)? + "\n")?;
        let mut csv = String::from(
            "scenario,seed,algorithm,detection_secs,seconds,seconds_over_v,variance_mean,variance_max,source_share,packet_share\n",
        );
        for r in &self.runs {
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4}",
                r.scenario,
                r.seed,
                r.algorithm,
                r.detection_secs.map_or(String::new(), |d| format!("{d}")),
                r.seconds,
                r.seconds_over_v,
                r.variance_mean,
                r.variance_max,
                r.source_share,
                r.packet_share
            );
        }
        write("runs.csv", csv)?;
        let fig = super::suite_figure::figure(self);
        blb_plot::render_png(&fig, &dir.join("suite.png"), 1400, 1000)
            .map_err(|e| anyhow::anyhow!("cannot draw suite.png: {e}"))?;
        blb_plot::render_svg(&fig, &dir.join("suite.svg"), 1400, 1000)
            .map_err(|e| anyhow::anyhow!("cannot draw suite.svg: {e}"))?;
        Ok(())
    }
}
