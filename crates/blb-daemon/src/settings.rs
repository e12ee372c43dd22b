//! Validated settings (second stage of argument handling): flags merged over the configuration
//! file over the defaults, every value checked, errors naming the flag or setting at fault.

use std::path::PathBuf;

use blb_core::EngineConfig;
use blb_core::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use blb_core::blb::{BlbConfig, Constraint, DistanceConfig, FlowLoad, SearchMode, Start, Variant};
use blb_core::packet::NANOS_PER_SEC;
use blb_core::sensor::MAX_SENSORS;
use blb_wire::Tunnels;

use crate::args::{BalanceArgs, VariantArgs};
use crate::config::{BlbSection, ConfigFile};
use crate::error::usage;
use crate::names;

/// Default sensor capacity: 1 Gbit/s, in bytes per second.
pub const DEFAULT_CAPACITY: f64 = 125_000_000.0;

/// The balancing algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Everything to sensor 0.
    Single,
    /// Per-flow round robin.
    RoundRobin,
    /// Keyed symmetric hash.
    Hash,
    /// Benefit-based load balancing.
    Blb,
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "single" => Ok(Algorithm::Single),
            "round-robin" | "rr" => Ok(Algorithm::RoundRobin),
            "hash" => Ok(Algorithm::Hash),
            "blb" => Ok(Algorithm::Blb),
            other => Err(format!(
                "unknown algorithm '{other}' (expected single, round-robin, hash or blb)"
            )),
        }
    }
}

impl Algorithm {
    /// The name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Single => "single",
            Algorithm::RoundRobin => "round-robin",
            Algorithm::Hash => "hash",
            Algorithm::Blb => "blb",
        }
    }
}

/// Where the hash key came from (the key itself is never printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `--hash-key` or `hash_key` in the configuration.
    Configured,
    /// Drawn from the operating system's random source for this run.
    Random,
}

/// Everything `blb balance` needs, checked.
#[derive(Clone, Debug)]
pub struct BalanceSettings {
    /// Input file; `-` is standard input (empty for live capture).
    pub read: PathBuf,
    /// Output directory (empty for live capture with configured sensors).
    pub write_dir: PathBuf,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Hash mode (for `hash`).
    pub hash_mode: HashMode,
    /// Hash key (for `hash`).
    pub hash_key: HashKey,
    /// Where the key came from.
    pub key_source: KeySource,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Which headers decide a tunnelled packet's flow (`--tunnels`, `[flow] tunnels`).
    pub tunnels: Tunnels,
    /// Where the JSON summary goes, if anywhere.
    pub summary: Option<PathBuf>,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// BLB settings (for `blb`; also gives V for the summary's "seconds over V").
    pub blb: BlbConfig,
    /// Training capture for BLB's k-medoids start.
    pub train: Option<PathBuf>,
    /// Live capture settings (`--interface`); `read` is empty then.
    pub live: Option<crate::live::settings::LiveSettings>,
}

impl BalanceSettings {
    /// Merge flags over the configuration file (if any) over the defaults, and check.
    pub fn from_args(args: &BalanceArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        Self::merge(args, &file)
    }

