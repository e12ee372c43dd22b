//! The engine: a deterministic state machine that takes parsed packets and the time they carry
//! and says which sensors each packet goes to.
//!
//! Per packet: advance the clocks (flow and fragment expiry), find the packet's flow (both
//! directions share it) or create it by asking the balancer, follow the flow's assignment, and
//! account the bytes to the sensors' loads. Fragments follow their datagram:
//!
//! * a first fragment (offset 0) carries the ports and goes where its 5-tuple flow goes; the
//!   datagram is remembered;
//! * a later fragment goes where its datagram's first fragment went;
//! * a later fragment that arrives before its first fragment is held, when the caller can
//!   hold it ([`Engine::handle_or_hold`]), until the first fragment arrives: then the whole
//!   datagram goes where the first fragment's flow goes ([`crate::hold`]);
//! * otherwise (a caller of [`Engine::handle`], or a hold that reached its time limit or its
//!   memory cap, counted) it is placed by a 3-tuple pseudo-flow (addresses and protocol, no
//!   ports), so all such fragments of a datagram (and of all datagrams between the same
//!   hosts) go to one sensor; when the first fragment then arrives and its 5-tuple flow is
//!   new, the flow is created on that same sensor. If the 5-tuple flow already lived on
//!   another sensor, the first fragment is copied to both (its flow and its datagram each
//!   stay whole), counted in `fragments.flow_conflicts`.
//!
//! A tunnelled packet whose outer datagram is fragmented follows the same rules, with the
//! datagram identified by its outer header ([`crate::tunnel::Tunnel::datagram`]): its first
//! fragment holds the tunnel and the inner headers and goes where the *inner* flow goes (counted
//! in `tunnels.fragmented_outer`); its later fragments, which carry only the outer header,
//! follow it (or, arriving first, are held for it, or fall back to the outer 3-tuple as above).
//! So every fragment of the datagram reaches one sensor, and the inner flow stays whole.
//!
//! Memory is bounded by the settings' caps, whatever the rate of new flows or the capture's
//! length: the flow table (`flow_cap`), the fragment table (`fragment_cap`), the hold
//! (`fragment_hold_bytes`, `fragment_hold_datagrams`), the destination spread
//! (`destination_cap`) and the per-second load samples (`load_history_seconds`; whole-run
//! aggregates are kept exactly besides). [`Engine::memory`] reports each one's heap
//! ([`crate::memory`]).
//!
//! Time is taken from packets and never goes backwards: a packet older than the newest seen
//! is handled at the newest time.

use crate::balancer::{Assignment, Balancer, FlowContext};
use crate::feedback::ReportedLoads;
use crate::flow_key::{FlowKey, KeyOptions};
use crate::flow_table::{FlowTable, FlowTableStats, FlowTimeouts};
use crate::fragments::{DatagramKey, FragmentStats, FragmentTable};
use crate::hold::{Decision, FragmentHold, HoldHandle};
use crate::limits::{Limit, flow_ended, limit, reached_by_first};
use crate::load::{LoadEstimator, LoadTotals, SecondSample, SecondStats};
use crate::packet::{FragmentInfo, NANOS_PER_SEC, Nanos, PacketMeta};
use crate::sensor::{MAX_SENSORS, SensorSet};
use crate::stats::{DropReason, EngineStats};

/// Settings of the engine (everything but the balancer).
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Number of sensors (1 to [`MAX_SENSORS`]).
    pub sensors: usize,
    /// How flow keys are formed.
    pub key: KeyOptions,
    /// Idle timeouts.
    pub timeouts: FlowTimeouts,
    /// Most flows tracked at once.
    pub flow_cap: usize,
    /// How long a fragmented datagram is remembered.
    pub fragment_timeout: Nanos,
    /// Most datagrams remembered at once.
    pub fragment_cap: usize,
    /// Capacity of each sensor in bytes per second (one value per sensor).
    pub capacities: Vec<f64>,
    /// Smoothing time constant of the load estimate.
    pub load_time_constant: Nanos,
    /// A sensor's own load report older than this is ignored (see [`crate::feedback`]).
    pub report_stale_after: Nanos,
    /// How long, in capture time, a fragment that arrives before its datagram's first
    /// fragment may be held waiting for it (20 ms; 0 never holds; at most 1 s). See
    /// [`crate::hold`].
    pub fragment_hold: Nanos,
    /// Most bytes held at once: each held packet counts its captured length plus
    /// [`crate::hold::HOLD_OVERHEAD`] (4 MiB; at least 64 KiB when holding).
    pub fragment_hold_bytes: usize,
    /// Most datagrams held at once (4096; at least 1 when holding).
    pub fragment_hold_datagrams: usize,
    /// Most destinations whose spread over sensors is tracked (1 048 576; flows to further
    /// destinations are counted as untracked).
    pub destination_cap: usize,
    /// Per-second load samples kept, the most recent ones, for [`Engine::seconds`] (3 600:
    /// an hour of traffic; 1 to 10 000 000). The whole run's aggregates are exact whatever
    /// this is ([`Engine::load_totals`]).
    pub load_history_seconds: usize,
    /// The variance bound V (%²) the whole-run load aggregates count seconds over (9, the
    /// paper's V; set it to the balancer's V).
    pub variance_bound: f64,
    /// A flow's packets past this many captured bytes (both directions) go nowhere, counted
    /// as `flow_cutoff`, as Suricata's stream depth or the Time Machine's cutoff: the packet
    /// that crosses it still goes, and so do TCP FIN and RST segments, so the sensor sees the
    /// connection end. `None`: no cutoff.
    pub flow_cutoff_bytes: Option<u64>,
    /// The same, in packets.
    pub flow_cutoff_packets: Option<u64>,
}

