//! The frames the engine holds: fragments that arrived before their datagram's first fragment
//! (`blb_core::hold`). The engine keeps only their handles; their bytes wait here until it
//! releases them, then they are written to the sensors it names. Used by the offline pipeline
//! and the live loop alike.
//!
//! A slab of frame buffers indexed by handle, reused without allocating once warm. Memory is
//! bounded by the engine's hold caps: it never holds more frames than the engine does (their
//! bytes at most `fragment_hold_bytes`), and the spare capacity kept for reuse is at most
//! `budget` bytes (buffers beyond it are freed when released).

/// One held frame.
#[derive(Debug, Default)]
struct Slot {
    link_type: u32,
    ts: u64,
    wire_len: u32,
    data: Vec<u8>,
}

/// The held frames. See the module documentation.
#[derive(Debug, Default)]
pub struct HeldFrames {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Capacity of the free slots' buffers.
    spare: usize,
    budget: usize,
    held: usize,
}

impl HeldFrames {
    /// An empty store keeping at most `budget` bytes of spare buffers for reuse.
    pub fn new(budget: usize) -> Self {
        HeldFrames {
            budget,
            ..Default::default()
        }
    }

    /// The handle the next [`HeldFrames::hold`] will use: hand it to the engine with the
    /// packet, and hold the frame if the engine says so.
    pub fn next_handle(&self) -> u64 {
        match self.free.last() {
            Some(&i) => u64::from(i),
            None => self.slots.len() as u64,
        }
    }

    /// Keep a copy of a frame under [`HeldFrames::next_handle`]; returns that handle.
    pub fn hold(&mut self, link_type: u32, ts: u64, wire_len: u32, data: &[u8]) -> u64 {
        let i = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[i];
        self.spare -= slot.data.capacity();
        slot.link_type = link_type;
        slot.ts = ts;
        slot.wire_len = wire_len;
        slot.data.clear();
        slot.data.extend_from_slice(data);
        self.held += 1;
        i as u64
    }

    /// Hand the frame held under `handle` to `f` (link type, timestamp, wire length, bytes)
    /// and forget it. `None` when nothing is held under `handle`.
    pub fn release<R>(
        &mut self,
        handle: u64,
        f: impl FnOnce(u32, u64, u32, &[u8]) -> R,
    ) -> Option<R> {
        let i = u32::try_from(handle).ok()?;
        if self.free.contains(&i) {
            return None;
        }
        let slot = self.slots.get_mut(i as usize)?;
        let r = f(slot.link_type, slot.ts, slot.wire_len, &slot.data);
        if self.spare + slot.data.capacity() > self.budget {
            slot.data = Vec::new();
        }
        self.spare += slot.data.capacity();
        self.free.push(i);
        self.held -= 1;
        Some(r)
    }

    /// Frames held now.
    pub fn len(&self) -> usize {
        self.held
    }

    /// True when no frame is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_once_and_slots_are_reused() {
        let mut h = HeldFrames::new(1 << 20);
        assert_eq!(h.next_handle(), 0);
        let a = h.hold(1, 10, 60, b"first");
        let b = h.hold(1, 11, 61, b"second");
        assert_eq!((a, b, h.len()), (0, 1, 2));
        assert_eq!(
            h.release(a, |lt, ts, wl, d| (lt, ts, wl, d.to_vec())),
            Some((1, 10, 60, b"first".to_vec()))
        );
        assert_eq!(h.release(a, |_, _, _, _| ()), None, "released twice");
        assert_eq!(h.next_handle(), a, "the free slot is reused");
        assert_eq!(h.hold(1, 12, 3, b"new"), a);
        assert_eq!(
            h.release(b, |_, _, _, d| d.to_vec()),
            Some(b"second".to_vec())
        );
        assert_eq!(h.release(7, |_, _, _, _| ()), None);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn spare_buffers_stay_within_the_budget() {
        let mut h = HeldFrames::new(10_000);
        let big = vec![0u8; 4000];
        let handles: Vec<u64> = (0..10).map(|_| h.hold(1, 0, 4000, &big)).collect();
        for x in handles {
            h.release(x, |_, _, _, _| ());
        }
        assert!(h.spare <= 10_000, "{}", h.spare);
        assert!(h.is_empty());
    }
}
