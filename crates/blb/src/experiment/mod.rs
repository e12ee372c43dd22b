//! `blb experiment`: the paper's §VII experiment and its variants. A scenario is generated (or a
//! capture read), split by single, round-robin, hash and blb, and the source-address CUSUM
//! detector (and the scan detector) runs on each sensor's traffic; the cluster detects when any
//! sensor alarms. The report gives detection times beside the load balance each algorithm kept.

mod report;

pub use report::{AlgorithmResult, Report};

use std::collections::HashSet;
use std::path::PathBuf;

use blb_core::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use blb_core::blb::{BlbBalancer, BlbConfig, DistanceConfig};
use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::packet::{Addr, NANOS_PER_SEC, Nanos, PacketMeta};
use blb_core::{Engine, EngineConfig};
use blb_detect::{AddressDb, AddressDbConfig, Cusum, CusumConfig, ScanConfig, ScanDetector};
use blb_gen::{GenOptions, Scenario};

/// The algorithms compared, in report order.
pub const ALGORITHMS: [&str; 4] = ["single", "round-robin", "hash", "blb"];

/// A fixed hash key, so that reports are reproducible (the balancer's own default is random).
const EXPERIMENT_KEY: [u8; 16] = *b"blb-experiment!!";

/// Settings of one experiment.
#[derive(Clone, Debug)]
pub struct ExperimentSettings {
    /// Scenario to generate (ignored with `read`).
    pub scenario: Scenario,
    /// Generator options (training_secs is the detector's training period).
    pub generator: GenOptions,
    /// A capture to use instead of a generated scenario.
    pub read: Option<PathBuf>,
    /// With `read`: seconds at the start of the capture used for training.
    pub read_training_secs: f64,
    /// Number of sensors.
    pub sensors: usize,
    /// Capacity of each sensor, bytes per second.
    pub capacity: f64,
    /// Load estimate time constant, nanoseconds.
    pub load_time_constant: Nanos,
    /// BLB settings.
    pub blb: BlbConfig,
    /// CUSUM settings.
    pub cusum: CusumConfig,
    /// Scan detector settings.
    pub scan: ScanConfig,
    /// Output directory.
    pub out: PathBuf,
}

impl Default for ExperimentSettings {
    fn default() -> Self {
        ExperimentSettings {
            scenario: Scenario::UdpFlood,
            generator: GenOptions {
                training_secs: 30.0,
                ..GenOptions::default()
            },
            read: None,
            read_training_secs: 0.0,
            sensors: 10,
            capacity: 10e6,
            load_time_constant: NANOS_PER_SEC,
            blb: BlbConfig {
                distance: DistanceConfig::ddos(),
                ..BlbConfig::default()
            },
            cusum: CusumConfig::default(),
            scan: ScanConfig::default(),
            out: PathBuf::from("results"),
        }
    }
}

impl ExperimentSettings {
    /// The variance bound V (BLB's, or the paper's 9 under the threshold constraint).
    pub fn blb_variance_bound(&self) -> f64 {
        match self.blb.constraint {
            blb_core::blb::Constraint::Variance(v) => v,
            blb_core::blb::Constraint::Threshold(_) => 9.0,
        }
    }
}

/// The traffic of an experiment, parsed once.
pub struct Traffic {
    /// Packets in time order.
    pub packets: Vec<PacketMeta>,
    /// When the attack starts (the end of training).
    pub attack_start: Nanos,
    /// End of the capture.
    pub end: Nanos,
    /// What it is, for the report.
    pub description: String,
}

/// Generate the scenario (or read the capture) and parse it.
pub fn traffic(s: &ExperimentSettings) -> anyhow::Result<Traffic> {
    let mut packets = Vec::new();
    let description;
    let attack_start;
    match &s.read {
        Some(path) => {
            let name = path.display().to_string();
            crate::pipeline::for_each_packet(path, |p| packets.push(*p))?;
            let first = packets.first().map_or(0, |p| p.ts);
            attack_start = first + (s.read_training_secs * NANOS_PER_SEC as f64) as u64;
            description = format!(
                "capture {name}, first {} s for training",
                s.read_training_secs
            );
        }
        None => {
            let mut sink = |ts: u64, frame: &[u8]| {
                packets.push(blb_wire::parse(1, ts, frame.len() as u32, frame));
                Ok(())
            };
            let report =
                blb_gen::generate(s.scenario, &s.generator, &mut blb_gen::FnSink(&mut sink))
                    .map_err(|e| crate::error::usage(e.to_string()))?;
            attack_start = s.generator.start_time * NANOS_PER_SEC
                + (report.attack_start_secs * NANOS_PER_SEC as f64) as u64;
            description = format!(
                "{} (seed {}): {} s of training, {} s of attack, {} packets",
                s.scenario.name(),
                s.generator.seed,
                s.generator.training_secs,
                s.generator.duration_secs,
                report.packets
            );
        }
    }
    let end = packets.iter().map(|p| p.ts).max().unwrap_or(0);
    Ok(Traffic {
        packets,
        attack_start,
        end,
        description,
    })
}

