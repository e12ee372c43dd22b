//! Load reported by the sensors themselves (SNMP polling, the push endpoint), combined with
//! blb's own estimate.
//!
//! blb's estimate measures the traffic it sends a sensor, in percent of the sensor's
//! configured capacity. A sensor's report measures how busy the sensor actually is (CPU, in
//! percent), which also reflects what the estimate cannot see: an expensive traffic mix, a
//! rule update, other work on the host. The two are combined as
//!
//! ```text
//! load = report + (estimate now − estimate when the report arrived)      (clamped at 0)
//! ```
//!
//! so the report anchors the level and the estimate tracks what blb has sent since: between
//! two polls the balancer still sees the flows it just placed. A report older than
//! `stale_after` is ignored and the sensor's load is the estimate alone, as if no report had
//! ever come. Reports outside 0..=100 % are clamped; a non-finite report is refused.
//!
//! A report can also be a floor ([`ReportedLoads::report_at_least`]): the sensor's load is at
//! least this, whatever the estimate says. It is stored as the level `max(floor, estimate)`,
//! so it combines as any report: `estimate now + max(0, floor − estimate then)`. A floor of 0
//! leaves the estimate as it is (a sensor that says it keeps up, not how busy it is); a floor
//! of 100 % holds a sensor that drops packets at 100 % or more ([`crate::overload`]).

use crate::packet::Nanos;

/// One sensor's latest report.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Report {
    value: f64,
    at: Nanos,
    estimate_then: f64,
}

/// The latest report of each sensor.
#[derive(Clone, Debug)]
pub struct ReportedLoads {
    reports: Vec<Option<Report>>,
    stale_after: Nanos,
    /// Reports accepted.
    pub accepted: u64,
    /// Reports refused (not a finite number, or an unknown sensor).
    pub refused: u64,
}

impl ReportedLoads {
    /// No reports yet for `sensors` sensors; reports older than `stale_after` are ignored.
    pub fn new(sensors: usize, stale_after: Nanos) -> Self {
        ReportedLoads {
            reports: vec![None; sensors],
            stale_after,
            accepted: 0,
            refused: 0,
        }
    }

    /// Record sensor `sensor`'s report of `value` percent at `now`, when blb's estimate for
    /// it was `estimate`. Returns false (and counts it) when refused.
    pub fn report(&mut self, sensor: usize, value: f64, now: Nanos, estimate: f64) -> bool {
        let Some(slot) = self.reports.get_mut(sensor) else {
            self.refused += 1;
            return false;
        };
        if !value.is_finite() {
            self.refused += 1;
            return false;
        }
        *slot = Some(Report {
            value: value.clamp(0.0, 100.0),
            at: now,
            estimate_then: estimate,
        });
        self.accepted += 1;
        true
    }

    /// Record sensor `sensor`'s report that its load is at least `floor` percent (clamped to
    /// 0..=100) at `now`, when blb's estimate for it was `estimate`: stored as the level
    /// `max(floor, estimate)` (the estimate unclamped, so a floor never lowers it). Returns
    /// false (and counts it) when refused.
    pub fn report_at_least(
        &mut self,
        sensor: usize,
        floor: f64,
        now: Nanos,
        estimate: f64,
    ) -> bool {
        let Some(slot) = self.reports.get_mut(sensor) else {
            self.refused += 1;
            return false;
        };
        if !floor.is_finite() || !estimate.is_finite() {
            self.refused += 1;
            return false;
        }
        *slot = Some(Report {
            value: floor.clamp(0.0, 100.0).max(estimate),
            at: now,
            estimate_then: estimate,
        });
        self.accepted += 1;
        true
    }

    /// Forget sensor `sensor`'s report.
    pub fn clear(&mut self, sensor: usize) {
        if let Some(slot) = self.reports.get_mut(sensor) {
            *slot = None;
        }
    }

    /// Sensor `sensor`'s last report and its age at `now`, stale or not.
    pub fn last(&self, sensor: usize, now: Nanos) -> Option<(f64, Nanos)> {
        let r = self.reports.get(sensor).copied().flatten()?;
        Some((r.value, now.saturating_sub(r.at)))
    }

    /// True when sensor `sensor` has a report no older than `stale_after` at `now`.
    pub fn is_fresh(&self, sensor: usize, now: Nanos) -> bool {
        self.fresh(sensor, now).is_some()
    }

