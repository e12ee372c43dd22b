//! Settings of live balancing (`blb balance --interface`): the `[live]` table and the
//! `[[sensor]]` tables merged with the flags, checked, with one sentence per mistake.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::args::BalanceArgs;
use crate::config::{ConfigFile, SensorSection};
use crate::error::usage;

/// The capture backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// AF_PACKET with a TPACKET_V3 ring (default build).
    AfPacket,
    /// libpcap (feature `pcap`), with BPF filters.
    Pcap,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where one sensor's frames go.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// Sent unchanged on a local interface.
    Interface {
        /// The interface.
        name: String,
        /// Bypass the queueing discipline (faster; taps on the interface itself see nothing).
        qdisc_bypass: bool,
    },
    /// Written to a pcap file, rotated.
    Pcap {
        /// The current file.
        path: PathBuf,
        /// Rotate after this many bytes.
        rotate_bytes: Option<u64>,
        /// Rotate after this many seconds.
        rotate_seconds: Option<u64>,
        /// Keep at most this many rotated files.
        keep: Option<usize>,
    },
    /// Sent over VXLAN.
    Vxlan {
        /// The sensor's VTEP address.
        destination: SocketAddr,
        /// VXLAN network identifier.
        vni: u32,
        /// Local address to send from.
        source: Option<SocketAddr>,
    },
}

/// SNMP polling of one sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct SnmpSpec {
    /// The agent.
    pub agent: SocketAddr,
    /// The community.
    pub community: String,
    /// Time between polls.
    pub interval: Duration,
    /// Time to wait for an answer.
    pub timeout: Duration,
}

/// One sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorSpec {
    /// Name for logs and metrics.
    pub name: String,
    /// Where its frames go.
    pub delivery: Delivery,
    /// SNMP load polling, if any.
    pub snmp: Option<SnmpSpec>,
    /// The sensor pushes its load to the control endpoint.
    pub push: bool,
    /// Its own loss figures (Suricata's drops, Zeek's capture loss), if any.
    pub loss: Option<super::loss_settings::LossSpec>,
}

/// Everything live balancing needs beyond the engine's settings, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveSettings {
    /// Interfaces captured from.
    pub interfaces: Vec<String>,
    /// The capture backend.
    pub backend: Backend,
    /// BPF filter (pcap backend).
    pub filter: Option<String>,
    /// Ring block size in bytes.
    pub ring_block_size: usize,
    /// Ring blocks.
    pub ring_blocks: usize,
    /// Block timeout in milliseconds.
    pub ring_block_timeout_ms: u32,
    /// Promiscuous capture.
    pub promiscuous: bool,
    /// Balancing workers; each has a ring of `ring_blocks / workers` blocks (at least 2) per
    /// interface, in one fanout group per interface.
    pub workers: usize,
    /// Batches per sensor queue.
    pub queue_batches: usize,
    /// Frames per batch.
    pub batch_frames: usize,
    /// Prometheus endpoint.
    pub metrics: Option<SocketAddr>,
    /// Control endpoint.
    pub control: Option<SocketAddr>,
    /// Control token (state changes are refused without one).
    pub control_token: Option<String>,
    /// Consecutive failed sends that take a sensor out of service.
    pub send_errors_down: u64,
    /// Time after which a sensor out for failed sends is tried again.
    pub retry_after: Duration,
    /// Time without a load report after which a reporting sensor leaves service.
    pub report_down_after: Option<Duration>,
    /// Log format.
    pub log_format: LogFormat,
    /// Stop after this long (default: until a signal).
    pub duration: Option<Duration>,
    /// The sensors, in order.
    pub sensors: Vec<SensorSpec>,
}

/// Shortest control token accepted.
const MIN_TOKEN_LEN: usize = 16;

