//! Validated settings (second stage of argument handling): flags merged over the configuration
//! file over the defaults, every value checked, errors naming the flag or setting at fault.

use std::path::PathBuf;

use blb_core::EngineConfig;
use blb_core::balancer::{Balancer, HashBalancer, HashKey, HashMode, RoundRobin, Single};
use blb_core::packet::NANOS_PER_SEC;
use blb_core::sensor::MAX_SENSORS;

use crate::cli::BalanceArgs;
use crate::config::ConfigFile;
use crate::error::usage;

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
}

impl std::str::FromStr for Algorithm {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "single" => Ok(Algorithm::Single),
            "round-robin" | "rr" => Ok(Algorithm::RoundRobin),
            "hash" => Ok(Algorithm::Hash),
            other => Err(usage(format!(
                "unknown algorithm '{other}' for --algorithm (expected single, round-robin or hash)"
            ))),
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
    /// Input file; `-` is standard input.
    pub read: PathBuf,
    /// Output directory.
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
    /// Where the JSON summary goes, if anywhere.
    pub summary: Option<PathBuf>,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
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
        let read = args.read.clone().or_else(|| b.read.clone()).ok_or_else(|| {
            usage("no input: give --read FILE (or - for standard input), or [balance] read in the configuration")
        })?;
        let write_dir = args.write_dir.clone().or_else(|| b.write_dir.clone()).ok_or_else(|| {
            usage("no output directory: give --write-dir DIR, or [balance] write_dir in the configuration")
        })?;
        let sensors = args.sensors.or(b.sensors).ok_or_else(|| {
            usage("no sensor count: give --sensors N, or [balance] sensors in the configuration")
        })?;
        if sensors == 0 || sensors > MAX_SENSORS {
            return Err(usage(format!(
                "--sensors must be between 1 and {MAX_SENSORS}, not {sensors}"
            )));
        }
        let algorithm: Algorithm = args
            .algorithm
            .as_deref()
            .or(b.algorithm.as_deref())
            .ok_or_else(|| usage("no algorithm: give --algorithm single|round-robin|hash"))?
            .parse()?;
        let hash_mode = match args.hash_mode.as_deref().or(b.hash_mode.as_deref()) {
            Some(m) => m
                .parse::<HashMode>()
                .map_err(|e| usage(format!("--hash-mode: {e}")))?,
            None => HashMode::FiveTuple,
        };
        let (hash_key, key_source) = match args.hash_key.as_deref().or(b.hash_key.as_deref()) {
            Some(hex) => (
                HashKey::from_hex(hex).map_err(|e| usage(format!("--hash-key: {e}")))?,
                KeySource::Configured,
            ),
            None => (random_key()?, KeySource::Random),
        };
        let capacity = args.capacity.or(b.capacity).unwrap_or(DEFAULT_CAPACITY);
        let capacities = match (&args.capacity, &b.capacities) {
            (None, Some(list)) => list.clone(),
            _ => vec![capacity; sensors],
        };
        if capacities.len() != sensors {
            return Err(usage(format!(
                "[balance] capacities lists {} values for {sensors} sensors",
                capacities.len()
            )));
        }
        if let Some(c) = capacities.iter().find(|c| !(c.is_finite() && **c > 0.0)) {
            return Err(usage(format!(
                "--capacity must be a positive number of bytes per second, not {c}"
            )));
        }
        let tau = args
            .load_time_constant
            .or(b.load_time_constant)
            .unwrap_or(1.0);
        let mut engine = EngineConfig::new(sensors, capacity);
        engine.capacities = capacities;
        engine.load_time_constant = secs_to_nanos("--load-time-constant", tau)?;
        let f = &file.flow;
        engine.flow_cap = args.flow_cap.or(f.cap).unwrap_or(engine.flow_cap);
        if engine.flow_cap == 0 {
            return Err(usage("--flow-cap must be at least 1"));
        }
        engine.key.vlan_in_key = args.vlan_in_key || f.vlan_in_key.unwrap_or(false);
        if let Some(t) = f.fragment_timeout {
            engine.fragment_timeout = secs_to_nanos("[flow] fragment_timeout", t)?;
        }
        engine.fragment_cap = f.fragment_cap.unwrap_or(engine.fragment_cap);
        if let Some(t) = f.timeouts {
            engine.timeouts = t;
        }
        engine.validate().map_err(|e| usage(e.to_string()))?;
        Ok(BalanceSettings {
            read,
            write_dir,
            algorithm,
            hash_mode,
            hash_key,
            key_source,
            engine,
            summary: args.summary.clone().or_else(|| b.summary.clone()),
            progress: !args.no_progress,
        })
    }

    /// The balancer these settings ask for.
    pub fn balancer(&self) -> Box<dyn Balancer> {
        let n = self.engine.sensors;
        match self.algorithm {
            Algorithm::Single => Box::new(Single::new(n)),
            Algorithm::RoundRobin => Box::new(RoundRobin::new(n)),
            Algorithm::Hash => Box::new(HashBalancer::new(n, self.hash_mode, self.hash_key)),
        }
    }
}

