//! Delivery to sensors: the [`FrameSink`] trait and its three kinds (a local interface,
//! rotated pcap files, VXLAN to a remote sensor), plus the bounded per-sensor queue that
//! runs a sink on its own thread so that a slow sensor never stalls the others.

pub mod interface;
mod mmsg;
pub mod pcapfile;
pub mod queue;
pub mod vxlan;

use crate::{Frame, LiveError};

/// Where one sensor's frames go.
pub trait FrameSink: Send {
    /// A short description for logs and errors ("interface veth1", "vxlan 10.0.0.2:4789 vni 7").
    fn describe(&self) -> String;
    /// The pcap LINKTYPEs this sink can carry (VXLAN and interfaces carry Ethernet only).
    fn accepts(&self, link_type: u32) -> bool;
    /// Send (or write) one frame of link type `link_type`.
    fn send(&mut self, link_type: u32, frame: Frame<'_>) -> Result<(), SendError>;
    /// Send every frame of `frames`, in order, and call `outcome(i, result)` exactly once per
    /// frame `i`, in increasing `i`, with what [`send`](FrameSink::send) would have answered
    /// for it. Sinks that can hand the kernel several frames per system call do (the
    /// interface and VXLAN sinks use `sendmmsg`); the default sends them one by one.
    fn send_batch(
        &mut self,
        frames: &dyn FrameBatch,
        outcome: &mut dyn FnMut(usize, Result<(), SendError>),
    ) {
        for i in 0..frames.len() {
            let (link_type, frame) = frames.frame(i);
            outcome(i, self.send(link_type, frame));
        }
    }
    /// Push out anything buffered.
    fn flush(&mut self) -> Result<(), LiveError>;
    /// Frames (and their bytes) that `send` accepted earlier but the sink has since lost,
    /// such as buffered records a failed write threw away; counted once, then reset. The
    /// frame whose own `send` failed is not among them.
    fn take_lost(&mut self) -> (u64, u64) {
        (0, 0)
    }
}

/// Frames handed to a sink together: a batch of the sensor queue, or an array or vector of
/// `(link_type, frame)`.
pub trait FrameBatch {
    /// How many frames.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Frame `i` (`i < len()`) and its link type.
    fn frame(&self, i: usize) -> (u32, Frame<'_>);
}

impl<const N: usize> FrameBatch for [(u32, Frame<'_>); N] {
    fn len(&self) -> usize {
        N
    }

    fn frame(&self, i: usize) -> (u32, Frame<'_>) {
        self[i]
    }
}

impl FrameBatch for Vec<(u32, Frame<'_>)> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn frame(&self, i: usize) -> (u32, Frame<'_>) {
        self[i]
    }
}

/// Why a frame was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// This frame cannot go (too large, wrong link type); the way to the sensor is fine.
    /// Counted as a drop, not held against the sensor's health.
    #[error("{0}")]
    Frame(LiveError),
    /// The way to the sensor is failing (interface down, socket error, disk full). Counted
    /// as a drop and held against the sensor's health.
    #[error("{0}")]
    Path(LiveError),
}
