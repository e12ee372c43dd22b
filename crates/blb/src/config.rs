//! The TOML configuration file: every setting, with its default. `blb.example.toml` at the
//! repository root documents each one; flags on the command line override the file.

use std::path::{Path, PathBuf};

use blb_core::flow_table::FlowTimeouts;
use serde::Deserialize;

use crate::error::usage;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// `[balance]`: how packets are split.
    pub balance: BalanceSection,
    /// `[flow]`: flow and fragment tracking.
    pub flow: FlowSection,
    /// `[generate]`: scenario generator options.
    pub generate: Option<blb_gen::GenOptions>,
}

/// `[balance]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BalanceSection {
    /// Input capture file (`-` for standard input).
    pub read: Option<PathBuf>,
    /// Number of sensors.
    pub sensors: Option<usize>,
    /// `single`, `round-robin` or `hash`.
    pub algorithm: Option<String>,
    /// `ip-pair` or `five-tuple`.
    pub hash_mode: Option<String>,
    /// 32 hex digits; random per run when absent.
    pub hash_key: Option<String>,
    /// Capacity of each sensor, bytes per second.
    pub capacity: Option<f64>,
    /// Capacity per sensor (overrides `capacity`), bytes per second.
    pub capacities: Option<Vec<f64>>,
    /// Smoothing time constant of the load estimate, seconds.
    pub load_time_constant: Option<f64>,
    /// Directory for `sensor-N.pcap`.
    pub write_dir: Option<PathBuf>,
    /// Where the JSON summary goes (`-` for standard output).
    pub summary: Option<PathBuf>,
}

/// `[flow]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FlowSection {
    /// Most flows tracked at once.
    pub cap: Option<usize>,
    /// Put the outermost VLAN id in the flow key.
    pub vlan_in_key: Option<bool>,
    /// Seconds a fragmented datagram is remembered.
    pub fragment_timeout: Option<f64>,
    /// Most datagrams remembered at once.
    pub fragment_cap: Option<usize>,
    /// Idle timeouts in seconds.
    pub timeouts: Option<FlowTimeouts>,
}

impl ConfigFile {
    /// Read and parse a configuration file; errors name the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "cannot read configuration file {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text).map_err(|e| usage(format!("configuration file {}: {e}", path.display())))
    }

    /// Parse configuration text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults() {
        let text = include_str!("../../../blb.example.toml");
        let cfg = ConfigFile::parse(text).expect("blb.example.toml parses");
        assert_eq!(cfg.flow.timeouts, Some(FlowTimeouts::default()));
        assert_eq!(
            cfg.flow.cap,
            Some(blb_core::EngineConfig::new(1, 1.0).flow_cap)
        );
        assert_eq!(cfg.generate, Some(blb_gen::GenOptions::default()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = ConfigFile::parse("[balance]\nsensorz = 3\n").unwrap_err();
        assert!(err.contains("sensorz"), "{err}");
    }
}
