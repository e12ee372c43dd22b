//! A live run, stage by stage: start (signal handlers, the engine, captures, deliveries,
//! endpoints and the threads that read the sensors' loads), balance until a signal or the
//! duration, take the frames already captured, stop the threads and close the deliveries,
//! and summarize.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::Context;
use blb_core::Engine;
use blb_core::sensor::SensorId;
use blb_live::capture::{PacketSource, wait_readable};
use blb_live::deliver::queue::{SensorCounters, SensorQueue};
use blb_live::http::Server;

use super::control::Envelope;
use super::health::{Health, HealthConfig};
use super::metrics::Snapshot;
use super::settings::LiveSettings;
use super::workers::{self, Board, Capture};
use super::{BURST, Loop, SNAPSHOT_EVERY, TICK, feeds, summary, wall_nanos, wiring};
use crate::pipeline::Outcome;
use crate::pipeline::held::HeldFrames;
use crate::settings::BalanceSettings;
use crate::summary::Summary;

/// Run live balancing until a signal or `--duration`. A capture that fails (its interface
/// went down) is logged and retried; only a failure to wait for packets at all stops the run.
pub fn run(settings: &BalanceSettings) -> anyhow::Result<Outcome> {
    let live = settings
        .live
        .as_ref()
        .context("live balancing needs --interface")?;
    let started = Instant::now();
    let stop = signal_handlers()?;
    let mut p = Parts::start(settings, live, &stop)?;
    let board = Board::new(p.sources.len(), &live.interfaces);
    let several = p.sources.len() > 1;
    let mut captures: Vec<Capture> = std::mem::take(&mut p.sources)
        .into_iter()
        .enumerate()
        .map(|(w, sources)| Capture::new(w, sources, several, settings.tunnels))
        .collect();
    let shared = Mutex::new(Loop {
        engine: &mut p.engine,
        queues: &mut p.queues,
        counters: &p.counters,
        live,
        names: &p.names,
        health: &mut p.health,
        dropped: Vec::with_capacity(BURST),
        started,
        last_flows: 0,
        last_snapshot: started,
        changed: false,
        routed: vec![(0, 0); p.names.len()],
        held: HeldFrames::new(settings.engine.fragment_hold_bytes),
        released: Vec::new(),
        last_frame_ns: 0,
        feeds: &p.feeds,
    });
    let deadline = live.duration.map(|d| started + d);
    let (first, others) = captures.split_at_mut(1);
    let main = &mut first[0];
    let (stopped_by, capture_error) = std::thread::scope(|scope| {
        for c in others.iter_mut() {
            let (shared, board) = (&shared, &board);
            let spawned = std::thread::Builder::new()
                .name(format!("blb-worker-{}", c.worker()))
                .spawn_scoped(scope, move || c.run_guarded(shared, board, live));
            if let Err(e) = spawned {
                // The workers already started stop, so that the scope can end.
                board.halt.store(true, Ordering::Relaxed);
                return Err(anyhow::Error::new(e).context("cannot start a balancing worker"));
            }
        }
        let out = balance(main, &shared, &p.rx, &p.snapshot, &board, &stop, deadline);
        tracing::info!(stopped_by = out.0, "live balancing stopping");
        board.halt.store(true, Ordering::Relaxed);
        main.take_captured(&shared, live);
        anyhow::Ok(out)
    })?;
    // Every worker has taken what it captured. End of input: the engine releases the
    // fragments it still holds; they go out before the queues close.
    main.publish(&board);
    let mut looped = workers::lock(&shared);
    looped.engine.finish();
    looped.push_released();
    looped.flush();
    let last = looped.snapshot(board.capture(), board.frames());
    drop(looped);
    drop(shared);
    drop(captures);
    stop.store(true, Ordering::Relaxed);
    let close_error = p.shut_down();
    let mut summary = p.summary(settings, live, &last, stopped_by);
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    let input_error = capture_error.or(close_error);
    summary.input_error = input_error.as_ref().map(|e| format!("{e:#}"));
    Ok(Outcome {
        summary,
        input_error,
    })
}

