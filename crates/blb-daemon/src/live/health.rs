//! Sensor health: why each sensor is out of service, from what the runtime observes (its
//! interface, its failed sends, the age of its load reports, a drain), and when it may come
//! back. Pure bookkeeping with time as an argument, so it is tested without I/O.
//!
//! A sensor is out of service while any reason holds:
//! * `interface_down`: its delivery interface is not up and running. It comes back when seen
//!   up and running at two checks in a row: the kernel reports a link running a moment before
//!   it gives the link a working queueing discipline, and a frame sent in between is dropped
//!   while the send reports success. The sends that failed meanwhile are then forgotten;
//! * `send_failing`: `send_errors_down` sends in a row failed on the way to it; it is tried
//!   again after `retry_after` (and leaves again at once if sends still fail);
//! * `reports_stale`: it is expected to report its load (SNMP or push) and no report came for
//!   `report_down_after` (counted from the start for a sensor that never reported);
//! * `drained`: an operator drained it on the control endpoint, until restored.

use std::time::Duration;

/// One reason a sensor is out of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Its delivery interface is down.
    InterfaceDown = 1,
    /// Sends to it keep failing.
    SendFailing = 2,
    /// Its load reports stopped.
    ReportsStale = 4,
    /// Drained by an operator.
    Drained = 8,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 4] = [
        Reason::InterfaceDown,
        Reason::SendFailing,
        Reason::ReportsStale,
        Reason::Drained,
    ];

    /// The name used in logs, metrics and the control endpoint.
    pub fn name(self) -> &'static str {
        match self {
            Reason::InterfaceDown => "interface_down",
            Reason::SendFailing => "send_failing",
            Reason::ReportsStale => "reports_stale",
            Reason::Drained => "drained",
        }
    }
}

/// The set of reasons a sensor is out (empty: in service).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reasons(u8);

impl Reasons {
    /// True when `r` holds.
    pub fn has(self, r: Reason) -> bool {
        self.0 & r as u8 != 0
    }

    /// True when no reason holds (the sensor may be in service).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names of the reasons that hold.
    pub fn names(self) -> Vec<&'static str> {
        Reason::ALL
            .iter()
            .filter(|r| self.has(**r))
            .map(|r| r.name())
            .collect()
    }

    fn set(&mut self, r: Reason, on: bool) {
        if on {
            self.0 |= r as u8;
        } else {
            self.0 &= !(r as u8);
        }
    }
}

/// Health settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthConfig {
    /// Consecutive failed sends that take a sensor out.
    pub send_errors_down: u64,
    /// Time after which a sensor out for failed sends is tried again.
    pub retry_after: Duration,
    /// Time without a report after which a reporting sensor is out (`None`: never).
    pub report_down_after: Option<Duration>,
}

/// What the runtime saw of one sensor at one check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// Whether its delivery interface is up (`None` for non-interface delivery).
    pub interface_up: Option<bool>,
    /// Failed sends in a row so far.
    pub consecutive_send_errors: u64,
}

/// A change of a sensor's reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The reasons before.
    pub before: Reasons,
    /// The reasons now.
    pub after: Reasons,
    /// True when the runtime should forget the failed-send streak (a retry begins).
    pub reset_send_errors: bool,
}

#[derive(Clone, Debug, Default)]
struct SensorHealth {
    reasons: Reasons,
    /// Its interface, down before, was seen up at the last check.
    seen_up: bool,
    send_down_since: Option<Duration>,
    last_report: Option<Duration>,
    expects_reports: bool,
}

/// Health of every sensor.
#[derive(Clone, Debug)]
pub struct Health {
    cfg: HealthConfig,
    sensors: Vec<SensorHealth>,
}

