//! A scan detector for port scans and port sweeps, by distinct targets in a sliding window.
//!
//! # Rule
//!
//! Only *connection attempts* (probes) are counted:
//!
//! * TCP segments with neither ACK nor RST set (SYN, and the stealth probes NULL, FIN, Xmas);
//!   every legitimate segment after the opening SYN carries ACK, and RST is an answer;
//! * UDP datagrams (if `count_udp`), except — with `udp_reply_heuristic` — those from a
//!   well-known port (< 1024) to an ephemeral one (≥ 1024), which look like a service's answer
//!   (DNS responses); a scanner using such a source port is missed, which the option trades;
//! * ICMP and ICMPv6 messages (if `count_icmp`), with port 0 (the record does not carry the
//!   ICMP type, so echo requests cannot be told from other messages).
//!
//! Packets without transport ports (non-first fragments, truncated headers) and non-IP frames
//! are not probes. For the window of `window_secs` (default 10 s) ending at the latest
//! timestamp, the detector keeps
//!
//! * per source address: the distinct targets `(destination address, protocol, destination
//!   port)` it probed — reaching `source_threshold` (default 100) flags the source as a
//!   *scanning source* (a port scan of one host or a sweep of many);
//! * per `(protocol, destination port)`: the distinct destination addresses probed on it, from
//!   any sources — reaching `port_threshold` (default 200) flags a *swept port* (this catches a
//!   sweep spread over many sources, each below the per-source threshold).
//!
//! An interval alarms when it flagged a scanning source or a swept port; [`ScanInterval`] says
//! how many and the largest counts reached.
//!
//! # Window and memory
//!
//! Each probe appends one entry to a time-ordered queue and refreshes the last-seen time of its
//! target in two maps; entries leave the queue once older than the window, and remove their map
//! entries unless those were refreshed since (lazy deletion), so each probe costs O(1)
//! amortised and no table is ever scanned. The queue holds at most `max_entries` entries (the
//! oldest is expired early when full, counted); every map entry has a live queue entry, so the
//! maps are bounded by the same cap.

use std::collections::{HashMap, HashSet, VecDeque};

use blb_core::packet::{Addr, Nanos, PacketClass, PacketMeta, proto, tcp_flags};

use crate::clock::{Clock, History};
use crate::{DetectError, cap_option, secs_option};

/// Scan detector settings (a `[detect.scan]` table in TOML).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Reporting interval in seconds. Default 1.
    pub interval_secs: f64,
    /// Sliding window in seconds. Default 10.
    pub window_secs: f64,
    /// Distinct targets per source in the window that flag a scanning source. Default 100.
    pub source_threshold: u64,
    /// Distinct destination addresses per destination port in the window that flag a swept
    /// port. Default 200.
    pub port_threshold: u64,
    /// Count UDP datagrams as probes. Default true.
    pub count_udp: bool,
    /// Do not count UDP datagrams from a port below 1024 to a port from 1024 on. Default true.
    pub udp_reply_heuristic: bool,
    /// Count ICMP and ICMPv6 messages as probes. Default true.
    pub count_icmp: bool,
    /// Most probes in the window (oldest expired early when full). Default 2^18.
    pub max_entries: usize,
    /// Most intervals kept in the history (oldest half dropped when full). Default 2^20.
    pub history_cap: usize,
    /// Most empty intervals stored for one timestamp gap. Default 3600.
    pub max_gap_records: u64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            interval_secs: 1.0,
            window_secs: 10.0,
            source_threshold: 100,
            port_threshold: 200,
            count_udp: true,
            udp_reply_heuristic: true,
            count_icmp: true,
            max_entries: 1 << 18,
            history_cap: 1 << 20,
            max_gap_records: 3600,
        }
    }
}

impl ScanConfig {
    /// Checks the options; the error names the bad one.
    pub fn validate(&self) -> Result<(), DetectError> {
        secs_option("interval_secs", self.interval_secs)?;
        secs_option("window_secs", self.window_secs)?;
        for (name, v) in [
            ("source_threshold", self.source_threshold),
            ("port_threshold", self.port_threshold),
        ] {
            if v == 0 {
                return Err(DetectError::BadOption {
                    name,
                    reason: "must be at least 1, got 0".into(),
                });
            }
        }
        cap_option("max_entries", self.max_entries)?;
        cap_option("history_cap", self.history_cap)
    }

    /// The target `(destination, protocol, destination port)` when `p` is a probe.
    pub fn probe_target(&self, p: &PacketMeta) -> Option<(Addr, u8, u16)> {
        if p.class != PacketClass::Ip || !p.src.is_ip() || !p.dst.is_ip() {
            return None;
        }
        if p.fragment.is_some_and(|f| !f.is_first()) {
            return None;
        }
        match p.protocol {
            proto::TCP if p.has_ports => {
                let answer = tcp_flags::ACK | tcp_flags::RST;
                (p.tcp_flags & answer == 0).then_some((p.dst, p.protocol, p.dst_port))
            }
            proto::UDP if p.has_ports && self.count_udp => {
                let reply = self.udp_reply_heuristic && p.src_port < 1024 && p.dst_port >= 1024;
                (!reply).then_some((p.dst, p.protocol, p.dst_port))
            }
            proto::ICMP | proto::ICMPV6 if self.count_icmp => Some((p.dst, p.protocol, 0)),
            _ => None,
        }
    }
}

