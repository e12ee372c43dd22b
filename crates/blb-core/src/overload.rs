//! Overload from a sensor's own loss figures: Suricata's kernel drops (cumulative counters,
//! from its EVE `stats` records or the `dump-counters` command) and Zeek's capture loss (one
//! `percent_lost` per measurement interval), turned into load reports with hysteresis.
//!
//! **Samples.** Zeek's lines are samples as they come: each already covers an interval. A
//! sample from Suricata's cumulative counters is the difference between two records at least
//! `min_span` (3.5 s) apart by the sensor's clock: Suricata's workers publish their counters
//! to the stats table only every 3 s (`STATS_WUT_TTS`) while EVE writes a record every 2 s
//! (by default every 8 s), so about one record in three repeats the previous totals with
//! every delta 0, even under full load. Any window longer than 3 s holds at least one
//! publication of every worker, so its difference is real, repeat or not; a window of zero
//! packets over it is an idle sensor, not a pause of the publication. Records that come
//! sooner are kept for the next window. Counters that go backwards (Suricata restarted) start
//! a new window.
//!
//! **Loss.** Over a window, the loss is `Δkernel_drops / Δkernel_packets` (the kernel counts
//! dropped packets in `kernel_packets`, so this is the share of the packets offered to the
//! sensor that it never saw), in percent, for the whole sensor and for each capture worker;
//! the sample's loss is the worst of them: with `cluster_flow` a worker saturated by a few
//! heavy flows drops while the idle ones dilute the total.
//!
//! **Hysteresis.** The sensor turns overloaded after `samples` (2) samples in a row at or
//! above `enter_percent`, and back after `samples` in a row below `release_percent`; a sample
//! in between, or one that breaks the run, resets the count. So one noisy sample moves
//! nothing; a zero-delta repeat record is not a sample at all, so it neither confirms nor
//! breaks a run. Two consecutive samples rather than a moving average: the samples are few
//! and irregular (a window closes every 2 records, or at each of Zeek's 15-minute lines), a
//! count is exact about how long it takes (2 windows: about 8 s of Suricata's 2-s records),
//! and one extreme sample (70 % drops for 4 s) cannot carry the state on its own as it would
//! carry an average.
//!
//! **Reports.** While fresh, the monitor's report is a *floor* for the sensor's load
//! ([`crate::feedback::ReportedLoads::report_at_least`]): [`OVERLOAD_LOAD`] (100 %) while
//! overloaded, 0 otherwise, so the balancer uses `max(estimate, 100 %)` for a sensor that
//! drops, and the estimate alone for one that does not (a loss of 0 says the sensor keeps up,
//! not how busy it is). 100 % is the most a report can say; with the variance bound of BLB a
//! sensor at 100 % among others at a few percent takes no new flow, and with the threshold
//! constraint it is at the threshold. A source that gave no well-formed record for
//! `stale_after` is stale: it reports nothing, its state is forgotten (it starts afresh when
//! it comes back), and once the last report has aged past the engine's `report_stale_after`
//! the estimate alone counts.

use crate::packet::{NANOS_PER_SEC, Nanos};

/// The load a sensor that drops is reported at, at least (percent).
pub const OVERLOAD_LOAD: f64 = 100.0;

/// How loss figures become an overload state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossConfig {
    /// A sample with at least this loss (percent) counts toward overload.
    pub enter_percent: f64,
    /// A sample with less than this loss (percent) counts toward release.
    pub release_percent: f64,
    /// Samples in a row needed to change state (1 or more).
    pub samples: u32,
    /// Shortest window between two counter records (the sensor's clock) for a sample.
    pub min_span: Nanos,
    /// A source without a well-formed record for this long is stale.
    pub stale_after: Nanos,
}

impl LossConfig {
    /// Suricata's kernel drops: overloaded at 1 % dropped, released under 0.1 %, 2 samples,
    /// windows of at least 3.5 s, stale after 20 s (two and a half of Suricata's default 8-s
    /// stats interval).
    pub fn suricata() -> Self {
        LossConfig {
            enter_percent: 1.0,
            release_percent: 0.1,
            samples: 2,
            min_span: 3 * NANOS_PER_SEC + NANOS_PER_SEC / 2,
            stale_after: 20 * NANOS_PER_SEC,
        }
    }

    /// Zeek's capture loss: overloaded at 10 % (Zeek's own `too_much_loss`), released under
    /// 1 %, 2 samples, stale after 31 minutes (two of Zeek's default 15-minute intervals and a
    /// minute).
    pub fn zeek() -> Self {
        LossConfig {
            enter_percent: 10.0,
            release_percent: 1.0,
            samples: 2,
            min_span: 0,
            stale_after: 31 * 60 * NANOS_PER_SEC,
        }
    }

