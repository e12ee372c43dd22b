//! Live balancing: `blb balance --interface IF`. Frames captured from the interfaces go
//! through the same engine as the offline path, and each one is queued for its sensors'
//! deliveries (a local interface, rotated pcap files, VXLAN), each on its own thread behind
//! a bounded queue.
//!
//! One thread runs the balancing loop: it drains the capture rings, lets the engine decide,
//! and queues the frames; every 100 ms it applies control commands and load reports and
//! checks the sensors' health (taking sensors out of service or back, see [`health`]); the
//! sensors' own loss sources ([`feeds`]) send floors of their loads the same way; every
//! second it publishes a snapshot for the metrics and control endpoints. SIGINT and SIGTERM
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
pub mod settings;
pub mod summary;
mod wiring;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use blb_core::Engine;
use blb_core::hold::{Decision, HoldHandle};
use blb_core::limits::FiveTuple;
use blb_core::sensor::{SensorId, SensorSet};
use blb_core::stats::DropReason;
use blb_live::capture::{PacketSource, wait_readable};
use blb_live::deliver::queue::SensorQueue;

use crate::pipeline::Outcome;
use crate::pipeline::held::HeldFrames;
use crate::settings::BalanceSettings;
use crate::summary::Summary;
use control::{Command, Envelope};
use health::{Health, HealthConfig, Observation, Transition};
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