/// Most per-second load samples `load_history_seconds` may keep.
pub const MAX_LOAD_HISTORY: usize = 10_000_000;

impl EngineConfig {
    /// Defaults for `sensors` sensors of `capacity` bytes per second each.
    pub fn new(sensors: usize, capacity: f64) -> Self {
        EngineConfig {
            sensors,
            key: KeyOptions::default(),
            timeouts: FlowTimeouts::default(),
            flow_cap: 1 << 19,
            fragment_timeout: 30 * NANOS_PER_SEC,
            fragment_cap: 1 << 16,
            capacities: vec![capacity; sensors],
            load_time_constant: NANOS_PER_SEC,
            report_stale_after: 10 * NANOS_PER_SEC,
            fragment_hold: 20_000_000,
            fragment_hold_bytes: 4 << 20,
            fragment_hold_datagrams: 4096,
            destination_cap: crate::stats::DESTINATIONS_TRACKED,
            load_history_seconds: 3600,
            variance_bound: 9.0,
            flow_cutoff_bytes: None,
            flow_cutoff_packets: None,
        }
    }

    /// Check the settings; the error is one sentence naming the setting.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad =
            |setting: &'static str, reason: String| Err(crate::Error::Setting { setting, reason });
        if self.sensors == 0 || self.sensors > MAX_SENSORS {
            return bad(
                "sensors",
                format!("must be between 1 and {MAX_SENSORS}, not {}", self.sensors),
            );
        }
        for (setting, cutoff) in [
            ("flow_cutoff_bytes", self.flow_cutoff_bytes),
            ("flow_cutoff_packets", self.flow_cutoff_packets),
        ] {
            if cutoff == Some(0) {
                return bad(
                    setting,
                    "must be at least 1 (leave it out for no cutoff)".into(),
                );
            }
        }
        if self.capacities.len() != self.sensors {
            return bad(
                "capacity",
                format!(
                    "{} capacities given for {} sensors",
                    self.capacities.len(),
                    self.sensors
                ),
            );
        }
        if let Some(c) = self
            .capacities
            .iter()
            .find(|c| !(c.is_finite() && **c > 0.0))
        {
            return bad(
                "capacity",
                format!("must be a positive number of bytes per second, not {c}"),
            );
        }
        if self.flow_cap == 0 {
            return bad("flow_cap", "must be at least 1".into());
        }
        if self.fragment_cap == 0 {
            return bad("fragment_cap", "must be at least 1".into());
        }
        if self.load_time_constant == 0 {
            return bad("load_time_constant", "must be positive".into());
        }
        if self.fragment_hold > NANOS_PER_SEC {
            return bad(
                "fragment_hold",
                format!(
                    "must be at most 1 s (held fragments delay their sensors' traffic), not {} ms",
                    self.fragment_hold as f64 / 1e6
                ),
            );
        }
        if self.fragment_hold > 0 && self.fragment_hold_bytes < 1 << 16 {
            return bad(
                "fragment_hold_bytes",
                format!(
                    "must be at least 65536 (one datagram's fragments) while fragments are held, not {}",
                    self.fragment_hold_bytes
                ),
            );
        }
        if self.fragment_hold > 0 && self.fragment_hold_datagrams == 0 {
            return bad(
                "fragment_hold_datagrams",
                "must be at least 1 while fragments are held".into(),
            );
        }
        if self.load_history_seconds == 0 || self.load_history_seconds > MAX_LOAD_HISTORY {
            return bad(
                "load_history_seconds",
                format!(
                    "must be between 1 and {MAX_LOAD_HISTORY}, not {}",
                    self.load_history_seconds
                ),
            );
        }
        if !(self.variance_bound.is_finite() && self.variance_bound >= 0.0) {
            return bad(
                "variance_bound",
                format!("must be a non-negative number, not {}", self.variance_bound),
            );
        }
        Ok(())
    }
}