fn balancer(
    name: &str,
    s: &ExperimentSettings,
    train: &[PacketMeta],
) -> anyhow::Result<Box<dyn Balancer>> {
    let n = s.sensors;
    Ok(match name {
        "single" => Box::new(Single::new(n)),
        "round-robin" => Box::new(RoundRobin::new(n)),
        "hash" => Box::new(HashBalancer::new(
            n,
            HashMode::FiveTuple,
            HashKey(EXPERIMENT_KEY),
        )),
        _ => {
            let mut b = BlbBalancer::new(vec![s.capacity; n], s.blb.clone())
                .map_err(|e| crate::error::usage(e.to_string()))?;
            let mut seen = HashSet::new();
            let points: Vec<_> = train
                .iter()
                .filter(|p| p.fragment.is_none_or(|f| f.is_first()))
                .filter(|p| seen.insert(FlowKey::from_packet(p, KeyOptions::default(), true).0))
                .map(|p| b.point(p))
                .collect();
            if !points.is_empty() {
                let want = s.blb.train_flows.max(1);
                let step = (points.len() as f64 / want as f64).max(1.0);
                let sample: Vec<_> = (0..want.min(points.len()))
                    .map(|i| points[(i as f64 * step) as usize])
                    .collect();
                b.train(&sample);
            }
            Box::new(b)
        }
    })
}

/// Run one algorithm over the traffic.
pub fn run_algorithm(
    name: &str,
    s: &ExperimentSettings,
    t: &Traffic,
    db: &AddressDb,
    attackers: &HashSet<Addr>,
) -> anyhow::Result<AlgorithmResult> {
    let train: Vec<PacketMeta> = t
        .packets
        .iter()
        .filter(|p| p.ts < t.attack_start)
        .copied()
        .collect();
    let mut cfg = EngineConfig::new(s.sensors, s.capacity);
    cfg.load_time_constant = s.load_time_constant;
    let mut engine = Engine::new(cfg, balancer(name, s, &train)?)?;
    let mut cusum = (0..s.sensors)
        .map(|_| Cusum::new(s.cusum.clone(), db.clone(), Some(t.attack_start)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crate::error::usage(e.to_string()))?;
    let mut scan = (0..s.sensors)
        .map(|_| ScanDetector::new(s.scan.clone(), Some(t.attack_start)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crate::error::usage(e.to_string()))?;
    let mut sources: Vec<HashSet<Addr>> = vec![HashSet::new(); s.sensors];
    for p in &t.packets {
        let to = engine.handle(p);
        if p.ts < t.attack_start {
            continue;
        }
        for i in to {
            let i = usize::from(i);
            cusum[i].observe(p);
            scan[i].observe(p);
            if attackers.contains(&p.src) {
                sources[i].insert(p.src);
            }
        }
    }
    engine.finish();
    for c in &mut cusum {
        c.finish(t.end);
    }
    for d in &mut scan {
        d.finish(t.end);
    }
    Ok(report::result(
        name,
        s,
        t,
        &engine,
        &cusum,
        &scan,
        &sources,
        attackers.len(),
    ))
}

/// Run the whole experiment and write the report, series and figure to the output directory.
pub fn run(
    s: &ExperimentSettings,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<Report> {
    let t = traffic(s)?;
    let mut db = AddressDb::new(AddressDbConfig::default())
        .map_err(|e| crate::error::usage(e.to_string()))?;
    for p in t.packets.iter().filter(|p| p.ts < t.attack_start) {
        db.learn(p);
    }
    db.finish_training();
    // Attack sources: sources first seen after training, not in the database.
    let attackers: HashSet<Addr> = t
        .packets
        .iter()
        .filter(|p| p.ts >= t.attack_start && p.src.is_ip() && !db.contains(&p.src))
        .map(|p| p.src)
        .collect();
    let mut results = Vec::new();
    for name in ALGORITHMS {
        if let Some(pb) = progress {
            pb.set_message(format!("balancing with {name}"));
        }
        results.push(run_algorithm(name, s, &t, &db, &attackers)?);
        if let Some(pb) = progress {
            pb.inc(1);
        }
    }
    let report = Report::new(s, &t, results);
    report.write(&s.out)?;
    Ok(report)
}