fn secs_to_nanos(name: &str, secs: f64) -> anyhow::Result<u64> {
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(usage(format!(
            "{name} must be a positive number of seconds, not {secs}"
        )));
    }
    Ok((secs * NANOS_PER_SEC as f64) as u64)
}

fn random_key() -> anyhow::Result<HashKey> {
    let mut k = [0u8; 16];
    getrandom::fill(&mut k).map_err(|e| anyhow::anyhow!("cannot draw a random hash key: {e}"))?;
    Ok(HashKey(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> BalanceArgs {
        BalanceArgs {
            read: Some("in.pcap".into()),
            sensors: Some(4),
            algorithm: Some("hash".into()),
            write_dir: Some("out".into()),
            ..Default::default()
        }
    }

    #[test]
    fn flags_override_the_file() {
        let file =
            ConfigFile::parse("[balance]\nsensors = 8\nalgorithm = \"single\"\ncapacity = 5e6\n")
                .unwrap();
        let s = BalanceSettings::merge(&args(), &file).unwrap();
        assert_eq!(s.engine.sensors, 4);
        assert_eq!(s.algorithm, Algorithm::Hash);
        assert_eq!(s.engine.capacities, vec![5e6; 4]);
        assert_eq!(s.key_source, KeySource::Random);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let mut a = args();
        a.sensors = Some(0);
        let e = BalanceSettings::merge(&a, &ConfigFile::default()).unwrap_err();
        assert!(e.to_string().contains("--sensors"), "{e}");
        let mut a = args();
        a.algorithm = Some("magic".into());
        assert!(
            BalanceSettings::merge(&a, &ConfigFile::default())
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
        let mut a = args();
        a.hash_key = Some("abc".into());
        assert!(
            BalanceSettings::merge(&a, &ConfigFile::default())
                .unwrap_err()
                .to_string()
                .contains("--hash-key")
        );
        let mut a = args();
        a.capacity = Some(-1.0);
        assert!(
            BalanceSettings::merge(&a, &ConfigFile::default())
                .unwrap_err()
                .to_string()
                .contains("--capacity")
        );
        let mut a = args();
        a.read = None;
        assert!(
            BalanceSettings::merge(&a, &ConfigFile::default())
                .unwrap_err()
                .to_string()
                .contains("--read")
        );
    }

    #[test]
    fn configured_key_is_used() {
        let mut a = args();
        a.hash_key = Some("000102030405060708090a0b0c0d0e0f".into());
        let s = BalanceSettings::merge(&a, &ConfigFile::default()).unwrap();
        assert_eq!(s.key_source, KeySource::Configured);
        assert_eq!(s.hash_key.0[15], 15);
    }
}
