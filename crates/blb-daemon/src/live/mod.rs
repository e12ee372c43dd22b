//! Live balancing: `blb balance --interface IF`. Frames captured from the interfaces go
//! through the same engine as the offline path, and each one is queued for its sensors'
//! deliveries (a local interface, rotated pcap files, VXLAN), each on its own thread behind
//! a bounded queue.
//!
//! Balancing workers ([`workers`]) drain the capture rings, parse, and let the one shared
//! engine decide and queue each frame. The first worker also runs the loop's timers: every
//! 100 ms it applies control commands and load reports and checks the sensors' health
//! (taking sensors out of service or back, see [`health`]); the sensors' own loss sources
//! ([`feeds`]) send floors of their loads the same way; every second it publishes a
//! snapshot for the metrics and control endpoints. SIGINT and SIGTERM
//! stop it cleanly: queues drained, files flushed, the summary printed.

pub mod bypass;
pub mod control;
pub mod feeds;
pub mod health;
mod hold;
pub mod loss_settings;
pub mod metrics;
mod metrics_text;
pub mod ratelimit;
mod run;
pub mod settings;
pub mod summary;
mod wiring;
mod workers;

pub use run::run;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blb_core::Engine;
use blb_core::hold::{Decision, HoldHandle};
use blb_core::limits::FiveTuple;
use blb_core::packet::PacketMeta;
use blb_core::sensor::{SensorId, SensorSet};
use blb_core::stats::DropReason;
use blb_live::deliver::queue::SensorQueue;

use crate::pipeline::held::HeldFrames;
use control::{Command, Envelope};
use health::{Health, Observation, Transition};
use metrics::{CaptureSnap, SensorSnap, Snapshot};
use settings::{Delivery, LiveSettings};

/// Frames taken from one source before looking at the others.
const BURST: usize = 4096;
/// Time between health checks and command handling.
const TICK: Duration = Duration::from_millis(100);
/// Time between snapshots.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// Nanoseconds since the epoch now (the clock the kernel stamps captured frames with).
fn wall_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The balancing loop's state.
struct Loop<'a> {
    engine: &'a mut Engine,
    queues: &'a mut [SensorQueue],
    counters: &'a [Arc<blb_live::deliver::queue::SensorCounters>],
    live: &'a LiveSettings,
    names: &'a [String],
    health: &'a mut Health,
    /// Frames a full queue refused: (sensor, the packet's sensors, captured length).
    dropped: Vec<(SensorId, u64, u32)>,
    started: Instant,
    last_flows: u64,
    last_snapshot: Instant,
    /// A sensor left or returned since the last snapshot (publish one at once).
    changed: bool,
    /// Packets and bytes routed to each sensor (only ever grow, for the metrics' counters).
    routed: Vec<(u64, u64)>,
    /// Frames the engine holds (fragments waiting for their first fragment).
    held: HeldFrames,
    released: Vec<(HoldHandle, SensorSet)>,
    /// Capture time of the last frame handled (what a command applied now follows).
    last_frame_ns: u64,
    /// Each sensor's loss source, if any.
    feeds: &'a [Option<feeds::SharedStatus>],
}

