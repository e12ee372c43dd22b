//! `syn-flood`: a TCP SYN flood from spoofed sources.
//!
//! From `training_secs` on, TCP SYN segments (SYN flag only, random sequence number, random
//! window) arrive at `victim:syn_port` (default 10.10.10.10:80) as a Poisson process of
//! `syn_rate` per second (default 1000). Every SYN carries a freshly drawn random public source
//! address and a random source port (1024..=65535), as spoofing tools do, so nearly every SYN
//! is a new source and a new flow. The victim does not answer (its backlog is assumed full).
//! Light background traffic runs throughout.

use crate::addr::random_public;
use crate::frame::{FrameBuf, Tcp, flags};
use crate::merge::EventStream;
use crate::options::GenOptions;
use crate::rng::Rng;
use crate::scenario::{exp_gap, streams};

/// The syn-flood attack stream.
pub(crate) struct SynFlood {
    rng: Rng,
    victim: u32,
    port: u16,
    mean_gap_ns: f64,
    next_t: u64,
    end: u64,
    sent: u64,
}

impl SynFlood {
    /// The attack between `start` and `end` (ns from the capture start).
    pub(crate) fn new(opts: &GenOptions, start: u64, end: u64) -> Self {
        SynFlood {
            rng: Rng::stream(opts.seed, streams::SYN),
            victim: u32::from(opts.victim),
            port: opts.syn_port,
            mean_gap_ns: 1e9 / opts.syn_rate,
            next_t: start,
            end,
            sent: 0,
        }
    }

    /// SYNs sent (each with a freshly drawn source address).
    pub(crate) fn sources_sent(&self) -> u64 {
        self.sent
    }
}

impl EventStream for SynFlood {
    fn peek(&self) -> Option<u64> {
        (self.next_t < self.end).then_some(self.next_t)
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        let r = &mut self.rng;
        let h = Tcp {
            src: random_public(r),
            dst: self.victim,
            sport: r.range_u16(1024, 65535),
            dport: self.port,
            seq: r.next_u32(),
            ack: 0,
            flags: flags::SYN,
            window: r.next_u32() as u16,
        };
        fb.tcp(&h, 0);
        self.sent += 1;
        self.next_t += exp_gap(&mut self.rng, self.mean_gap_ns);
    }
}
