//! `port-sweep`: a few sources probe one TCP port across a whole network.
//!
//! From `training_secs` on, `sweep_sources` scanners (default 5, distinct random public
//! addresses, one fixed source port each) send TCP SYNs to `sweep_port` (default 445) on the
//! addresses of `sweep_prefix` (default 10.20.0.0/16). Each scanner walks its own random
//! permutation of the prefix's addresses (a random subset if the attack ends first; it stops
//! after the last address); together they send `sweep_rate` probes per second (default 200,
//! Poisson). Whether an address answers is fixed per address: a fraction
//! `sweep_open_fraction` (default 2 %) are live with the port open and answer SYN-ACK after a
//! round trip of 1–40 ms, to which the scanner replies RST (a half-open scan); a fraction
//! `sweep_closed_fraction` (default 8 %) answer RST-ACK; the rest stay silent. Light background
//! traffic runs throughout.

use crate::addr::{Permutation, PublicAddrs};
use crate::frame::{FrameBuf, Tcp, flags};
use crate::merge::{EventStream, TimedQueue};
use crate::options::GenOptions;
use crate::rng::{Rng, hash2};
use crate::scenario::{exp_gap, streams};

struct Sweeper {
    ip: u32,
    sport: u16,
    perm: Permutation,
    cursor: u64,
}

enum Ev {
    Probe(usize),
    /// A target's SYN-ACK; the scanner resets shortly after.
    SynAck(Tcp),
    Plain(Tcp),
}

/// The port-sweep attack stream.
pub(crate) struct PortSweep {
    rng: Rng,
    sweepers: Vec<Sweeper>,
    queue: TimedQueue<Ev>,
    base: u32,
    size: u64,
    port: u16,
    host_key: u64,
    open: f64,
    closed: f64,
    mean_gap_ns: f64,
    end: u64,
}

/// Uniform in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl PortSweep {
    /// The sweep between `start` and `end` (ns from the capture start).
    pub(crate) fn new(opts: &GenOptions, start: u64, end: u64) -> Self {
        let mut rng = Rng::stream(opts.seed, streams::SWEEP);
        let mut addrs = PublicAddrs::new(rng.next_u64());
        let bits = opts.sweep_prefix.host_bits();
        let n = opts.sweep_sources as usize;
        let sweepers: Vec<Sweeper> = (0..n)
            .map(|_| Sweeper {
                ip: addrs.next_addr(),
                sport: rng.range_u16(1024, 65535),
                perm: Permutation::new(bits, rng.next_u64()),
                cursor: 0,
            })
            .collect();
        let mean_gap_ns = 1e9 * n as f64 / opts.sweep_rate;
        let mut queue = TimedQueue::default();
        for i in 0..n {
            let t = if i == 0 {
                start
            } else {
                start + exp_gap(&mut rng, mean_gap_ns)
            };
            queue.push(t, Ev::Probe(i));
        }
        PortSweep {
            rng,
            sweepers,
            queue,
            base: u32::from(opts.sweep_prefix.addr()),
            size: 1u64 << bits,
            port: opts.sweep_port,
            host_key: hash2(opts.seed, streams::SWEEP_HOSTS),
            open: opts.sweep_open_fraction,
            closed: opts.sweep_closed_fraction,
            mean_gap_ns,
            end,
        }
    }

    /// Scanning sources.
    pub(crate) fn sources_sent(&self) -> u64 {
        self.sweepers.len() as u64
    }

    fn probe(&mut self, t: u64, i: usize, fb: &mut FrameBuf) {
        let s = &mut self.sweepers[i];
        let target = self.base | s.perm.apply(s.cursor) as u32;
        s.cursor += 1;
        let syn = Tcp {
            src: s.ip,
            dst: target,
            sport: s.sport,
            dport: self.port,
            seq: self.rng.next_u32(),
            ack: 0,
            flags: flags::SYN,
            window: 1024,
        };
        fb.tcp(&syn, 0);
        if s.cursor < self.size {
            let next = t + exp_gap(&mut self.rng, self.mean_gap_ns);
            self.queue.push(next, Ev::Probe(i));
        }
        let h = hash2(self.host_key, u64::from(target));
        let u = unit(h);
        let rtt = 1_000_000 + (h >> 40) % 39_000_000;
        let reply = Tcp {
            src: target,
            dst: syn.src,
            sport: syn.dport,
            dport: syn.sport,
            seq: 0,
            ack: syn.seq.wrapping_add(1),
            flags: flags::RST | flags::ACK,
            window: 0,
        };
        if u < self.open {
            let synack = Tcp {
                seq: self.rng.next_u32(),
                flags: flags::SYN | flags::ACK,
                window: 64240,
                ..reply
            };
            self.queue.push(t + rtt, Ev::SynAck(synack));
        } else if u < self.open + self.closed {
            self.queue.push(t + rtt, Ev::Plain(reply));
        }
    }
}

impl EventStream for PortSweep {
    fn peek(&self) -> Option<u64> {
        self.queue.peek_time().filter(|&t| t < self.end)
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        let Some((t, ev)) = self.queue.pop() else {
            return;
        };
        match ev {
            Ev::Probe(i) => self.probe(t, i, fb),
            Ev::SynAck(h) => {
                fb.tcp(&h, 0);
                let rst = super::scanner_reset(&h);
                let delay = 30_000 + self.rng.below(100_000);
                self.queue.push(t + delay, Ev::Plain(rst));
            }
            Ev::Plain(h) => fb.tcp(&h, 0),
        }
    }
}
