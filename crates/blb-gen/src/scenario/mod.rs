//! The scenario generators; each is an event stream merged in time order with the background.
//!
//! Times inside the generators are nanoseconds from the capture start; the attack streams are
//! silent before `training_secs` and every stream stops at `training_secs + duration_secs`.

pub mod background;
pub mod elephant;
pub mod port_scan;
pub mod port_sweep;
pub mod syn_flood;
pub mod udp_flood;

use crate::frame::FrameBuf;
use crate::merge::EventStream;

/// A stream without frames (the attack slot of the `background` scenario).
pub(crate) struct Empty;

impl EventStream for Empty {
    fn peek(&self) -> Option<u64> {
        None
    }
    fn emit(&mut self, _fb: &mut FrameBuf) {
        unreachable!("the empty stream has no frames")
    }
}

/// Nanoseconds of an exponential gap with mean `mean_ns`, at least 1.
#[inline]
/// The RST a scanner sends back on a SYN-ACK (it never completes the handshake).
pub(crate) fn scanner_reset(synack: &crate::frame::Tcp) -> crate::frame::Tcp {
    crate::frame::Tcp {
        src: synack.dst,
        dst: synack.src,
        sport: synack.dport,
        dport: synack.sport,
        seq: synack.ack,
        ack: 0,
        flags: crate::frame::flags::RST,
        window: 0,
    }
}

pub(crate) fn exp_gap(rng: &mut crate::rng::Rng, mean_ns: f64) -> u64 {
    (rng.exp(mean_ns).round() as u64).max(1)
}

/// Stream ids of the PRNG sub-streams, so that adding a scenario never changes another's output.
pub(crate) mod streams {
    pub const BACKGROUND: u64 = 1;
    pub const BACKGROUND_HOSTS: u64 = 2;
    pub const UDP_JOIN: u64 = 10;
    pub const UDP_PICK: u64 = 11;
    pub const UDP_ADDRS: u64 = 12;
    pub const UDP2_JOIN: u64 = 13;
    pub const UDP2_PICK: u64 = 14;
    pub const UDP2_ADDRS: u64 = 15;
    pub const SYN: u64 = 20;
    pub const SWEEP: u64 = 30;
    pub const SWEEP_HOSTS: u64 = 31;
    pub const SCAN: u64 = 40;
    pub const ELEPHANT: u64 = 50;
}
