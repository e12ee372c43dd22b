//! Load estimation: each sensor's load as a percentage of its capacity, smoothed, plus the
//! per-second load statistics (variance across sensors, maximum) that the summary reports.
//!
//! Beside each rate the estimator keeps each sensor's per-second noise: how much the load
//! measured over one calendar second moves from one second to the next, as the Allan variance
//! `σ² = ½·E[(x_s − x_{s−1})²]` of the per-second loads `x_s` (%²), estimated robustly from the
//! last 16 seconds. It is measured rather than modelled, so it is small for a flood of evenly
//! spaced packets and large for bursty traffic, and one step (an attack starting) does not
//! inflate it. Robust BLB plans with it (`crate::blb::solve_p`).
//!
//! The smoothed estimate is an exponentially weighted rate: every byte sent to sensor i adds
//! `1/τ` to its rate, and rates decay by `e^{−Δt/τ}`. With τ = 1 s this reads as "bytes per
//! second over about the last second". Time comes only from packet timestamps, so offline runs
//! are deterministic. Decay is applied lazily (at most once per millisecond of packet time,
//! and whenever loads are read), which keeps the per-packet cost to one addition.

use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::sensor::SensorSet;

/// Smallest step of packet time at which pending bytes are folded into the rates.
const DECAY_STEP: Nanos = 1_000_000;

/// Seconds of first differences the noise estimate reads.
const NOISE_WINDOW: usize = 16;

/// Per-sensor noise of the per-second loads, from the median of the last [`NOISE_WINDOW`]
/// first differences: `σ² = ½·(1.4826·median|x_s − x_{s−1}|)²`, the Allan variance for Gaussian
/// noise, which one step (an attack starting, a flow moving) does not inflate. The window
/// starts full of zeros: until half of it shows movement, the noise reads as 0 (nothing is
/// known of it yet, and the start of a capture is a step).
#[derive(Clone, Debug)]
struct SecondNoise {
    second: Option<u64>,
    bytes: Vec<u64>,
    previous: Vec<f64>,
    /// Per sensor, a ring of the last |first differences|.
    diffs: Vec<[f64; NOISE_WINDOW]>,
    next: usize,
    noise: Vec<f64>,
}

impl SecondNoise {
    fn new(n: usize) -> Self {
        SecondNoise {
            second: None,
            bytes: vec![0; n],
            previous: vec![0.0; n],
            diffs: vec![[0.0; NOISE_WINDOW]; n],
            next: 0,
            noise: vec![0.0; n],
        }
    }

    /// Move to the calendar second of `now`, closing the seconds that passed.
    fn advance(&mut self, now: Nanos, capacity: &[f64]) {
        let sec = now / NANOS_PER_SEC;
        let Some(current) = self.second else {
            self.second = Some(sec);
            return;
        };
        if sec <= current {
            return;
        }
        // Seconds without a packet count as loads of 0 (at most a window of them matters).
        let closes = (sec - current).min(NOISE_WINDOW as u64 + 1);
        for _ in 0..closes {
            self.close(capacity);
        }
        self.second = Some(sec);
    }

    fn close(&mut self, capacity: &[f64]) {
        let slot = self.next;
        for (((ring, p), b), c) in self
            .diffs
            .iter_mut()
            .zip(self.previous.iter_mut())
            .zip(self.bytes.iter_mut())
            .zip(capacity)
        {
            let x = 100.0 * *b as f64 / c;
            ring[slot] = (x - *p).abs();
            *p = x;
            *b = 0;
        }
        self.next = (slot + 1) % NOISE_WINDOW;
        for (ring, out) in self.diffs.iter().zip(self.noise.iter_mut()) {
            let mut w = *ring;
            let (_, median, _) = w.select_nth_unstable_by(NOISE_WINDOW / 2, f64::total_cmp);
            let sigma = 1.4826 * *median;
            *out = 0.5 * sigma * sigma;
        }
    }
}

