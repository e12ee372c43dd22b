//! Raw command-line flags (first stage of argument handling). Nothing here is validated beyond
//! its type: `settings` turns these, merged with the configuration file, into checked settings.
//! The flags of `blb balance` live in `blb_daemon::args`, beside the settings they feed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use blb_daemon::args::{BalanceArgs, VariantArgs};

/// blb: a benefit-based load balancer for clusters of network intrusion detection sensors.
#[derive(Debug, Parser)]
#[command(name = "blb", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Split a capture file across N sensors, one output capture per sensor.
    Balance(Box<BalanceArgs>),
    /// Generate a traffic scenario as a pcap file.
    Generate(Box<GenerateArgs>),
    /// Run the source-address CUSUM detector over a capture.
    Detect(Box<DetectArgs>),
    /// Reproduce the paper's experiment: detection time and load balance per algorithm.
    Experiment(Box<ExperimentArgs>),
}

/// Flags of `blb detect`.
#[derive(Debug, Args, Default, Clone)]
#[command(allow_negative_numbers = true)]
pub struct DetectArgs {
    /// Capture to watch (`-` for standard input).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: PathBuf,
    /// Capture of normal traffic to learn legitimate source addresses from.
    #[arg(long, value_name = "FILE")]
    pub train: Option<PathBuf>,
    /// Length of a CUSUM interval in seconds.
    #[arg(long, value_name = "SECS")]
    pub interval: Option<f64>,
    /// Normaliser C of X_n = new sources / C.
    #[arg(long, value_name = "C")]
    pub c: Option<f64>,
    /// Drift β of Y_n = max(0, Y_{n-1} + X_n − β).
    #[arg(long, value_name = "B")]
    pub beta: Option<f64>,
    /// Alarm threshold th_y (alarm when Y_n > th_y).
    #[arg(long, value_name = "T")]
    pub threshold: Option<f64>,
    /// Write the CSV here instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
}

