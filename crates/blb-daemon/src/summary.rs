//! The run summary: JSON for scripts (`--summary FILE|-`) and a short text for people.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use blb_core::Engine;
use blb_core::flow_table::FlowTableStats;
use blb_core::stats::DropReason;
use serde::Serialize;

/// One sensor's share.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SensorSummary {
    /// Sensor index.
    pub sensor: usize,
    /// Its output.
    pub output: String,
    /// Packets delivered.
    pub packets: u64,
    /// Captured bytes delivered.
    pub bytes: u64,
    /// Flows the balancer assigned to this sensor.
    pub flows: u64,
}

/// The per-flow cutoff in force.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FlowCutoffSummary {
    /// Bytes after which a flow is cut (`null`: none).
    pub after_bytes: Option<u64>,
    /// Packets after which a flow is cut (`null`: none).
    pub after_packets: Option<u64>,
    /// Flows that reached the cutoff.
    pub flows: u64,
    /// Captured bytes of the packets cut.
    pub bytes_cut: u64,
}

/// Fragment handling.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FragmentSummary {
    /// Packets that were IP fragments.
    pub packets: u64,
    /// Datagrams tracked.
    pub datagrams: u64,
    /// Non-first fragments seen before their first fragment.
    pub out_of_order: u64,
    /// First fragments copied to two sensors to keep both their flow and datagram whole.
    pub flow_conflicts: u64,
    /// Datagrams forgotten because the fragment table was full.
    pub evicted: u64,
    /// Non-first fragments held until their first fragment arrived, so the whole datagram
    /// went where its flow goes.
    pub held: u64,
    /// Held datagrams whose first fragment did not come within the hold's time limit (or
    /// before the end): placed by the 3-tuple fallback.
    pub hold_expired: u64,
    /// Held datagrams placed by the 3-tuple fallback early, to keep the hold within its cap.
    pub hold_overflowed: u64,
}

/// Tunnelled packets.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TunnelSummary {
    /// `inner` (flows by the innermost headers) or `outer` (tunnels not looked into: every
    /// count below is 0).
    pub mode: String,
    /// Packets balanced on headers inside at least one tunnel.
    pub packets: u64,
    /// Per kind (every kind listed): packets that went through at least one tunnel of that
    /// kind.
    pub by_kind: BTreeMap<String, u64>,
    /// The most tunnel levels entered.
    pub max_depth: usize,
    /// Packets with a tunnel nested deeper than `max_depth`, balanced on the last headers read.
    pub depth_limited: u64,
    /// Packets whose tunnel header, or the headers it carried, were truncated or invalid,
    /// balanced on the headers around it.
    pub malformed: u64,
    /// First fragments of fragmented outer datagrams balanced on their inner headers (the
    /// datagram's later fragments follow them).
    pub fragmented_outer: u64,
}

impl TunnelSummary {
    fn new(mode: blb_wire::Tunnels, t: &blb_core::tunnel::TunnelStats) -> Self {
        TunnelSummary {
            mode: mode.name().to_string(),
            packets: t.packets,
            by_kind: t.by_name().map(|(k, v)| (k.to_string(), v)).collect(),
            max_depth: blb_core::tunnel::MAX_TUNNEL_DEPTH,
            depth_limited: t.depth_limited,
            malformed: t.malformed,
            fragmented_outer: t.fragmented_outer,
        }
    }

    /// One line for a person, when there is something to say.
    fn text(&self) -> Option<String> {
        if self.mode != "inner" {
            return Some("tunnels: not looked into (outer headers decide)\n".to_string());
        }
        if self.packets == 0 && self.depth_limited == 0 && self.malformed == 0 {
            return None;
        }
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        Some(format!(
            "tunnelled {} ({}), balanced on inner headers; fragmented outer datagrams {}, nested past {} levels {}, malformed {}\n",
            self.packets,
            kinds.join(", "),
            self.fragmented_outer,
            self.max_depth,
            self.depth_limited,
            self.malformed
        ))
    }
}