/// Smoothed per-sensor load estimator.
#[derive(Clone, Debug)]
pub struct LoadEstimator {
    capacity: Vec<f64>,
    tau_secs: f64,
    rate: Vec<f64>,
    pending: Vec<u64>,
    noise: SecondNoise,
    last: Option<Nanos>,
    start: Option<Nanos>,
}

impl LoadEstimator {
    /// One entry per sensor: its capacity in bytes per second (> 0); `tau` the smoothing
    /// time constant.
    pub fn new(capacity: Vec<f64>, tau: Nanos) -> Self {
        let n = capacity.len();
        LoadEstimator {
            capacity,
            tau_secs: (tau.max(1) as f64) / NANOS_PER_SEC as f64,
            rate: vec![0.0; n],
            pending: vec![0; n],
            noise: SecondNoise::new(n),
            last: None,
            start: None,
        }
    }

    /// Number of sensors.
    pub fn sensors(&self) -> usize {
        self.capacity.len()
    }

    /// Capacity of each sensor in bytes per second.
    pub fn capacities(&self) -> &[f64] {
        &self.capacity
    }

    /// Account `bytes` sent to each sensor of `to` at time `now`.
    pub fn add(&mut self, to: SensorSet, bytes: u64, now: Nanos) {
        self.start.get_or_insert(now);
        if self.last.is_none_or(|l| now >= l + DECAY_STEP) {
            self.fold(now);
        }
        self.noise.advance(now, &self.capacity);
        for s in to {
            let s = usize::from(s);
            if let (Some(p), Some(b)) = (self.pending.get_mut(s), self.noise.bytes.get_mut(s)) {
                *p += bytes;
                *b += bytes;
            }
        }
    }

    /// Write each sensor's load (percent of capacity) at `now` into `out`.
    pub fn loads(&mut self, now: Nanos, out: &mut Vec<f64>) {
        self.fold(now);
        let correction = self.correction();
        out.clear();
        out.extend(
            self.rate
                .iter()
                .zip(&self.capacity)
                .map(|(r, c)| 100.0 * r * correction / c),
        );
    }

    /// Write each sensor's per-second noise at `now` into `out`: the variance (%²) of its
    /// load measured over one second (module documentation).
    pub fn noise(&mut self, now: Nanos, out: &mut Vec<f64>) {
        self.noise.advance(now, &self.capacity);
        out.clear();
        out.extend_from_slice(&self.noise.noise);
    }

    /// Bias correction for the short history; bounded so one early packet is not magnified.
    fn correction(&self) -> f64 {
        let seen = match (self.start, self.last) {
            (Some(s), Some(l)) if l > s => (l - s) as f64 / NANOS_PER_SEC as f64,
            _ => 0.0,
        };
        1.0 / (1.0 - (-seen / self.tau_secs).exp()).max(0.1)
    }

    fn fold(&mut self, now: Nanos) {
        let dt = match self.last {
            Some(l) if now > l => (now - l) as f64 / NANOS_PER_SEC as f64,
            Some(_) => 0.0,
            None => 0.0,
        };
        let decay = (-dt / self.tau_secs).exp();
        for (r, p) in self.rate.iter_mut().zip(self.pending.iter_mut()) {
            *r = *r * decay + (*p as f64) / self.tau_secs;
            *p = 0;
        }
        if self.last.is_none_or(|l| now > l) {
            self.last = Some(now);
        }
    }
}

/// One second's load picture.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SecondSample {
    /// Second index since the Unix epoch.
    pub second: u64,
    /// Population variance of the sensors' loads in that second (%²).
    pub variance: f64,
    /// Highest sensor load in that second (%).
    pub max_load: f64,
    /// Mean sensor load (%).
    pub mean_load: f64,
}