/// The balancing engine. See the module documentation.
#[derive(Debug)]
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) balancer: Box<dyn Balancer>,
    pub(crate) flows: FlowTable,
    pub(crate) frags: FragmentTable,
    pub(crate) hold: FragmentHold,
    pub(crate) take_buf: Vec<(HoldHandle, u32)>,
    pub(crate) load: LoadEstimator,
    pub(crate) seconds: SecondStats,
    pub(crate) stats: EngineStats,
    pub(crate) now: Nanos,
    loads_buf: Vec<f64>,
    noise_buf: Vec<f64>,
    pub(crate) in_service: SensorSet,
    pub(crate) reports: ReportedLoads,
    pub(crate) failover: crate::failover::FailoverStats,
    /// Why the packet being handled goes nowhere, when a flow limit says so.
    limit_drop: Option<DropReason>,
}

impl Engine {
    /// An engine with the given settings and balancer.
    pub fn new(cfg: EngineConfig, balancer: Box<dyn Balancer>) -> Result<Self, crate::Error> {
        cfg.validate()?;
        if balancer.sensors() != cfg.sensors {
            return Err(crate::Error::Setting {
                setting: "sensors",
                reason: format!(
                    "the balancer has {} sensors, the engine {}",
                    balancer.sensors(),
                    cfg.sensors
                ),
            });
        }
        Ok(Engine {
            flows: FlowTable::new(cfg.flow_cap, cfg.timeouts),
            frags: FragmentTable::new(cfg.fragment_timeout, cfg.fragment_cap),
            hold: FragmentHold::new(
                cfg.fragment_hold,
                cfg.fragment_hold_bytes,
                cfg.fragment_hold_datagrams,
            ),
            take_buf: Vec::new(),
            load: LoadEstimator::new(cfg.capacities.clone(), cfg.load_time_constant),
            seconds: SecondStats::new(
                cfg.capacities.clone(),
                cfg.load_history_seconds,
                cfg.variance_bound,
            ),
            stats: EngineStats::new(cfg.sensors, cfg.destination_cap),
            loads_buf: Vec::with_capacity(cfg.sensors),
            noise_buf: Vec::with_capacity(cfg.sensors),
            now: 0,
            in_service: SensorSet::all(cfg.sensors),
            reports: ReportedLoads::new(cfg.sensors, cfg.report_stale_after),
            failover: Default::default(),
            limit_drop: None,
            balancer,
            cfg,
        })
    }

    /// Decide where a packet goes. Never fails: an empty set means the packet is dropped and
    /// counted under [`DropReason::NoSensorAvailable`]. Never holds a packet (a fragment that
    /// arrives before its first fragment is placed by its pseudo-flow); callers that can keep
    /// packets use [`Engine::handle_or_hold`].
    pub fn handle(&mut self, p: &PacketMeta) -> SensorSet {
        match self.decide(p, None) {
            Decision::Send(sensors) => sensors,
            Decision::Held => SensorSet::EMPTY, // never without a handle
        }
    }

    pub(crate) fn decide(&mut self, p: &PacketMeta, handle: Option<HoldHandle>) -> Decision {
        self.advance(self.now.max(p.ts));

        self.stats.packets_in += 1;
        self.stats.bytes_in += u64::from(p.cap_len);
        self.stats.count_class(p.class);
        self.stats.tunnels.count(&p.tunnel);

        let sensors = match p.fragment {
            Some(frag) => {
                self.stats.fragments += 1;
                match self.handle_fragment(p, frag, handle) {
                    Decision::Send(sensors) => sensors,
                    Decision::Held => return Decision::Held,
                }
            }
            None => self.handle_flow(p, true, None),
        };
        self.account(sensors, p.cap_len);
        Decision::Send(sensors)
    }

    /// Advance the clocks to `now` without a packet (live capture, when traffic pauses):
    /// flows and datagrams whose timeouts passed expire, and held fragments whose time limit
    /// passed are released ([`Engine::released`]).
    pub fn tick(&mut self, now: Nanos) {
        if now > self.now {
            self.advance(now);
        }
    }