impl LiveSettings {
    /// Merge the flags over `[live]` and `[[sensor]]`; `sensors` is the checked sensor count
    /// and `write_dir` the output directory (for sensors without `[[sensor]]` tables).
    pub fn merge(
        args: &BalanceArgs,
        file: &ConfigFile,
        sensors: usize,
        write_dir: &Path,
    ) -> anyhow::Result<Self> {
        let l = &file.live;
        let interfaces = if args.interfaces.is_empty() {
            l.interfaces.clone().unwrap_or_default()
        } else {
            args.interfaces.clone()
        };
        let backend = match args.backend.as_deref().or(l.backend.as_deref()) {
            None | Some("af-packet") => Backend::AfPacket,
            Some("pcap") => Backend::Pcap,
            Some(other) => {
                return Err(usage(format!(
                    "--backend must be af-packet or pcap, not '{other}'"
                )));
            }
        };
        if backend == Backend::Pcap && !cfg!(feature = "pcap") {
            return Err(usage(
                "--backend pcap needs blb built with the `pcap` feature (cargo build --features pcap)",
            ));
        }
        let filter = args.filter.clone().or_else(|| l.filter.clone());
        if filter.is_some() && backend != Backend::Pcap {
            return Err(usage(
                "--filter needs --backend pcap (BPF filters are compiled by libpcap)",
            ));
        }
        let ring_block_size = l.ring_block_size.unwrap_or(1 << 20);
        if !ring_block_size.is_power_of_two() || ring_block_size < 4096 {
            return Err(usage(format!(
                "[live] ring_block_size must be a power of two of at least 4096 bytes, not {ring_block_size}"
            )));
        }
        if ring_block_size > 1 << 30 {
            return Err(usage(format!(
                "[live] ring_block_size must be at most 1 GiB, not {ring_block_size}"
            )));
        }
        let ring_blocks = l.ring_blocks.unwrap_or(64);
        if !(2..=65_536).contains(&ring_blocks) || ring_blocks * ring_block_size > 1 << 36 {
            return Err(usage(format!(
                "[live] ring_blocks must be between 2 and 65536, and the ring at most 64 GiB, not {ring_blocks} blocks of {ring_block_size} bytes"
            )));
        }
        let workers = workers(args.workers.or(l.workers), backend)?;
        let queue_batches = l.queue_batches.unwrap_or(32);
        let batch_frames = l.batch_frames.unwrap_or(256);
        if !(1..=65_536).contains(&queue_batches) || !(1..=65_536).contains(&batch_frames) {
            return Err(usage(
                "[live] queue_batches and batch_frames must be between 1 and 65536",
            ));
        }
        let metrics = match args.metrics.as_deref().or(l.metrics.as_deref()) {
            Some(a) => Some(endpoint("--metrics", a)?),
            None => None,
        };
        let control = match args.control.as_deref().or(l.control.as_deref()) {
            Some(a) => Some(endpoint("--control", a)?),
            None => None,
        };
        let control_token = match (&l.control_token, &l.control_token_file) {
            (Some(_), Some(_)) => {
                return Err(usage(
                    "[live] has both control_token and control_token_file; keep one",
                ));
            }
            (Some(t), None) => Some(t.trim().to_string()),
            (None, Some(path)) => Some(read_token(path)?),
            (None, None) => None,
        };
        if let Some(t) = &control_token
            && (t.len() < MIN_TOKEN_LEN || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(usage(format!(
                "[live] control_token must be at least {MIN_TOKEN_LEN} characters without spaces"
            )));
        }
        let send_errors_down = l.send_errors_down.unwrap_or(16);
        if send_errors_down == 0 {
            return Err(usage("[live] send_errors_down must be at least 1"));
        }
        let retry_after = duration("[live] retry_after", l.retry_after.unwrap_or(5.0))?;
        let report_down_after = match l.report_down_after.unwrap_or(60.0) {
            0.0 => None,
            s => Some(duration("[live] report_down_after", s)?),
        };
        let log_format = match args.log_format.as_deref().or(l.log_format.as_deref()) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(usage(format!(
                    "--log-format must be text or json, not '{other}'"
                )));
            }
        };
        let duration = match args.duration {
            Some(s) => Some(self::duration("--duration", s)?),
            None => None,
        };
        let sensors = if file.sensor.is_empty() {
            if write_dir.as_os_str().is_empty() {
                return Err(usage(
                    "live capture needs [[sensor]] tables in the configuration, or --write-dir DIR for one pcap file per sensor",
                ));
            }
            (0..sensors)
                .map(|i| SensorSpec {
                    name: format!("sensor-{i}"),
                    delivery: Delivery::Pcap {
                        path: write_dir.join(format!("sensor-{i}.pcap")),
                        rotate_bytes: None,
                        rotate_seconds: None,
                        keep: None,
                    },
                    snmp: None,
                    push: false,
                    loss: None,
                })
                .collect()
        } else {
            // Reports of a loss source must come more often than they go stale.
            let report_stale_after = l
                .report_stale_after
                .unwrap_or(blb_core::EngineConfig::new(1, 1.0).report_stale_after as f64 / 1e9);
            file.sensor
                .iter()
                .enumerate()
                .map(|(i, s)| sensor(i, s, report_stale_after))
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let mut names = std::collections::HashSet::new();
        if let Some(dup) = sensors.iter().find(|s| !names.insert(s.name.as_str())) {
            return Err(usage(format!(
                "two sensors are named '{}'; names must differ",
                dup.name
            )));
        }
        if let Some(s) = sensors.iter().find(|s| s.push)
            && (control.is_none() || control_token.is_none())
        {
            return Err(usage(format!(
                "sensor '{}' pushes its load (push = true), which needs the control endpoint (--control or [live] control) and a control_token",
                s.name
            )));
        }
        for s in &sensors {
            if let Delivery::Interface { name: i, .. } = &s.delivery
                && interfaces.contains(i)
            {
                return Err(usage(format!(
                    "sensor '{}' delivers to {i}, which is also a capture interface (a loop)",
                    s.name
                )));
            }
        }
        Ok(LiveSettings {
            interfaces,
            backend,
            filter,
            ring_block_size,
            ring_blocks,
            ring_block_timeout_ms: l.ring_block_timeout_ms.unwrap_or(10),
            promiscuous: l.promiscuous.unwrap_or(true),
            workers,
            queue_batches,
            batch_frames,
            metrics,
            control,
            control_token,
            send_errors_down,
            retry_after,
            report_down_after,
            log_format,
            duration,
            sensors,
        })
    }
}