/// Whole-run aggregates of the per-second load samples, kept exactly and online (they do
/// not depend on how many samples are retained).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct LoadTotals {
    /// Seconds that carried traffic (every sample ever closed).
    pub seconds: u64,
    /// Sum of the per-second variances, in the order the seconds closed (%²).
    pub variance_sum: f64,
    /// Highest per-second variance (%²).
    pub variance_max: f64,
    /// Highest per-second load of any sensor (%).
    pub max_load: f64,
    /// The bound V that `seconds_over_bound` counts against (%²).
    pub variance_bound: f64,
    /// Seconds whose variance was above `variance_bound`.
    pub seconds_over_bound: u64,
}

impl LoadTotals {
    /// Mean over seconds of the per-second variance (0 with no second).
    pub fn variance_mean(&self) -> f64 {
        if self.seconds == 0 {
            0.0
        } else {
            self.variance_sum / self.seconds as f64
        }
    }

    /// Fraction of seconds whose variance was above the bound (0 with no second).
    pub fn fraction_over_bound(&self) -> f64 {
        if self.seconds == 0 {
            0.0
        } else {
            self.seconds_over_bound as f64 / self.seconds as f64
        }
    }

    fn add(&mut self, s: &SecondSample) {
        self.seconds += 1;
        self.variance_sum += s.variance;
        self.variance_max = self.variance_max.max(s.variance);
        self.max_load = self.max_load.max(s.max_load);
        if s.variance > self.variance_bound {
            self.seconds_over_bound += 1;
        }
    }
}

/// Per-second load accounting: the load of sensor i in a second is
/// `100 × bytes sent to i in that second / capacity of i`; the variance is the population
/// variance over sensors, as in the paper's constraint (4). Seconds without any packet (gaps
/// in a capture) are not sampled.
///
/// Memory is bounded whatever the capture's length: the whole run is summed up exactly in
/// [`LoadTotals`], and only the most recent `keep` samples are retained (in a buffer of at
/// most `2 × keep`, compacted when full, so that [`SecondStats::samples`] is one slice).
#[derive(Clone, Debug)]
pub struct SecondStats {
    capacity: Vec<f64>,
    current: Option<u64>,
    bytes: Vec<u64>,
    samples: Vec<SecondSample>,
    keep: usize,
    totals: LoadTotals,
}

impl SecondStats {
    /// One capacity (bytes/s) per sensor; the most recent `keep` samples (at least 1) are
    /// retained; seconds above `variance_bound` are counted.
    pub fn new(capacity: Vec<f64>, keep: usize, variance_bound: f64) -> Self {
        let n = capacity.len();
        SecondStats {
            capacity,
            current: None,
            bytes: vec![0; n],
            samples: Vec::new(),
            keep: keep.max(1),
            totals: LoadTotals {
                variance_bound,
                ..LoadTotals::default()
            },
        }
    }

    /// Account `bytes` sent to the sensors of `to` at `now`.
    pub fn add(&mut self, to: SensorSet, bytes: u64, now: Nanos) {
        let sec = now / NANOS_PER_SEC;
        match self.current {
            Some(c) if sec > c => {
                self.close();
                self.current = Some(sec);
            }
            None => self.current = Some(sec),
            _ => {}
        }
        for s in to {
            if let Some(b) = self.bytes.get_mut(usize::from(s)) {
                *b += bytes;
            }
        }
    }

    /// Close the current second (call at end of input).
    pub fn finish(&mut self) {
        self.close();
        self.current = None;
    }

    /// The most recent samples retained (at most `keep`), one per second that carried
    /// traffic, in time order.
    pub fn samples(&self) -> &[SecondSample] {
        &self.samples[self.samples.len().saturating_sub(self.keep)..]
    }

    /// The whole run's aggregates.
    pub fn totals(&self) -> LoadTotals {
        self.totals
    }