/// Load statistics.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LoadSummary {
    /// Capacity of each sensor, bytes per second.
    pub capacity_bytes_per_sec: Vec<f64>,
    /// Seconds that carried traffic (every one of the run, however few samples are kept).
    pub seconds: usize,
    /// Mean over seconds of the per-second variance of sensor load (%²).
    pub variance_mean: f64,
    /// Highest per-second variance of sensor load (%²).
    pub variance_max: f64,
    /// Highest per-second load of any sensor (% of its capacity).
    pub max_load: f64,
    /// The variance bound V the next two figures use (BLB's, or the paper's 9).
    pub variance_bound: f64,
    /// Seconds whose variance was above V.
    pub seconds_over_bound: usize,
    /// Fraction of seconds whose variance was above V.
    pub fraction_over_bound: f64,
}

/// How many sensors the flows to each busy destination reached.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DestinationSummary {
    /// Destinations counted: those with at least this many flows.
    pub min_flows: u64,
    /// Number of such destinations.
    pub count: usize,
    /// Mean number of sensors their flows reached.
    pub sensors_mean: f64,
    /// Most sensors the flows to one of them reached.
    pub sensors_max: usize,
    /// The busiest ones (at most ten): address, flows, sensors reached.
    pub top: Vec<(String, u64, usize)>,
    /// Flows to destinations beyond the tracking cap (not counted above).
    pub untracked_flows: u64,
}

/// Destinations with at least this many flows are reported.
pub const MIN_DESTINATION_FLOWS: u64 = 100;

/// The whole summary.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Input file (`-` for standard input).
    pub input: String,
    /// Algorithm.
    pub algorithm: String,
    /// Hash mode, for `hash`.
    pub hash_mode: Option<String>,
    /// `configured` or `random`, for `hash` (the key itself is secret).
    pub hash_key: Option<String>,
    /// Number of sensors.
    pub sensors: usize,
    /// Packets read.
    pub packets_in: u64,
    /// Captured bytes read.
    pub bytes_in: u64,
    /// Packets delivered, copies included (= packets_in − drops_total + copies).
    pub packets_out: u64,
    /// Per sensor.
    pub per_sensor: Vec<SensorSummary>,
    /// Flows created (= sum of per-sensor flows + pinned_flows).
    pub flows_total: u64,
    /// Flows placed on the sensor of their datagram's earlier fragments without asking the
    /// balancer.
    pub pinned_flows: u64,
    /// Flows removed because the flow table was full.
    pub flow_table_evictions: u64,
    /// All flow-table counters.
    pub flow_table: FlowTableStats,
    /// Packets not delivered, by reason (every reason listed).
    pub drops: BTreeMap<String, u64>,
    /// Sum of `drops`.
    pub drops_total: u64,
    /// The per-flow cutoff, when one applies (`flow_cutoff` in `drops` counts the packets
    /// it cut).
    pub flow_cutoff: FlowCutoffSummary,
    /// Bypass requests from the sensors (`bypassed` in `drops` counts the packets).
    pub bypass: blb_core::stats::BypassStats,
    /// Non-IP frames (forwarded by MAC pair).
    pub non_ip: u64,
    /// Unparsable frames (forwarded by whatever addresses were recovered).
    pub unparsable: u64,
    /// Fragment handling.
    pub fragments: FragmentSummary,
    /// Tunnelled packets.
    pub tunnels: TunnelSummary,
    /// Extra copies delivered (duplication).
    pub copies: u64,
    /// Load statistics.
    pub load: LoadSummary,
    /// Spread of busy destinations over sensors.
    pub destinations: DestinationSummary,
    /// The balancer's own counters (BLB: decisions, clusters created, deleted, live, ...).
    pub balancer: BTreeMap<String, u64>,
    /// The error that stopped reading the input early, if any (packets before it were
    /// delivered).
    pub input_error: Option<String>,
    /// Wall time of the run in seconds.
    pub elapsed_secs: f64,
    /// Live balancing: capture, delivery and failover counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::live::summary::LiveSummary>,
}