/// Run live balancing until a signal or `--duration`. A capture that fails (its interface
/// went down) is logged and retried; only a failure to wait for packets at all stops the run.
pub fn run(settings: &BalanceSettings) -> anyhow::Result<Outcome> {
    let live = settings
        .live
        .as_ref()
        .context("live balancing needs --interface")?;
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal stops cleanly; a second one, while stopping, exits at once (1).
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("cannot install the SIGINT/SIGTERM handlers")?;
    }

    let balancer = crate::pipeline::build_balancer(settings)?;
    let mut engine = Engine::new(crate::pipeline::engine_config(settings), balancer)?;
    let mut sources = wiring::open_sources(live)?;
    let link_types: Vec<u32> = sources.iter().map(|s| s.link_type()).collect();
    let (mut queues, counters, descriptions) = wiring::open_deliveries(live, &link_types)?;
    let names: Vec<String> = live.sensors.iter().map(|s| s.name.clone()).collect();

    let snapshot = Arc::new(Mutex::new(Snapshot::default()));
    let (tx, rx) = mpsc::channel::<Envelope>();
    let servers = wiring::start_endpoints(
        live,
        &names,
        &counters,
        &snapshot,
        &tx,
        engine.balancer().name(),
    )?;
    let mut pollers = wiring::start_snmp(live, &tx, &stop);
    let (feed_threads, feeds) = feeds::start(live, &tx, &stop);
    pollers.extend(feed_threads);
    drop(tx);

    let expects: Vec<bool> = live
        .sensors
        .iter()
        .map(|s| s.snmp.is_some() || s.push)
        .collect();
    let mut health = Health::new(
        HealthConfig {
            send_errors_down: live.send_errors_down,
            retry_after: live.retry_after,
            report_down_after: live.report_down_after,
        },
        &expects,
    );
    tracing::info!(
        interfaces = ?live.interfaces,
        sensors = names.len(),
        algorithm = engine.balancer().name(),
        "live balancing started"
    );

    let mut looped = Loop {
        engine: &mut engine,
        queues: &mut queues,
        counters: &counters,
        live,
        names: &names,
        health: &mut health,
        dropped: Vec::with_capacity(BURST),
        started,
        last_flows: 0,
        last_snapshot: started,
        changed: false,
        routed: vec![(0, 0); names.len()],
        capture_errors: vec![None; sources.len()],
        held: HeldFrames::new(settings.engine.fragment_hold_bytes),
        released: Vec::new(),
        last_frame_ns: 0,
        feeds: &feeds,
        tunnels: settings.tunnels,
    };
    let fds: Vec<_> = sources.iter().map(|s| s.raw_fd()).collect();
    let deadline = live.duration.map(|d| started + d);
    let mut next_tick = started;
    let mut next_snapshot = started;
    let mut capture_error = None;
    let stopped_by = loop {
        if stop.load(Ordering::Relaxed) {
            break "signal";
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break "duration";
        }
        // Commands before every burst, so a bypass or a drain applies to every frame taken
        // after it arrived but one burst (or after one wait, 20 ms at most, when idle).
        looped.commands(&rx);
        let (got, failing) = looped.drain_all(&mut sources);
        if failing && got == 0 {
            std::thread::sleep(TICK);
        }
        // Held fragments never wait past their time limit, traffic or not.
        looped.expire_holds();
        if got == 0 {
            looped.flush();
            if let Err(e) = wait_readable(&fds, looped.wait_ms(20)) {
                capture_error = Some(anyhow::Error::new(e));
                break "capture error";
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            looped.flush();
            looped.check_health();
            looped.engine.tick(wall_nanos());
            looped.push_released();
            next_tick = now + TICK;
        }
        if now >= next_snapshot || looped.changed {
            looped.changed = false;
            let snap = looped.snapshot(&mut sources);
            if let Ok(mut s) = snapshot.lock() {
                *s = snap;
            }
            next_snapshot = now + SNAPSHOT_EVERY;
        }
    };
    tracing::info!(stopped_by, "live balancing stopping");
    // Take the frames already captured: stop each capture, then drain until the kernel has
    // handed over the block it was filling (after the block timeout).
    for src in &mut sources {
        if let Err(e) = src.stop() {
            tracing::warn!(interface = src.name(), error = %e, "cannot stop the capture");
        }
    }
    let settle = Duration::from_millis(u64::from(live.ring_block_timeout_ms) * 2 + 50)
        .min(Duration::from_secs(2));
    let until = Instant::now() + settle;
    let hard_stop = until + Duration::from_secs(1);
    loop {
        let (got, _) = looped.drain_all(&mut sources);
        let now = Instant::now();
        if (now >= until && got == 0) || now >= hard_stop {
            break;
        }
        if got == 0 {
            let _ = wait_readable(&fds, 10);
        }
    }
    // End of input: the engine releases the fragments it still holds; they go out before the
    // queues close.
    looped.engine.finish();
    looped.push_released();
    looped.flush();
    let last = looped.snapshot(&mut sources);
    drop(looped);

    stop.store(true, Ordering::Relaxed);
    for p in pollers {
        let _ = p.join();
    }
    for s in servers {
        s.shutdown();
    }
    let mut close_error = None;
    for (q, name) in queues.into_iter().zip(&names) {
        if let Err(e) = q.close() {
            tracing::error!(sensor = %name, error = %e, "closing the delivery failed");
            close_error.get_or_insert(anyhow::Error::new(e).context(format!("sensor {name}")));
        }
    }

    let input = format!("live: {}", live.interfaces.join(", "));
    let mut summary = Summary::from_engine(&engine, settings.tunnels, input, &descriptions);
    summary.add_live(summary::LiveSummary {
        capture: last
            .capture
            .iter()
            .map(|c| summary::CaptureSummary {
                interface: c.interface.clone(),
                received: c.received,
                kernel_dropped: c.dropped,
            })
            .collect(),
        delivery: counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = c.snapshot();
                summary::DeliverySummary {
                    name: names[i].clone(),
                    delivery: descriptions[i].clone(),
                    sent_packets: c.sent_packets,
                    sent_bytes: c.sent_bytes,
                    queue_full: c.queue_full,
                    frame_rejected: c.frame_errors,
                    send_errors: c.path_errors,
                    in_service: engine.in_service().contains(i as SensorId),
                }
            })
            .collect(),
        failover: engine.failover_stats(),
        loss: feeds
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let status = f.as_ref()?.lock().ok()?.clone();
                Some(summary::LossSummary {
                    name: names[i].clone(),
                    status,
                })
            })
            .collect(),
        reports_accepted: engine.reported_loads().accepted,
        reports_refused: engine.reported_loads().refused,
        stopped_by: stopped_by.to_string(),
    });
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    let input_error = capture_error.or(close_error);
    summary.input_error = input_error.as_ref().map(|e| format!("{e:#}"));
    Ok(Outcome {
        summary,
        input_error,
    })
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
    /// Per capture source, the error it last failed with (said once, until it works again).
    capture_errors: Vec<Option<String>>,
    /// Frames the engine holds (fragments waiting for their first fragment).
    held: HeldFrames,
    released: Vec<(HoldHandle, SensorSet)>,
    /// Capture time of the last frame handled (what a command applied now follows).
    last_frame_ns: u64,
    /// Each sensor's loss source, if any.
    feeds: &'a [Option<feeds::SharedStatus>],
    /// Which headers decide a tunnelled packet's flow.
    tunnels: blb_wire::Tunnels,
}

