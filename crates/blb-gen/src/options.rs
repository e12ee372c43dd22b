//! `GenOptions`: every knob of the generator, its documented default, and validation.

use std::net::Ipv4Addr;

use crate::addr::Ipv4Prefix;
use crate::frame::{MAX_FRAME, MIN_FRAME};
use crate::{GenError, Scenario};

/// Generator options. `Default` gives the documented defaults (the paper's §VII setting for
/// `udp-flood`); in TOML they form a `[generate]` table in which every key is optional and
/// unknown keys are rejected.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenOptions {
    /// PRNG seed; the same seed gives byte-identical output. Default 1.
    pub seed: u64,
    /// Seconds of attack (after the training period). Default 100.
    pub duration_secs: f64,
    /// Seconds of background-only traffic before the attack starts. The capture lasts
    /// `training_secs + duration_secs`. Default 0.
    pub training_secs: f64,
    /// Unix time (seconds) of the capture start, i.e. of the first frame. Default 1 700 000 000.
    pub start_time: u64,
    /// The attacked host (udp-flood, syn-flood), inside the protected network. Default 10.10.10.10.
    pub victim: Ipv4Addr,
    /// The protected network holding the victim and the background clients. Default 10.10.0.0/16.
    pub protected_net: Ipv4Prefix,

    /// udp-flood: distinct attacking hosts (random public addresses). Default 10 000.
    pub attackers: u64,
    /// udp-flood: new attacking sources per second. Default 100.
    pub attacker_join_rate: f64,
    /// udp-flood: aggregate attack rate at the victim, frame bytes per second. Default 1 000 000.
    pub attack_rate_bytes: f64,
    /// udp-flood: frame size of attack packets in bytes (Ethernet header included, no FCS),
    /// 60..=9000. Default 1024.
    pub packet_size: usize,
    /// udp-flood: a second victim, flooded at the same time by a second flood with the same
    /// settings and its own attackers. Default none.
    pub second_victim: Option<Ipv4Addr>,
    /// udp-flood: draw source and destination ports per packet instead of once per attacker.
    /// Default false (each attacker is one 5-tuple flow, as the paper's Fig. 3 needs).
    pub random_ports_per_packet: bool,

    /// Background: regular clients inside `protected_net`. Default 40.
    pub background_clients: u32,
    /// Background: servers on public addresses (about a tenth are DNS resolvers). Default 30.
    pub background_servers: u32,
    /// Background: average packets per second (0 disables background). Default 50.
    pub background_rate: f64,

    /// syn-flood: SYNs per second. Default 1000.
    pub syn_rate: f64,
    /// syn-flood: destination port at the victim. Default 80.
    pub syn_port: u16,

    /// port-sweep: scanning sources. Default 5.
    pub sweep_sources: u32,
    /// port-sweep: the probed TCP port. Default 445.
    pub sweep_port: u16,
    /// port-sweep: the swept network (prefix length 8..=32). Default 10.20.0.0/16.
    pub sweep_prefix: Ipv4Prefix,
    /// port-sweep: probes per second, all sources together. Default 200.
    pub sweep_rate: f64,
    /// port-sweep: fraction of addresses that answer SYN-ACK (live, port open). Default 0.02.
    pub sweep_open_fraction: f64,
    /// port-sweep: fraction of addresses that answer RST (live, port closed). Default 0.08.
    pub sweep_closed_fraction: f64,

    /// port-scan: the scanned host. Default 10.10.10.10.
    pub scan_target: Ipv4Addr,
    /// port-scan: ports 1..=scan_ports are probed, in random order. Default 1000.
    pub scan_ports: u16,
    /// port-scan: probes per second. Default 100.
    pub scan_rate: f64,

    /// elephant: the server the victim downloads from. Default 203.0.113.80.
    pub elephant_server: Ipv4Addr,
    /// elephant: the download's rate, frame bytes per second of the server's segments (the
    /// client's ACKs add 2 %). Default 1 000 000.
    pub elephant_rate_bytes: f64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            seed: 1,
            duration_secs: 100.0,
            training_secs: 0.0,
            start_time: 1_700_000_000,
            victim: Ipv4Addr::new(10, 10, 10, 10),
            protected_net: Ipv4Prefix::new(Ipv4Addr::new(10, 10, 0, 0), 16).expect("valid"),
            attackers: 10_000,
            attacker_join_rate: 100.0,
            attack_rate_bytes: 1_000_000.0,
            packet_size: 1024,
            second_victim: None,
            random_ports_per_packet: false,
            background_clients: 40,
            background_servers: 30,
            background_rate: 50.0,
            syn_rate: 1000.0,
            syn_port: 80,
            sweep_sources: 5,
            sweep_port: 445,
            sweep_prefix: Ipv4Prefix::new(Ipv4Addr::new(10, 20, 0, 0), 16).expect("valid"),
            sweep_rate: 200.0,
            sweep_open_fraction: 0.02,
            sweep_closed_fraction: 0.08,
            scan_target: Ipv4Addr::new(10, 10, 10, 10),
            scan_ports: 1000,
            scan_rate: 100.0,
            elephant_server: Ipv4Addr::new(203, 0, 113, 80),
            elephant_rate_bytes: 1_000_000.0,
        }
    }
}