    /// Bytes of heap held: at most `2 × keep` samples, whatever the capture's length.
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<SecondSample>()
            + self.bytes.capacity() * 8
            + self.capacity.capacity() * 8
    }

    fn close(&mut self) {
        let Some(second) = self.current else { return };
        let loads = self
            .bytes
            .iter()
            .zip(&self.capacity)
            .map(|(&b, c)| 100.0 * b as f64 / c);
        let (mean, variance) = mean_and_variance(loads.clone());
        let max_load = loads.fold(0.0, f64::max);
        let sample = SecondSample {
            second,
            variance,
            max_load,
            mean_load: mean,
        };
        self.totals.add(&sample);
        if self.samples.len() >= 2 * self.keep {
            self.samples.drain(..self.samples.len() - self.keep);
        }
        if self.samples.len() == self.samples.capacity() {
            // Grow by doubling, but never past the 2 × keep the buffer ever holds.
            let want = (2 * self.samples.capacity()).max(16).min(2 * self.keep);
            self.samples.reserve_exact(want - self.samples.len());
        }
        self.samples.push(sample);
        self.bytes.iter_mut().for_each(|b| *b = 0);
    }
}

/// Population variance of a set of loads: `1/n Σ (L_i − μ)²` (0 for no loads). The one
/// place blb computes it: the per-second samples, the live snapshot and the reports use it.
pub fn variance(loads: &[f64]) -> f64 {
    mean_and_variance(loads.iter().copied()).1
}