    /// Merge flags over an already parsed configuration.
    pub fn merge(args: &BalanceArgs, file: &ConfigFile) -> anyhow::Result<Self> {
        let b = &file.balance;
        let live = !args.interfaces.is_empty()
            || file.live.interfaces.as_ref().is_some_and(|i| !i.is_empty());
        let read = match args.read.clone().or_else(|| b.read.clone()) {
            Some(_) if live => {
                return Err(usage(
                    "give either --read FILE or --interface IF (live capture), not both",
                ));
            }
            Some(r) => r,
            None if live => PathBuf::new(),
            None => {
                return Err(usage(
                    "no input: give --read FILE (or - for standard input), --interface IF, or [balance] read in the configuration",
                ));
            }
        };
        if !live {
            for (set, flag) in [
                (args.backend.is_some(), "--backend"),
                (args.filter.is_some(), "--filter"),
                (args.metrics.is_some(), "--metrics"),
                (args.control.is_some(), "--control"),
                (args.log_format.is_some(), "--log-format"),
                (args.duration.is_some(), "--duration"),
            ] {
                if set {
                    return Err(usage(format!(
                        "{flag} applies to live balancing (--interface IF), not to reading a capture"
                    )));
                }
            }
        }
        let write_dir = match args.write_dir.clone().or_else(|| b.write_dir.clone()) {
            Some(d) => d,
            None if live => PathBuf::new(),
            None => {
                return Err(usage(
                    "no output directory: give --write-dir DIR, or [balance] write_dir in the configuration",
                ));
            }
        };
        let name = |setting: &str| names::balance_setting(setting, args, file);
        let configured = (live && !file.sensor.is_empty()).then_some(file.sensor.len());
        let sensors = match (args.sensors.or(b.sensors), configured) {
            (Some(n), Some(c)) if n != c => {
                return Err(usage(format!(
                    "--sensors says {n} but the configuration has {c} [[sensor]] tables"
                )));
            }
            (Some(n), _) => n,
            (None, Some(c)) => c,
            (None, None) => {
                return Err(usage(
                    "no sensor count: give --sensors N, or [balance] sensors (or [[sensor]] tables) in the configuration",
                ));
            }
        };
        if sensors == 0 || sensors > MAX_SENSORS {
            return Err(usage(format!(
                "{} must be between 1 and {MAX_SENSORS}, not {sensors}",
                name("sensors")
            )));
        }
        let algorithm_name = names::given(
            args.algorithm.is_some(),
            "--algorithm",
            "[balance] algorithm",
        );
        let algorithm: Algorithm = args
            .algorithm
            .as_deref()
            .or(b.algorithm.as_deref())
            .ok_or_else(|| {
                usage("no algorithm: give --algorithm single|round-robin|hash|blb, or [balance] algorithm in the configuration")
            })?
            .parse()
            .map_err(|e| usage(format!("{algorithm_name}: {e}")))?;
        let hash_mode = match args.hash_mode.as_deref().or(b.hash_mode.as_deref()) {
            Some(m) => m.parse::<HashMode>().map_err(|e| {
                let n = names::given(
                    args.hash_mode.is_some(),
                    "--hash-mode",
                    "[balance] hash_mode",
                );
                usage(format!("{n}: {e}"))
            })?,
            None => HashMode::FiveTuple,
        };
        let (hash_key, key_source) = match args.hash_key.as_deref().or(b.hash_key.as_deref()) {
            Some(hex) => (
                HashKey::from_hex(hex).map_err(|e| {
                    let n =
                        names::given(args.hash_key.is_some(), "--hash-key", "[balance] hash_key");
                    usage(format!("{n}: {e}"))
                })?,
                KeySource::Configured,
            ),
            None => (random_key()?, KeySource::Random),
        };
        let capacity = args.capacity.or(b.capacity).unwrap_or(DEFAULT_CAPACITY);
        let mut capacities = match (&args.capacity, &b.capacities) {
            (None, Some(list)) => list.clone(),
            _ => vec![capacity; sensors],
        };
        if live && args.capacity.is_none() && capacities.len() == file.sensor.len() {
            for (c, s) in capacities.iter_mut().zip(&file.sensor) {
                if let Some(own) = s.capacity {
                    *c = own;
                }
            }
        }
        if capacities.len() != sensors {
            return Err(usage(format!(
                "[balance] capacities lists {} values for {sensors} sensors",
                capacities.len()
            )));
        }
        if let Some(c) = capacities.iter().find(|c| !(c.is_finite() && **c > 0.0)) {
            let which = match (&args.capacity, &b.capacities) {
                (None, Some(_)) => "[balance] capacities".to_string(),
                _ if live
                    && args.capacity.is_none()
                    && file.sensor.iter().any(|s| s.capacity.is_some()) =>
                {
                    "[[sensor]] capacity".to_string()
                }
                _ => name("capacity"),
            };
            return Err(usage(format!(
                "{which} must be a positive number of bytes per second, not {}",
                names::num(*c)
            )));
        }
        let tau = args
            .load_time_constant
            .or(b.load_time_constant)
            .unwrap_or(1.0);
        let mut engine = EngineConfig::new(sensors, capacity);
        engine.capacities = capacities;
        engine.load_time_constant = secs_to_nanos(&name("load_time_constant"), tau)?;
        let f = &file.flow;
        engine.flow_cap = args.flow_cap.or(f.cap).unwrap_or(engine.flow_cap);
        if engine.flow_cap == 0 {
            return Err(usage(format!("{} must be at least 1", name("flow_cap"))));
        }
        engine.key.vlan_in_key = args.vlan_in_key || f.vlan_in_key.unwrap_or(false);
        let tunnels = match args.tunnels.as_deref().or(f.tunnels.as_deref()) {
            None => Tunnels::default(),
            Some(t) => t.parse::<Tunnels>().map_err(|e| {
                let n = names::given(args.tunnels.is_some(), "--tunnels", "[flow] tunnels");
                usage(format!("{n} {e}"))
            })?,
        };
        if let Some(t) = f.fragment_timeout {
            engine.fragment_timeout = secs_to_nanos("[flow] fragment_timeout", t)?;
        }
        engine.fragment_cap = f.fragment_cap.unwrap_or(engine.fragment_cap);
        engine.flow_cutoff_bytes = args.flow_cutoff_bytes.or(f.cutoff_bytes);
        engine.flow_cutoff_packets = args.flow_cutoff_packets.or(f.cutoff_packets);
        if let Some(t) = f.timeouts {
            engine.timeouts = t;
        }
        if let Some(t) = file.live.report_stale_after {
            engine.report_stale_after = secs_to_nanos("[live] report_stale_after", t)?;
        }
        engine.validate().map_err(|e| names::core_error(&e, name))?;
        let blb = blb_config(args, &file.blb)?;
        blb.validate(sensors)
            .map_err(|e| names::core_error(&e, name))?;
        let train = args.train.clone().or_else(|| file.blb.train.clone());
        let live = if live {
            Some(crate::live::settings::LiveSettings::merge(
                args, file, sensors, &write_dir,
            )?)
        } else {
            None
        };
        Ok(BalanceSettings {
            live,
            blb,
            train,
            read,
            write_dir,
            algorithm,
            hash_mode,
            hash_key,
            key_source,
            engine,
            tunnels,
            summary: args.summary.clone().or_else(|| b.summary.clone()),
            progress: !args.no_progress,
        })
    }