/// One closed interval of the scan detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScanInterval {
    /// Interval number, from 0 at the origin.
    pub index: u64,
    /// Start of the interval (ns).
    pub start_ts: Nanos,
    /// End of the interval (exclusive).
    pub end_ts: Nanos,
    /// Packets observed in the interval.
    pub packets: u64,
    /// Probes counted in the interval.
    pub probes: u64,
    /// A scanning source or a swept port was flagged in the interval.
    pub alarm: bool,
    /// Timestamp of the first probe that crossed a threshold in the interval.
    pub alarm_ts: Option<Nanos>,
    /// Sources flagged as scanning in the interval.
    pub scanning_sources: u64,
    /// Ports flagged as swept in the interval.
    pub swept_ports: u64,
    /// Largest distinct-target count a source reached at one of its probes in the interval.
    pub max_targets_per_source: u64,
    /// The source that reached it (serialized as text).
    #[serde(serialize_with = "ser_opt_addr")]
    pub top_source: Option<Addr>,
    /// Largest distinct-destination count a port reached at one of its probes in the interval.
    pub max_dsts_per_port: u64,
    /// The `(protocol, port)` that reached it.
    pub top_port: Option<(u8, u16)>,
}

/// Counters of a [`ScanDetector`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScanStats {
    /// Packets observed.
    pub packets: u64,
    /// Probes counted.
    pub probes: u64,
    /// Probes expired early to respect `max_entries`.
    pub evictions: u64,
    /// Intervals that alarmed.
    pub alarm_intervals: u64,
    /// Empty intervals of long gaps not stored.
    pub skipped_intervals: u64,
    /// Stored intervals dropped to respect `history_cap`.
    pub history_dropped: u64,
}

fn ser_opt_addr<S: serde::Serializer>(a: &Option<Addr>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.serialize_some(&a.to_string()),
        None => s.serialize_none(),
    }
}

type Target = (Addr, u8, u16);
type PortKey = (u8, u16);

#[derive(Clone, Copy, Debug)]
struct Entry {
    ts: Nanos,
    src: Addr,
    target: Target,
}

#[derive(Clone, Debug, Default)]
struct Current {
    packets: u64,
    probes: u64,
    alarm_ts: Option<Nanos>,
    sources: HashSet<Addr>,
    ports: HashSet<PortKey>,
    max_src: u64,
    top_source: Option<Addr>,
    max_port: u64,
    top_port: Option<PortKey>,
}

/// The scan detector (see the module docs for the rule).
#[derive(Clone, Debug)]
pub struct ScanDetector {
    cfg: ScanConfig,
    window: u64,
    clock: Clock,
    queue: VecDeque<Entry>,
    by_source: HashMap<Addr, HashMap<Target, Nanos>>,
    by_port: HashMap<PortKey, HashMap<Addr, Nanos>>,
    cur: Current,
    history: History<ScanInterval>,
    first_alarm: Option<ScanInterval>,
    stats: ScanStats,
}

impl ScanDetector {
    /// A detector with interval 0 starting at `start_ts` or, without one, at the first
    /// timestamp it learns of.
    pub fn new(cfg: ScanConfig, start_ts: Option<Nanos>) -> Result<Self, DetectError> {
        cfg.validate()?;
        let width = secs_option("interval_secs", cfg.interval_secs)?;
        let window = secs_option("window_secs", cfg.window_secs)?;
        Ok(ScanDetector {
            window,
            clock: Clock::new(width, start_ts),
            queue: VecDeque::new(),
            by_source: HashMap::new(),
            by_port: HashMap::new(),
            cur: Current::default(),
            history: History::new(cfg.history_cap),
            first_alarm: None,
            stats: ScanStats::default(),
            cfg,
        })
    }

