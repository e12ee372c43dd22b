//! The experiment's results: per algorithm, detection and balance figures; written as
//! `report.md`, `report.json`, `series.csv` and `figure.png` / `figure.svg`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use blb_core::load::SecondSample;
use blb_core::packet::{Addr, NANOS_PER_SEC};
use blb_detect::{Cusum, ScanDetector};
use serde::Serialize;

use super::{ExperimentSettings, Traffic};

/// One algorithm's figures.
#[derive(Clone, Debug, Serialize)]
pub struct AlgorithmResult {
    /// Algorithm name.
    pub algorithm: String,
    /// Seconds from the attack's start to the first CUSUM alarm on any sensor.
    pub detection_secs: Option<f64>,
    /// Seconds from the attack's start to the first scan alarm on any sensor.
    pub scan_detection_secs: Option<f64>,
    /// Highest Y_n on any sensor.
    pub max_y: f64,
    /// Sensors whose CUSUM alarmed.
    pub sensors_alarmed: Vec<usize>,
    /// Mean per-second load variance during the attack (%²).
    pub variance_mean: f64,
    /// Highest per-second load variance during the attack (%²).
    pub variance_max: f64,
    /// Seconds of the attack with variance above V.
    pub seconds_over_v: usize,
    /// Seconds of the attack.
    pub seconds: usize,
    /// Highest per-second sensor load during the attack (%).
    pub max_load: f64,
    /// Largest share of the attack's own sources seen by one sensor (a source counts for a
    /// sensor once it sent it one attack packet).
    pub largest_source_share: f64,
    /// Largest share of the attack's packets one sensor received.
    pub largest_packet_share: f64,
    /// Per second of the attack.
    #[serde(skip)]
    pub series: Vec<Second>,
}

/// How the attack spread over the sensors.
pub struct Spread<'a> {
    /// Per sensor, the attack's sources it saw.
    pub sources: &'a [HashSet<Addr>],
    /// The attack's sources in all.
    pub attackers: usize,
    /// Per sensor, the attack packets it received.
    pub packets: &'a [u64],
    /// The attack's packets in all.
    pub attack_packets: u64,
}

impl Spread<'_> {
    fn source_share(&self) -> f64 {
        let most = self.sources.iter().map(HashSet::len).max().unwrap_or(0);
        if self.attackers == 0 {
            0.0
        } else {
            most as f64 / self.attackers as f64
        }
    }

    fn packet_share(&self) -> f64 {
        let most = self.packets.iter().copied().max().unwrap_or(0);
        if self.attack_packets == 0 {
            0.0
        } else {
            most as f64 / self.attack_packets as f64
        }
    }
}

/// One second of an algorithm's run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Second {
    /// Seconds since the attack started.
    pub second: f64,
    /// Highest CUSUM statistic Y_n over the sensors.
    pub y: f64,
    /// Variance of the sensors' loads in that second (%²).
    pub variance: f64,
    /// The scan detector's state, highest over the sensors: the larger of a source's distinct
    /// targets over its threshold and a port's distinct addresses over its threshold (it
    /// alarms at 1).
    pub scan: f64,
}

