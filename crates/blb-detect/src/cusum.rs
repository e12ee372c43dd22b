//! Source-address monitoring with CUSUM (Peng, Leckie & Ramamohanarao 2004), as used by
//! Le, Al-Shaer & Boutaba (2008) §VII.
//!
//! A source address is *new* the first time it is seen during detection if the
//! [`AddressDb`] does not hold it; it is then remembered (in a set of at most
//! [`CusumConfig::seen_cap`] addresses, oldest evicted first) and never counts again — unless it
//! was evicted, in which case it counts once more (an error towards alarming, never towards
//! missing an attack). Only IP packets with an IP source address are looked at; other frames
//! still move time forward.
//!
//! Per interval `n` (numbered from 0, see the crate docs): `X_n = N_new(n) / C`, with `C` a fixed
//! normaliser for the whole link (not per sensor); `Y_n = max(0, Y_{n−1} + X_n − β)` with
//! `Y_{−1} = 0`; the interval alarms when `Y_n > th_y`. To keep floating-point rounding of the
//! running sum from deciding ties (`Y_24 = 25 × 0.8` comes out as 20.00000000000001),
//! "greater" means greater by more than `1e-9 × max(1, |th_y|)`.
//!
//! Intervals without packets still close (each lowers `Y` by β) once the detector learns that
//! time passed: from a later packet, from [`Cusum::advance_to`] or from [`Cusum::finish`]. A
//! single timestamp gap stores at most [`CusumConfig::max_gap_records`] empty intervals; the rest
//! of the gap is applied in one step (`Y ← max(0, Y − m·β)`), and the next stored interval's
//! `index` jumps accordingly.

use blb_core::packet::{Addr, Nanos, PacketClass, PacketMeta};

use crate::addrdb::AddressDb;
use crate::bounded::FifoSet;
use crate::clock::{Clock, History};
use crate::{DetectError, cap_option, secs_option};

/// CUSUM settings (a `[detect.cusum]` table in TOML). Defaults are the paper's values.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CusumConfig {
    /// Interval length Δn in seconds. Default 1.
    pub interval_secs: f64,
    /// The normaliser `C` of `X_n = N_new / C`, for the whole link. Default 50.
    pub c: f64,
    /// The drift β subtracted every interval (positive). Default 1.
    pub beta: f64,
    /// The alarm threshold `th_y`. Default 20.
    pub threshold: f64,
    /// Most new sources remembered (oldest evicted first). Default 2^20.
    pub seen_cap: usize,
    /// Most intervals kept in the history (oldest half dropped when full). Default 2^20.
    pub history_cap: usize,
    /// Most empty intervals stored for one timestamp gap. Default 3600.
    pub max_gap_records: u64,
}

impl Default for CusumConfig {
    fn default() -> Self {
        CusumConfig {
            interval_secs: 1.0,
            c: 50.0,
            beta: 1.0,
            threshold: 20.0,
            seen_cap: 1 << 20,
            history_cap: 1 << 20,
            max_gap_records: 3600,
        }
    }
}

fn positive(name: &'static str, v: f64) -> Result<(), DetectError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(DetectError::BadOption {
            name,
            reason: format!("must be a positive finite number, got {v}"),
        })
    }
}

impl CusumConfig {
    /// Checks the options; the error names the bad one.
    pub fn validate(&self) -> Result<(), DetectError> {
        secs_option("interval_secs", self.interval_secs)?;
        positive("c", self.c)?;
        positive("beta", self.beta)?;
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(DetectError::BadOption {
                name: "threshold",
                reason: format!("must be a finite number ≥ 0, got {}", self.threshold),
            });
        }
        cap_option("seen_cap", self.seen_cap)?;
        cap_option("history_cap", self.history_cap)
    }

    /// True when `y` exceeds the threshold (by more than the rounding tolerance).
    pub fn exceeds(&self, y: f64) -> bool {
        y - self.threshold > 1e-9 * self.threshold.abs().max(1.0)
    }
}

/// One closed interval of the CUSUM detector.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Interval number `n`, from 0 at the origin.
    pub index: u64,
    /// Start of the interval (ns); `index · Δ` after the origin is the paper's alarm time.
    pub start_ts: Nanos,
    /// End of the interval (exclusive), when its `Y_n` becomes known.
    pub end_ts: Nanos,
    /// Packets observed in the interval (all classes).
    pub packets: u64,
    /// New source addresses counted in the interval, `N_new(n)`.
    pub new_sources: u64,
    /// `X_n = N_new(n) / C`.
    pub x: f64,
    /// `Y_n = max(0, Y_{n−1} + X_n − β)`.
    pub y: f64,
    /// `Y_n > th_y`.
    pub alarm: bool,
}

/// Counters of a [`Cusum`] detector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CusumStats {
    /// Packets observed.
    pub packets: u64,
    /// Packets ignored for counting because they had no IP source address.
    pub non_ip: u64,
    /// New sources counted in all intervals.
    pub new_sources: u64,
    /// Remembered new sources evicted to respect `seen_cap`.
    pub seen_evictions: u64,
    /// Intervals that alarmed.
    pub alarm_intervals: u64,
    /// Empty intervals of long gaps applied without being stored.
    pub skipped_intervals: u64,
    /// Stored intervals dropped to respect `history_cap`.
    pub history_dropped: u64,
}

/// One CUSUM detector, e.g. one per sensor, each with a clone of the same [`AddressDb`].
#[derive(Clone, Debug)]
pub struct Cusum {
    cfg: CusumConfig,
    db: AddressDb,
    seen: FifoSet<Addr>,
    clock: Clock,
    cur_packets: u64,
    cur_new: u64,
    y: f64,
    max_y: f64,
    history: History<Interval>,
    first_alarm: Option<Interval>,
    stats: CusumStats,
}

