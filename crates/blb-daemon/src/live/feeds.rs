//! A sensor's own loss source at work. One thread per source reads it every `loss_interval`
//! (the new lines of a tailed log, or one `dump-counters` on Suricata's socket), passes its
//! records through the sensor's [`LossMonitor`] (windows, hysteresis, staleness: see
//! `blb_core::overload`), and while the source is fresh sends the balancing loop the floor
//! of the sensor's load (100 % while overloaded, 0 otherwise), which the engine combines
//! like any report. A stale source sends nothing, so once its last report is older than
//! `report_stale_after` the estimate alone counts; the sensor stays in service.
//!
//! [`Feed`] is that work without the thread and with time as an argument, so the tests
//! replay recorded files through it. Records that cannot be used, failed reads and a source
//! going stale are counted in [`FeedStatus`] (metrics and summary) and logged at most once
//! per 10 s per kind, the next line saying how many were not logged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use blb_core::overload::{Counters, LossMonitor, LossStats, Step};
use blb_core::packet::Nanos;
use blb_live::feedback::suricata::{self, EveLine, Reply, SuricataCounters};
use blb_live::feedback::suricata_socket::SuricataSocket;
use blb_live::feedback::tail::{LineTail, Start, TailEvent};
use blb_live::feedback::zeek::{ZeekLine, ZeekLog};
use serde::Serialize;

use super::control::{Command, Envelope};
use super::loss_settings::{LossSource, LossSpec};
use super::ratelimit::RateLimited;
use super::settings::LiveSettings;

/// Longest log line read (an EVE stats record of many threads is a few hundred kilobytes).
pub const MAX_LINE: usize = 16 << 20;
/// Most bytes of a log read at once (the rest waits for the next read).
const READ_BUDGET: usize = 256 << 20;
/// Time a `dump-counters` exchange may take.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(2);

/// What a loss source did, for the metrics and the summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FeedStatus {
    /// The source (`suricata_eve /var/log/suricata/eve.json`).
    pub source: String,
    /// The last sample's loss, percent: the drop ratio (the worst of the total and the
    /// workers) or Zeek's `percent_lost`.
    pub loss_percent: Option<f64>,
    /// The last sample's worst capture worker, percent (Suricata).
    pub worst_worker_percent: Option<f64>,
    /// Overloaded by its own figures now.
    pub overloaded: bool,
    /// Stale now (its load is the estimate).
    pub stale: bool,
    /// Records, samples, repeats, resets, garbled records, old records, times it went stale
    /// (a source that never gave a record counts once), state changes.
    pub counts: LossStats,
    /// Reads that failed (missing file, socket refused, Suricata's NOK).
    pub errors: u64,
    /// Floors the engine accepted.
    pub reports_accepted: u64,
    /// Floors the engine refused.
    pub reports_refused: u64,
}

/// A status shared between a source's thread, the balancing loop and the snapshot.
pub type SharedStatus = Arc<Mutex<FeedStatus>>;

/// What a source is read with.
#[derive(Debug)]
pub enum Reader {
    /// A tailed log.
    Tail(LineTail),
    /// Suricata's command socket.
    Socket(SuricataSocket),
}

impl Reader {
    /// The reader of `source`: an EVE log from its end (only what is written from now on),
    /// Zeek's log from its beginning (its header is at the top).
    pub fn open(source: &LossSource) -> Reader {
        match source {
            LossSource::SuricataEve(p) => Reader::Tail(LineTail::new(p, Start::End, MAX_LINE)),
            LossSource::ZeekCaptureLoss { path, .. } => {
                Reader::Tail(LineTail::new(path, Start::Beginning, MAX_LINE))
            }
            LossSource::SuricataSocket(p) => Reader::Socket(SuricataSocket::new(p, SOCKET_TIMEOUT)),
        }
    }
}

/// Suricata's counters as the monitor takes them; `at` when the record has no time of its
/// own (a `dump-counters` reply: when it arrived).
pub fn counters_of(c: &SuricataCounters, at: Nanos) -> Counters {
    Counters {
        at: c.timestamp.unwrap_or(at),
        packets: c.packets,
        drops: c.drops,
        decoded: c.decoded,
        workers: c.workers.iter().map(|w| (w.packets, w.drops)).collect(),
    }
}

/// One sensor's loss source, without the thread.
#[derive(Debug)]
pub struct Feed {
    sensor: String,
    spec: LossSpec,
    monitor: LossMonitor,
    zeek: ZeekLog,
    status: SharedStatus,
    garbled_log: RateLimited,
    error_log: RateLimited,
    stale_log: RateLimited,
    started: Option<Nanos>,
    /// No record ever came, for longer than stale_after (said and counted once).
    silent: bool,
    silent_total: u64,
    reporting: bool,
}

