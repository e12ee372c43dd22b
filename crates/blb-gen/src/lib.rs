//! Deterministic traffic scenario generator for `blb`: attack scenarios plus background.
//!
//! [`generate`] streams complete Ethernet II frames (LINKTYPE_ETHERNET) with non-decreasing
//! timestamps into a [`FrameSink`]. The output depends only on the [`Scenario`] and the
//! [`GenOptions`] (including the seed): the same inputs give byte-identical frames on every
//! platform, because the generator uses its own PRNG and float helpers ([`rng`]).
//!
//! Scenarios (see the module docs under [`scenario`] for details):
//!
//! * `udp-flood` — the evaluation of Le, Al-Shaer & Boutaba (2008) §VII: about 10 000 distinct
//!   attacking hosts join at about 100 per second and flood one victim with 1 KB UDP frames at a
//!   constant aggregate 1 MB/s, over light background traffic; with `second_victim`, a second
//!   flood like it on another host at the same time.
//! * `syn-flood` — TCP SYNs from a fresh spoofed source address and port each, to one port of
//!   the victim.
//! * `port-sweep` — a few sources probe one TCP port across a /16, each walking its own random
//!   order of the addresses; a few targets answer SYN-ACK, some RST, most nothing.
//! * `port-scan` — one source probes ports 1..=N of one host in random order; open ports answer
//!   SYN-ACK (and the scanner resets), closed ones RST.
//! * `elephant` — one bulk TCP download to the victim that carries most of the bytes (the
//!   traffic a per-flow cutoff or a sensor's bypass is for).
//! * `background` — only the regular client/server traffic that the other scenarios run on top
//!   of: TCP connections (handshake, data and ACKs both ways, FIN or RST teardown) and DNS, with
//!   heavy-tailed flow sizes and Poisson flow arrivals.
//!
//! Every scenario has a training period of `training_secs` seconds of background only before the
//! attack starts; the capture lasts `training_secs + duration_secs`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod frame;
mod merge;
mod options;
pub mod rng;
pub mod scenario;

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

pub use addr::Ipv4Prefix;
pub use options::GenOptions;

use frame::FrameBuf;

/// Receives generated frames in non-decreasing timestamp order.
pub trait FrameSink {
    /// One complete Ethernet II frame (no FCS) captured at `ts_nanos` (unix time, nanoseconds).
    fn frame(&mut self, ts_nanos: u64, frame: &[u8]) -> std::io::Result<()>;

    /// One frame, told whether it belongs to the attack (the attackers' frames and the
    /// targets' replies) rather than to the background. The default forgets which.
    fn tagged_frame(&mut self, ts_nanos: u64, frame: &[u8], attack: bool) -> std::io::Result<()> {
        let _ = attack;
        self.frame(ts_nanos, frame)
    }
}

impl FrameSink for Vec<(u64, Vec<u8>)> {
    fn frame(&mut self, ts_nanos: u64, frame: &[u8]) -> std::io::Result<()> {
        self.push((ts_nanos, frame.to_vec()));
        Ok(())
    }
}

/// A sink that discards frames (for measuring generation speed; the report still counts them).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl FrameSink for NullSink {
    fn frame(&mut self, _ts_nanos: u64, _frame: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

/// A sink calling a closure for every frame.
pub struct FnSink<F>(pub F);

impl<F: FnMut(u64, &[u8]) -> std::io::Result<()>> FrameSink for FnSink<F> {
    fn frame(&mut self, ts_nanos: u64, frame: &[u8]) -> std::io::Result<()> {
        (self.0)(ts_nanos, frame)
    }
}

/// The traffic scenarios the generator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Distributed UDP flood with attackers joining over time (the paper's §VII).
    UdpFlood,
    /// TCP SYN flood from spoofed random sources.
    SynFlood,
    /// One TCP port probed across a /16 by a few sources.
    PortSweep,
    /// Many ports of one host probed by one source.
    PortScan,
    /// One bulk TCP download carrying most of the bytes.
    Elephant,
    /// Regular client/server traffic only.
    Background,
}

impl Scenario {
    /// All scenarios, in documentation order.
    pub const ALL: [Scenario; 6] = [
        Scenario::UdpFlood,
        Scenario::SynFlood,
        Scenario::PortSweep,
        Scenario::PortScan,
        Scenario::Elephant,
        Scenario::Background,
    ];