/// Most workers by default: beyond that, the one engine they share is the limit (see the
/// README's "Several workers").
pub const DEFAULT_MAX_WORKERS: usize = 2;
/// Most workers accepted.
pub const MAX_WORKERS: usize = 64;

/// `--workers` or `[live] workers`, checked; by default the cores available, at most
/// [`DEFAULT_MAX_WORKERS`] (libpcap has no fanout: 1).
fn workers(asked: Option<usize>, backend: Backend) -> anyhow::Result<usize> {
    match asked {
        Some(k) if !(1..=MAX_WORKERS).contains(&k) => Err(usage(format!(
            "--workers (or [live] workers) must be between 1 and {MAX_WORKERS}, not {k}"
        ))),
        Some(k) if k > 1 && backend == Backend::Pcap => Err(usage(
            "--workers above 1 needs --backend af-packet (libpcap cannot share an interface between rings)",
        )),
        Some(k) => Ok(k),
        None if backend == Backend::Pcap => Ok(1),
        None => Ok(std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(DEFAULT_MAX_WORKERS)),
    }
}

/// One `[[sensor]]` table.
fn sensor(i: usize, s: &SensorSection, report_stale_after: f64) -> anyhow::Result<SensorSpec> {
    let name = s.name.clone().unwrap_or_else(|| format!("sensor-{i}"));
    let at = format!("[[sensor]] {} ('{name}')", i + 1);
    let kinds = [s.interface.is_some(), s.pcap.is_some(), s.vxlan.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(usage(format!(
            "{at} needs exactly one of interface, pcap and vxlan"
        )));
    }
    let pcap_only = s.rotate_bytes.is_some() || s.rotate_seconds.is_some() || s.keep.is_some();
    if pcap_only && s.pcap.is_none() {
        return Err(usage(format!(
            "{at}: rotate_bytes, rotate_seconds and keep apply to pcap delivery only"
        )));
    }
    if (s.vni.is_some() || s.vxlan_source.is_some()) && s.vxlan.is_none() {
        return Err(usage(format!(
            "{at}: vni and vxlan_source apply to vxlan delivery only"
        )));
    }
    if s.qdisc_bypass.is_some() && s.interface.is_none() {
        return Err(usage(format!(
            "{at}: qdisc_bypass applies to interface delivery only"
        )));
    }
    let delivery = if let Some(i) = &s.interface {
        Delivery::Interface {
            name: i.clone(),
            qdisc_bypass: s.qdisc_bypass.unwrap_or(false),
        }
    } else if let Some(path) = &s.pcap {
        if s.rotate_bytes == Some(0) || s.rotate_seconds == Some(0) || s.keep == Some(0) {
            return Err(usage(format!(
                "{at}: rotate_bytes, rotate_seconds and keep must be at least 1"
            )));
        }
        Delivery::Pcap {
            path: path.clone(),
            rotate_bytes: s.rotate_bytes,
            rotate_seconds: s.rotate_seconds,
            keep: s.keep,
        }
    } else {
        let dest = s.vxlan.as_deref().unwrap_or_default();
        let vni = s.vni.unwrap_or(0);
        if vni >= 1 << 24 {
            return Err(usage(format!(
                "{at}: vni must be below 16777216 (24 bits), not {vni}"
            )));
        }
        let source = match &s.vxlan_source {
            Some(a) => Some(address(&format!("{at} vxlan_source"), a, 0)?),
            None => None,
        };
        Delivery::Vxlan {
            destination: address(&format!("{at} vxlan"), dest, 4789)?,
            vni,
            source,
        }
    };
    if let Some(c) = s.capacity
        && !(c.is_finite() && c > 0.0)
    {
        return Err(usage(format!(
            "{at}: capacity must be a positive number of bytes per second, not {c}"
        )));
    }
    let snmp = match &s.snmp {
        Some(agent) => Some(SnmpSpec {
            agent: address(&format!("{at} snmp"), agent, 161)?,
            community: s.snmp_community.clone().unwrap_or_else(|| "public".into()),
            interval: duration(
                &format!("{at} snmp_interval"),
                s.snmp_interval.unwrap_or(5.0),
            )?,
            timeout: duration(&format!("{at} snmp_timeout"), s.snmp_timeout.unwrap_or(1.0))?,
        }),
        None => {
            if s.snmp_community.is_some() || s.snmp_interval.is_some() || s.snmp_timeout.is_some() {
                return Err(usage(format!(
                    "{at}: snmp_community, snmp_interval and snmp_timeout need snmp = \"host:port\""
                )));
            }
            None
        }
    };
    let loss = super::loss_settings::loss(&at, s, report_stale_after)?;
    Ok(SensorSpec {
        name,
        delivery,
        snmp,
        push: s.push.unwrap_or(false),
        loss,
    })
}

/// An endpoint address: `host:port`, or a bare port on 127.0.0.1.
fn endpoint(what: &str, s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(port) = s.trim().parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    address(what, s, 0)
}

/// `host:port` (or `host` with `default_port`), resolved to its first address.
fn address(what: &str, s: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let with_port = if s.contains(':') {
        s.to_string()
    } else {
        format!("{s}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| usage(format!("{what}: '{s}' is not an address (host:port)")))
}

pub(super) fn duration(what: &str, secs: f64) -> anyhow::Result<Duration> {
    if !(secs.is_finite() && (1e-9..1e9).contains(&secs)) {
        return Err(usage(format!(
            "{what} must be a number of seconds from 1e-9 (one nanosecond) up to 1e9, not {}",
            crate::names::num(secs)
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The first line of the token file; at most 4 KiB are read, so a misnamed device or a
/// huge file cannot hold the start up.
fn read_token(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        usage(format!(
            "cannot read control_token_file {}: {e}",
            path.display()
        ))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(4096)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
