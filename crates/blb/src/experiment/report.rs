//! The experiment's results: per algorithm, detection and balance figures; written as
//! `report.md`, `report.json`, `series.csv` and `figure.png` / `figure.svg`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use blb_core::Engine;
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
    /// Per second of the attack: (second, highest Y_n over sensors, load variance).
    #[serde(skip)]
    pub series: Vec<(f64, f64, f64)>,
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

/// Build one algorithm's result.
pub fn result(
    name: &str,
    s: &ExperimentSettings,
    t: &Traffic,
    engine: &Engine,
    cusum: &[Cusum],
    scan: &[ScanDetector],
    spread: &Spread<'_>,
) -> AlgorithmResult {
    let v = s.blb_variance_bound();
    let start_sec = t.attack_start / NANOS_PER_SEC;
    let variance: BTreeMap<u64, (f64, f64)> = engine
        .seconds()
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
    let last = max_y
        .keys()
        .chain(variance.keys())
        .copied()
        .max()
        .unwrap_or(0);
    let series: Vec<(f64, f64, f64)> = (0..=last)
        .map(|n| {
            let y = max_y.get(&n).copied().unwrap_or(0.0);
            let var = variance.get(&n).map_or(0.0, |x| x.0);
            (n as f64, y, var)
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
                "{} sensors of {} MB/s, V = {}, F = {}, CUSUM C = {}, β = {}, th_y = {}, interval {} s",
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
            "# blb experiment\n\nTraffic: {}.\n\nSetup: {}.\n\nDetection times count from the attack's start; the cluster detects when any sensor alarms.\n\n{}\n![Y_n and load variance over time](figure.png)\n",
            self.traffic,
            self.setup,
            self.table()
        );
        let write = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
        };
        write("report.md", md)?;
        write("report.json", serde_json::to_string_pretty(self)? + "\n")?;
        let mut csv = String::from("second,algorithm,max_y,load_variance\n");
        for r in &self.results {
            for (sec, y, v) in &r.series {
                let _ = writeln!(csv, "{sec},{},{y:.4},{v:.4}", r.algorithm);
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
        let series = |f: fn(&(f64, f64, f64)) -> f64| {
            self.results
                .iter()
                .map(|r| blb_plot::Series {
                    label: r.algorithm.clone(),
                    points: r.series.iter().map(|p| (p.0, f(p))).collect(),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        blb_plot::Figure {
            title: "Source-address CUSUM per algorithm (cluster max over sensors)".into(),
            x_label: "seconds since the attack started".into(),
            panels: vec![
                blb_plot::Panel {
                    title: "Y_n over time".into(),
                    y_label: "Y_n (max over sensors)".into(),
                    series: series(|p| p.1),
                    hline: Some((
                        self.threshold,
                        format!("threshold th_y = {}", self.threshold),
                    )),
                    y_log: false,
                    ..Default::default()
                },
                blb_plot::Panel {
                    title: "load variance per second".into(),
                    y_label: "variance of sensor load (%²)".into(),
                    series: series(|p| p.2),
                    hline: Some((self.variance_bound, format!("V = {}", self.variance_bound))),
                    y_log: false,
                    ..Default::default()
                },
            ],
        }
    }
}
