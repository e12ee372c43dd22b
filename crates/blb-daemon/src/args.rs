//! Raw flags of `blb balance` (and BLB's variant flags, shared with `blb experiment`): clap
//! structures, validated by `settings` after merging with the configuration file.

use std::path::PathBuf;

use clap::Args;

/// Flags of `blb balance`.
#[derive(Debug, Args, Default, Clone)]
#[command(allow_negative_numbers = true)]
pub struct BalanceArgs {
    /// Capture file to read (pcap or pcapng); `-` reads standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,
    /// Capture live from this interface instead of reading a file (repeat for several).
    /// Sensors then come from the configuration's `[[sensor]]` tables, or are pcap files in
    /// --write-dir.
    #[arg(short = 'i', long = "interface", value_name = "IF")]
    pub interfaces: Vec<String>,
    /// Live capture backend: af-packet (TPACKET_V3, default) or pcap (libpcap, needs the
    /// `pcap` build feature).
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// BPF filter expression as tcpdump takes it (live capture with the pcap backend).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Serve Prometheus metrics on ADDR (a bare port means 127.0.0.1:PORT).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Serve the control endpoint on ADDR (a bare port means 127.0.0.1:PORT).
    #[arg(long, value_name = "ADDR")]
    pub control: Option<String>,
    /// Log format of live balancing: text or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Stop live balancing after SECS seconds (default: run until SIGINT or SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Balancing workers, each draining its own capture ring of every interface (a
    /// PACKET_FANOUT group); default: the cores available, at most 2 (1 with --backend pcap).
    #[arg(long, value_name = "K")]
    pub workers: Option<usize>,
    /// Number of sensors (1 to 64).
    #[arg(short = 'n', long, value_name = "N")]
    pub sensors: Option<usize>,
    /// Balancing algorithm: single, round-robin, hash or blb.
    #[arg(short = 'a', long, value_name = "ALGORITHM")]
    pub algorithm: Option<String>,
    /// Directory that receives sensor-0.pcap .. sensor-{N-1}.pcap.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub write_dir: Option<PathBuf>,
    /// What the hash balancer hashes: ip-pair or five-tuple.
    #[arg(long, value_name = "MODE")]
    pub hash_mode: Option<String>,
    /// SipHash key, 32 hexadecimal digits (default: a random key per run).
    #[arg(long, value_name = "HEX")]
    pub hash_key: Option<String>,
    /// Capacity of each sensor in bytes per second (load = 100 × rate / capacity).
    #[arg(long, value_name = "BYTES_PER_S")]
    pub capacity: Option<f64>,
    /// Write the JSON summary to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// TOML configuration file with every setting (see blb.example.toml); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Most flows tracked at once (evictions beyond are counted).
    #[arg(long, value_name = "N")]
    pub flow_cap: Option<usize>,
    /// Make the outermost VLAN id part of the flow key.
    #[arg(long)]
    pub vlan_in_key: bool,
    /// Cut each flow after this many bytes (both directions; later packets are counted as
    /// flow_cutoff, TCP FIN and RST still go). Off by default.
    #[arg(long, value_name = "BYTES")]
    pub flow_cutoff_bytes: Option<u64>,
    /// Cut each flow after this many packets. Off by default.
    #[arg(long, value_name = "N")]
    pub flow_cutoff_packets: Option<u64>,
    /// Which headers decide a tunnelled packet's flow: inner (the default: the innermost
    /// headers, inside GRE, ERSPAN, VXLAN, Geneve, GTP-U, IP in IP, Teredo and L2TPv2) or
    /// outer (the outermost headers; tunnels are not looked into).
    #[arg(long, value_name = "inner|outer")]
    pub tunnels: Option<String>,
    /// Smoothing time constant of the load estimate, in seconds.
    #[arg(long, value_name = "SECS")]
    pub load_time_constant: Option<f64>,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Check the configuration and flags, print the sensors they give, and exit (0 when
    /// they are valid, 2 when not) without capturing, reading or writing anything; only the
    /// control token file is read.
    #[arg(long)]
    pub check_config: bool,
    /// BLB: variance bound V on sensor load (%²), constraint (4).
    #[arg(long, value_name = "V")]
    pub variance_bound: Option<f64>,
    /// BLB: use the threshold constraint (4*) with this load threshold th_l (%) instead of V.
    #[arg(long, value_name = "PERCENT")]
    pub load_threshold: Option<f64>,
    /// BLB: duplication F, the most sensors one flow is copied to.
    #[arg(long, value_name = "F")]
    pub duplication: Option<usize>,
    /// BLB: decay factor λ (> 1) of cluster weights per second.
    #[arg(long, value_name = "LAMBDA")]
    pub lambda: Option<f64>,
    /// BLB: α's and distances to start from: ddos (α_ip 0.6) or port (α_port 0.6).
    #[arg(long, value_name = "PRESET")]
    pub alpha_preset: Option<String>,
    /// BLB: weight α_ip of the IP correlation.
    #[arg(long, value_name = "A")]
    pub alpha_ip: Option<f64>,
    /// BLB: weight α_port of the destination-port correlation.
    #[arg(long, value_name = "A")]
    pub alpha_port: Option<f64>,
    /// BLB: weight α_protocol of the protocol correlation.
    #[arg(long, value_name = "A")]
    pub alpha_protocol: Option<f64>,
    /// BLB: m_max, the cluster count above which light clusters are deleted.
    #[arg(long, value_name = "N")]
    pub m_max: Option<usize>,
    /// BLB: th_w, the weight under which clusters are deleted above m_max.
    #[arg(long, value_name = "W")]
    pub th_w: Option<f64>,
    /// BLB: hard cap on clusters (lightest evicted first, counted).
    #[arg(long, value_name = "N")]
    pub cluster_cap: Option<usize>,
    /// BLB: fixed predicted flow rate L_f, bytes per second (default: the live flows' mean).
    #[arg(long, value_name = "BYTES_PER_S")]
    pub flow_rate: Option<f64>,
    /// BLB: training capture for the k-medoids start (default: the input's first flows).
    #[arg(long, value_name = "FILE")]
    pub train: Option<PathBuf>,
    /// BLB: number of flows for the k-medoids start (0: no start clusters).
    #[arg(long, value_name = "N")]
    pub train_flows: Option<usize>,
    /// BLB: search used by solve_p: indexed or brute-force (the reference scan).
    #[arg(long, value_name = "MODE")]
    pub search: Option<String>,
    /// BLB's variant and robust BLB's settings.
    #[command(flatten)]
    pub variant: VariantArgs,
}

/// BLB's variant and the settings robust BLB adds (flags of `balance` and `experiment`).
#[derive(Debug, Args, Default, Clone)]
pub struct VariantArgs {
    /// BLB variant: robust (the default) or paper (the algorithm as the paper writes it).
    #[arg(long, value_name = "VARIANT")]
    pub blb_variant: Option<String>,
    /// BLB: a flow joins a cluster only within this logical distance of its centroid, above 0
    /// and at most 1 (robust: 0.5; paper: 1).
    #[arg(long, value_name = "D")]
    pub join_distance: Option<f64>,
    /// BLB: fraction of the bound kept free when planning, from 0 up to 1 (robust: 0.03).
    #[arg(long, value_name = "FRACTION")]
    pub headroom: Option<f64>,
    /// BLB: standard deviations of the per-second load noise kept under the bound (robust: 2).
    #[arg(long, value_name = "SIGMAS")]
    pub noise_sigmas: Option<f64>,
    /// BLB: plan on the smoothed loads alone, ignoring the per-second noise (the paper's way).
    #[arg(long)]
    pub no_noise: bool,
    /// BLB: how it starts without a training capture: warm-up (k-medoids over the input's
    /// first flows; the paper) or on-line (robust).
    #[arg(long, value_name = "START")]
    pub start: Option<String>,
}