    /// The balancer these settings ask for, except `blb` (which the pipeline builds, because
    /// its start may need a training capture).
    pub fn simple_balancer(&self) -> Option<Box<dyn Balancer>> {
        let n = self.engine.sensors;
        match self.algorithm {
            Algorithm::Single => Some(Box::new(Single::new(n))),
            Algorithm::RoundRobin => Some(Box::new(RoundRobin::new(n))),
            Algorithm::Hash => Some(Box::new(HashBalancer::new(
                n,
                self.hash_mode,
                self.hash_key,
            ))),
            Algorithm::Blb => None,
        }
    }

    /// The variance bound V that the summary's "seconds over V" uses: the BLB constraint's, or
    /// the default V = 9 for the other algorithms and for the threshold constraint.
    pub fn variance_bound(&self) -> f64 {
        match self.blb.constraint {
            Constraint::Variance(v) => v,
            Constraint::Threshold(_) => BLB_DEFAULT_V,
        }
    }
}

/// The paper's V.
const BLB_DEFAULT_V: f64 = 9.0;

/// BLB settings: flags over `[blb]` over the defaults (unchecked: the caller validates).
pub fn blb_config(args: &BalanceArgs, f: &BlbSection) -> anyhow::Result<BlbConfig> {
    let mut c = variant_config(&args.variant, f)?;
    let preset = args.alpha_preset.as_deref().or(f.alpha_preset.as_deref());
    let mut d = match preset {
        None | Some("ddos") => DistanceConfig::ddos(),
        Some("port") => DistanceConfig::port(),
        Some(other) => {
            return Err(usage(format!(
                "unknown --alpha-preset '{other}' (expected ddos or port)"
            )));
        }
    };
    set(&mut d.alpha_ip, args.alpha_ip.or(f.alpha_ip));
    set(&mut d.alpha_port, args.alpha_port.or(f.alpha_port));
    set(
        &mut d.alpha_protocol,
        args.alpha_protocol.or(f.alpha_protocol),
    );
    set(&mut d.d_ip_subnet, f.d_ip_subnet);
    set(&mut d.d_port_functional, f.d_port_functional);
    set(&mut d.d_port_configured, f.d_port_configured);
    set(&mut d.ipv4_prefix, f.ipv4_prefix);
    set(&mut d.ipv6_prefix, f.ipv6_prefix);
    set(&mut d.port_families, f.port_families.clone());
    set(&mut d.port_groups, f.port_groups.clone());
    c.distance = d;
    set(&mut c.lambda, args.lambda.or(f.lambda));
    let threshold = args.load_threshold.or(f.load_threshold);
    let variance = args
        .variance_bound
        .or(f.variance_bound)
        .unwrap_or(BLB_DEFAULT_V);
    c.constraint = match (f.constraint.as_deref(), args.load_threshold) {
        (_, Some(t)) => Constraint::Threshold(t),
        (None | Some("variance"), None) => Constraint::Variance(variance),
        (Some("threshold"), None) => Constraint::Threshold(threshold.ok_or_else(|| {
            usage("[blb] constraint = \"threshold\" needs load_threshold (or --load-threshold)")
        })?),
        (Some(other), None) => {
            return Err(usage(format!(
                "[blb] constraint must be variance or threshold, not '{other}'"
            )));
        }
    };
    set(&mut c.duplication, args.duplication.or(f.duplication));
    set(&mut c.m_max, args.m_max.or(f.m_max));
    set(&mut c.th_w, args.th_w.or(f.th_w));
    set(&mut c.cluster_cap, args.cluster_cap.or(f.cluster_cap));
    set(&mut c.refresh_interval, f.refresh_interval);
    if let Some(r) = args.flow_rate.or(f.flow_rate) {
        c.flow_load = FlowLoad::Fixed(r);
    }
    set(&mut c.train_flows, args.train_flows.or(f.train_flows));
    c.search = match args.search.as_deref().or(f.search.as_deref()) {
        None | Some("indexed") => SearchMode::Indexed,
        Some("brute-force") => SearchMode::BruteForce,
        Some(other) => {
            return Err(usage(format!(
                "unknown --search '{other}' (expected indexed or brute-force)"
            )));
        }
    };
    Ok(c)
}