    fn advance(&mut self, now: Nanos) {
        self.now = now;
        let (balancer, bypass) = (&mut self.balancer, &mut self.stats.bypass);
        self.flows.advance(now, &mut |f, _| {
            flow_ended(balancer.as_mut(), bypass, f, now)
        });
        self.frags.advance(now);
        if self.hold_deadline().is_some_and(|d| d <= now) {
            self.expire_holds(now);
        }
    }

    /// Account a delivery to `sensors` of a packet of `cap_len` bytes.
    pub(crate) fn account(&mut self, sensors: SensorSet, cap_len: u32) {
        let limit = self.limit_drop.take();
        if sensors.is_empty() {
            let reason = limit.unwrap_or(DropReason::NoSensorAvailable);
            self.stats.drops.add(reason, 1);
            return;
        }
        let bytes = u64::from(cap_len);
        self.stats.copies += sensors.len() as u64 - 1;
        for s in sensors {
            if let Some(st) = self.stats.sensors.get_mut(usize::from(s)) {
                st.packets += 1;
                st.bytes += bytes;
            }
        }
        self.load.add(sensors, bytes, self.now);
        self.seconds.add(sensors, bytes, self.now);
    }

    /// Route by flow: the existing flow's sensors, or a new flow (pinned to `pin` if given,
    /// else placed by the balancer).
    pub(crate) fn handle_flow(
        &mut self,
        p: &PacketMeta,
        with_ports: bool,
        pin: Option<SensorSet>,
    ) -> SensorSet {
        let now = self.now;
        let (key, dir) = FlowKey::from_packet(p, self.cfg.key, with_ports);
        if let Some(flow) = self.flows.touch(&key, p, dir, now) {
            let (sensors, tag) = (flow.sensors, flow.tag);
            match limit(&self.cfg, flow, p) {
                Limit::Pass => {}
                Limit::Reached => self.stats.cutoff.flows += 1,
                Limit::Drop(reason) => {
                    self.stats.count_limited(reason, p.cap_len);
                    self.limit_drop = Some(reason);
                    return SensorSet::EMPTY;
                }
            }
            if sensors.is_empty() && !self.in_service.is_empty() {
                // Every sensor was out when this flow was moved; one is back: place it again
                // (the balancer forgets the old placement first).
                self.balancer.on_flow_end(tag, now);
                let a = self.ask_balancer(p, &key);
                self.flows.set_assignment(&key, a);
                self.failover.flows_replaced += 1;
                for s in a.sensors {
                    if let Some(st) = self.stats.sensors.get_mut(usize::from(s)) {
                        st.flows += 1;
                    }
                }
                return a.sensors;
            }
            self.balancer.on_packet(tag, p, now);
            return sensors;
        }
        let assignment = match pin {
            Some(sensors) => Assignment { sensors, tag: 0 },
            None => self.ask_balancer(p, &key),
        };
        let (balancer, bypass) = (&mut self.balancer, &mut self.stats.bypass);
        self.flows
            .insert(key, p, dir, assignment, now, &mut |f, _| {
                flow_ended(balancer.as_mut(), bypass, f, now)
            });
        self.stats.flows += 1;
        if reached_by_first(&self.cfg, p) {
            self.stats.cutoff.flows += 1;
        }
        self.stats.destinations.add(p.dst, assignment.sensors);
        if pin.is_some() {
            self.stats.pinned_flows += 1;
            return assignment.sensors;
        }
        for s in assignment.sensors {
            if let Some(st) = self.stats.sensors.get_mut(usize::from(s)) {
                st.flows += 1;
            }
        }
        assignment.sensors
    }

    fn ask_balancer(&mut self, p: &PacketMeta, key: &FlowKey) -> Assignment {
        if self.balancer.needs_loads() {
            let mut buf = std::mem::take(&mut self.loads_buf);
            self.current_loads(&mut buf);
            self.loads_buf = buf;
            self.load.noise(self.now, &mut self.noise_buf);
        } else {
            self.loads_buf.clear();
            self.noise_buf.clear();
        }
        let ctx = FlowContext {
            packet: p,
            key,
            loads: &self.loads_buf,
            noise: &self.noise_buf,
            now: self.now,
            live_flows: self.flows.len(),
            in_service: self.in_service,
        };
        let mut a = self.balancer.assign(&ctx);
        // Never deliver to a sensor that does not exist or is out of service.
        a.sensors = a.sensors.intersect(self.in_service);
        a
    }

    /// The loads a balancer sees: the estimate, combined with fresh reports.
    pub(crate) fn current_loads(&mut self, out: &mut Vec<f64>) {
        self.load.loads(self.now, out);
        if !self.reports.is_empty() {
            self.reports.combine(self.now, out);
        }
    }

