//! The `round-robin` balancer: each new flow to the next sensor in turn (the paper's
//! baseline), skipping sensors out of service; relocated flows are dealt out in turn too.

use super::{Assignment, Balancer, FlowContext};
use crate::sensor::{SensorId, SensorSet};

/// Flow-based round robin.
#[derive(Debug, Clone)]
pub struct RoundRobin {
    sensors: usize,
    next: usize,
}

impl RoundRobin {
    /// Round robin over `sensors` sensors (at least 1), starting at sensor 0.
    pub fn new(sensors: usize) -> Self {
        RoundRobin {
            sensors: sensors.max(1),
            next: 0,
        }
    }
}

impl RoundRobin {
    /// The next sensor in turn that is in `up`.
    fn next_in(&mut self, up: SensorSet) -> Option<SensorId> {
        for _ in 0..self.sensors {
            let s = self.next as SensorId;
            self.next = (self.next + 1) % self.sensors;
            if up.contains(s) {
                return Some(s);
            }
        }
        None
    }
}

impl Balancer for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }
    fn sensors(&self) -> usize {
        self.sensors
    }
    fn assign(&mut self, ctx: &FlowContext<'_>) -> Assignment {
        match self.next_in(ctx.in_service) {
            Some(s) => Assignment::to(s),
            None => Assignment {
                sensors: SensorSet::EMPTY,
                tag: 0,
            },
        }
    }

    fn relocate(&mut self, r: &mut super::Relocation<'_>) -> SensorSet {
        let kept = r.old.intersect(r.in_service);
        if !kept.is_empty() {
            return kept;
        }
        self.next_in(r.in_service)
            .map_or(SensorSet::EMPTY, SensorSet::one)
    }
}
