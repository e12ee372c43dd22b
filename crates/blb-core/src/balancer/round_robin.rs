//! The `round-robin` balancer: each new flow to the next sensor in turn (the paper's baseline).

use super::{Assignment, Balancer, FlowContext};
use crate::sensor::SensorId;

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

impl Balancer for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }
    fn sensors(&self) -> usize {
        self.sensors
    }
    fn assign(&mut self, _ctx: &FlowContext<'_>) -> Assignment {
        let s = self.next;
        self.next = (self.next + 1) % self.sensors;
        Assignment::to(s as SensorId)
    }
}