impl Feed {
    /// The source of sensor `sensor`.
    pub fn new(sensor: &str, spec: &LossSpec) -> Self {
        let status = FeedStatus {
            source: spec.source.describe(),
            ..Default::default()
        };
        Feed {
            sensor: sensor.to_string(),
            spec: spec.clone(),
            monitor: LossMonitor::new(spec.config),
            zeek: ZeekLog::new(),
            status: Arc::new(Mutex::new(status)),
            garbled_log: RateLimited::default(),
            error_log: RateLimited::default(),
            stale_log: RateLimited::default(),
            started: None,
            silent: false,
            silent_total: 0,
            reporting: false,
        }
    }

    /// The shared status.
    pub fn status(&self) -> SharedStatus {
        Arc::clone(&self.status)
    }

    /// The monitor (its state and counts).
    pub fn monitor(&self) -> &LossMonitor {
        &self.monitor
    }

    /// Read what the source has now (`now`: blb's clock; `wall`: for the log's rate limits).
    pub fn read(&mut self, reader: &mut Reader, now: Nanos, wall: Instant) {
        match reader {
            Reader::Tail(t) => {
                let polled = t.poll(READ_BUDGET, &mut |e| self.tail_event(e, now, wall));
                if let Err(e) = polled {
                    self.failed(&e.to_string(), wall);
                } else if !t.is_open() {
                    let missing = format!("{} does not exist (yet)", t.path().display());
                    self.failed(&missing, wall);
                }
            }
            Reader::Socket(s) => match s.dump_counters() {
                Ok(reply) => self.socket_reply(&reply, now, wall),
                Err(e) => self.failed(&e.to_string(), wall),
            },
        }
        self.sync();
    }

    /// One event of a tailed log.
    pub fn tail_event(&mut self, e: TailEvent<'_>, now: Nanos, wall: Instant) {
        match e {
            TailEvent::Line(l) => match self.spec.source {
                LossSource::ZeekCaptureLoss { .. } => self.zeek_line(l, now, wall),
                _ => self.eve_line(l, now, wall),
            },
            TailEvent::Rotated | TailEvent::Truncated => {
                tracing::info!(sensor = %self.sensor, source = %self.spec.source.describe(), event = ?e, "loss source: reading the log again from its beginning");
                self.zeek.reset();
            }
            TailEvent::Unfinished(n) => self.garbled(
                &format!("an unfinished last line ({n} bytes) in a rotated or truncated log"),
                wall,
            ),
            TailEvent::Overlong(n) => self.garbled(
                &format!("a line longer than {MAX_LINE} bytes ({n} so far), skipped"),
                wall,
            ),
        }
    }

    /// One line of Suricata's EVE log (other event types are passed over).
    pub fn eve_line(&mut self, line: &[u8], now: Nanos, wall: Instant) {
        match suricata::eve_line(line) {
            Ok(EveLine::Other) => {}
            Ok(EveLine::Stats(c)) => {
                let step = self.monitor.counters(now, counters_of(&c, now));
                self.step(step);
            }
            Err(reason) => self.garbled(&reason, wall),
        }
    }

    /// One line of Zeek's `capture_loss.log` (records of other peers are passed over when a
    /// peer is set).
    pub fn zeek_line(&mut self, line: &[u8], now: Nanos, wall: Instant) {
        match self.zeek.line(line) {
            ZeekLine::Header => {}
            ZeekLine::Garbled(reason) => self.garbled(&reason, wall),
            ZeekLine::Record(r) => {
                if let LossSource::ZeekCaptureLoss { peer: Some(p), .. } = &self.spec.source
                    && r.peer.as_deref() != Some(p.as_str())
                {
                    return;
                }
                // The reader checked percent_lost: the monitor takes it.
                if let Some(step) = self.monitor.interval(now, r.ts, r.percent_lost) {
                    self.step(step);
                }
            }
        }
    }

    /// One reply of Suricata's `dump-counters`, arrived at `now`.
    pub fn socket_reply(&mut self, reply: &[u8], now: Nanos, wall: Instant) {
        match suricata::dump_counters_reply(reply) {
            Ok(Reply::Counters(c)) => {
                let step = self.monitor.counters(now, counters_of(&c, now));
                self.step(step);
            }
            Ok(Reply::Nok(m)) => {
                self.failed(
                    &format!("Suricata answered dump-counters with NOK: {m}"),
                    wall,
                );
            }
            Err(reason) => self.garbled(&reason, wall),
        }
    }

    /// A read that failed: counted, and logged at most once per 10 s.
    pub fn failed(&mut self, error: &str, wall: Instant) {
        if let Ok(mut s) = self.status.lock() {
            s.errors += 1;
        }
        if let Some(suppressed) = self.error_log.allow(wall) {
            tracing::warn!(sensor = %self.sensor, source = %self.spec.source.describe(), error, suppressed, "loss source: read failed (at most one such line per 10 s; `suppressed` counts those not logged since)");
        }
    }