    /// Check the settings; the error names the configuration key.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad =
            |setting: &'static str, reason: String| Err(crate::Error::Setting { setting, reason });
        let e = self.enter_percent;
        if !(e.is_finite() && e > 0.0 && e <= 100.0) {
            return bad(
                "loss_enter_percent",
                format!("must be a percentage above 0 and at most 100, not {e}"),
            );
        }
        let r = self.release_percent;
        if !(r.is_finite() && (0.0..=e).contains(&r)) {
            return bad(
                "loss_release_percent",
                format!("must be a percentage from 0 up to loss_enter_percent ({e}), not {r}"),
            );
        }
        if !(1..=100).contains(&self.samples) {
            return bad(
                "loss_samples",
                format!("must be from 1 to 100, not {}", self.samples),
            );
        }
        if self.stale_after == 0 {
            return bad("loss_stale_after", "must be longer than zero".into());
        }
        Ok(())
    }
}

/// One record of a sensor's cumulative capture counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// The record's time by the sensor's clock (an EVE timestamp, or when a poll's answer
    /// arrived).
    pub at: Nanos,
    /// Packets offered to the capture, dropped ones included (`capture.kernel_packets`).
    pub packets: u64,
    /// Packets the kernel dropped (`capture.kernel_drops`).
    pub drops: u64,
    /// Packets decoded (`decoder.pkts`): only used to tell a repeat record.
    pub decoded: u64,
    /// Each capture worker's (packets, drops), in a stable order (by thread name).
    pub workers: Vec<(u64, u64)>,
}

/// One usable sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The loss the hysteresis used (percent): the worst of the total and the workers.
    pub loss_percent: f64,
    /// The whole sensor's loss over the window (percent).
    pub total_percent: f64,
    /// The worst capture worker's loss (percent), when the records split by worker.
    pub worst_worker_percent: Option<f64>,
    /// The window's length (0 for an interval sample).
    pub span: Nanos,
    /// Packets offered over the window (0 for an interval sample).
    pub packets: u64,
    /// Packets dropped over the window (0 for an interval sample).
    pub drops: u64,
    /// The state after this sample.
    pub overloaded: bool,
    /// True when this sample changed the state.
    pub changed: bool,
}

/// What a record did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// The first record, or one sooner than `min_span` after the window's start: kept.
    Held,
    /// A record that repeats the previous one's counters (kept like [`Step::Held`], or
    /// closing a window).
    Repeat,
    /// Counters or time went backwards (the sensor restarted): a new window starts here.
    Reset,
    /// A record made more than `stale_after` before it was read (an old file's history):
    /// counted, and nothing else.
    Old,
    /// A window closed (or an interval came): one sample.
    Sample(Sample),
}

/// Counts of what a monitor saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LossStats {
    /// Well-formed records.
    pub records: u64,
    /// Usable samples.
    pub samples: u64,
    /// Records that repeated the previous counters (Suricata's publication quirk).
    pub repeats: u64,
    /// Windows restarted because counters or time went backwards.
    pub resets: u64,
    /// Records that did not parse or lacked the figures (counted by the caller).
    pub garbled: u64,
    /// Well-formed records made more than `stale_after` before they were read.
    pub old: u64,
    /// Times the source went stale.
    pub stale: u64,
    /// Times the sensor turned overloaded.
    pub entered: u64,
    /// Times it turned back.
    pub released: u64,
}

/// One sensor's loss figures and overload state.
#[derive(Clone, Debug)]
pub struct LossMonitor {
    cfg: LossConfig,
    /// The window's start.
    start: Option<Counters>,
    /// The latest record (to tell repeats).
    previous: Option<Counters>,
    overloaded: bool,
    run: u32,
    /// When the latest well-formed record was made (blb's clock; never after its arrival).
    alive: Option<Nanos>,
    last: Option<Sample>,
    stale: bool,
    /// What it saw.
    pub stats: LossStats,
}

