//! `blb experiment`: the paper's §VII experiment and its variants. A scenario is generated (or a
//! capture read), split by single, round-robin, hash and blb, and the source-address CUSUM
//! detector (and the scan detector) runs on each sensor's traffic; the cluster detects when any
//! sensor alarms. The report gives detection times beside the load balance each algorithm kept.
//! [`suite`] runs it over many scenarios and seeds.

mod report;
pub mod suite;
mod suite_figure;
mod suite_report;
pub mod tier;
pub mod workers;

pub use report::{AlgorithmResult, Report};

use std::collections::HashSet;
use std::path::PathBuf;

use blb_core::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use blb_core::blb::{BlbBalancer, BlbConfig, DistanceConfig, Variant, sample_evenly};
use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::packet::{Addr, NANOS_PER_SEC, Nanos, PacketMeta};
use blb_core::sensor::SensorSet;
use blb_core::{Engine, EngineConfig};
use blb_detect::{AddressDb, AddressDbConfig, Cusum, CusumConfig, ScanConfig, ScanDetector};
use blb_gen::{GenOptions, Scenario};

/// A balancing algorithm of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Everything to one sensor.
    Single,
    /// Flow-based round robin.
    RoundRobin,
    /// Keyed hash of the 5-tuple.
    Hash,
    /// BLB, paper or robust.
    Blb(Variant),
}

/// The algorithms of one experiment, in report order: BLB is the settings' variant.
pub fn algorithms(s: &ExperimentSettings) -> [(&'static str, Algorithm); 4] {
    [
        ("single", Algorithm::Single),
        ("round-robin", Algorithm::RoundRobin),
        ("hash", Algorithm::Hash),
        ("blb", Algorithm::Blb(s.blb.variant)),
    ]
}

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
    /// The tier of nodes in front of the sensors (one node: none).
    pub tier: tier::TierSettings,
    /// Live balancing workers simulated in front of each engine ([`workers`]; 1: the
    /// capture's own order).
    pub workers: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Longest span of capture time from the attack's start to the last packet, in seconds:
    /// the report keeps a point per second, so a capture whose timestamps run over years is
    /// refused rather than allowed to allocate without end.
    pub max_span_secs: f64,
}

/// The default of [`ExperimentSettings::max_span_secs`]: one day.
pub const DEFAULT_MAX_SPAN_SECS: f64 = 86_400.0;

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
                ..BlbConfig::robust()
            },
            cusum: CusumConfig::default(),
            scan: ScanConfig::default(),
            tier: tier::TierSettings::default(),
            workers: 1,
            out: PathBuf::from("results"),
            max_span_secs: DEFAULT_MAX_SPAN_SECS,
        }
    }
}

impl ExperimentSettings {
    /// BLB settings of a variant: that variant's defaults with this experiment's distance,
    /// constraint, λ and duplication.
    pub fn blb_of(&self, variant: Variant) -> BlbConfig {
        if variant == self.blb.variant {
            return self.blb.clone();
        }
        BlbConfig {
            distance: self.blb.distance.clone(),
            constraint: self.blb.constraint,
            lambda: self.blb.lambda,
            duplication: self.blb.duplication,
            ..BlbConfig::for_variant(variant)
        }
    }

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
    /// For each packet, whether it belongs to the attack, when the traffic says so (generated
    /// scenarios and captures laid over generated background); empty otherwise.
    pub attack: Vec<bool>,
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
    let mut attack = Vec::new();
    let description;
    let attack_start;
    match &s.read {
        Some(path) => {
            let name = path.display().to_string();
            crate::pipeline::for_each_packet(path, |p| packets.push(*p))?;
            let first = packets.first().map_or(0, |p| p.ts);
            let last = packets.iter().map(|p| p.ts).max().unwrap_or(first);
            attack_start = first + (s.read_training_secs * NANOS_PER_SEC as f64) as u64;
            if attack_start > last {
                return Err(crate::error::usage(format!(
                    "{name} lasts {:.1} s, no longer than --training {}: nothing is left to judge (give a shorter --training)",
                    (last - first) as f64 / NANOS_PER_SEC as f64,
                    s.read_training_secs
                )));
            }
            description = format!(
                "capture {name}, first {} s for training",
                s.read_training_secs
            );
        }
        None => {
            let mut sink = Tagging {
                packets: &mut packets,
                attack: &mut attack,
            };
            let report = blb_gen::generate(s.scenario, &s.generator, &mut sink)
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
    let span = end.saturating_sub(attack_start) as f64 / NANOS_PER_SEC as f64;
    if span > s.max_span_secs {
        let what = match &s.read {
            Some(path) => path.display().to_string(),
            None => format!("the generated {}", s.scenario.name()),
        };
        return Err(crate::error::usage(format!(
            "{what} spans {span:.0} s of capture time from the attack's start to its last packet, more than --max-span {} (the report keeps a point per second of traffic; give a larger --max-span to go on)",
            crate::names::num(s.max_span_secs)
        )));
    }
    Ok(Traffic {
        packets,
        attack,
        attack_start,
        end,
        description,
    })
}

/// A frame sink that parses each frame and keeps whether the generator called it attack.
struct Tagging<'a> {
    packets: &'a mut Vec<PacketMeta>,
    attack: &'a mut Vec<bool>,
}

impl blb_gen::FrameSink for Tagging<'_> {
    fn frame(&mut self, ts: u64, frame: &[u8]) -> std::io::Result<()> {
        self.tagged_frame(ts, frame, false)
    }