impl Cusum {
    /// A detector using `db` (finished here if it is still training), with interval 0 starting
    /// at `start_ts` or, without one, at the first timestamp it learns of.
    pub fn new(
        cfg: CusumConfig,
        mut db: AddressDb,
        start_ts: Option<Nanos>,
    ) -> Result<Self, DetectError> {
        cfg.validate()?;
        let width = secs_option("interval_secs", cfg.interval_secs)?;
        db.finish_training();
        Ok(Cusum {
            seen: FifoSet::new(cfg.seen_cap),
            clock: Clock::new(width, start_ts),
            history: History::new(cfg.history_cap),
            cfg,
            db,
            cur_packets: 0,
            cur_new: 0,
            y: 0.0,
            max_y: 0.0,
            first_alarm: None,
            stats: CusumStats::default(),
        })
    }

    /// Observes one packet: closes the intervals before its timestamp, then counts its source
    /// if it is new. A packet older than the latest one seen counts in the current interval.
    pub fn observe(&mut self, p: &PacketMeta) {
        let ts = self.clock.admit(p.ts);
        self.advance_index(self.clock.index_of(ts));
        self.stats.packets += 1;
        self.cur_packets += 1;
        if p.class != PacketClass::Ip || !p.src.is_ip() {
            self.stats.non_ip += 1;
            return;
        }
        if self.db.contains(&p.src) || self.seen.contains(&p.src) {
            return;
        }
        self.seen.insert(p.src);
        self.stats.seen_evictions = self.seen.evictions();
        self.cur_new += 1;
        self.stats.new_sources += 1;
    }

    /// Tells the detector that time `ts` has been reached: closes every interval that ends at
    /// or before `ts`, empty ones included.
    pub fn advance_to(&mut self, ts: Nanos) {
        let ts = self.clock.admit(ts);
        self.advance_index(self.clock.index_of(ts));
    }

    /// Ends the observation at `end_ts`: closes every interval that starts before `end_ts`
    /// (a last partial interval is reported like a full one) and the current interval if it
    /// saw packets; time moves to `end_ts`. Observation may continue afterwards, in the next
    /// interval.
    pub fn finish(&mut self, end_ts: Nanos) {
        if self.clock.origin().is_none() && self.cur_packets == 0 {
            return;
        }
        self.clock.admit(end_ts);
        let mut target = self.clock.intervals_before(end_ts);
        if self.cur_packets > 0 {
            target = target.max(self.clock.cur().saturating_add(1));
        }
        self.advance_index(target);
    }

    fn advance_index(&mut self, target: u64) {
        let cur = self.clock.cur();
        if target <= cur {
            return;
        }
        let (packets, new) = (self.cur_packets, self.cur_new);
        self.cur_packets = 0;
        self.cur_new = 0;
        self.close(cur, packets, new);
        let empties = target - cur - 1;
        let stored = empties.min(self.cfg.max_gap_records);
        for i in 1..=stored {
            self.close(cur + i, 0, 0);
        }
        let skipped = empties - stored;
        if skipped > 0 {
            // Empty intervals only lower Y, so no alarm can start inside the skipped run.
            self.y = (self.y - skipped as f64 * self.cfg.beta).max(0.0);
            self.stats.skipped_intervals += skipped;
        }
        self.clock.set_cur(target);
    }

    fn close(&mut self, index: u64, packets: u64, new_sources: u64) {
        let x = new_sources as f64 / self.cfg.c;
        let y = (self.y + x - self.cfg.beta).max(0.0);
        self.y = y;
        self.max_y = self.max_y.max(y);
        let alarm = self.cfg.exceeds(y);
        let iv = Interval {
            index,
            start_ts: self.clock.start_of(index),
            end_ts: self.clock.end_of(index),
            packets,
            new_sources,
            x,
            y,
            alarm,
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
    pub fn intervals(&self) -> &[Interval] {
        self.history.as_slice()
    }

    /// The first interval that alarmed (kept even if the history dropped it).
    pub fn first_alarm(&self) -> Option<&Interval> {
        self.first_alarm.as_ref()
    }

    /// The first alarm's time in seconds after the origin, `index · Δ` (the paper's
    /// convention; the decision itself is available one interval later).
    pub fn first_alarm_secs(&self) -> Option<f64> {
        self.first_alarm
            .map(|iv| iv.index as f64 * self.cfg.interval_secs)
    }

    /// The largest `Y_n` so far.
    pub fn max_y(&self) -> f64 {
        self.max_y
    }

    /// The latest `Y_n` (0 before the first interval closed).
    pub fn y(&self) -> f64 {
        self.y
    }

    /// The origin (start of interval 0), once known.
    pub fn origin(&self) -> Option<Nanos> {
        self.clock.origin()
    }

    /// The latest timestamp seen.
    pub fn now(&self) -> Nanos {
        self.clock.now()
    }

    /// The configuration.
    pub fn config(&self) -> &CusumConfig {
        &self.cfg
    }

    /// The address database in use.
    pub fn address_db(&self) -> &AddressDb {
        &self.db
    }

    /// New sources remembered now.
    pub fn seen_len(&self) -> usize {
        self.seen.len()
    }

    /// The counters.
    pub fn stats(&self) -> CusumStats {
        self.stats
    }
}

#[cfg(test)]
#[path = "cusum_tests.rs"]
mod tests;