    /// The scenario's command-line name, e.g. `udp-flood`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::UdpFlood => "udp-flood",
            Scenario::SynFlood => "syn-flood",
            Scenario::PortSweep => "port-sweep",
            Scenario::PortScan => "port-scan",
            Scenario::Elephant => "elephant",
            Scenario::Background => "background",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown scenario {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What [`generate`] produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GenReport {
    /// The scenario generated.
    pub scenario: Scenario,
    /// Frames written.
    pub packets: u64,
    /// Frame bytes written (without FCS).
    pub bytes: u64,
    /// Configured length of the capture: `training_secs + duration_secs`.
    pub duration_secs: f64,
    /// Timestamp of the first frame (unix nanoseconds), if any.
    pub first_ts_nanos: Option<u64>,
    /// Timestamp of the last frame (unix nanoseconds), if any.
    pub last_ts_nanos: Option<u64>,
    /// Frames of the attack scenario (including replies from its targets).
    pub attack_packets: u64,
    /// Bytes of the attack scenario's frames.
    pub attack_bytes: u64,
    /// Frames of the background traffic.
    pub background_packets: u64,
    /// Bytes of the background traffic.
    pub background_bytes: u64,
    /// Attacking source addresses that sent at least one frame (udp-flood: distinct attackers;
    /// syn-flood: spoofed SYNs, each with a freshly drawn address; port-sweep: sweepers;
    /// port-scan: 1; elephant: 1, the server; background: 0).
    pub attack_sources: u64,
    /// The attacked host (udp-flood, syn-flood: the victim; port-scan: the scan target;
    /// elephant: the downloading client).
    pub victim: Option<Ipv4Addr>,
    /// When the attack starts, in seconds after the capture start (`= training_secs`).
    pub attack_start_secs: f64,
    /// Time of the last attack frame, in seconds after the capture start (`None` without one).
    pub attack_end_secs: Option<f64>,
}

/// Errors of [`generate`].
#[derive(thiserror::Error, Debug)]
pub enum GenError {
    /// Writing to the sink failed.
    #[error("writing generated frames failed: {0}")]
    Io(#[from] std::io::Error),
    /// An option is out of range.
    #[error("invalid option `{name}`: {reason}")]
    BadOption {
        /// The option's field name in [`GenOptions`].
        name: &'static str,
        /// What is wrong with it, as a sentence fragment ("must be ..., got ...").
        reason: String,
    },
}

pub(crate) fn secs_to_ns(s: f64) -> u64 {
    (s * 1e9).round() as u64
}

/// Generates `scenario` with `opts` into `sink` and reports what was generated.
pub fn generate(
    scenario: Scenario,
    opts: &GenOptions,
    sink: &mut dyn FrameSink,
) -> Result<GenReport, GenError> {
    opts.validate(scenario)?;
    let start_ns = secs_to_ns(opts.training_secs);
    let end_ns = secs_to_ns(opts.training_secs + opts.duration_secs);
    let base_ns = opts.start_time * 1_000_000_000;
    let mut fb = FrameBuf::new();
    let mut bg = scenario::background::Background::new(opts, end_ns);

    let (counts, sources, victim) = match scenario {
        Scenario::UdpFlood => {
            use scenario::udp_flood::{Flood, UdpFlood};
            let mut a = UdpFlood::new(opts, Flood::First, start_ns, end_ns);
            match opts.second_victim {
                None => {
                    let c = merge::run(&mut [&mut a, &mut bg], 1, &mut fb, sink, base_ns)?;
                    (c, a.sources_sent(), Some(opts.victim))
                }
                Some(v) => {
                    let mut b = UdpFlood::new(opts, Flood::Second(v), start_ns, end_ns);
                    let mut both = merge::Pair::new(&mut a, &mut b);
                    let c = merge::run(&mut [&mut both, &mut bg], 1, &mut fb, sink, base_ns)?;
                    (c, a.sources_sent() + b.sources_sent(), Some(opts.victim))
                }
            }
        }
        Scenario::SynFlood => {
            let mut a = scenario::syn_flood::SynFlood::new(opts, start_ns, end_ns);
            let c = merge::run(&mut [&mut a, &mut bg], 1, &mut fb, sink, base_ns)?;
            (c, a.sources_sent(), Some(opts.victim))
        }
        Scenario::PortSweep => {
            let mut a = scenario::port_sweep::PortSweep::new(opts, start_ns, end_ns);
            let c = merge::run(&mut [&mut a, &mut bg], 1, &mut fb, sink, base_ns)?;
            (c, a.sources_sent(), None)
        }
        Scenario::PortScan => {
            let mut a = scenario::port_scan::PortScan::new(opts, start_ns, end_ns);
            let c = merge::run(&mut [&mut a, &mut bg], 1, &mut fb, sink, base_ns)?;
            (c, a.sources_sent(), Some(opts.scan_target))
        }
        Scenario::Elephant => {
            let mut a = scenario::elephant::Elephant::new(opts, start_ns, end_ns);
            let c = merge::run(&mut [&mut a, &mut bg], 1, &mut fb, sink, base_ns)?;
            (c, 1, Some(opts.victim))
        }
        Scenario::Background => {
            let mut none = scenario::Empty;
            let c = merge::run(&mut [&mut none, &mut bg], 1, &mut fb, sink, base_ns)?;
            (c, 0, None)
        }
    };
    let (a, b) = (counts[0], counts[1]);
    let first = [a.first_ns, b.first_ns].into_iter().flatten().min();
    let last = [a.last_ns, b.last_ns].into_iter().flatten().max();
    Ok(GenReport {
        scenario,
        packets: a.packets + b.packets,
        bytes: a.bytes + b.bytes,
        duration_secs: opts.training_secs + opts.duration_secs,
        first_ts_nanos: first.map(|t| base_ns + t),
        last_ts_nanos: last.map(|t| base_ns + t),
        attack_packets: a.packets,
        attack_bytes: a.bytes,
        background_packets: b.packets,
        background_bytes: b.bytes,
        attack_sources: sources,
        victim,
        attack_start_secs: opts.training_secs,
        attack_end_secs: a.last_ns.map(|t| t as f64 / 1e9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.to_string().parse::<Scenario>().unwrap(), s);
        }
        let e = "udp".parse::<Scenario>().unwrap_err();
        assert!(e.contains("udp-flood"), "{e}");
    }
}
