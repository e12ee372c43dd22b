//! `blb experiment`: run the experiment, print the table, write the report and figure.

use std::io::IsTerminal;

use blb_core::blb::{Constraint, DistanceConfig};
use blb_core::packet::NANOS_PER_SEC;
use blb_gen::Scenario;

use crate::cli::ExperimentArgs;
use crate::error::usage;
use crate::experiment::{self, ALGORITHMS, ExperimentSettings};

/// Turn the flags into settings (paper defaults for everything not given).
pub fn settings(a: &ExperimentArgs) -> anyhow::Result<ExperimentSettings> {
    let mut s = ExperimentSettings::default();
    if let Some(name) = &a.scenario {
        s.scenario = name.parse::<Scenario>().map_err(usage)?;
        if s.scenario == Scenario::Background {
            return Err(usage(
                "--scenario background has no attack to detect; use udp-flood, syn-flood, port-sweep or port-scan",
            ));
        }
    }
    s.read = a.read.clone();
    if let Some(t) = a.training {
        s.generator.training_secs = t;
        s.read_training_secs = t;
    }
    if let Some(d) = a.duration {
        s.generator.duration_secs = d;
    }
    if let Some(seed) = a.seed {
        s.generator.seed = seed;
    }
    s.generator.random_ports_per_packet |= a.ports_per_packet;
    if let Some(n) = a.sensors {
        if n == 0 || n > blb_core::sensor::MAX_SENSORS {
            return Err(usage(format!(
                "--sensors must be between 1 and 64, not {n}"
            )));
        }
        s.sensors = n;
    }
    if let Some(out) = &a.out {
        s.out = out.clone();
    }
    if let Some(c) = a.capacity {
        if !(c.is_finite() && c > 0.0) {
            return Err(usage(format!(
                "--capacity must be a positive number of bytes per second, not {c}"
            )));
        }
        s.capacity = c;
    }
    if let Some(v) = a.variance_bound {
        s.blb.constraint = Constraint::Variance(v);
    }
    match a.alpha_preset.as_deref() {
        None => {
            if matches!(s.scenario, Scenario::PortSweep | Scenario::PortScan) && a.read.is_none() {
                s.blb.distance = DistanceConfig::port();
            }
        }
        Some("ddos") => s.blb.distance = DistanceConfig::ddos(),
        Some("port") => s.blb.distance = DistanceConfig::port(),
        Some(other) => {
            return Err(usage(format!(
                "unknown --alpha-preset '{other}' (expected ddos or port)"
            )));
        }
    }
    if let Some(l) = a.lambda {
        s.blb.lambda = l;
    }
    if let Some(t) = a.load_time_constant {
        if !(t.is_finite() && t > 0.0) {
            return Err(usage(format!(
                "--load-time-constant must be a positive number of seconds, not {t}"
            )));
        }
        s.load_time_constant = (t * NANOS_PER_SEC as f64) as u64;
    }
    s.blb
        .validate(s.sensors)
        .map_err(|e| usage(e.to_string()))?;
    s.generator
        .validate(s.scenario)
        .map_err(|e| usage(e.to_string()))?;
    Ok(s)
}

/// Run the subcommand.
pub fn run(a: &ExperimentArgs) -> anyhow::Result<()> {
    let s = settings(a)?;
    let pb = (!a.no_progress && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(ALGORITHMS.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let report = experiment::run(&s, pb.as_ref())?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    println!("{}\n{}\n", report.traffic, report.setup);
    println!("{}", report.table());
    println!("Report, series and figure written to {}/", s.out.display());
    Ok(())
}