impl Health {
    /// All sensors healthy; `expects_reports[i]` says whether sensor i reports its load.
    pub fn new(cfg: HealthConfig, expects_reports: &[bool]) -> Self {
        Health {
            cfg,
            sensors: expects_reports
                .iter()
                .map(|&e| SensorHealth {
                    expects_reports: e,
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// Sensor `i`'s reasons.
    pub fn reasons(&self, i: usize) -> Reasons {
        self.sensors.get(i).map(|s| s.reasons).unwrap_or_default()
    }

    /// Sensor `i` reported its load at `now`.
    pub fn reported(&mut self, i: usize, now: Duration) -> Option<Transition> {
        let s = self.sensors.get_mut(i)?;
        s.last_report = Some(now);
        let before = s.reasons;
        s.reasons.set(Reason::ReportsStale, false);
        changed(before, s.reasons, false)
    }

    /// Drain (`true`) or restore (`false`) sensor `i`.
    pub fn drain(&mut self, i: usize, drained: bool) -> Option<Transition> {
        let s = self.sensors.get_mut(i)?;
        let before = s.reasons;
        s.reasons.set(Reason::Drained, drained);
        changed(before, s.reasons, false)
    }

    /// Check sensor `i` against what was observed at `now` (time since start).
    pub fn observe(&mut self, i: usize, obs: Observation, now: Duration) -> Option<Transition> {
        let cfg = self.cfg;
        let s = self.sensors.get_mut(i)?;
        let before = s.reasons;
        let mut reset = false;
        if let Some(up) = obs.interface_up {
            let was_down = s.reasons.has(Reason::InterfaceDown);
            let back = up && was_down && s.seen_up;
            s.seen_up = up && was_down && !back;
            if back {
                // The sends that failed while the interface was down say nothing more.
                s.reasons.set(Reason::SendFailing, false);
                s.send_down_since = None;
                reset = true;
            }
            s.reasons
                .set(Reason::InterfaceDown, !up || (was_down && !back));
        }
        if s.reasons.has(Reason::SendFailing) {
            let since = s.send_down_since.unwrap_or(now);
            if now.saturating_sub(since) >= cfg.retry_after {
                s.reasons.set(Reason::SendFailing, false);
                s.send_down_since = None;
                reset = true;
            }
        } else if !reset && obs.consecutive_send_errors >= cfg.send_errors_down {
            s.reasons.set(Reason::SendFailing, true);
            s.send_down_since = Some(now);
        }
        if s.expects_reports
            && let Some(limit) = cfg.report_down_after
        {
            let since = s.last_report.unwrap_or_default();
            s.reasons
                .set(Reason::ReportsStale, now.saturating_sub(since) > limit);
        }
        changed(before, s.reasons, reset)
    }
}

fn changed(before: Reasons, after: Reasons, reset: bool) -> Option<Transition> {
    (before != after || reset).then_some(Transition {
        before,
        after,
        reset_send_errors: reset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HealthConfig {
        HealthConfig {
            send_errors_down: 3,
            retry_after: Duration::from_secs(5),
            report_down_after: Some(Duration::from_secs(10)),
        }
    }

    const fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    #[test]
    fn interface_down_and_up() {
        let mut h = Health::new(cfg(), &[false, false]);
        let down = Observation {
            interface_up: Some(false),
            ..Default::default()
        };
        let t = h.observe(1, down, s(1)).expect("a change");
        assert!(t.before.is_empty() && t.after.has(Reason::InterfaceDown));
        assert_eq!(h.observe(1, down, s(2)), None);
        // Sends failed while it was down: once it is up again, that is forgotten at once.
        let failing = Observation {
            interface_up: Some(false),
            consecutive_send_errors: 99,
        };
        assert!(
            h.observe(1, failing, s(2))
                .expect("a change")
                .after
                .has(Reason::SendFailing)
        );
        let up = Observation {
            interface_up: Some(true),
            consecutive_send_errors: 99,
        };
        // Seen up once: still out (the kernel may not have given it a queueing discipline).
        assert_eq!(h.observe(1, up, s(3)), None);
        assert!(h.reasons(1).has(Reason::InterfaceDown));
        // Down again in between: the count starts over.
        assert_eq!(h.observe(1, down, s(3)), None);
        assert_eq!(h.observe(1, up, s(4)), None);
        // Up at two checks in a row: back, and the failed sends are forgotten.
        let t = h.observe(1, up, s(5)).expect("a change");
        assert!(t.after.is_empty() && t.reset_send_errors);
        assert!(h.reasons(0).is_empty());
    }

    #[test]
    fn failed_sends_take_a_sensor_out_until_the_retry() {
        let mut h = Health::new(cfg(), &[false]);
        let failing = |n| Observation {
            interface_up: None,
            consecutive_send_errors: n,
        };
        assert_eq!(h.observe(0, failing(2), s(0)), None);
        let t = h.observe(0, failing(3), s(1)).expect("out");
        assert_eq!(t.after.names(), vec!["send_failing"]);
        assert_eq!(h.observe(0, failing(3), s(5)), None, "retry only after 5 s");
        let t = h.observe(0, failing(3), s(6)).expect("retry");
        assert!(t.after.is_empty() && t.reset_send_errors);
        // Sends fail again after the retry: out again.
        assert!(h.observe(0, failing(3), s(7)).is_some());
        assert!(h.reasons(0).has(Reason::SendFailing));
    }

    #[test]
    fn stale_reports_and_drains() {
        let mut h = Health::new(cfg(), &[true, false]);
        let none = Observation::default();
        assert_eq!(h.observe(0, none, s(10)), None, "grace from the start");
        assert!(
            h.observe(0, none, s(11))
                .expect("stale")
                .after
                .has(Reason::ReportsStale)
        );
        assert_eq!(h.observe(1, none, s(11)), None, "sensor 1 does not report");
        assert!(h.reported(0, s(12)).expect("fresh").after.is_empty());
        assert_eq!(h.observe(0, none, s(22)), None);
        assert!(h.observe(0, none, s(23)).is_some());
        // A drain holds until restored, whatever else happens.
        let t = h.drain(1, true).expect("drained");
        assert_eq!(t.after.names(), vec!["drained"]);
        assert_eq!(h.drain(1, true), None);
        assert_eq!(h.observe(1, none, s(30)), None);
        assert!(h.drain(1, false).expect("restored").after.is_empty());
        assert_eq!(h.drain(9, true), None);
    }
}