/// Flags of `blb experiment`.
#[derive(Debug, Args, Default, Clone)]
#[command(allow_negative_numbers = true)]
pub struct ExperimentArgs {
    /// Scenario: udp-flood (the paper's), syn-flood, port-sweep or port-scan.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Use this capture instead of a generated scenario.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,
    /// Seconds of training (background only) before the attack; with --read, the first SECS of
    /// the capture.
    #[arg(long, value_name = "SECS")]
    pub training: Option<f64>,
    /// Seconds of attack (generated scenarios).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Generator seed.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Number of sensors.
    #[arg(short = 'n', long, value_name = "N")]
    pub sensors: Option<usize>,
    /// Output directory (report.md, report.json, series.csv, figure.png, figure.svg).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Capacity of each sensor in bytes per second.
    #[arg(long, value_name = "BYTES_PER_S")]
    pub capacity: Option<f64>,
    /// BLB's variance bound V.
    #[arg(long, value_name = "V")]
    pub variance_bound: Option<f64>,
    /// BLB's α preset: ddos or port.
    #[arg(long, value_name = "PRESET")]
    pub alpha_preset: Option<String>,
    /// BLB's decay factor λ.
    #[arg(long, value_name = "LAMBDA")]
    pub lambda: Option<f64>,
    /// Time constant of the load estimate, seconds.
    #[arg(long, value_name = "SECS")]
    pub load_time_constant: Option<f64>,
    /// Draw the flood's ports per packet (each packet its own flow).
    #[arg(long)]
    pub ports_per_packet: bool,
    /// Longest span of capture time from the attack's start to the last packet (default
    /// 86400 s: the report keeps a point per second).
    #[arg(long, value_name = "SECS")]
    pub max_span: Option<f64>,
    /// Simulate a tier of N blb nodes behind a broker that hashes each packet's inside
    /// prefix to a node, each node with sensors/N of the sensors (default 1: no tier; see
    /// docs/scale-out.md).
    #[arg(long, value_name = "N")]
    pub nodes: Option<usize>,
    /// With --nodes: the IPv4 prefix length the broker hashes (default 24).
    #[arg(long, value_name = "LEN")]
    pub node_prefix: Option<u8>,
    /// With --nodes: the IPv6 prefix length the broker hashes (default 64).
    #[arg(long, value_name = "LEN")]
    pub node_prefix6: Option<u8>,
    /// With --nodes: what the broker hashes: inside (the prefix of the address in --home-net,
    /// the default) or pair (both addresses' prefixes, ordered).
    #[arg(long, value_name = "KEY")]
    pub node_key: Option<String>,
    /// With --nodes: the variance bound each node's BLB keeps over its own sensors: same (V,
    /// the default) or scaled (V scaled so a node allows the hot sensor the whole cluster
    /// would).
    #[arg(long, value_name = "BOUND")]
    pub node_bound: Option<String>,
    /// With --nodes: a protected network (repeat the flag; default 10.0.0.0/8, 172.16.0.0/12,
    /// 192.168.0.0/16 and fc00::/7).
    #[arg(long = "home-net", value_name = "PREFIX")]
    pub home_net: Vec<String>,
    /// Simulate K live balancing workers in front of the engine: it decides in the order K
    /// fanout rings, drained a 10 ms block at a time, would hand it the packets (default 1).
    #[arg(long, value_name = "K")]
    pub workers: Option<usize>,
    /// BLB's variant and robust BLB's settings.
    #[command(flatten)]
    pub variant: VariantArgs,
    /// Run the detection suite: every scenario with many seeds, five algorithms (single,
    /// round-robin, hash, blb-paper, blb); writes suite.md, suite.json, runs.csv and the figure.
    /// BLB flags tune the column of their variant (with --blb-variant paper, the blb-paper
    /// column; else the blb column).
    #[arg(long)]
    pub suite: bool,
    /// With --suite: seeds per scenario.
    #[arg(long, value_name = "N")]
    pub seeds: Option<u64>,
    /// With --suite: the first seed (default 1).
    #[arg(long, value_name = "S")]
    pub first_seed: Option<u64>,
    /// With --suite: the captures folder whose ddos/ captures are laid over generated
    /// background (default ../shared/pcaps when it exists).
    #[arg(long, value_name = "DIR")]
    pub captures: Option<PathBuf>,
    /// With --suite: only these scenarios (repeat the flag).
    #[arg(long = "only", value_name = "SCENARIO")]
    pub only: Vec<String>,
    /// With --suite: worker threads (default: the cores available).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Flags of `blb generate`.
#[derive(Debug, Args, Default, Clone)]
#[command(allow_negative_numbers = true)]
pub struct GenerateArgs {
    /// Scenario: udp-flood, syn-flood, port-sweep, port-scan, elephant or background.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// Output pcap file (`-` for standard output).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: PathBuf,
    /// Seed of the generator: the same seed gives the same file.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Length of the attack (or of the whole capture for background), in seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Seconds of background-only traffic before the attack starts.
    #[arg(long, value_name = "SECS")]
    pub training: Option<f64>,
    /// Number of attacking hosts (udp-flood).
    #[arg(long, value_name = "N")]
    pub attackers: Option<u64>,
    /// New attacking sources per second (udp-flood).
    #[arg(long, value_name = "N")]
    pub join_rate: Option<f64>,
    /// Attack traffic at the victim, bytes per second (udp-flood).
    #[arg(long, value_name = "BYTES_PER_S")]
    pub attack_rate: Option<f64>,
    /// Frame size of attack packets in bytes (udp-flood).
    #[arg(long, value_name = "BYTES")]
    pub packet_size: Option<u32>,
    /// Draw random ports per packet instead of once per attacker (udp-flood).
    #[arg(long)]
    pub ports_per_packet: bool,
    /// Background packets per second.
    #[arg(long, value_name = "PPS")]
    pub background_rate: Option<f64>,
    /// SYNs per second (syn-flood).
    #[arg(long, value_name = "PPS")]
    pub syn_rate: Option<f64>,
    /// Probes per second (port-sweep).
    #[arg(long, value_name = "PPS")]
    pub sweep_rate: Option<f64>,
    /// The download's rate, bytes per second (elephant).
    #[arg(long, value_name = "BYTES_PER_S")]
    pub elephant_rate: Option<f64>,
    /// TOML configuration file; its `[generate]` table sets any generator option.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}