/// Longest capture accepted (seconds): about 116 days.
const MAX_SECS: f64 = 1e7;
/// Most frames one capture may hold, per rate (attack or background).
pub const MAX_FRAMES: f64 = 1e9;

/// Largest number of udp-flood attackers accepted.
const MAX_ATTACKERS: u64 = 50_000_000;

fn bad(name: &'static str, reason: String) -> GenError {
    GenError::BadOption { name, reason }
}

fn positive_rate(name: &'static str, v: f64) -> Result<(), GenError> {
    if v.is_finite() && v > 0.0 && v <= 1e9 {
        Ok(())
    } else {
        Err(bad(
            name,
            format!("must be a positive number of at most 1e9 per second, got {v}"),
        ))
    }
}

fn fraction(name: &'static str, v: f64) -> Result<(), GenError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(bad(
            name,
            format!("must be a fraction between 0 and 1, got {v}"),
        ))
    }
}

fn port(name: &'static str, v: u16) -> Result<(), GenError> {
    if v == 0 {
        Err(bad(
            name,
            "must be a port between 1 and 65535, got 0".into(),
        ))
    } else {
        Ok(())
    }
}

impl GenOptions {
    /// Checks the options used by `scenario` (and the common ones); the error names the option.
    pub fn validate(&self, scenario: Scenario) -> Result<(), GenError> {
        if !(self.duration_secs.is_finite() && self.duration_secs > 0.0) {
            return Err(bad(
                "duration_secs",
                format!(
                    "must be a positive number of seconds, got {}",
                    self.duration_secs
                ),
            ));
        }
        if !(self.training_secs.is_finite() && self.training_secs >= 0.0) {
            return Err(bad(
                "training_secs",
                format!(
                    "must be zero or a positive number of seconds, got {}",
                    self.training_secs
                ),
            ));
        }
        if self.duration_secs + self.training_secs > MAX_SECS {
            return Err(bad(
                "duration_secs",
                format!(
                    "plus training_secs must be at most {MAX_SECS} seconds, got {}",
                    self.duration_secs + self.training_secs
                ),
            ));
        }
        if self.start_time > 4_000_000_000 {
            return Err(bad(
                "start_time",
                format!(
                    "must be a unix time in seconds before the year 2096, got {}",
                    self.start_time
                ),
            ));
        }
        let net = self.protected_net;
        if !(8..=30).contains(&net.prefix_len()) {
            return Err(bad(
                "protected_net",
                format!("must have a prefix length between 8 and 30, got {net}"),
            ));
        }
        if !(self.background_rate.is_finite() && self.background_rate >= 0.0) {
            return Err(bad(
                "background_rate",
                format!(
                    "must be zero or a positive number of packets per second, got {}",
                    self.background_rate
                ),
            ));
        }
        if self.background_rate > 1e9 {
            return Err(bad(
                "background_rate",
                format!(
                    "must be at most 1e9 packets per second, got {}",
                    self.background_rate
                ),
            ));
        }
        if self.background_rate > 0.0 {
            let room = (1u64 << net.host_bits()) - 4;
            if self.background_clients == 0 || u64::from(self.background_clients) > room {
                return Err(bad(
                    "background_clients",
                    format!(
                        "must be between 1 and {room} (room in {net}) when background_rate > 0, got {}",
                        self.background_clients
                    ),
                ));
            }
            if !(2..=100_000).contains(&self.background_servers) {
                return Err(bad(
                    "background_servers",
                    format!(
                        "must be between 2 and 100000 when background_rate > 0, got {}",
                        self.background_servers
                    ),
                ));
            }
        }
        match scenario {
            Scenario::UdpFlood => self.validate_udp_flood()?,
            Scenario::SynFlood => {
                positive_rate("syn_rate", self.syn_rate)?;
                port("syn_port", self.syn_port)?
            }
            Scenario::PortSweep => self.validate_sweep()?,
            Scenario::PortScan => {
                positive_rate("scan_rate", self.scan_rate)?;
                if self.scan_ports == 0 {
                    return Err(bad(
                        "scan_ports",
                        "must be between 1 and 65535, got 0".into(),
                    ));
                }
            }
            Scenario::Elephant => self.validate_elephant()?,
            Scenario::Background => {}
        }
        self.validate_size(scenario)
    }

