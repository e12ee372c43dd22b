//! Delivery to sensors: the [`FrameSink`] trait and its three kinds (a local interface,
//! rotated pcap files, VXLAN to a remote sensor), plus the bounded per-sensor queue that
//! runs a sink on its own thread so that a slow sensor never stalls the others.

pub mod interface;
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
    /// Push out anything buffered.
    fn flush(&mut self) -> Result<(), LiveError>;
    /// Frames (and their bytes) that `send` accepted earlier but the sink has since lost,
    /// such as buffered records a failed write threw away; counted once, then reset. The
    /// frame whose own `send` failed is not among them.
    fn take_lost(&mut self) -> (u64, u64) {
        (0, 0)
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