    fn fresh(&self, sensor: usize, now: Nanos) -> Option<Report> {
        let r = self.reports.get(sensor).copied().flatten()?;
        (now.saturating_sub(r.at) <= self.stale_after).then_some(r)
    }

    /// Replace, in place, each estimate in `loads` by the combined load of the module
    /// documentation wherever a fresh report exists.
    pub fn combine(&self, now: Nanos, loads: &mut [f64]) {
        for (i, l) in loads.iter_mut().enumerate() {
            if let Some(r) = self.fresh(i, now) {
                *l = (r.value + (*l - r.estimate_then)).max(0.0);
            }
        }
    }

    /// True when no sensor has ever reported (the combination can be skipped).
    pub fn is_empty(&self) -> bool {
        self.reports.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::NANOS_PER_SEC as S;

    #[test]
    fn fresh_report_anchors_and_estimate_tracks_the_change() {
        let mut r = ReportedLoads::new(3, 10 * S);
        assert!(r.is_empty());
        assert!(r.report(1, 60.0, 5 * S, 20.0));
        let mut loads = [10.0, 25.0, 30.0];
        r.combine(6 * S, &mut loads);
        // Sensor 1: 60 + (25 − 20) = 65; the others keep their estimates.
        assert_eq!(loads, [10.0, 65.0, 30.0]);
        // The estimate fell below its value at the report: the combination falls with it.
        let mut loads = [0.0, 0.0, 0.0];
        r.combine(6 * S, &mut loads);
        assert_eq!(loads[1], 40.0);
        // A large fall clamps at 0.
        r.report(1, 5.0, 7 * S, 50.0);
        let mut loads = [0.0, 10.0, 0.0];
        r.combine(7 * S, &mut loads);
        assert_eq!(loads[1], 0.0);
    }

    #[test]
    fn stale_report_falls_back_to_the_estimate() {
        let mut r = ReportedLoads::new(2, 10 * S);
        r.report(0, 90.0, 0, 0.0);
        let mut loads = [5.0, 5.0];
        r.combine(10 * S, &mut loads);
        assert_eq!(loads, [95.0, 5.0]);
        assert!(r.is_fresh(0, 10 * S));
        let mut loads = [5.0, 5.0];
        r.combine(10 * S + 1, &mut loads);
        assert_eq!(loads, [5.0, 5.0]);
        assert!(!r.is_fresh(0, 10 * S + 1));
        assert_eq!(r.last(0, 12 * S), Some((90.0, 12 * S)));
    }

    #[test]
    fn bad_reports_are_refused_and_values_clamped() {
        let mut r = ReportedLoads::new(1, S);
        assert!(!r.report(1, 10.0, 0, 0.0));
        assert!(!r.report(0, f64::NAN, 0, 0.0));
        assert!(!r.report(0, f64::INFINITY, 0, 0.0));
        assert_eq!((r.accepted, r.refused), (0, 3));
        assert!(r.report(0, 250.0, 0, 0.0));
        assert_eq!(r.last(0, 0), Some((100.0, 0)));
        r.clear(0);
        assert_eq!(r.last(0, 0), None);
    }

    #[test]
    fn a_floor_holds_the_load_up_and_a_zero_floor_leaves_the_estimate() {
        let mut r = ReportedLoads::new(2, 10 * S);
        assert!(r.report_at_least(0, 100.0, S, 20.0));
        assert!(r.report_at_least(1, 0.0, S, 20.0));
        // Sensor 0: at least 100, and what blb placed since adds to it; sensor 1: the estimate.
        let mut loads = [25.0, 25.0];
        r.combine(2 * S, &mut loads);
        assert_eq!(loads, [105.0, 25.0]);
        let mut loads = [3.0, 3.0];
        r.combine(2 * S, &mut loads);
        assert_eq!(loads, [83.0, 3.0]);
        // An estimate above 100 % is not lowered by the floor's clamp.
        r.report_at_least(1, 0.0, 3 * S, 150.0);
        assert_eq!(r.last(1, 3 * S), Some((150.0, 0)));
        let mut loads = [0.0, 160.0];
        r.combine(3 * S, &mut loads);
        assert_eq!(loads[1], 160.0);
        assert!(!r.report_at_least(2, 100.0, S, 0.0));
        assert!(!r.report_at_least(0, f64::NAN, S, 0.0));
        assert_eq!((r.accepted, r.refused), (3, 2));
        // Stale like any report.
        let mut loads = [1.0, 1.0];
        r.combine(12 * S, &mut loads);
        assert_eq!(loads[0], 1.0);
    }
}