    fn handle_fragment(
        &mut self,
        p: &PacketMeta,
        frag: FragmentInfo,
        handle: Option<HoldHandle>,
    ) -> Decision {
        let dkey = DatagramKey::of(p, frag.id);
        let known = self.frags.get(&dkey);
        if frag.is_first() && p.has_ports {
            return Decision::Send(match known {
                Some(datagram) => {
                    // Later fragments came first: join them, and keep the flow whole too.
                    let flow = self.handle_flow(p, true, Some(datagram));
                    if flow == datagram {
                        datagram
                    } else {
                        self.frags.stats.flow_conflicts += 1;
                        let mut both = datagram;
                        for s in flow {
                            both.insert(s);
                        }
                        both
                    }
                }
                None => {
                    let sensors = self.handle_flow(p, true, None);
                    // Fragments held for this first fragment go where it goes.
                    let held = self.release_held(&dkey, sensors);
                    // A datagram placed nowhere (every sensor out) is not remembered, so its
                    // later fragments are placed afresh once a sensor is back.
                    if (frag.more || held > 0) && !sensors.is_empty() {
                        self.frags.insert(dkey, sensors, self.now);
                    }
                    sensors
                }
            });
        }
        if let Some(sensors) = known {
            return Decision::Send(sensors);
        }
        if !frag.is_first() {
            self.frags.stats.out_of_order += 1;
            if let Some(h) = handle
                && self.try_hold(dkey, p, h)
            {
                return Decision::Held;
            }
        }
        let sensors = self.handle_flow(p, false, None);
        if !sensors.is_empty() {
            self.frags.insert(dkey, sensors, self.now);
        }
        self.release_held(&dkey, sensors);
        Decision::Send(sensors)
    }

    /// End of input: release every held fragment (by the fallback rule; collect them with
    /// [`Engine::released`]), close the last second of load statistics and end every flow.
    pub fn finish(&mut self) {
        self.expire_all_holds();
        self.seconds.finish();
        let now = self.now;
        let (balancer, bypass) = (&mut self.balancer, &mut self.stats.bypass);
        self.flows
            .drain(&mut |f, _| flow_ended(balancer.as_mut(), bypass, f, now));
    }

    /// The counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Take back deliveries that failed outside the engine: `failed` are the sensors of the
    /// last decision `sent` whose outputs could not take the packet of `cap_len` bytes. When
    /// no sensor got it, it counts as one drop under `reason`; otherwise one copy fewer.
    pub fn undelivered(
        &mut self,
        sent: SensorSet,
        failed: SensorSet,
        cap_len: u32,
        reason: DropReason,
    ) {
        let mut lost = 0u64;
        for s in failed {
            if !sent.contains(s) {
                continue;
            }
            if let Some(st) = self.stats.sensors.get_mut(usize::from(s)) {
                st.packets = st.packets.saturating_sub(1);
                st.bytes = st.bytes.saturating_sub(u64::from(cap_len));
                lost += 1;
            }
        }
        if lost == 0 {
            return;
        }
        if lost >= sent.len() as u64 {
            self.stats.copies = self.stats.copies.saturating_sub(lost - 1);
            self.stats.drops.add(reason, 1);
        } else {
            self.stats.copies = self.stats.copies.saturating_sub(lost);
        }
    }

    /// Flow table counters.
    pub fn flow_stats(&self) -> FlowTableStats {
        self.flows.stats()
    }

    /// Fragment table counters.
    pub fn fragment_stats(&self) -> FragmentStats {
        self.frags.stats
    }

    /// Flows tracked now.
    pub fn live_flows(&self) -> usize {
        self.flows.len()
    }

    /// The most recent per-second load samples (at most `load_history_seconds`), in time
    /// order.
    pub fn seconds(&self) -> &[SecondSample] {
        self.seconds.samples()
    }

    /// The whole run's per-second load aggregates, exact however few samples are kept.
    pub fn load_totals(&self) -> LoadTotals {
        self.seconds.totals()
    }

    /// Current loads as the balancer sees them (percent of capacity): the smoothed
    /// estimate, combined with fresh reports.
    pub fn loads(&mut self) -> Vec<f64> {
        let mut out = Vec::new();
        self.current_loads(&mut out);
        out
    }

    /// Current smoothed estimates alone (percent of capacity).
    pub fn estimated_loads(&mut self) -> Vec<f64> {
        let mut out = Vec::new();
        self.load.loads(self.now, &mut out);
        out
    }

    /// The balancer.
    pub fn balancer(&self) -> &dyn Balancer {
        self.balancer.as_ref()
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The engine's clock: the newest packet time seen.
    pub fn now(&self) -> Nanos {
        self.now
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
