//! Held fragments in the live loop: the engine holds fragments that arrive before their
//! datagram's first fragment (`blb_core::hold`); their frames wait in the loop's
//! [`HeldFrames`] and are queued for their sensors when the engine releases them, which it
//! does no later than its time limit: the loop ticks the engine at each hold's deadline,
//! whether traffic flows or not, and releases everything at the end.

use blb_core::hold::HoldHandle;
use blb_core::sensor::{SensorId, SensorSet};
use blb_live::Frame;
use blb_live::deliver::queue::SensorQueue;

use super::{Loop, wall_nanos};
use crate::pipeline::held::HeldFrames;

/// Queue one frame for each of its sensors, counting what is routed; a full queue's losses
/// go to `dropped`.
pub(super) fn queue_frame(
    queues: &mut [SensorQueue],
    routed: &mut [(u64, u64)],
    dropped: &mut Vec<(SensorId, u64, u32)>,
    link_type: u32,
    frame: Frame<'_>,
    sensors: SensorSet,
) {
    for s in sensors {
        if let Some(r) = routed.get_mut(usize::from(s)) {
            r.0 += 1;
            r.1 += frame.data.len() as u64;
        }
        if let Some(q) = queues.get_mut(usize::from(s)) {
            q.push(link_type, frame, sensors.bits(), &mut |token, len| {
                dropped.push((s, token, len))
            });
        }
    }
}

/// Queue the released frames, `(handle, sensors)`, from the held store.
pub(super) fn queue_released(
    held: &mut HeldFrames,
    released: &mut Vec<(HoldHandle, SensorSet)>,
    queues: &mut [SensorQueue],
    routed: &mut [(u64, u64)],
    dropped: &mut Vec<(SensorId, u64, u32)>,
) {
    for (handle, sensors) in released.drain(..) {
        let queued = held.release(handle, |link_type, ts, wire_len, data| {
            let frame = Frame { ts, wire_len, data };
            queue_frame(queues, routed, dropped, link_type, frame, sensors);
        });
        if queued.is_none() {
            tracing::error!(handle, "the engine released a frame it did not hold");
        }
    }
}

impl Loop<'_> {
    /// Queue the frames the engine released (after a tick or at the end).
    pub(super) fn push_released(&mut self) {
        self.engine.released(&mut self.released);
        if !self.released.is_empty() {
            let (queues, dropped) = (&mut *self.queues, &mut self.dropped);
            queue_released(
                &mut self.held,
                &mut self.released,
                queues,
                &mut self.routed,
                dropped,
            );
            self.settle_drops();
        }
    }

    /// Release the held fragments whose time limit has passed (by the wall clock, the one
    /// the kernel stamps frames with), traffic or not.
    pub(super) fn expire_holds(&mut self) {
        if self
            .engine
            .hold_deadline()
            .is_some_and(|d| d <= wall_nanos())
        {
            self.engine.tick(wall_nanos());
            self.push_released();
        }
    }

    /// How long to wait for frames: at most `most` ms, and no later than the next hold's
    /// time limit.
    pub(super) fn wait_ms(&mut self, most: i32) -> i32 {
        match self.engine.hold_deadline() {
            Some(d) => {
                let ms = d.saturating_sub(wall_nanos()).div_ceil(1_000_000);
                i32::try_from(ms).unwrap_or(most).clamp(0, most)
            }
            None => most,
        }
    }
}