    fn tagged_frame(&mut self, ts: u64, frame: &[u8], attack: bool) -> std::io::Result<()> {
        self.packets
            .push(blb_wire::parse(1, ts, frame.len() as u32, frame));
        self.attack.push(attack);
        Ok(())
    }
}

/// What is known of the attack: its sources, and which packets are its.
pub struct Attack {
    /// The attack's own sources: hosts that sent attack packets before any was sent to them
    /// (a scanned host's replies do not make it an attacker).
    pub sources: HashSet<Addr>,
    /// For each packet, whether it belongs to the attack.
    pub packets: Vec<bool>,
}

impl Attack {
    /// The attack of the traffic: from its tags, or else the packets after training from
    /// sources the address database has not seen.
    pub fn of(t: &Traffic, db: &AddressDb) -> Self {
        let packets: Vec<bool> = if t.attack.len() == t.packets.len() {
            t.attack.clone()
        } else {
            t.packets
                .iter()
                .map(|p| p.ts >= t.attack_start && p.src.is_ip() && !db.contains(&p.src))
                .collect()
        };
        // An attacker sends before it is sent to; a target that answers (a scanned host) is
        // sent to first.
        let mut sources = HashSet::new();
        let mut targets = HashSet::new();
        for (p, _) in t.packets.iter().zip(&packets).filter(|(_, a)| **a) {
            if p.src.is_ip() && !targets.contains(&p.src) {
                sources.insert(p.src);
            }
            if !sources.contains(&p.dst) {
                targets.insert(p.dst);
            }
        }
        Attack { sources, packets }
    }
}

/// The balancer of one node of `n` sensors, BLB trained on that node's training traffic.
fn balancer(
    algorithm: Algorithm,
    s: &ExperimentSettings,
    n: usize,
    train: &[PacketMeta],
) -> anyhow::Result<Box<dyn Balancer>> {
    Ok(match algorithm {
        Algorithm::Single => Box::new(Single::new(n)),
        Algorithm::RoundRobin => Box::new(RoundRobin::new(n)),
        Algorithm::Hash => Box::new(HashBalancer::new(
            n,
            HashMode::FiveTuple,
            HashKey(EXPERIMENT_KEY),
        )),
        Algorithm::Blb(variant) => {
            let mut cfg = s.blb_of(variant);
            let factor = s.tier.node_bound_factor(s.sensors);
            if let blb_core::blb::Constraint::Variance(v) = &mut cfg.constraint
                && factor != 1.0
            {
                *v *= factor;
            }
            let want = cfg.train_flows;
            let mut b = BlbBalancer::new(vec![s.capacity; n], cfg)
                .map_err(|e| crate::error::usage(e.to_string()))?;
            let mut seen = HashSet::new();
            let points: Vec<_> = train
                .iter()
                .filter(|p| p.fragment.is_none_or(|f| f.is_first()))
                .filter(|p| seen.insert(FlowKey::from_packet(p, KeyOptions::default(), true).0))
                .map(|p| b.point(p))
                .collect();
            if !points.is_empty() && want > 0 {
                b.train(&sample_evenly(&points, want));
            }
            Box::new(b)
        }
    })
}