    /// The floor of the sensor's load to report at `now`, if the source is fresh; says when
    /// the source goes stale or comes back.
    pub fn report(&mut self, now: Nanos, wall: Instant) -> Option<f64> {
        let started = *self.started.get_or_insert(now);
        let stale_before = self.monitor.stats.stale;
        let floor = self.monitor.report(now);
        let stale_after = self.monitor.config().stale_after;
        let went_stale = self.monitor.stats.stale > stale_before;
        let never = self.monitor.stats.records == 0
            && !self.silent
            && now.saturating_sub(started) > stale_after;
        if never {
            self.silent = true;
            self.silent_total += 1;
        }
        if (went_stale || never)
            && let Some(suppressed) = self.stale_log.allow(wall)
        {
            tracing::warn!(
                sensor = %self.sensor,
                source = %self.spec.source.describe(),
                stale_after_secs = stale_after as f64 / 1e9,
                suppressed,
                "loss source is stale: no well-formed record for longer than stale_after; the sensor's load is blb's estimate until it is back"
            );
        }
        if floor.is_some() && !self.reporting && (self.silent || self.monitor.stats.stale > 0) {
            tracing::info!(sensor = %self.sensor, source = %self.spec.source.describe(), "loss source works again");
        }
        if floor.is_some() {
            self.silent = false;
        }
        self.reporting = floor.is_some();
        self.sync();
        floor
    }

    fn garbled(&mut self, reason: &str, wall: Instant) {
        self.monitor.garbled();
        if let Some(suppressed) = self.garbled_log.allow(wall) {
            tracing::warn!(sensor = %self.sensor, source = %self.spec.source.describe(), reason, suppressed, "loss source: unusable record (at most one such line per 10 s; `suppressed` counts those not logged since)");
        }
        self.sync();
    }

    fn step(&mut self, step: Step) {
        if let Step::Sample(s) = step
            && s.changed
        {
            let c = self.monitor.config();
            if s.overloaded {
                tracing::warn!(
                    sensor = %self.sensor,
                    source = %self.spec.source.describe(),
                    loss_percent = s.loss_percent,
                    samples = c.samples,
                    enter_percent = c.enter_percent,
                    "sensor overloaded by its own figures: it loses packets; its load is held at 100 % or more until it recovers"
                );
            } else {
                tracing::info!(
                    sensor = %self.sensor,
                    source = %self.spec.source.describe(),
                    loss_percent = s.loss_percent,
                    samples = c.samples,
                    release_percent = c.release_percent,
                    "sensor recovered: its loss is back under the release level"
                );
            }
        }
        if matches!(step, Step::Reset) {
            tracing::info!(sensor = %self.sensor, source = %self.spec.source.describe(), "loss source: counters went back (the sensor restarted); a new window starts");
        }
        self.sync();
    }

    /// Copy the monitor's state into the shared status.
    fn sync(&mut self) {
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        let last = self.monitor.last();
        s.loss_percent = last.map(|l| l.loss_percent);
        s.worst_worker_percent = last.and_then(|l| l.worst_worker_percent);
        s.overloaded = self.monitor.overloaded();
        s.stale = self.monitor.stale() || self.silent;
        s.counts = self.monitor.stats;
        s.counts.stale += self.silent_total;
    }
}

/// One thread per sensor with a loss source; each sends its floors as commands until `stop`.
/// Returns the threads and each sensor's status (`None` without a source).
pub fn start(
    live: &LiveSettings,
    commands: &Sender<Envelope>,
    stop: &Arc<AtomicBool>,
) -> (Vec<JoinHandle<()>>, Vec<Option<SharedStatus>>) {
    let mut threads = Vec::new();
    let mut statuses = vec![None; live.sensors.len()];
    for (i, s) in live.sensors.iter().enumerate() {
        let Some(spec) = s.loss.clone() else { continue };
        let mut feed = Feed::new(&s.name, &spec);
        statuses[i] = Some(feed.status());
        let (tx, stop) = (commands.clone(), Arc::clone(stop));
        let spawned = std::thread::Builder::new()
            .name(format!("loss-{}", s.name))
            .spawn(move || {
                let mut reader = Reader::open(&spec.source);
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    feed.read(&mut reader, super::wall_nanos(), Instant::now());
                    if let Some(floor) = feed.report(super::wall_nanos(), Instant::now())
                        && tx.send((Command::Floor(i, floor), None)).is_err()
                    {
                        return;
                    }
                    while began.elapsed() < spec.interval && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50).min(spec.interval));
                    }
                }
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                tracing::error!(sensor = %s.name, error = %e, "cannot start the loss source's thread")
            }
        }
    }
    (threads, statuses)
}