    /// Observes one packet. A packet older than the latest one seen counts as seen now.
    pub fn observe(&mut self, p: &PacketMeta) {
        let ts = self.clock.admit(p.ts);
        self.advance_index(self.clock.index_of(ts));
        self.expire(ts);
        self.stats.packets += 1;
        self.cur.packets += 1;
        let Some(target) = self.cfg.probe_target(p) else {
            return;
        };
        self.stats.probes += 1;
        self.cur.probes += 1;
        if self.queue.len() >= self.cfg.max_entries
            && let Some(old) = self.queue.pop_front()
        {
            self.remove(&old);
            self.stats.evictions += 1;
        }
        self.queue.push_back(Entry {
            ts,
            src: p.src,
            target,
        });
        let per_src = self.by_source.entry(p.src).or_default();
        per_src.insert(target, ts);
        let n_src = per_src.len() as u64;
        let port = (target.1, target.2);
        let per_port = self.by_port.entry(port).or_default();
        per_port.insert(target.0, ts);
        let n_port = per_port.len() as u64;

        let c = &mut self.cur;
        if n_src > c.max_src {
            c.max_src = n_src;
            c.top_source = Some(p.src);
        }
        if n_port > c.max_port {
            c.max_port = n_port;
            c.top_port = Some(port);
        }
        let mut crossed = false;
        if n_src >= self.cfg.source_threshold {
            crossed |= c.sources.insert(p.src);
        }
        if n_port >= self.cfg.port_threshold {
            crossed |= c.ports.insert(port);
        }
        if crossed && c.alarm_ts.is_none() {
            c.alarm_ts = Some(ts);
        }
    }

    /// Tells the detector that time `ts` has been reached: expires the window and closes every
    /// interval that ends at or before `ts`.
    pub fn advance_to(&mut self, ts: Nanos) {
        let ts = self.clock.admit(ts);
        self.advance_index(self.clock.index_of(ts));
        self.expire(ts);
    }

    /// Ends the observation at `end_ts`: closes every interval that starts before `end_ts` and
    /// the current interval if it saw packets; time moves to `end_ts` (the window expires).
    pub fn finish(&mut self, end_ts: Nanos) {
        if self.clock.origin().is_none() && self.cur.packets == 0 {
            return;
        }
        let now = self.clock.admit(end_ts);
        let mut target = self.clock.intervals_before(end_ts);
        if self.cur.packets > 0 {
            target = target.max(self.clock.cur().saturating_add(1));
        }
        self.advance_index(target);
        self.expire(now);
    }

    fn expire(&mut self, now: Nanos) {
        while let Some(e) = self.queue.front() {
            if e.ts.saturating_add(self.window) > now {
                break;
            }
            let e = *e;
            self.queue.pop_front();
            self.remove(&e);
        }
    }

    /// Removes the map entries of `e` unless a later probe refreshed them.
    fn remove(&mut self, e: &Entry) {
        if let Some(m) = self.by_source.get_mut(&e.src) {
            if m.get(&e.target) == Some(&e.ts) {
                m.remove(&e.target);
            }
            if m.is_empty() {
                self.by_source.remove(&e.src);
            }
        }
        let port = (e.target.1, e.target.2);
        if let Some(m) = self.by_port.get_mut(&port) {
            if m.get(&e.target.0) == Some(&e.ts) {
                m.remove(&e.target.0);
            }
            if m.is_empty() {
                self.by_port.remove(&port);
            }
        }
    }

    fn advance_index(&mut self, target: u64) {
        let cur = self.clock.cur();
        if target <= cur {
            return;
        }
        let c = std::mem::take(&mut self.cur);
        self.close(cur, c);
        let empties = target - cur - 1;
        let stored = empties.min(self.cfg.max_gap_records);
        for i in 1..=stored {
            self.close(cur + i, Current::default());
        }
        self.stats.skipped_intervals += empties - stored;
        self.clock.set_cur(target);
    }

    fn close(&mut self, index: u64, c: Current) {
        let scanning_sources = c.sources.len() as u64;
        let swept_ports = c.ports.len() as u64;
        let alarm = scanning_sources > 0 || swept_ports > 0;
        let iv = ScanInterval {
            index,
            start_ts: self.clock.start_of(index),
            end_ts: self.clock.end_of(index),
            packets: c.packets,
            probes: c.probes,
            alarm,
            alarm_ts: c.alarm_ts,
            scanning_sources,
            swept_ports,
            max_targets_per_source: c.max_src,
            top_source: c.top_source,
            max_dsts_per_port: c.max_port,
            top_port: c.top_port,
        };
        if alarm {
            self.stats.alarm_intervals += 1;
            if self.first_alarm.is_none() {
                self.first_alarm = Some(iv);
            }
        }
        self.history.push(iv);
        self.stats.history_dropped = self.history.dropped();
    }

    /// The closed intervals kept, oldest first.
    pub fn intervals(&self) -> &[ScanInterval] {
        self.history.as_slice()
    }

    /// The first interval that alarmed (kept even if the history dropped it).
    pub fn first_alarm(&self) -> Option<&ScanInterval> {
        self.first_alarm.as_ref()
    }

    /// Distinct targets `src` probed in the current window.
    pub fn targets_of(&self, src: &Addr) -> usize {
        self.by_source.get(src).map_or(0, HashMap::len)
    }

    /// Probes in the current window.
    pub fn window_len(&self) -> usize {
        self.queue.len()
    }

    /// The origin (start of interval 0), once known.
    pub fn origin(&self) -> Option<Nanos> {
        self.clock.origin()
    }

    /// The configuration.
    pub fn config(&self) -> &ScanConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> ScanStats {
        self.stats
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
