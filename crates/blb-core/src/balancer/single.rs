//! The `single` balancer: everything to sensor 0, the reference a detector would like (to
//! the lowest-numbered sensor in service when sensor 0 is out).

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
    fn assign(&mut self, ctx: &FlowContext<'_>) -> Assignment {
        match ctx.in_service.first() {
            Some(s) => Assignment::to(s),
            None => Assignment {
                sensors: crate::sensor::SensorSet::EMPTY,
                tag: 0,
            },
        }
    }

    fn relocate(&mut self, r: &mut super::Relocation<'_>) -> crate::sensor::SensorSet {
        match r.in_service.first() {
            Some(s) => crate::sensor::SensorSet::one(s),
            None => crate::sensor::SensorSet::EMPTY,
        }
    }
}
