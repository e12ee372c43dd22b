//! `udp-flood`: the distributed UDP flood of the paper's evaluation (§VII).
//!
//! `attackers` hosts (default 10 000) with distinct random public IPv4 addresses join the attack
//! one after another at `attacker_join_rate` per second (default 100): attacker *k* joins at
//! `training_secs + (k + u)/rate` with a uniform jitter `u` in [0, 1), so about 100 new sources
//! per second reach the victim over the 100 s. All of them send UDP datagrams in frames of
//! `packet_size` bytes (default 1024, "1 KB packets") to `victim` (default 10.10.10.10).
//!
//! The victim receives a constant aggregate `attack_rate_bytes` (default 1 MB/s, about 977
//! frames per second) whatever the number of active attackers: attack frames are sent in evenly
//! spaced slots (with a small jitter that keeps their order), and each slot goes to the oldest
//! attacker that joined but has not sent yet — so every attacker's first frame follows its join
//! time within about a millisecond — or otherwise to an attacker drawn uniformly from those
//! already active. With the defaults each attacker sends about 10 frames. Source and destination
//! ports are random, drawn once per attacker (each attacker is one 5-tuple flow, as the paper's
//! Fig. 3 needs) or, with `random_ports_per_packet`, for every frame. If attackers join faster
//! than frames are sent, the new sources per second are capped by the frame rate.
//!
//! With `second_victim`, a second flood with the same settings, its own attackers and its own
//! random streams hits that host at the same time.
//!
//! The light background traffic runs throughout, alone during the training period.

use crate::addr::PublicAddrs;
use crate::frame::{FrameBuf, UDP_HEADERS};
use crate::merge::EventStream;
use crate::options::GenOptions;
use crate::rng::{Rng, hash2};
use crate::scenario::streams;

#[derive(Clone, Copy)]
struct Attacker {
    ip: u32,
    sport: u16,
    dport: u16,
}

/// Which of the (at most two) floods a stream is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Flood {
    /// The flood on `victim`.
    First,
    /// The flood on `second_victim`, from other random streams.
    Second(std::net::Ipv4Addr),
}

/// The udp-flood attack stream.
pub(crate) struct UdpFlood {
    victim: u32,
    payload_len: usize,
    per_packet_ports: bool,
    total_attackers: u64,
    attackers: Vec<Attacker>,
    addrs: PublicAddrs,
    join_rng: Rng,
    pick_rng: Rng,
    start: u64,
    end: u64,
    join_ns: f64,
    next_join: u64,
    slot_ns: f64,
    slot: u64,
    next_t: u64,
    first_sent: usize,
}

impl UdpFlood {
    /// The attack between `start` and `end` (ns from the capture start).
    pub(crate) fn new(opts: &GenOptions, flood: Flood, start: u64, end: u64) -> Self {
        let slot_ns = 1e9 * opts.packet_size as f64 / opts.attack_rate_bytes;
        let (victim, [addrs, join, pick]) = match flood {
            Flood::First => (
                opts.victim,
                [streams::UDP_ADDRS, streams::UDP_JOIN, streams::UDP_PICK],
            ),
            Flood::Second(v) => (
                v,
                [streams::UDP2_ADDRS, streams::UDP2_JOIN, streams::UDP2_PICK],
            ),
        };
        UdpFlood {
            victim: u32::from(victim),
            payload_len: opts.packet_size - UDP_HEADERS,
            per_packet_ports: opts.random_ports_per_packet,
            total_attackers: opts.attackers,
            attackers: Vec::new(),
            addrs: PublicAddrs::new(hash2(opts.seed, addrs)),
            join_rng: Rng::stream(opts.seed, join),
            pick_rng: Rng::stream(opts.seed, pick),
            start,
            end,
            join_ns: 1e9 / opts.attacker_join_rate,
            // Attacker 0 joins exactly at the attack start; its frame opens the attack.
            next_join: start,
            slot_ns,
            slot: 0,
            next_t: start,
            first_sent: 0,
        }
    }

    /// Attackers that sent at least one frame so far.
    pub(crate) fn sources_sent(&self) -> u64 {
        self.first_sent as u64
    }

    /// Admits every attacker whose join time is at or before `t`.
    fn admit(&mut self, t: u64) {
        while (self.attackers.len() as u64) < self.total_attackers && self.next_join <= t {
            let ip = self.addrs.next_addr();
            let sport = self.join_rng.range_u16(1024, 65535);
            let dport = self.join_rng.range_u16(1, 65535);
            self.attackers.push(Attacker { ip, sport, dport });
            let k = self.attackers.len() as f64;
            let u = self.join_rng.next_f64();
            self.next_join = self.start + ((k + u) * self.join_ns).round() as u64;
        }
    }
}

impl EventStream for UdpFlood {
    fn peek(&self) -> Option<u64> {
        (self.next_t < self.end).then_some(self.next_t)
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        let t = self.next_t;
        self.admit(t);
        let idx = if self.first_sent < self.attackers.len() {
            self.first_sent += 1;
            self.first_sent - 1
        } else {
            self.pick_rng.below(self.first_sent as u64) as usize
        };
        let a = self.attackers[idx];
        let (sport, dport) = if self.per_packet_ports {
            (
                self.pick_rng.range_u16(1024, 65535),
                self.pick_rng.range_u16(1, 65535),
            )
        } else {
            (a.sport, a.dport)
        };
        fb.udp(a.ip, self.victim, sport, dport, self.payload_len);
        self.slot += 1;
        let jitter = 0.5 * self.pick_rng.next_f64();
        let next = self.start + ((self.slot as f64 + jitter) * self.slot_ns).round() as u64;
        self.next_t = next.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attacker_sends_soon_after_joining() {
        let opts = GenOptions {
            attackers: 500,
            duration_secs: 10.0,
            ..GenOptions::default()
        };
        let mut a = UdpFlood::new(&opts, Flood::First, 0, 10_000_000_000);
        let mut fb = FrameBuf::new();
        let mut firsts = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(t) = a.peek() {
            a.emit(&mut fb);
            let src = u32::from_be_bytes(fb.frame()[26..30].try_into().unwrap());
            if seen.insert(src) {
                firsts.push(t);
            }
        }
        assert_eq!(firsts.len(), 500);
        assert_eq!(a.sources_sent(), 500);
        for (k, &t) in firsts.iter().enumerate() {
            let join = k as f64 * 1e7;
            assert!(
                t as f64 >= join && (t as f64) < join + 1e7 + 2e6,
                "attacker {k} at {t}"
            );
        }
    }
}