impl Summary {
    /// Collect the summary from a finished engine whose packets were parsed with `tunnels`.
    /// The load figures are the engine's exact whole-run aggregates, seconds over V counted
    /// against its `variance_bound`.
    pub fn from_engine(
        engine: &Engine,
        tunnels: blb_wire::Tunnels,
        input: String,
        outputs: &[String],
    ) -> Self {
        let st = engine.stats();
        let fl = engine.flow_stats();
        let fr = engine.fragment_stats();
        let load = engine.load_totals();
        let spread = st.destinations.at_least(MIN_DESTINATION_FLOWS);
        let destinations = DestinationSummary {
            min_flows: MIN_DESTINATION_FLOWS,
            count: spread.len(),
            sensors_mean: if spread.is_empty() {
                0.0
            } else {
                spread.iter().map(|d| d.sensors as f64).sum::<f64>() / spread.len() as f64
            },
            sensors_max: spread.iter().map(|d| d.sensors).max().unwrap_or(0),
            top: spread
                .iter()
                .take(10)
                .map(|d| (d.dst.to_string(), d.flows, d.sensors))
                .collect(),
            untracked_flows: st.destinations.untracked_flows,
        };
        let per_sensor = st
            .sensors
            .iter()
            .enumerate()
            .map(|(i, s)| SensorSummary {
                sensor: i,
                output: outputs.get(i).cloned().unwrap_or_default(),
                packets: s.packets,
                bytes: s.bytes,
                flows: s.flows,
            })
            .collect::<Vec<_>>();
        Summary {
            input,
            algorithm: engine.balancer().name().to_string(),
            hash_mode: None,
            hash_key: None,
            sensors: engine.config().sensors,
            packets_in: st.packets_in,
            bytes_in: st.bytes_in,
            packets_out: per_sensor.iter().map(|s| s.packets).sum(),
            per_sensor,
            flows_total: st.flows,
            pinned_flows: st.pinned_flows,
            flow_table_evictions: fl.evicted,
            flow_table: fl,
            drops: st.drops.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            drops_total: st.drops.total(),
            flow_cutoff: FlowCutoffSummary {
                after_bytes: engine.config().flow_cutoff_bytes,
                after_packets: engine.config().flow_cutoff_packets,
                flows: st.cutoff.flows,
                bytes_cut: st.cutoff.bytes,
            },
            bypass: st.bypass,
            non_ip: st.non_ip,
            unparsable: st.unparsable,
            fragments: FragmentSummary {
                packets: st.fragments,
                datagrams: fr.datagrams,
                out_of_order: fr.out_of_order,
                flow_conflicts: fr.flow_conflicts,
                evicted: fr.evicted,
                held: fr.held,
                hold_expired: fr.hold_expired,
                hold_overflowed: fr.hold_overflowed,
            },
            tunnels: TunnelSummary::new(tunnels, &st.tunnels),
            copies: st.copies,
            load: LoadSummary {
                capacity_bytes_per_sec: engine.config().capacities.clone(),
                seconds: usize::try_from(load.seconds).unwrap_or(usize::MAX),
                variance_mean: load.variance_mean(),
                variance_max: load.variance_max,
                max_load: load.max_load,
                variance_bound: load.variance_bound,
                seconds_over_bound: usize::try_from(load.seconds_over_bound).unwrap_or(usize::MAX),
                fraction_over_bound: load.fraction_over_bound(),
            },
            destinations,
            balancer: engine
                .balancer()
                .counters()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            input_error: None,
            elapsed_secs: 0.0,
            live: None,
        }
    }