    /// The capture stays a capture: at most [`MAX_FRAMES`] frames from the attack's rate and
    /// from the background's, each named by its rate (a rate of 1e9 per second for 100 s
    /// would otherwise write for hours).
    fn validate_size(&self, scenario: Scenario) -> Result<(), GenError> {
        let floods = if self.second_victim.is_some() {
            2.0
        } else {
            1.0
        };
        let (name, rate) = match scenario {
            Scenario::UdpFlood => (
                "attack_rate_bytes",
                floods * self.attack_rate_bytes / self.packet_size as f64,
            ),
            Scenario::SynFlood => ("syn_rate", self.syn_rate),
            // A probe, and at most a reply and the scanner's reset.
            Scenario::PortSweep => ("sweep_rate", 3.0 * self.sweep_rate),
            Scenario::PortScan => ("scan_rate", 3.0 * self.scan_rate),
            // A segment and half an ACK each.
            Scenario::Elephant => (
                "elephant_rate_bytes",
                1.5 * self.elephant_rate_bytes / 1514.0,
            ),
            Scenario::Background => ("background_rate", 0.0),
        };
        for (name, frames) in [
            (name, rate * self.duration_secs),
            (
                "background_rate",
                self.background_rate * (self.duration_secs + self.training_secs),
            ),
        ] {
            if frames > MAX_FRAMES {
                return Err(bad(
                    name,
                    format!(
                        "would make about {frames:.1e} frames over the capture's {} s, more than {MAX_FRAMES:e}: lower the rate or the duration",
                        self.duration_secs + self.training_secs
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_udp_flood(&self) -> Result<(), GenError> {
        if self.attackers == 0 || self.attackers > MAX_ATTACKERS {
            return Err(bad(
                "attackers",
                format!(
                    "must be between 1 and {MAX_ATTACKERS}, got {}",
                    self.attackers
                ),
            ));
        }
        positive_rate("attacker_join_rate", self.attacker_join_rate)?;
        if !(self.attack_rate_bytes.is_finite()
            && self.attack_rate_bytes > 0.0
            && self.attack_rate_bytes <= 1e12)
        {
            return Err(bad(
                "attack_rate_bytes",
                format!(
                    "must be a positive number of bytes per second of at most 1e12, got {}",
                    self.attack_rate_bytes
                ),
            ));
        }
        if !(MIN_FRAME..=MAX_FRAME - 18).contains(&self.packet_size) {
            return Err(bad(
                "packet_size",
                format!(
                    "must be between {MIN_FRAME} and {} frame bytes, got {}",
                    MAX_FRAME - 18,
                    self.packet_size
                ),
            ));
        }
        if self.attack_rate_bytes / self.packet_size as f64 > 1e9 {
            return Err(bad(
                "attack_rate_bytes",
                "divided by packet_size must be at most 1e9 packets per second".into(),
            ));
        }
        if self.second_victim == Some(self.victim) {
            return Err(bad(
                "second_victim",
                format!("must differ from victim ({})", self.victim),
            ));
        }
        Ok(())
    }

    fn validate_elephant(&self) -> Result<(), GenError> {
        let r = self.elephant_rate_bytes;
        if !(r.is_finite() && (1514.0..=1e12).contains(&r)) {
            return Err(bad(
                "elephant_rate_bytes",
                format!(
                    "must be between 1514 (one full segment per second) and 1e12 bytes per second, got {r}"
                ),
            ));
        }
        if self.elephant_server == self.victim {
            return Err(bad(
                "elephant_server",
                format!("must differ from victim ({})", self.victim),
            ));
        }
        Ok(())
    }

    fn validate_sweep(&self) -> Result<(), GenError> {
        if !(1..=1_000_000).contains(&self.sweep_sources) {
            return Err(bad(
                "sweep_sources",
                format!("must be between 1 and 1000000, got {}", self.sweep_sources),
            ));
        }
        port("sweep_port", self.sweep_port)?;
        positive_rate("sweep_rate", self.sweep_rate)?;
        if self.sweep_prefix.prefix_len() < 8 {
            return Err(bad(
                "sweep_prefix",
                format!(
                    "must have a prefix length between 8 and 32, got {}",
                    self.sweep_prefix
                ),
            ));
        }
        fraction("sweep_open_fraction", self.sweep_open_fraction)?;
        fraction("sweep_closed_fraction", self.sweep_closed_fraction)?;
        if self.sweep_open_fraction + self.sweep_closed_fraction > 1.0 {
            return Err(bad(
                "sweep_closed_fraction",
                format!(
                    "plus sweep_open_fraction must be at most 1, got {}",
                    self.sweep_open_fraction + self.sweep_closed_fraction
                ),
            ));
        }
        Ok(())
    }
}