/// The mean and population variance of loads given as an iterator (walked twice, so that
/// the per-second sample needs no buffer); (0, 0) for none.
pub fn mean_and_variance(loads: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = loads.clone().count();
    if n == 0 {
        return (0.0, 0.0);
    }
    let n = n as f64;
    let mean = loads.clone().sum::<f64>() / n;
    (
        mean,
        loads.map(|l| (l - mean) * (l - mean)).sum::<f64>() / n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: Nanos = NANOS_PER_SEC;

    #[test]
    fn steady_rate_converges_to_capacity_share() {
        // 1 MB/s into sensor 0 of capacity 10 MB/s: load → 10 %.
        let mut e = LoadEstimator::new(vec![10e6, 10e6], S);
        for ms in 0..10_000u64 {
            e.add(SensorSet::one(0), 1000, ms * 1_000_000);
        }
        let mut out = Vec::new();
        e.loads(10 * S, &mut out);
        assert!((out[0] - 10.0).abs() < 0.2, "load {}", out[0]);
        assert_eq!(out[1], 0.0);
    }

    #[test]
    fn noise_is_the_allan_variance_of_the_per_second_loads() {
        // Sensor 0 gets 1 MB every second (10 % of 10 MB/s): no noise. Sensor 1 alternates
        // between 0.5 and 1.5 MB (5 % and 15 %): differences of 10, σ² = ½·(1.4826·10)².
        let mut e = LoadEstimator::new(vec![10e6, 10e6], S);
        let mut noise = Vec::new();
        for sec in 0..200u64 {
            let big = if sec % 2 == 0 { 1500 } else { 500 };
            for ms in 0..1000u64 {
                let t = sec * S + ms * 1_000_000;
                e.add(SensorSet::one(0), 1000, t);
                e.add(SensorSet::one(1), big, t);
            }
        }
        e.noise(200 * S, &mut noise);
        assert!(noise[0] < 1e-9, "{noise:?}");
        let want = 0.5 * (1.4826f64 * 10.0).powi(2);
        assert!((noise[1] - want).abs() < 1e-6, "{noise:?}");
        // One step (sensor 0 drops to 0 and stays there) is one outlier among 16: no noise.
        e.noise(203 * S, &mut noise);
        assert!(noise[0] < 1e-9, "{noise:?}");
    }

    #[test]
    fn load_decays_when_idle() {
        let mut e = LoadEstimator::new(vec![1e6], S);
        e.add(SensorSet::one(0), 1, 0);
        e.add(SensorSet::one(0), 1_000_000, 10 * S);
        let mut out = Vec::new();
        e.loads(10 * S, &mut out);
        let start = out[0];
        e.loads(11 * S, &mut out);
        let c10 = 1.0 - (-10.0f64).exp();
        let c11 = 1.0 - (-11.0f64).exp();
        assert!((out[0] / start - (-1.0f64).exp() * c10 / c11).abs() < 1e-9);
    }

    #[test]
    fn a_load_starting_with_the_capture_is_seen_at_once() {
        // 1 MB/s from t = 0 on a 10 MB/s sensor: 10 % after 0.5 s already, not 3.9 %.
        let mut e = LoadEstimator::new(vec![10e6], S);
        for ms in 0..500u64 {
            e.add(SensorSet::one(0), 1000, ms * 1_000_000);
        }
        let mut out = Vec::new();
        e.loads(500 * 1_000_000, &mut out);
        assert!((out[0] - 10.0).abs() < 0.2, "load {}", out[0]);
    }

    #[test]
    fn per_second_variance_matches_hand_computation() {
        // Paper's numbers: 10 sensors of 10 MB/s, 1 MB in one second all on one sensor:
        // loads 10,0,...,0, mean 1, variance (81 + 9·1)/10 = 9.
        let mut s = SecondStats::new(vec![10e6; 10], 10, 9.0);
        s.add(SensorSet::one(0), 1_000_000, 5 * S);
        s.add(SensorSet::one(0), 0, 5 * S + 1);
        s.finish();
        let sample = s.samples()[0];
        assert!((sample.variance - 9.0).abs() < 1e-9);
        assert!((sample.max_load - 10.0).abs() < 1e-9);
        assert!((sample.mean_load - 1.0).abs() < 1e-9);
        assert!(
            (variance(&[10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]) - 9.0).abs() < 1e-9
        );
    }

    #[test]
    fn idle_seconds_are_not_sampled() {
        let mut s = SecondStats::new(vec![1.0; 2], 10, 9.0);
        s.add(SensorSet::one(0), 1, 0);
        s.add(SensorSet::one(1), 1, 86_400 * S);
        s.finish();
        assert_eq!(s.samples().len(), 2);
    }

    #[test]
    fn totals_are_exact_and_samples_bounded_over_a_long_run() {
        // 2 sensors, one second in three all on sensor 0 (variance 2 500 %²), the others
        // split evenly (0): 100 000 seconds, of which the most recent 50 are kept.
        let keep = 50;
        let mut s = SecondStats::new(vec![1000.0; 2], keep, 9.0);
        let mut all = Vec::new();
        let mut peak_heap = 0;
        for sec in 0..100_000u64 {
            if sec % 3 == 0 {
                s.add(SensorSet::one(0), 1000, sec * S);
            } else {
                s.add(SensorSet::one(0), 500, sec * S);
                s.add(SensorSet::one(1), 500, sec * S);
            }
            if sec > 0 {
                all.push(*s.samples().last().expect("a sample"));
            }
            peak_heap = peak_heap.max(s.heap_bytes());
        }
        s.finish();
        all.push(*s.samples().last().expect("a sample"));
        let t = s.totals();
        assert_eq!(t.seconds, 100_000);
        let sum = all.iter().map(|x| x.variance).sum::<f64>();
        assert_eq!(t.variance_mean(), sum / all.len() as f64, "bit for bit");
        assert_eq!(t.variance_max, 2500.0);
        assert_eq!(t.max_load, 100.0);
        assert_eq!(t.seconds_over_bound, 33_334);
        assert_eq!(s.samples().len(), keep);
        assert_eq!(s.samples(), &all[all.len() - keep..]);
        assert!(s.samples().windows(2).all(|w| w[0].second < w[1].second));
        assert!(peak_heap <= 2 * keep * std::mem::size_of::<SecondSample>() + 64);
    }
}