    /// Write the JSON summary to a file, or to standard output for `-`.
    pub fn write_json(&self, to: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        if to.as_os_str() == "-" {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}").context("cannot write the summary to standard output")?;
        } else {
            std::fs::write(to, text + "\n")
                .with_context(|| format!("cannot write summary {}", to.display()))?;
        }
        Ok(())
    }

    /// The cutoff's and the bypasses' line, when either did anything.
    fn limits_text(&self) -> String {
        let drop = |r: DropReason| self.drops.get(r.name()).copied().unwrap_or(0);
        let (cut, bypassed, b) = (
            drop(DropReason::FlowCutoff),
            drop(DropReason::Bypassed),
            &self.bypass,
        );
        let mut s = String::new();
        let c = &self.flow_cutoff;
        if c.flows > 0 {
            let mut limits = Vec::new();
            if let Some(n) = c.after_bytes {
                limits.push(format!("{n} bytes"));
            }
            if let Some(n) = c.after_packets {
                limits.push(format!("{n} packets"));
            }
            s += &format!(
                "flow cutoff after {}: {} flows reached it, {cut} packets ({} bytes) cut\n",
                limits.join(" or "),
                c.flows,
                c.bytes_cut
            );
        }
        if bypassed > 0 || b.requested > 0 || b.unknown_flow > 0 {
            s += &format!(
                "bypass: {} flows bypassed ({} cancelled, {} ended with their flow), {} requests for no live flow, {bypassed} packets ({} bytes) bypassed\n",
                b.requested, b.cancelled, b.expired, b.unknown_flow, b.bytes
            );
        }
        s
    }

    /// A few lines for a person.
    pub fn text(&self) -> String {
        let mut s = format!(
            "{} packets ({} bytes) in {:.2} s, {} flows, algorithm {} over {} sensors\n",
            self.packets_in,
            self.bytes_in,
            self.elapsed_secs,
            self.flows_total,
            self.algorithm,
            self.sensors
        );
        for p in &self.per_sensor {
            let share = if self.packets_in == 0 {
                0.0
            } else {
                100.0 * p.packets as f64 / self.packets_in as f64
            };
            s += &format!(
                "  sensor {:>2}: {:>10} packets ({share:5.1} %) {:>12} bytes {:>8} flows\n",
                p.sensor, p.packets, p.bytes, p.flows
            );
        }
        s += &format!(
            "non-IP {}, unparsable {}, fragments {}, copies {}, drops {}, flow-table evictions {}\n",
            self.non_ip,
            self.unparsable,
            self.fragments.packets,
            self.copies,
            self.drops_total,
            self.flow_table_evictions
        );
        s += &self.limits_text();
        if let Some(t) = self.tunnels.text() {
            s += &t;
        }
        let f = &self.fragments;
        if f.held > 0 || f.flow_conflicts > 0 {
            s += &format!(
                "fragments held for their first fragment {}, held datagrams placed by the 3-tuple fallback {} (time limit) and {} (cap), first fragments copied {}\n",
                f.held, f.hold_expired, f.hold_overflowed, f.flow_conflicts
            );
        }
        s += &format!(
            "load variance per second: mean {:.3}, max {:.3} (%²), above V = {} in {:.1} % of seconds; max sensor load {:.2} %\n",
            self.load.variance_mean,
            self.load.variance_max,
            self.load.variance_bound,
            100.0 * self.load.fraction_over_bound,
            self.load.max_load
        );
        if self.destinations.count > 0 {
            s += &format!(
                "destinations with ≥ {} flows: {}, reaching {:.2} sensors on average, {} at most\n",
                self.destinations.min_flows,
                self.destinations.count,
                self.destinations.sensors_mean,
                self.destinations.sensors_max
            );
        }
        if !self.balancer.is_empty() {
            let parts: Vec<String> = self
                .balancer
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            s += &format!("{}: {}\n", self.algorithm, parts.join(", "));
        }
        s += &self.live_text();
        s
    }
}
