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
    /// `[blb]`: the BLB balancer.
    pub blb: BlbSection,
    /// `[generate]`: the scenario generator's options, kept as written: `blb generate` reads
    /// them (the daemon does not link the generator).
    pub generate: Option<toml::Table>,
    /// `[live]`: capture from interfaces, endpoints, health.
    pub live: LiveSection,
    /// `[[sensor]]`: one table per sensor, in sensor order (live balancing).
    pub sensor: Vec<SensorSection>,
}

/// `[live]`: live balancing (all optional; defaults in blb.example.toml).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSection {
    /// Interfaces to capture from.
    pub interfaces: Option<Vec<String>>,
    /// `af-packet` (default) or `pcap` (needs the `pcap` build feature).
    pub backend: Option<String>,
    /// BPF filter expression (the `pcap` backend).
    pub filter: Option<String>,
    /// Size of one ring block in bytes (af-packet).
    pub ring_block_size: Option<usize>,
    /// Number of ring blocks (af-packet).
    pub ring_blocks: Option<usize>,
    /// Milliseconds after which the kernel hands over a partly filled block (af-packet).
    pub ring_block_timeout_ms: Option<u32>,
    /// Put the capture interfaces in promiscuous mode.
    pub promiscuous: Option<bool>,
    /// Balancing workers (af-packet): each drains its own ring of every interface.
    pub workers: Option<usize>,
    /// Batches each sensor's queue holds before it drops.
    pub queue_batches: Option<usize>,
    /// Frames per batch.
    pub batch_frames: Option<usize>,
    /// Address of the Prometheus endpoint (a bare port means 127.0.0.1).
    pub metrics: Option<String>,
    /// Address of the control endpoint (a bare port means 127.0.0.1).
    pub control: Option<String>,
    /// The control endpoint's bearer token.
    pub control_token: Option<String>,
    /// A file holding the control token (first line).
    pub control_token_file: Option<PathBuf>,
    /// Consecutive failed sends after which a sensor leaves service.
    pub send_errors_down: Option<u64>,
    /// Seconds after which a sensor out for failed sends is tried again.
    pub retry_after: Option<f64>,
    /// Seconds after which a sensor's load report is stale (the estimate is used).
    pub report_stale_after: Option<f64>,
    /// Seconds without a load report after which a sensor leaves service (0: never).
    pub report_down_after: Option<f64>,
    /// `text` or `json` logs.
    pub log_format: Option<String>,
}

/// `[[sensor]]`: one sensor of live balancing. Exactly one of `interface`, `pcap` and
/// `vxlan` says where its frames go.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SensorSection {
    /// A name for logs and metrics (default `sensor-N`).
    pub name: Option<String>,
    /// Send frames unchanged on this local interface.
    pub interface: Option<String>,
    /// Bypass the interface's queueing discipline (faster; taps on it then see nothing).
    pub qdisc_bypass: Option<bool>,
    /// Write frames to this pcap file, rotated.
    pub pcap: Option<PathBuf>,
    /// Rotate the pcap file after this many bytes.
    pub rotate_bytes: Option<u64>,
    /// Rotate the pcap file after this many seconds.
    pub rotate_seconds: Option<u64>,
    /// Keep at most this many rotated files.
    pub keep: Option<usize>,
    /// Send frames over VXLAN to this address (`host:port`, port 4789 when absent).
    pub vxlan: Option<String>,
    /// VXLAN network identifier.
    pub vni: Option<u32>,
    /// Local address to send VXLAN from.
    pub vxlan_source: Option<String>,
    /// Capacity in bytes per second (default: `[balance] capacity`).
    pub capacity: Option<f64>,
    /// Poll this SNMP v2c agent (`host:port`, port 161 when absent) for hrProcessorLoad.
    pub snmp: Option<String>,
    /// SNMP community.
    pub snmp_community: Option<String>,
    /// Seconds between SNMP polls.
    pub snmp_interval: Option<f64>,
    /// Seconds to wait for an SNMP answer.
    pub snmp_timeout: Option<f64>,
    /// The sensor reports its load on the control endpoint (its absence then counts as
    /// stale, and past `report_down_after`, as down).
    pub push: Option<bool>,
    /// Tail this Suricata EVE log for its `stats` records (kernel drops: overload).
    pub suricata_eve: Option<PathBuf>,
    /// Poll this Suricata unix command socket with `dump-counters` (kernel drops: overload).
    pub suricata_socket: Option<PathBuf>,
    /// Tail this Zeek `capture_loss.log` (`percent_lost`: overload).
    pub zeek_capture_loss: Option<PathBuf>,
    /// Read only the `capture_loss` records of this Zeek peer.
    pub zeek_peer: Option<String>,
    /// Seconds between reads of the loss source.
    pub loss_interval: Option<f64>,
    /// Seconds without a well-formed record after which the loss source is stale.
    pub loss_stale_after: Option<f64>,
    /// Loss in percent at or above which a sample counts toward overload.
    pub loss_enter_percent: Option<f64>,
    /// Loss in percent below which a sample counts toward recovery.
    pub loss_release_percent: Option<f64>,
    /// Samples in a row that turn the sensor overloaded, or back.
    pub loss_samples: Option<u32>,
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
    /// `inner` (default) or `outer`: which headers decide a tunnelled packet's flow.
    pub tunnels: Option<String>,
    /// Seconds a fragmented datagram is remembered.
    pub fragment_timeout: Option<f64>,
    /// Most datagrams remembered at once.
    pub fragment_cap: Option<usize>,
    /// Idle timeouts in seconds.
    pub timeouts: Option<FlowTimeouts>,
    /// Cut each flow after this many bytes.
    pub cutoff_bytes: Option<u64>,
    /// Cut each flow after this many packets.
    pub cutoff_packets: Option<u64>,
}

