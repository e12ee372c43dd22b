//! Sensors leaving and returning to service, on the engine: which sensors are in service,
//! moving the flows of a sensor that leaves, and the counters of every move.
//!
//! When a sensor leaves, the balancer first moves what it keeps there
//! ([`crate::balancer::Balancer::sensor_left`]: BLB's clusters go, heaviest first, to the
//! least-loaded sensors), then every live flow that was on the sensor is given new sensors
//! by [`crate::balancer::Balancer::relocate`] (BLB: where its cluster went; hash: the next
//! sensor by rendezvous hashing; round robin: the next in turn). Flows on the other sensors
//! never move. Datagrams whose first fragments went to the sensor are forgotten, so their
//! later fragments follow their pseudo-flow. When a sensor returns, nothing moves back (that
//! would split live connections); new flows may go to it again at once.
//!
//! A flow left with no sensor (every sensor was out) is placed again by the balancer at its
//! next packet once a sensor is back.

use crate::balancer::{Relocation, ServiceContext};
use crate::engine::Engine;
use crate::packet::Nanos;
use crate::sensor::{SensorId, SensorSet};

/// Counters of failover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailoverStats {
    /// Times a sensor left service.
    pub sensors_left: u64,
    /// Times a sensor returned to service.
    pub sensors_returned: u64,
    /// Live flows moved off sensors that left.
    pub flows_moved: u64,
    /// Items the balancer moved (BLB: clusters).
    pub clusters_moved: u64,
    /// Fragmented datagrams forgotten because their sensor left.
    pub datagrams_forgotten: u64,
    /// Flows placed again after every sensor had been out.
    pub flows_replaced: u64,
}

/// What one change of service did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceChange {
    /// The sensor.
    pub sensor: SensorId,
    /// True when it returned, false when it left.
    pub returned: bool,
    /// Live flows moved off it.
    pub flows_moved: u64,
    /// Clusters (or other balancer items) moved off it.
    pub clusters_moved: u64,
    /// The sensors in service afterwards.
    pub in_service: SensorSet,
}

impl Engine {
    /// The sensors in service.
    pub fn in_service(&self) -> SensorSet {
        self.in_service
    }

    /// Take `sensor` out of service (`up` false) or put it back (`up` true) at `now`.
    /// Returns what changed, or `None` when nothing did (unknown sensor, or already so).
    pub fn set_in_service(
        &mut self,
        sensor: SensorId,
        up: bool,
        now: Nanos,
    ) -> Option<ServiceChange> {
        if usize::from(sensor) >= self.cfg.sensors || self.in_service.contains(sensor) == up {
            return None;
        }
        let now = self.now.max(now);
        self.now = now;
        if up {
            self.in_service.insert(sensor);
            self.failover.sensors_returned += 1;
            return Some(ServiceChange {
                sensor,
                returned: true,
                flows_moved: 0,
                clusters_moved: 0,
                in_service: self.in_service,
            });
        }
        self.in_service.remove(sensor);
        self.failover.sensors_left += 1;

        let mut loads = Vec::with_capacity(self.cfg.sensors);
        self.current_loads(&mut loads);
        let leaving_load = loads.get(usize::from(sensor)).copied().unwrap_or(0.0);
        let in_service = self.in_service;
        let clusters_moved = self.balancer.sensor_left(
            sensor,
            &mut ServiceContext {
                in_service,
                loads: &mut loads,
                leaving_load,
                now,
            },
        );

        let mut on_sensor = 0u64;
        self.flows.reassign(&mut |f| {
            on_sensor += u64::from(f.sensors.contains(sensor));
            None
        });
        let share = leaving_load / on_sensor.max(1) as f64;
        let balancer = &mut self.balancer;
        let stats = &mut self.stats;
        let flows_moved = self.flows.reassign(&mut |f| {
            if !f.sensors.contains(sensor) {
                return None;
            }
            let sensors = balancer.relocate(&mut Relocation {
                key: &f.key,
                tag: f.tag,
                old: f.sensors,
                in_service,
                loads: &mut loads,
                share,
            });
            for s in sensors.without(f.sensors) {
                if let Some(st) = stats.sensors.get_mut(usize::from(s)) {
                    st.flows += 1;
                }
            }
            Some(crate::balancer::Assignment {
                sensors,
                tag: f.tag,
            })
        });
        self.failover.flows_moved += flows_moved;
        self.failover.clusters_moved += clusters_moved;
        self.failover.datagrams_forgotten += self.frags.forget_sensor(sensor);
        Some(ServiceChange {
            sensor,
            returned: false,
            flows_moved,
            clusters_moved,
            in_service,
        })
    }

    /// The failover counters.
    pub fn failover_stats(&self) -> FailoverStats {
        self.failover
    }

    /// Record sensor `sensor`'s own report of its load (percent) at `now` (see
    /// [`crate::feedback`]). Returns false when refused (unknown sensor, not a number).
    pub fn report_load(&mut self, sensor: SensorId, percent: f64, now: Nanos) -> bool {
        let now = self.now.max(now);
        let mut est = Vec::with_capacity(self.cfg.sensors);
        self.load.loads(now, &mut est);
        let estimate = est.get(usize::from(sensor)).copied().unwrap_or(0.0);
        self.reports
            .report(usize::from(sensor), percent, now, estimate)
    }

    /// Record sensor `sensor`'s own report that its load is at least `floor` percent at `now`
    /// (see [`crate::feedback`] and [`crate::overload`]). Returns false when refused.
    pub fn report_load_at_least(&mut self, sensor: SensorId, floor: f64, now: Nanos) -> bool {
        let now = self.now.max(now);
        let mut est = Vec::with_capacity(self.cfg.sensors);
        self.load.loads(now, &mut est);
        let estimate = est.get(usize::from(sensor)).copied().unwrap_or(0.0);
        self.reports
            .report_at_least(usize::from(sensor), floor, now, estimate)
    }

    /// The reported loads.
    pub fn reported_loads(&self) -> &crate::feedback::ReportedLoads {
        &self.reports
    }
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
