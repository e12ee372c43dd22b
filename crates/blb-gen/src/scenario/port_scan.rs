//! `port-scan`: one source probes many ports of one host.
//!
//! From `training_secs` on, one scanner (a random public address, one fixed source port) sends
//! TCP SYNs to ports 1..=`scan_ports` (default 1000) of `scan_target` (default 10.10.10.10), each
//! port once, in a random order, at `scan_rate` probes per second (default 100, Poisson), so the
//! default scan takes about 10 s. The target answers every probe after a LAN round trip
//! (0.2–1 ms): the open ports (21, 22, 25, 53, 80, 110, 139, 143, 443, 445, 3306, 3389, 8080,
//! where probed) with SYN-ACK, to which the scanner replies RST, all others with RST-ACK. Light
//! background traffic runs throughout.

use crate::addr::PublicAddrs;
use crate::frame::{FrameBuf, Tcp, flags};
use crate::merge::{EventStream, TimedQueue};
use crate::options::GenOptions;
use crate::rng::Rng;
use crate::scenario::{exp_gap, streams};

/// Ports the scan target has open.
pub const OPEN_PORTS: [u16; 13] = [
    21, 22, 25, 53, 80, 110, 139, 143, 443, 445, 3306, 3389, 8080,
];

enum Ev {
    Probe,
    /// The target's SYN-ACK; the scanner resets shortly after.
    SynAck(Tcp),
    Plain(Tcp),
}

/// The port-scan attack stream.
pub(crate) struct PortScan {
    rng: Rng,
    scanner: u32,
    sport: u16,
    target: u32,
    ports: Vec<u16>,
    next_port: usize,
    queue: TimedQueue<Ev>,
    mean_gap_ns: f64,
    end: u64,
}

impl PortScan {
    /// The scan starting at `start`, cut at `end` (ns from the capture start).
    pub(crate) fn new(opts: &GenOptions, start: u64, end: u64) -> Self {
        let mut rng = Rng::stream(opts.seed, streams::SCAN);
        let scanner = PublicAddrs::new(rng.next_u64()).next_addr();
        let sport = rng.range_u16(1024, 65535);
        let mut ports: Vec<u16> = (1..=opts.scan_ports).collect();
        for i in (1..ports.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            ports.swap(i, j);
        }
        let mut queue = TimedQueue::default();
        queue.push(start, Ev::Probe);
        PortScan {
            rng,
            scanner,
            sport,
            target: u32::from(opts.scan_target),
            ports,
            next_port: 0,
            queue,
            mean_gap_ns: 1e9 / opts.scan_rate,
            end,
        }
    }

    /// Scanning sources (one).
    pub(crate) fn sources_sent(&self) -> u64 {
        1
    }

    fn probe(&mut self, t: u64, fb: &mut FrameBuf) {
        let port = self.ports[self.next_port];
        self.next_port += 1;
        let syn = Tcp {
            src: self.scanner,
            dst: self.target,
            sport: self.sport,
            dport: port,
            seq: self.rng.next_u32(),
            ack: 0,
            flags: flags::SYN,
            window: 1024,
        };
        fb.tcp(&syn, 0);
        let rtt = 200_000 + self.rng.below(800_000);
        let reply = Tcp {
            src: self.target,
            dst: self.scanner,
            sport: port,
            dport: self.sport,
            seq: 0,
            ack: syn.seq.wrapping_add(1),
            flags: flags::RST | flags::ACK,
            window: 0,
        };
        if OPEN_PORTS.contains(&port) {
            let synack = Tcp {
                seq: self.rng.next_u32(),
                flags: flags::SYN | flags::ACK,
                window: 64240,
                ..reply
            };
            self.queue.push(t + rtt, Ev::SynAck(synack));
        } else {
            self.queue.push(t + rtt, Ev::Plain(reply));
        }
        if self.next_port < self.ports.len() {
            let next = t + exp_gap(&mut self.rng, self.mean_gap_ns);
            self.queue.push(next, Ev::Probe);
        }
    }
}

impl EventStream for PortScan {
    fn peek(&self) -> Option<u64> {
        self.queue.peek_time().filter(|&t| t < self.end)
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        let Some((t, ev)) = self.queue.pop() else {
            return;
        };
        match ev {
            Ev::Probe => self.probe(t, fb),
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