/// `[blb]`: every setting of the BLB balancer (all optional; defaults in blb.example.toml).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BlbSection {
    /// `robust` (default) or `paper`: the defaults every other key starts from.
    pub variant: Option<String>,
    /// A flow joins a cluster only within this logical distance of its centroid.
    pub join_distance: Option<f64>,
    /// Fraction of the bound kept free when planning.
    pub headroom: Option<f64>,
    /// Plan on the loads measured per second, with their noise (robust: true).
    pub noise: Option<bool>,
    /// Standard deviations of that noise kept under the bound.
    pub noise_sigmas: Option<f64>,
    /// `warm-up` or `on-line`: how BLB starts without a training capture.
    pub start: Option<String>,
    /// `ddos` or `port`: a set of α's and distance values to start from.
    pub alpha_preset: Option<String>,
    /// α_ip.
    pub alpha_ip: Option<f64>,
    /// α_port.
    pub alpha_port: Option<f64>,
    /// α_protocol.
    pub alpha_protocol: Option<f64>,
    /// d_ip for destinations in one subnet.
    pub d_ip_subnet: Option<f64>,
    /// d_port for ports of one service family.
    pub d_port_functional: Option<f64>,
    /// d_port for ports of one administrator group.
    pub d_port_configured: Option<f64>,
    /// IPv4 subnet prefix length.
    pub ipv4_prefix: Option<u8>,
    /// IPv6 subnet prefix length.
    pub ipv6_prefix: Option<u8>,
    /// Extra service port families.
    pub port_families: Option<Vec<Vec<u16>>>,
    /// Administrator port groups.
    pub port_groups: Option<Vec<Vec<u16>>>,
    /// Decay factor λ per second.
    pub lambda: Option<f64>,
    /// `variance` (constraint 4) or `threshold` (constraint 4*).
    pub constraint: Option<String>,
    /// V, %².
    pub variance_bound: Option<f64>,
    /// th_l, %.
    pub load_threshold: Option<f64>,
    /// F.
    pub duplication: Option<usize>,
    /// m_max.
    pub m_max: Option<usize>,
    /// th_w.
    pub th_w: Option<f64>,
    /// Hard cap on clusters.
    pub cluster_cap: Option<usize>,
    /// Seconds between idle-time restarts of a cluster by its packets.
    pub refresh_interval: Option<f64>,
    /// Fixed predicted flow rate L_f in bytes per second (default: the live flows' mean).
    pub flow_rate: Option<f64>,
    /// Training capture for the k-medoids start.
    pub train: Option<PathBuf>,
    /// Flows for the k-medoids start.
    pub train_flows: Option<usize>,
    /// `indexed` or `brute-force`.
    pub search: Option<String>,
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
        // The toml crate's message shows the line with a caret under the fault: keep its lines.
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
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
        assert!(cfg.generate.is_some(), "the example has a [generate] table");
        assert_eq!(
            cfg.flow.tunnels.as_deref(),
            Some(blb_wire::Tunnels::default().name())
        );
        let blb = crate::settings::blb_config(&crate::args::BalanceArgs::default(), &cfg.blb)
            .expect("valid [blb]");
        assert_eq!(blb, blb_core::blb::BlbConfig::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = ConfigFile::parse("[balance]\nsensorz = 3\n").unwrap_err();
        assert!(err.contains("sensorz"), "{err}");
    }
}