/// The defaults of the variant the flags or `[blb]` name, with robust BLB's own settings
/// from the flags over `[blb]` (unchecked: the caller validates).
pub fn variant_config(args: &VariantArgs, f: &BlbSection) -> anyhow::Result<BlbConfig> {
    let variant = match (&args.blb_variant, &f.variant) {
        (Some(v), _) => v
            .parse::<Variant>()
            .map_err(|e| usage(format!("unknown --blb-variant {e}")))?,
        (None, Some(v)) => v
            .parse::<Variant>()
            .map_err(|e| usage(format!("[blb] variant must be robust or paper, not {e}")))?,
        (None, None) => Variant::Robust,
    };
    let mut c = BlbConfig::for_variant(variant);
    set(&mut c.join_distance, args.join_distance.or(f.join_distance));
    set(&mut c.headroom, args.headroom.or(f.headroom));
    let noise = if args.no_noise { Some(false) } else { f.noise };
    let sigmas = args.noise_sigmas.or(f.noise_sigmas);
    c.noise_sigmas = match noise {
        Some(false) => None,
        Some(true) => Some(sigmas.or(c.noise_sigmas).unwrap_or(2.0)),
        None => sigmas.map(Some).unwrap_or(c.noise_sigmas),
    };
    match args.start.as_deref().or(f.start.as_deref()) {
        None => {}
        Some("warm-up") => c.start = Start::WarmUp,
        Some("on-line") => c.start = Start::Online,
        Some(other) => {
            return Err(usage(format!(
                "unknown --start '{other}' (expected warm-up or on-line)"
            )));
        }
    }
    Ok(c)
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// Seconds to nanoseconds: at least 1 ns, less than 10⁹ s (about 32 years).
fn secs_to_nanos(name: &str, secs: f64) -> anyhow::Result<u64> {
    if !(secs.is_finite() && (1e-9..1e9).contains(&secs)) {
        return Err(usage(format!(
            "{name} must be a number of seconds from 1e-9 (one nanosecond) up to 1e9, not {}",
            names::num(secs)
        )));
    }
    Ok(((secs * NANOS_PER_SEC as f64) as u64).max(1))
}

fn random_key() -> anyhow::Result<HashKey> {
    let mut k = [0u8; 16];
    getrandom::fill(&mut k).map_err(|e| anyhow::anyhow!("cannot draw a random hash key: {e}"))?;
    Ok(HashKey(k))
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