/// SIGINT and SIGTERM set the returned flag: the first stops cleanly; a second one, while
/// stopping, exits at once (status 1).
fn signal_handlers() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .context("cannot install the SIGINT/SIGTERM handlers")?;
    }
    Ok(stop)
}

/// What a run owns between its start and its summary.
struct Parts {
    engine: Engine,
    /// Per worker, its ring of every capture interface.
    sources: Vec<Vec<Box<dyn PacketSource>>>,
    queues: Vec<SensorQueue>,
    counters: Vec<Arc<SensorCounters>>,
    /// Each sensor's delivery, described for a person.
    descriptions: Vec<String>,
    names: Vec<String>,
    /// The loop's last snapshot, read by the endpoints.
    snapshot: Arc<Mutex<Snapshot>>,
    /// Commands from the endpoints, the SNMP pollers and the loss sources.
    rx: mpsc::Receiver<Envelope>,
    servers: Vec<Server>,
    /// SNMP pollers and loss-source readers.
    threads: Vec<JoinHandle<()>>,
    feeds: Vec<Option<feeds::SharedStatus>>,
    health: Health,
}

impl Parts {
    /// Build the engine, open the captures and deliveries, start the endpoints and the
    /// threads that read the sensors' loads.
    fn start(
        settings: &BalanceSettings,
        live: &LiveSettings,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<Parts> {
        let balancer = crate::pipeline::build_balancer(settings)?;
        let engine = Engine::new(crate::pipeline::engine_config(settings), balancer)?;
        let sources = wiring::open_sources(live)?;
        let link_types: Vec<u32> = sources[0].iter().map(|s| s.link_type()).collect();
        let (queues, counters, descriptions) = wiring::open_deliveries(live, &link_types)?;
        let names: Vec<String> = live.sensors.iter().map(|s| s.name.clone()).collect();
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let (tx, rx) = mpsc::channel::<Envelope>();
        let algorithm = engine.balancer().name();
        let servers = wiring::start_endpoints(live, &names, &counters, &snapshot, &tx, algorithm)?;
        let mut threads = wiring::start_snmp(live, &tx, stop);
        let (feed_threads, feeds) = feeds::start(live, &tx, stop);
        threads.extend(feed_threads);
        let expects: Vec<bool> = live
            .sensors
            .iter()
            .map(|s| s.snmp.is_some() || s.push)
            .collect();
        let health = Health::new(
            HealthConfig {
                send_errors_down: live.send_errors_down,
                retry_after: live.retry_after,
                report_down_after: live.report_down_after,
            },
            &expects,
        );
        tracing::info!(
            interfaces = ?live.interfaces,
            workers = sources.len(),
            sensors = names.len(),
            algorithm,
            "live balancing started"
        );
        Ok(Parts {
            engine,
            sources,
            queues,
            counters,
            descriptions,
            names,
            snapshot,
            rx,
            servers,
            threads,
            feeds,
            health,
        })
    }

    /// Join the reader threads, stop the endpoints and close every delivery (flushing its
    /// queue); the first delivery that fails to close is the run's error.
    fn shut_down(&mut self) -> Option<anyhow::Error> {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for s in self.servers.drain(..) {
            s.shutdown();
        }
        let mut close_error = None;
        for (q, name) in self.queues.drain(..).zip(&self.names) {
            if let Err(e) = q.close() {
                tracing::error!(sensor = %name, error = %e, "closing the delivery failed");
                close_error.get_or_insert(anyhow::Error::new(e).context(format!("sensor {name}")));
            }
        }
        close_error
    }

    /// The run's summary: the engine's, and the live part (captures, deliveries, failover,
    /// loss sources, load reports, why it stopped).
    fn summary(
        &self,
        settings: &BalanceSettings,
        live: &LiveSettings,
        last: &Snapshot,
        stopped_by: &str,
    ) -> Summary {
        let input = format!("live: {}", live.interfaces.join(", "));
        let engine = &self.engine;
        let mut summary = Summary::from_engine(engine, settings.tunnels, input, &self.descriptions);
        let capture = last.capture.iter().map(|c| summary::CaptureSummary {
            interface: c.interface.clone(),
            received: c.received,
            kernel_dropped: c.dropped,
        });
        let delivery = self.counters.iter().enumerate().map(|(i, c)| {
            let c = c.snapshot();
            summary::DeliverySummary {
                name: self.names[i].clone(),
                delivery: self.descriptions[i].clone(),
                sent_packets: c.sent_packets,
                sent_bytes: c.sent_bytes,
                queue_full: c.queue_full,
                frame_rejected: c.frame_errors,
                send_errors: c.path_errors,
                in_service: engine.in_service().contains(i as SensorId),
            }
        });
        let loss = self.feeds.iter().enumerate().filter_map(|(i, f)| {
            let status = f.as_ref()?.lock().ok()?.clone();
            Some(summary::LossSummary {
                name: self.names[i].clone(),
                status,
            })
        });
        summary.add_live(summary::LiveSummary {
            capture: capture.collect(),
            workers: last.workers.clone(),
            delivery: delivery.collect(),
            failover: engine.failover_stats(),
            loss: loss.collect(),
            reports_accepted: engine.reported_loads().accepted,
            reports_refused: engine.reported_loads().refused,
            stopped_by: stopped_by.to_string(),
        });
        summary
    }
}

/// The balancing loop of the first worker: commands, a burst from each of its rings, held
/// fragments' time limits, and every tick the health checks and the engine's timers, every
/// second a snapshot. Returns why it stopped, and the capture error that stopped it, if one
/// did (its own, or another worker's).
fn balance(
    main: &mut Capture,
    shared: &Mutex<Loop>,
    rx: &mpsc::Receiver<Envelope>,
    snapshot: &Mutex<Snapshot>,
    board: &Board,
    stop: &AtomicBool,
    deadline: Option<Instant>,
) -> (&'static str, Option<anyhow::Error>) {
    let started = workers::lock(shared).started;
    let (mut next_tick, mut next_snapshot) = (started, started);
    loop {
        if stop.load(Ordering::Relaxed) {
            return ("signal", None);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return ("duration", None);
        }
        if board.halt.load(Ordering::Relaxed) {
            return ("capture error", board.take_fatal());
        }
        // Commands before every burst, so a bypass or a drain applies to every frame taken
        // after it arrived but one burst (or after one wait, 20 ms at most, when idle).
        workers::lock(shared).commands(rx);
        let (got, failing) = main.drain_all(shared);
        if failing && got == 0 {
            std::thread::sleep(TICK);
        }
        let wait_ms = {
            let mut looped = workers::lock(shared);
            // Held fragments never wait past their time limit, traffic or not.
            looped.expire_holds();
            if got == 0 {
                looped.flush();
            }
            looped.wait_ms(20)
        };
        if got == 0
            && let Err(e) = wait_readable(&main.fds, wait_ms)
        {
            return ("capture error", Some(anyhow::Error::new(e)));
        }
        let now = Instant::now();
        if now >= next_tick {
            let mut looped = workers::lock(shared);
            looped.flush();
            looped.check_health();
            looped.engine.tick(wall_nanos());
            looped.push_released();
            next_tick = now + TICK;
        }
        let mut looped = workers::lock(shared);
        if now >= next_snapshot || looped.changed {
            looped.changed = false;
            main.publish(board);
            let snap = looped.snapshot(board.capture(), board.frames());
            drop(looped);
            if let Ok(mut s) = snapshot.lock() {
                *s = snap;
            }
            next_snapshot = now + SNAPSHOT_EVERY;
        }
    }
}
