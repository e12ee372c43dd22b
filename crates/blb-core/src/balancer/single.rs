//! The `single` balancer: everything to sensor 0, the reference a detector would like.

use super::{Assignment, Balancer, FlowContext};

/// Sends every flow to sensor 0.
#[derive(Debug, Clone)]
pub struct Single {
    sensors: usize,
}

impl Single {
    /// A single-sensor balancer over `sensors` sensors (all but sensor 0 stay idle).
    pub fn new(sensors: usize) -> Self {
        Single { sensors }
    }
}

impl Balancer for Single {
    fn name(&self) -> &'static str {
        "single"
    }
    fn sensors(&self) -> usize {
        self.sensors
    }
    fn assign(&mut self, _ctx: &FlowContext<'_>) -> Assignment {
        Assignment::to(0)
    }
}