impl LossMonitor {
    /// A monitor with nothing seen yet.
    pub fn new(cfg: LossConfig) -> Self {
        LossMonitor {
            cfg,
            start: None,
            previous: None,
            overloaded: false,
            run: 0,
            alive: None,
            last: None,
            stale: false,
            stats: LossStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LossConfig {
        &self.cfg
    }

    /// A counter record that arrived at `now` (blb's clock).
    pub fn counters(&mut self, now: Nanos, c: Counters) -> Step {
        self.stats.records += 1;
        if !self.alive_at(now, c.at) {
            return Step::Old;
        }
        let repeat = self
            .previous
            .as_ref()
            .is_some_and(|p| (p.packets, p.drops, p.decoded) == (c.packets, c.drops, c.decoded));
        if repeat {
            self.stats.repeats += 1;
        }
        let backwards = self.previous.as_ref().is_some_and(|p| {
            c.at < p.at || c.packets < p.packets || c.drops < p.drops || c.decoded < p.decoded
        });
        self.previous = Some(c.clone());
        let Some(start) = self.start.as_ref().filter(|_| !backwards) else {
            if backwards {
                self.stats.resets += 1;
            }
            self.start = Some(c);
            return if backwards { Step::Reset } else { Step::Held };
        };
        let span = c.at - start.at;
        if span < self.cfg.min_span {
            return if repeat { Step::Repeat } else { Step::Held };
        }
        let packets = c.packets - start.packets;
        let drops = (c.drops - start.drops).min(packets);
        let total = percent(drops, packets);
        let worst = (start.workers.len() == c.workers.len() && !c.workers.is_empty()).then(|| {
            start
                .workers
                .iter()
                .zip(&c.workers)
                .map(|(a, b)| {
                    let p = b.0.saturating_sub(a.0);
                    percent(b.1.saturating_sub(a.1).min(p), p)
                })
                .fold(0.0, f64::max)
        });
        self.start = Some(c);
        let loss = worst.unwrap_or(0.0).max(total);
        let mut s = self.judge(loss);
        s.total_percent = total;
        s.worst_worker_percent = worst;
        s.span = span;
        s.packets = packets;
        s.drops = drops;
        self.last = Some(s);
        Step::Sample(s)
    }

    /// One measurement interval's loss (percent, as Zeek's `percent_lost`) made at `at` (the
    /// line's own time, when it has one) and read at `now`. Returns `None` (and counts it
    /// garbled) for a figure that is not a percentage.
    pub fn interval(&mut self, now: Nanos, at: Option<Nanos>, loss_percent: f64) -> Option<Step> {
        if !(loss_percent.is_finite() && (0.0..=100.0).contains(&loss_percent)) {
            self.garbled();
            return None;
        }
        self.stats.records += 1;
        if !self.alive_at(now, at.unwrap_or(now)) {
            return Some(Step::Old);
        }
        let mut s = self.judge(loss_percent);
        s.total_percent = loss_percent;
        self.last = Some(s);
        Some(Step::Sample(s))
    }

    /// A record that did not parse, or lacked the figures: counted, and nothing else (it does
    /// not keep the source fresh).
    pub fn garbled(&mut self) {
        self.stats.garbled += 1;
    }

    /// Whether the sensor is overloaded now.
    pub fn overloaded(&self) -> bool {
        self.overloaded
    }

    /// Whether the source was found stale when last asked, and nothing came since.
    pub fn stale(&self) -> bool {
        self.stale
    }

    /// The latest sample.
    pub fn last(&self) -> Option<Sample> {
        self.last
    }

    /// Whether the source is stale at `now`: it never gave a well-formed record, or not for
    /// `stale_after`. Turning stale forgets the window and the state (counted once).
    pub fn is_stale(&mut self, now: Nanos) -> bool {
        let stale = self
            .alive
            .is_none_or(|t| now.saturating_sub(t) > self.cfg.stale_after);
        if stale && self.alive.is_some() && !self.stale {
            self.stats.stale += 1;
            self.start = None;
            self.previous = None;
            self.overloaded = false;
            self.run = 0;
            self.last = None;
        }
        self.stale = stale && self.alive.is_some();
        stale
    }

    /// The floor to report for the sensor's load at `now` (see the module documentation):
    /// [`OVERLOAD_LOAD`] while overloaded, 0 otherwise; `None` while stale or before the
    /// first sample.
    pub fn report(&mut self, now: Nanos) -> Option<f64> {
        if self.is_stale(now) || self.last.is_none() {
            return None;
        }
        Some(if self.overloaded { OVERLOAD_LOAD } else { 0.0 })
    }

    /// A well-formed record made at `at` arrived at `now`: false (counted old) when it was
    /// made more than `stale_after` ago, so says nothing about now. A record dated in the
    /// future (clocks apart) counts as made when it arrived.
    fn alive_at(&mut self, now: Nanos, at: Nanos) -> bool {
        // A silence longer than stale_after forgets the state, even if nobody asked between.
        self.is_stale(now);
        if now.saturating_sub(at) > self.cfg.stale_after {
            self.stats.old += 1;
            return false;
        }
        let t = at.min(now);
        self.alive = Some(self.alive.map_or(t, |a| a.max(t)));
        self.stale = false;
        true
    }

    /// One sample's loss through the hysteresis.
    fn judge(&mut self, loss: f64) -> Sample {
        self.stats.samples += 1;
        let toward = if self.overloaded {
            loss < self.cfg.release_percent
        } else {
            loss >= self.cfg.enter_percent
        };
        self.run = if toward { self.run + 1 } else { 0 };
        let changed = self.run >= self.cfg.samples;
        if changed {
            self.overloaded = !self.overloaded;
            self.run = 0;
            if self.overloaded {
                self.stats.entered += 1;
            } else {
                self.stats.released += 1;
            }
        }
        Sample {
            loss_percent: loss,
            total_percent: loss,
            worst_worker_percent: None,
            span: 0,
            packets: 0,
            drops: 0,
            overloaded: self.overloaded,
            changed,
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[cfg(test)]
#[path = "overload_tests.rs"]
mod tests;