impl Loop<'_> {
    /// Drain every source once; returns the frames taken and whether any source failed. A
    /// capture interface that goes down (a cable pulled, a flapping tap) must not stop the
    /// balancer: its failure is said once, and the source is tried again.
    fn drain_all(&mut self, sources: &mut [Box<dyn PacketSource>]) -> (usize, bool) {
        let (mut got, mut failing) = (0, false);
        for (k, src) in sources.iter_mut().enumerate() {
            match self.drain(src.as_mut()) {
                Ok(n) => {
                    got += n;
                    if n > 0 && self.capture_errors[k].take().is_some() {
                        tracing::info!(interface = src.name(), "capture works again");
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    if self.capture_errors[k].as_deref() != Some(msg.as_str()) {
                        tracing::error!(interface = src.name(), error = %msg, "capture failed; retrying");
                        self.capture_errors[k] = Some(msg);
                    }
                    failing = true;
                }
            }
        }
        (got, failing)
    }

    /// Drain one source: decide and queue every frame it has ready (a held frame is copied
    /// and queued when the engine releases it, before the frame that released it).
    fn drain(&mut self, src: &mut dyn PacketSource) -> anyhow::Result<usize> {
        let (link_type, tunnels) = (src.link_type(), self.tunnels);
        let (engine, queues, dropped) = (&mut *self.engine, &mut *self.queues, &mut self.dropped);
        let (routed, held, released) = (&mut self.routed, &mut self.held, &mut self.released);
        let last_frame_ns = &mut self.last_frame_ns;
        let n = src.drain(BURST, &mut |frame| {
            *last_frame_ns = frame.ts;
            let meta =
                blb_wire::parse_with(tunnels, link_type, frame.ts, frame.wire_len, frame.data);
            let decision = engine.handle_or_hold(&meta, held.next_handle());
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
        })?;
        self.settle_drops();
        Ok(n)
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

    /// What the endpoints show.
    fn snapshot(&mut self, sources: &mut [Box<dyn PacketSource>]) -> Snapshot {
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
        let capture = sources
            .iter_mut()
            .map(|s| {
                let c = s.stats().unwrap_or_default();
                CaptureSnap {
                    interface: s.name().to_string(),
                    received: c.received,
                    dropped: c.dropped,
                }
            })
            .collect();
        let in_service: Vec<f64> = up
            .iter()
            .filter_map(|s| loads.get(usize::from(s)).copied())
            .collect();
        let load_variance = if in_service.is_empty() {
            0.0
        } else {
            let n = in_service.len() as f64;
            let mean = in_service.iter().sum::<f64>() / n;
            in_service
                .iter()
                .map(|l| (l - mean) * (l - mean))
                .sum::<f64>()
                / n
        };
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