/// Build one algorithm's result.
pub fn result(
    name: &str,
    s: &ExperimentSettings,
    t: &Traffic,
    seconds: &[SecondSample],
    cusum: &[Cusum],
    scan: &[ScanDetector],
    spread: &Spread<'_>,
) -> AlgorithmResult {
    let v = s.blb_variance_bound();
    let start_sec = t.attack_start / NANOS_PER_SEC;
    let variance: BTreeMap<u64, (f64, f64)> = seconds
        .iter()
        .filter(|x| x.second >= start_sec)
        .map(|x| (x.second - start_sec, (x.variance, x.max_load)))
        .collect();
    let mut max_y: BTreeMap<u64, f64> = BTreeMap::new();
    for c in cusum {
        for iv in c.intervals() {
            let e = max_y.entry(iv.index).or_insert(0.0);
            *e = e.max(iv.y);
        }
    }
    let mut max_scan: BTreeMap<u64, f64> = BTreeMap::new();
    let (by_source, by_port) = (
        s.scan.source_threshold.max(1) as f64,
        s.scan.port_threshold.max(1) as f64,
    );
    for d in scan {
        for iv in d.intervals() {
            let score = (iv.max_targets_per_source as f64 / by_source)
                .max(iv.max_dsts_per_port as f64 / by_port);
            let e = max_scan.entry(iv.index).or_insert(0.0);
            *e = e.max(score);
        }
    }
    // One point per second that carried traffic or a detector interval: sparse, so a capture
    // with long silences costs nothing for them.
    let seconds_seen: std::collections::BTreeSet<u64> = max_y
        .keys()
        .chain(variance.keys())
        .chain(max_scan.keys())
        .copied()
        .collect();
    let series: Vec<Second> = seconds_seen
        .into_iter()
        .map(|n| Second {
            second: n as f64,
            y: max_y.get(&n).copied().unwrap_or(0.0),
            variance: variance.get(&n).map_or(0.0, |x| x.0),
            scan: max_scan.get(&n).copied().unwrap_or(0.0),
        })
        .collect();
    let seconds = variance.len();
    let detection_secs = cusum
        .iter()
        .filter_map(Cusum::first_alarm_secs)
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
    let scan_detection_secs = scan
        .iter()
        .filter_map(|d| {
            d.first_alarm()
                .map(|iv| iv.start_ts.saturating_sub(t.attack_start) as f64 / NANOS_PER_SEC as f64)
        })
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
    AlgorithmResult {
        algorithm: name.to_string(),
        detection_secs,
        scan_detection_secs,
        max_y: cusum.iter().map(Cusum::max_y).fold(0.0, f64::max),
        sensors_alarmed: cusum
            .iter()
            .enumerate()
            .filter(|(_, c)| c.first_alarm().is_some())
            .map(|(i, _)| i)
            .collect(),
        variance_mean: if seconds == 0 {
            0.0
        } else {
            variance.values().map(|x| x.0).sum::<f64>() / seconds as f64
        },
        variance_max: variance.values().map(|x| x.0).fold(0.0, f64::max),
        seconds_over_v: variance.values().filter(|x| x.0 > v).count(),
        seconds,
        max_load: variance.values().map(|x| x.1).fold(0.0, f64::max),
        largest_source_share: spread.source_share(),
        largest_packet_share: spread.packet_share(),
        series,
    }
}

/// The tier in words, before the sensors ("" for one node, so one node's report is as it was).
pub fn tier_words(s: &ExperimentSettings) -> String {
    if s.tier.nodes > 1 {
        format!("{}; ", s.tier.describe())
    } else {
        String::new()
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What traffic was used.
    pub traffic: String,
    /// Sensors, capacity, V, detector settings in words.
    pub setup: String,
    /// The variance bound V.
    pub variance_bound: f64,
    /// The CUSUM threshold th_y.
    pub threshold: f64,
    /// Whether the scenario is a scan, judged by the scan detector (its state is drawn).
    pub scan_scenario: bool,
    /// How the largest share of attack sources is counted, in words.
    pub share_definition: String,
    /// Per algorithm.
    pub results: Vec<AlgorithmResult>,
}

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "none".to_string(), |s| format!("{s:.0} s"))
}

impl Report {
    /// Assemble.
    pub fn new(s: &ExperimentSettings, t: &Traffic, results: Vec<AlgorithmResult>) -> Self {
        Report {
            traffic: t.description.clone(),
            setup: format!(
                "{}{} sensors of {} MB/s, V = {}, F = {}, CUSUM C = {}, β = {}, th_y = {}, interval {} s",
                tier_words(s),
                s.sensors,
                s.capacity / 1e6,
                s.blb_variance_bound(),
                s.blb.duplication,
                s.cusum.c,
                s.cusum.beta,
                s.cusum.threshold,
                s.cusum.interval_secs
            ),
            variance_bound: s.blb_variance_bound(),
            threshold: s.cusum.threshold,
            scan_scenario: s.read.is_none()
                && matches!(
                    s.scenario,
                    blb_gen::Scenario::PortSweep | blb_gen::Scenario::PortScan
                ),
            share_definition: if t.attack.len() == t.packets.len() {
                "the attack's own sources (hosts that sent attack packets before any was sent to them; a scanned host's replies do not count), as the generator marks its frames".into()
            } else {
                "sources first seen after training that the detector's address database did not know".into()
            },
            results,
        }
    }

