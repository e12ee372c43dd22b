//! `blb experiment`: run the experiment, print the table, write the report and figure.

use std::io::IsTerminal;

use blb_core::blb::{BlbConfig, Constraint, DistanceConfig};
use blb_core::packet::NANOS_PER_SEC;
use blb_gen::Scenario;

use crate::cli::ExperimentArgs;
use crate::error::usage;
use crate::experiment::suite::{self, SuiteSettings};
use crate::experiment::tier::{NodeBound, NodeKey, Prefix, TierSettings};
use crate::experiment::{self, ExperimentSettings};
use crate::names;

/// Turn the flags into settings (paper defaults for everything not given).
pub fn settings(a: &ExperimentArgs) -> anyhow::Result<ExperimentSettings> {
    let mut s = ExperimentSettings::default();
    s.blb = BlbConfig {
        distance: s.blb.distance.clone(),
        ..crate::settings::variant_config(&a.variant, &Default::default())?
    };
    if let Some(name) = &a.scenario {
        s.scenario = name.parse::<Scenario>().map_err(usage)?;
        if matches!(s.scenario, Scenario::Background | Scenario::Elephant) {
            return Err(usage(format!(
                "--scenario {} has no attack to detect; use udp-flood, syn-flood, port-sweep or port-scan",
                s.scenario
            )));
        }
    }
    s.read = a.read.clone();
    if let Some(m) = a.max_span {
        if !(m.is_finite() && m > 0.0 && m <= 1e9) {
            return Err(usage(format!(
                "--max-span must be a number of seconds above 0 and at most 1e9 (about 32 years), not {}",
                names::num(m)
            )));
        }
        s.max_span_secs = m;
    }
    if a.read.is_some() {
        for (set, flag) in [
            (a.scenario.is_some(), "--scenario"),
            (a.duration.is_some(), "--duration"),
            (a.seed.is_some(), "--seed"),
            (a.ports_per_packet, "--ports-per-packet"),
        ] {
            if set {
                return Err(usage(format!(
                    "{flag} applies to generated scenarios, not to --read (the capture is the traffic)"
                )));
            }
        }
    }
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
    s.tier = tier_settings(a, s.sensors)?;
    if let Some(k) = a.workers {
        if !(1..=blb_daemon::live::settings::MAX_WORKERS).contains(&k) {
            return Err(usage(format!(
                "--workers must be between 1 and {}, not {k}",
                blb_daemon::live::settings::MAX_WORKERS
            )));
        }
        s.workers = k;
    }
    s.blb
        .validate(s.sensors)
        .map_err(|e| names::core_error(&e, |n| names::experiment_setting(n, a)))?;
    s.generator.validate(s.scenario).map_err(|e| match e {
        blb_gen::GenError::BadOption { name, reason } => {
            usage(format!("{} {reason}", names::experiment_setting(name, a)))
        }
        other => usage(other.to_string()),
    })?;
    Ok(s)
}

/// The tier's settings from `--nodes` and its companions, for `sensors` sensors in all.
fn tier_settings(a: &ExperimentArgs, sensors: usize) -> anyhow::Result<TierSettings> {
    let mut t = TierSettings::default();
    let Some(nodes) = a.nodes else {
        for (set, flag) in [
            (a.node_prefix.is_some(), "--node-prefix"),
            (a.node_prefix6.is_some(), "--node-prefix6"),
            (a.node_key.is_some(), "--node-key"),
            (a.node_bound.is_some(), "--node-bound"),
            (!a.home_net.is_empty(), "--home-net"),
        ] {
            if set {
                return Err(usage(format!("{flag} needs --nodes")));
            }
        }
        return Ok(t);
    };
    if nodes == 0 || nodes > sensors || !sensors.is_multiple_of(nodes) {
        return Err(usage(format!(
            "--nodes must divide the {sensors} sensors evenly (each node owns the same number of sensors), not {nodes}"
        )));
    }
    t.nodes = nodes;
    if let Some(l) = a.node_prefix {
        if l > 32 {
            return Err(usage(format!(
                "--node-prefix must be an IPv4 prefix length from 0 to 32, not {l}"
            )));
        }
        t.v4_prefix = l;
    }
    if let Some(l) = a.node_prefix6 {
        if l > 128 {
            return Err(usage(format!(
                "--node-prefix6 must be an IPv6 prefix length from 0 to 128, not {l}"
            )));
        }
        t.v6_prefix = l;
    }
    if let Some(b) = &a.node_bound {
        t.bound = b.parse::<NodeBound>().map_err(usage)?;
    }
    if let Some(k) = &a.node_key {
        t.key = k.parse::<NodeKey>().map_err(usage)?;
    }
    if !a.home_net.is_empty() {
        t.home = a
            .home_net
            .iter()
            .map(|p| p.parse::<Prefix>())
            .collect::<Result<_, _>>()
            .map_err(|e| usage(format!("--home-net: {e}")))?;
    }
    Ok(t)
}