/// Run one algorithm over the traffic; `name` labels its row. With a tier of several nodes
/// ([`tier`]), the broker sends each packet to one node, each node is an engine of its own
/// over `sensors / nodes` sensors, and sensor `k` of node `j` is sensor `j × per_node + k` of
/// the report.
pub fn run_algorithm(
    name: &str,
    algorithm: Algorithm,
    s: &ExperimentSettings,
    t: &Traffic,
    db: &AddressDb,
    attack: &Attack,
) -> anyhow::Result<AlgorithmResult> {
    let nodes = s.tier.nodes.max(1);
    let per_node = s.sensors / nodes;
    let broker = tier::Broker::new(s.tier.clone(), HashKey(EXPERIMENT_KEY));
    let mut train: Vec<Vec<PacketMeta>> = vec![Vec::new(); nodes];
    for p in t.packets.iter().filter(|p| p.ts < t.attack_start) {
        train[broker.node_of(p)].push(*p);
    }
    let mut cfg = EngineConfig::new(per_node, s.capacity);
    cfg.load_time_constant = s.load_time_constant;
    // Keep every second of the attack that carried traffic for the report (at most one per
    // second of the span, which --max-span bounds).
    let span = (t.end.saturating_sub(t.attack_start) / NANOS_PER_SEC) as usize;
    cfg.load_history_seconds = cfg.load_history_seconds.max(
        span.saturating_add(2)
            .min(blb_core::engine::MAX_LOAD_HISTORY),
    );
    let mut engines = train
        .iter()
        .map(|train| {
            Ok(Engine::new(
                cfg.clone(),
                balancer(algorithm, s, per_node, train)?,
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sensors = nodes * per_node;
    let mut cusum = (0..sensors)
        .map(|_| Cusum::new(s.cusum.clone(), db.clone(), Some(t.attack_start)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crate::error::usage(e.to_string()))?;
    let mut scan = (0..sensors)
        .map(|_| ScanDetector::new(s.scan.clone(), Some(t.attack_start)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crate::error::usage(e.to_string()))?;
    let mut sources: Vec<HashSet<Addr>> = vec![HashSet::new(); sensors];
    let mut attack_packets = vec![0u64; sensors];
    // The engines decide in the order the workers hand them the packets; the detectors see
    // each packet at its own time.
    let mut sent = vec![(0usize, SensorSet::default()); t.packets.len()];
    for i in workers::arrival_order(&t.packets, s.workers, workers::BLOCK_NS) {
        let p = &t.packets[i];
        let node = broker.node_of(p);
        sent[i] = (node, engines[node].handle(p));
    }
    for ((p, &is_attack), &(node, to)) in t.packets.iter().zip(&attack.packets).zip(&sent) {
        if p.ts < t.attack_start {
            continue;
        }
        for i in to {
            let i = node * per_node + usize::from(i);
            cusum[i].observe(p);
            scan[i].observe(p);
            if is_attack {
                attack_packets[i] += 1;
                if attack.sources.contains(&p.src) {
                    sources[i].insert(p.src);
                }
            }
        }
    }
    for e in &mut engines {
        e.finish();
    }
    for c in &mut cusum {
        c.finish(t.end);
    }
    for d in &mut scan {
        d.finish(t.end);
    }
    let spread = report::Spread {
        sources: &sources,
        attackers: attack.sources.len(),
        packets: &attack_packets,
        attack_packets: attack.packets.iter().filter(|a| **a).count() as u64,
    };
    let seconds = match engines.as_slice() {
        [one] => one.seconds().to_vec(),
        many => tier::combine_seconds(
            &many.iter().map(Engine::seconds).collect::<Vec<_>>(),
            per_node,
        ),
    };
    Ok(report::result(name, s, t, &seconds, &cusum, &scan, &spread))
}

/// The detector's address database, learned from the traffic before the attack.
pub fn address_db(t: &Traffic) -> anyhow::Result<AddressDb> {
    let mut db = AddressDb::new(AddressDbConfig::default())
        .map_err(|e| crate::error::usage(e.to_string()))?;
    for p in t.packets.iter().filter(|p| p.ts < t.attack_start) {
        db.learn(p);
    }
    db.finish_training();
    Ok(db)
}

/// Run the whole experiment and write the report, series and figure to the output directory.
pub fn run(
    s: &ExperimentSettings,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<Report> {
    let t = traffic(s)?;
    let db = address_db(&t)?;
    let attack = Attack::of(&t, &db);
    let mut results = Vec::new();
    for (name, algorithm) in algorithms(s) {
        if let Some(pb) = progress {
            pb.set_message(format!("balancing with {name}"));
        }
        results.push(run_algorithm(name, algorithm, s, &t, &db, &attack)?);
        if let Some(pb) = progress {
            pb.inc(1);
        }
    }
    let report = Report::new(s, &t, results);
    report.write(&s.out)?;
    Ok(report)
}