impl Loop<'_> {
    /// Decide one captured frame (parsed into `meta`) and queue it; a held frame is copied
    /// and queued when the engine releases it, before the frame that released it.
    fn take_frame(&mut self, link_type: u32, frame: blb_live::Frame<'_>, meta: &PacketMeta) {
        self.last_frame_ns = self.last_frame_ns.max(frame.ts);
        let (engine, queues, dropped) = (&mut *self.engine, &mut *self.queues, &mut self.dropped);
        let (routed, held, released) = (&mut self.routed, &mut self.held, &mut self.released);
        let decision = engine.handle_or_hold(meta, held.next_handle());
        if decision == Decision::Held {
            held.hold(link_type, frame.ts, frame.wire_len, frame.data);
        }
        engine.released(released);
        if !released.is_empty() {
            hold::queue_released(held, released, queues, routed, dropped);
        }
        if let Decision::Send(sensors) = decision {
            hold::queue_frame(queues, routed, dropped, link_type, frame, sensors);
        }
    }

    /// Hand partial batches to the delivery threads.
    fn flush(&mut self) {
        let dropped = &mut self.dropped;
        for (s, q) in self.queues.iter_mut().enumerate() {
            q.flush(&mut |token, len| dropped.push((s as SensorId, token, len)));
        }
        self.settle_drops();
    }

    /// Tell the engine about frames a full queue refused: one drop per lost copy (as for
    /// failed sends), so a packet copied to several sensors whose queues are all full is
    /// counted once per copy, never lost from the books.
    fn settle_drops(&mut self) {
        for (s, _token, len) in self.dropped.drain(..) {
            let copy = SensorSet::one(s);
            self.engine
                .undelivered(copy, copy, len, DropReason::SensorQueueFull);
        }
    }

    /// Apply control commands and load reports.
    fn commands(&mut self, rx: &mpsc::Receiver<Envelope>) {
        while let Ok((command, reply)) = rx.try_recv() {
            let answer = self.command(command);
            if let Some(r) = reply {
                let _ = r.send(answer);
            }
        }
    }

    fn command(&mut self, command: Command) -> Result<String, control::Refusal> {
        let now = self.started.elapsed();
        match command {
            Command::Drain(i) | Command::Restore(i) => {
                let drain = matches!(command, Command::Drain(_));
                tracing::info!(sensor = %self.names[i], drain, "control: {}", if drain { "drain" } else { "restore" });
                let moved = match self.health.drain(i, drain) {
                    Some(t) => self.apply(i, t, "control"),
                    None => (0, 0),
                };
                Ok(self.sensor_json(i, moved))
            }
            Command::Report(i, load, source) => {
                if !self.engine.report_load(i as SensorId, load, wall_nanos()) {
                    return Err((409, format!("the load report {load} was refused")));
                }
                tracing::debug!(sensor = %self.names[i], load, source, "load report");
                // /status and the metrics show the new report at once.
                self.changed = true;
                if let Some(t) = self.health.reported(i, now) {
                    self.apply(i, t, source);
                }
                Ok(format!(
                    "{{\"sensor\":{i},\"accepted\":true,\"load\":{load}}}\n"
                ))
            }
            Command::Bypass {
                flow,
                on,
                received_ns,
            } => self.bypass(&flow, on, received_ns),
            Command::Floor(i, floor) => {
                let accepted = self
                    .engine
                    .report_load_at_least(i as SensorId, floor, wall_nanos());
                if let Some(Ok(mut s)) =
                    self.feeds.get(i).and_then(Option::as_ref).map(|f| f.lock())
                {
                    if accepted {
                        s.reports_accepted += 1;
                    } else {
                        s.reports_refused += 1;
                    }
                }
                if !accepted {
                    return Err((409, format!("the load floor {floor} was refused")));
                }
                Ok(String::new())
            }
        }
    }

    /// Apply a bypass request (or its cancellation) at once: the next packet of the flow is
    /// already bypassed.
    fn bypass(
        &mut self,
        flow: &FiveTuple,
        on: bool,
        received_ns: u64,
    ) -> Result<String, control::Refusal> {
        let done = if on {
            self.engine.bypass(flow)
        } else {
            self.engine.cancel_bypass(flow)
        };
        let named = format!(
            "{} {}:{} <-> {}:{}",
            flow.protocol, flow.src, flow.src_port, flow.dst, flow.dst_port
        );
        tracing::info!(flow = %named, bypass = on, done, "control: flow bypass");
        self.changed = true;
        if !done {
            let what = if on { "live flow" } else { "bypassed flow" };
            return Err((404, format!("no {what} {named}")));
        }
        // Frames up to `last_frame_ns` were handled before; every later one is handled after
        // (and none captured after `applied_ns` was handled before).
        Ok(serde_json::json!({
            "flow": named,
            "bypassed": on,
            "received_ns": received_ns,
            "applied_ns": wall_nanos(),
            "last_frame_ns": self.last_frame_ns,
        })
        .to_string()
            + "\n")
    }

    fn sensor_json(&self, i: usize, (flows, clusters): (u64, u64)) -> String {
        let reasons = self.health.reasons(i).names();
        serde_json::json!({
            "sensor": i,
            "name": self.names[i],
            "in_service": self.engine.in_service().contains(i as SensorId),
            "reasons": reasons,
            "flows_moved": flows,
            "clusters_moved": clusters,
        })
        .to_string()
            + "\n"
    }

    /// Check every sensor's interface, failed sends and reports.
    fn check_health(&mut self) {
        let now = self.started.elapsed();
        for i in 0..self.names.len() {
            let interface_up = match &self.live.sensors[i].delivery {
                Delivery::Interface { name, .. } => {
                    Some(blb_live::iface::is_up(name).unwrap_or(false))
                }
                _ => None,
            };
            let obs = Observation {
                interface_up,
                consecutive_send_errors: self.counters[i]
                    .consecutive_path_errors
                    .load(Ordering::Relaxed),
            };
            if let Some(t) = self.health.observe(i, obs, now) {
                self.apply(i, t, "health check");
            }
        }
    }

    /// Bring the engine in line with a health transition; returns (flows, clusters) moved.
    fn apply(&mut self, i: usize, t: Transition, by: &str) -> (u64, u64) {
        if t.reset_send_errors {
            self.counters[i]
                .consecutive_path_errors
                .store(0, Ordering::Relaxed);
        }
        let id = i as SensorId;
        let out = !t.after.is_empty();
        let name = &self.names[i];
        self.changed = true;
        match self.engine.set_in_service(id, !out, wall_nanos()) {
            Some(c) if out => {
                let error = self.counters[i].last_error().unwrap_or_default();
                tracing::warn!(
                    sensor = %name,
                    reasons = ?t.after.names(),
                    flows_moved = c.flows_moved,
                    clusters_moved = c.clusters_moved,
                    in_service = c.in_service.len(),
                    last_error = %error,
                    by,
                    "sensor out of service; its flows moved"
                );
                (c.flows_moved, c.clusters_moved)
            }
            Some(c) => {
                tracing::info!(sensor = %name, in_service = c.in_service.len(), by, "sensor back in service");
                (0, 0)
            }
            None => (0, 0),
        }
    }

    /// What the endpoints show; `capture` and `workers` come from the workers' [`Board`].
    fn snapshot(&mut self, capture: Vec<CaptureSnap>, workers: Vec<u64>) -> Snapshot {
        let now = wall_nanos();
        let estimated = self.engine.estimated_loads();
        let loads = self.engine.loads();
        let up = self.engine.in_service();
        let st = self.engine.stats();
        let sensors = (0..self.names.len())
            .map(|i| {
                let s = st.sensors.get(i).copied().unwrap_or_default();
                let (packets, bytes) = self.routed.get(i).copied().unwrap_or_default();
                SensorSnap {
                    packets,
                    bytes,
                    flows: s.flows,
                    estimated_load: estimated.get(i).copied().unwrap_or(0.0),
                    reported_load: self
                        .engine
                        .reported_loads()
                        .last(i, now)
                        .map(|(v, age)| (v, age as f64 / 1e9)),
                    load: loads.get(i).copied().unwrap_or(0.0),
                    loss: self
                        .feeds
                        .get(i)
                        .and_then(Option::as_ref)
                        .and_then(|f| f.lock().ok().map(|s| s.clone())),
                    up: up.contains(i as SensorId),
                    reasons: self.health.reasons(i).names(),
                }
            })
            .collect();
        let in_service: Vec<f64> = up
            .iter()
            .filter_map(|s| loads.get(usize::from(s)).copied())
            .collect();
        let load_variance = blb_core::load::variance(&in_service);
        let elapsed = self.last_snapshot.elapsed().as_secs_f64();
        let flows = st.flows;
        let decisions_per_second = if elapsed > 0.0 {
            (flows - self.last_flows.min(flows)) as f64 / elapsed
        } else {
            0.0
        };
        self.last_flows = flows;
        self.last_snapshot = Instant::now();
        let ft = self.engine.flow_stats();
        Snapshot {
            sensors,
            capture,
            workers,
            packets_in: st.packets_in,
            bytes_in: st.bytes_in,
            drops: st.drops.iter().collect(),
            flows_live: self.engine.live_flows() as u64,
            flows_created: ft.created,
            flows_expired: ft.expired,
            flows_evicted: ft.evicted,
            balancer: self.engine.balancer().counters(),
            decisions_per_second,
            load_variance,
            failover: self.engine.failover_stats(),
            bypass: st.bypass,
            cutoff: st.cutoff,
            tunnels: st.tunnels,
        }
    }
}