/// Default seeds per scenario of the suite.
const SUITE_SEEDS: u64 = 20;

/// Where the shared captures are, relative to the working directory, when they are there.
const SHARED_CAPTURES: &str = "../shared/pcaps";

/// The suite's settings from the flags.
pub fn suite_settings(a: &ExperimentArgs) -> anyhow::Result<SuiteSettings> {
    for (set, flag) in [
        (a.read.is_some(), "--read"),
        (a.scenario.is_some(), "--scenario"),
        (a.seed.is_some(), "--seed"),
        (a.training.is_some(), "--training"),
        (a.capacity.is_some(), "--capacity"),
        (a.ports_per_packet, "--ports-per-packet"),
        (a.alpha_preset.is_some(), "--alpha-preset"),
    ] {
        if set {
            return Err(usage(format!(
                "{flag} does not apply to --suite, whose scenarios set it"
            )));
        }
    }
    let mut base = settings(a)?;
    if a.out.is_none() {
        base.out = "results/suite".into();
    }
    let seeds = a.seeds.unwrap_or(SUITE_SEEDS);
    if seeds == 0 {
        return Err(usage("--seeds must be at least 1"));
    }
    let known: Vec<&str> = suite::scenarios().iter().map(|s| s.name).collect();
    if let Some(bad) = a.only.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(usage(format!(
            "unknown --only scenario '{bad}' (expected one of {})",
            known.join(", ")
        )));
    }
    let captures = match &a.captures {
        Some(dir) if !dir.is_dir() => {
            return Err(usage(format!(
                "--captures {} is not a folder",
                dir.display()
            )));
        }
        Some(dir) => Some(dir.clone()),
        None => Some(std::path::PathBuf::from(SHARED_CAPTURES)).filter(|d| d.is_dir()),
    };
    Ok(SuiteSettings {
        base,
        seeds,
        first_seed: a.first_seed.unwrap_or(1),
        captures,
        only: a.only.clone(),
        threads: a.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
    })
}

fn run_suite(a: &ExperimentArgs) -> anyhow::Result<()> {
    let s = suite_settings(a)?;
    let pb = (!a.no_progress && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let report = suite::run(&s, pb.as_ref())?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    report.write(&s.base.out)?;
    println!(
        "{} seeds per scenario. {}.
",
        report.seeds, report.setup
    );
    for skipped in &report.skipped {
        println!("skipped: {skipped}");
    }
    println!("{}", report.summary_table());
    println!("{}", report.checks_text());
    println!(
        "Suite report, runs and figure written to {}/",
        s.base.out.display()
    );
    Ok(())
}

/// Run the subcommand.
pub fn run(a: &ExperimentArgs) -> anyhow::Result<()> {
    if a.suite {
        return run_suite(a);
    }
    for (set, flag) in [
        (a.seeds.is_some(), "--seeds"),
        (a.first_seed.is_some(), "--first-seed"),
        (a.captures.is_some(), "--captures"),
        (!a.only.is_empty(), "--only"),
        (a.threads.is_some(), "--threads"),
    ] {
        if set {
            return Err(usage(format!("{flag} needs --suite")));
        }
    }
    let s = settings(a)?;
    let pb = (!a.no_progress && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(4);
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