    /// The table, as Markdown.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| algorithm | CUSUM detection | scan detection | max Y_n | sensors alarmed | load variance mean / max (%²) | seconds over V | max load (%) | largest share of attack sources |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.results {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} | {:.2} / {:.2} | {} of {} | {:.1} | {:.0} % |",
                r.algorithm,
                secs(r.detection_secs),
                secs(r.scan_detection_secs),
                r.max_y,
                r.sensors_alarmed.len(),
                r.variance_mean,
                r.variance_max,
                r.seconds_over_v,
                r.seconds,
                r.max_load,
                100.0 * r.largest_source_share
            );
        }
        out
    }

    /// Write report.md, report.json, series.csv, figure.png and figure.svg.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let md = format!(
            "# blb experiment\n\nTraffic: {}.\n\nSetup: {}.\n\nDetection times count from the attack's start; the cluster detects when any sensor alarms. The largest share of attack sources is the largest fraction of {} seen by one sensor.\n\n{}\n![Y_n and load variance over time](figure.png)\n",
            self.traffic,
            self.setup,
            self.share_definition,
            self.table()
        );
        let write = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
        };
        write("report.md", md)?;
        write("report.json", serde_json::to_string_pretty(self)? + "\n")?;
        let mut csv = String::from("second,algorithm,max_y,load_variance,scan_state\n");
        for r in &self.results {
            for p in &r.series {
                let _ = writeln!(
                    csv,
                    "{},{},{:.4},{:.4},{:.4}",
                    p.second, r.algorithm, p.y, p.variance, p.scan
                );
            }
        }
        write("series.csv", csv)?;
        let fig = self.figure();
        blb_plot::render_png(&fig, &dir.join("figure.png"), 1200, 900)
            .map_err(|e| anyhow::anyhow!("cannot draw figure.png: {e}"))?;
        blb_plot::render_svg(&fig, &dir.join("figure.svg"), 1200, 900)
            .map_err(|e| anyhow::anyhow!("cannot draw figure.svg: {e}"))?;
        Ok(())
    }

    fn figure(&self) -> blb_plot::Figure {
        let series = |f: fn(&Second) -> f64| {
            self.results
                .iter()
                .map(|r| {
                    blb_plot::Series::new(
                        r.algorithm.clone(),
                        r.series.iter().map(|p| (p.second, f(p))).collect(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let markers = |at: fn(&AlgorithmResult) -> Option<f64>, what: &str| {
            self.results
                .iter()
                .filter_map(|r| {
                    at(r).map(|t| blb_plot::Marker {
                        x: t,
                        label: format!("{} {what} {t:.0} s", r.algorithm),
                        series: Some(r.algorithm.clone()),
                    })
                })
                .collect::<Vec<_>>()
        };
        let cusum = blb_plot::Panel {
            title: "source-address CUSUM: Y_n over time (vertical lines: detection)".into(),
            y_label: "Y_n (max over sensors)".into(),
            series: series(|p| p.y),
            hline: Some((
                self.threshold,
                format!("threshold th_y = {}", self.threshold),
            )),
            markers: markers(|r| r.detection_secs, "detects at"),
            ..Default::default()
        };
        let scan = blb_plot::Panel {
            title: "scan detector: its state (1 = alarm; vertical lines: detection)".into(),
            y_label: "targets / threshold (max over sensors)".into(),
            series: series(|p| p.scan),
            hline: Some((1.0, "alarm".into())),
            markers: markers(|r| r.scan_detection_secs, "detects at"),
            ..Default::default()
        };
        let variance = blb_plot::Panel {
            title: "load variance per second".into(),
            y_label: "variance of sensor load (%²)".into(),
            series: series(|p| p.variance),
            hline: Some((self.variance_bound, format!("V = {}", self.variance_bound))),
            ..Default::default()
        };
        let (title, panels) = if self.scan_scenario {
            (
                "Scan detector per algorithm (cluster max over sensors)",
                vec![scan, cusum, variance],
            )
        } else {
            (
                "Source-address CUSUM per algorithm (cluster max over sensors)",
                vec![cusum, variance],
            )
        };
        blb_plot::Figure {
            title: title.into(),
            x_label: "seconds since the attack started".into(),
            panels,
        }
    }
}
