//! `background`: regular client/server traffic, and the backdrop of every attack scenario.
//!
//! `background_clients` clients (default 40, distinct addresses in `protected_net`, never the
//! victim or the scan target) talk to `background_servers` servers (default 30, distinct random
//! public addresses): about a tenth are DNS resolvers (UDP 53), the others each serve one of the
//! ports 443, 80, 22 or 25 (in proportions 3:3:1:1). Flows start as a Poisson process whose rate
//! is set so that the capture carries about `background_rate` packets per second on average
//! (default 50, i.e. light); the first flow starts at the capture start.
//!
//! * 30 % of flows are DNS lookups: a query from the client and, one round trip later, the
//!   resolver's answer (well-formed DNS messages for an A record).
//! * 70 % are TCP connections to a random TCP server with a per-flow round-trip time
//!   (5 ms + exponential, mean 25 ms): SYN, SYN-ACK, ACK; for ports 80/443/22 a client request
//!   (PSH-ACK, 80–700 bytes) and the server's data, for port 25 the client's upload; data
//!   segments of up to 1460 bytes every 0.1–2 ms with an ACK from the receiver after every
//!   second segment; then FIN-ACK, FIN-ACK, ACK (90 %) or a client RST-ACK (10 %). 3 % of
//!   connections are refused (SYN answered by RST-ACK).
//! * Flow sizes are heavy-tailed: the number of data segments is a Pareto draw (minimum 1,
//!   shape 1.2) rounded up and capped at 1000 segments, so most flows carry a few segments and
//!   a few carry hundreds.
//!
//! Flows still open when the capture ends are cut off there.

use crate::addr::{Permutation, PublicAddrs};
use crate::frame::{FrameBuf, MSS, Tcp, flags};
use crate::merge::{EventStream, TimedQueue};
use crate::options::GenOptions;
use crate::rng::{Rng, hash2, powf};
use crate::scenario::{exp_gap, streams};

const P_DNS: f64 = 0.3;
const P_REFUSED: f64 = 0.03;
const P_RST_CLOSE: f64 = 0.1;
const ALPHA: f64 = 1.2;
const MAX_SEGS: u32 = 1000;
const TCP_PORTS: [u16; 8] = [443, 80, 443, 80, 22, 443, 80, 25];
const CLIENT_WINDOWS: [u16; 4] = [64240, 65535, 29200, 8192];
const SERVER_WINDOWS: [u16; 4] = [65160, 64240, 28960, 65535];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Syn,
    Refused,
    SynAck,
    HsAck,
    Request,
    Data,
    DataAck,
    Close,
    Fin2,
    Fin3,
    DnsQuery,
    DnsResponse,
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    phase: Phase,
    client: u32,
    server: u32,
    cport: u16,
    sport: u16,
    c_seq: u32,
    s_seq: u32,
    c_win: u16,
    s_win: u16,
    rtt: u64,
    gap: u64,
    req_len: u16,
    segs_left: u32,
    last_len: u16,
    unacked: u8,
    upload: bool,
    refused: bool,
    rst_close: bool,
    last_data_t: u64,
    dns_id: u16,
    name_seed: u64,
}

impl Flow {
    fn c2s(&self, fl: u8) -> Tcp {
        Tcp {
            src: self.client,
            dst: self.server,
            sport: self.cport,
            dport: self.sport,
            seq: self.c_seq,
            ack: if fl & flags::ACK != 0 { self.s_seq } else { 0 },
            flags: fl,
            window: self.c_win,
        }
    }

    fn s2c(&self, fl: u8) -> Tcp {
        Tcp {
            src: self.server,
            dst: self.client,
            sport: self.sport,
            dport: self.cport,
            seq: self.s_seq,
            ack: if fl & flags::ACK != 0 { self.c_seq } else { 0 },
            flags: fl,
            window: self.s_win,
        }
    }
}

/// The background traffic stream.
pub(crate) struct Background {
    rng: Rng,
    clients: Vec<u32>,
    dns_servers: Vec<u32>,
    tcp_servers: Vec<(u32, u16)>,
    flows: Vec<Flow>,
    free: Vec<usize>,
    queue: TimedQueue<usize>,
    next_arrival: u64,
    mean_gap_ns: f64,
    end: u64,
    msg: [u8; 96],
}

/// Expected number of packets of one flow, for the flow arrival rate.
fn mean_packets_per_flow(p_upload: f64) -> f64 {
    // D = ceil(min(X, MAX_SEGS)) with X ~ Pareto(1, ALPHA): P(D > k) = k^-ALPHA for 1 <= k < MAX.
    let tail = |k: u32| -> f64 {
        if k == 0 {
            1.0
        } else if k >= MAX_SEGS {
            0.0
        } else {
            powf(f64::from(k), -ALPHA)
        }
    };
    let mut e_d = 0.0;
    let mut e_acks = 0.0;
    for k in 1..=MAX_SEGS {
        let p = tail(k - 1) - tail(k);
        e_d += p * f64::from(k);
        e_acks += p * f64::from(k.div_ceil(2));
    }
    let close = P_RST_CLOSE + (1.0 - P_RST_CLOSE) * 3.0;
    let established = 3.0 + (1.0 - p_upload) + e_d + e_acks + close;
    let tcp = P_REFUSED * 2.0 + (1.0 - P_REFUSED) * established;
    P_DNS * 2.0 + (1.0 - P_DNS) * tcp
}

impl Background {
    /// Background traffic from time 0 to `end` (ns from the capture start).
    pub(crate) fn new(opts: &GenOptions, end: u64) -> Self {
        let mut hosts = Rng::stream(opts.seed, streams::BACKGROUND_HOSTS);
        let enabled = opts.background_rate > 0.0 && opts.background_clients > 0;
        let mut clients = Vec::new();
        let mut dns_servers = Vec::new();
        let mut tcp_servers = Vec::new();
        let mut mean_gap_ns = f64::INFINITY;
        if enabled {
            let net = opts.protected_net;
            let bits = net.host_bits();
            let mask = (1u64 << bits) - 1;
            let perm = Permutation::new(bits, hosts.next_u64());
            let base = u32::from(net.addr());
            let second = opts.second_victim.map_or(u32::from(opts.victim), u32::from);
            let excluded = [u32::from(opts.victim), u32::from(opts.scan_target), second];
            let mut c = 0u64;
            while clients.len() < opts.background_clients as usize && c <= mask {
                let h = perm.apply(c);
                c += 1;
                let ip = base | h as u32;
                if h != 0 && h != mask && !excluded.contains(&ip) {
                    clients.push(ip);
                }
            }
            let mut addrs = PublicAddrs::new(hosts.next_u64());
            let n = opts.background_servers as usize;
            let n_dns = (n / 10).max(1);
            for _ in 0..n_dns {
                dns_servers.push(addrs.next_addr());
            }
            for i in 0..n - n_dns {
                tcp_servers.push((addrs.next_addr(), TCP_PORTS[i % TCP_PORTS.len()]));
            }
            let uploads = tcp_servers.iter().filter(|s| s.1 == 25).count();
            let p_upload = uploads as f64 / tcp_servers.len() as f64;
            mean_gap_ns = 1e9 * mean_packets_per_flow(p_upload) / opts.background_rate;
        }
        Background {
            rng: Rng::stream(opts.seed, streams::BACKGROUND),
            clients,
            dns_servers,
            tcp_servers,
            flows: Vec::new(),
            free: Vec::new(),
            queue: TimedQueue::default(),
            next_arrival: if enabled { 0 } else { u64::MAX },
            mean_gap_ns,
            end,
            msg: [0; 96],
        }
    }

    /// Draws a new flow starting at `t` (not yet emitted).
    fn new_flow(&mut self) -> Flow {
        let r = &mut self.rng;
        let client = self.clients[r.below(self.clients.len() as u64) as usize];
        let cport = r.range_u16(32768, 60999);
        let dns = r.chance(P_DNS);
        let (server, sport) = if dns {
            (
                self.dns_servers[r.below(self.dns_servers.len() as u64) as usize],
                53,
            )
        } else {
            self.tcp_servers[r.below(self.tcp_servers.len() as u64) as usize]
        };
        let rtt = if dns {
            2_000_000 + exp_gap(r, 15e6).min(200_000_000)
        } else {
            5_000_000 + exp_gap(r, 25e6).min(400_000_000)
        };
        let segs = r.pareto(1.0, ALPHA).min(f64::from(MAX_SEGS)).ceil() as u32;
        Flow {
            phase: if dns { Phase::DnsQuery } else { Phase::Syn },
            client,
            server,
            cport,
            sport,
            c_seq: r.next_u32(),
            s_seq: r.next_u32(),
            c_win: CLIENT_WINDOWS[r.below(4) as usize],
            s_win: SERVER_WINDOWS[r.below(4) as usize],
            rtt,
            gap: r.range_u64(100_000, 2_000_000),
            req_len: r.range_u16(80, 700),
            segs_left: segs.max(1),
            last_len: r.range_u16(1, MSS as u16),
            unacked: 0,
            upload: sport == 25,
            refused: r.chance(P_REFUSED),
            rst_close: r.chance(P_RST_CLOSE),
            last_data_t: 0,
            dns_id: r.next_u32() as u16,
            name_seed: r.next_u64(),
        }
    }

    /// Emits the current packet of `f` at `t`; returns the time of its next packet, if any.
    fn step(&mut self, f: &mut Flow, t: u64, fb: &mut FrameBuf) -> Option<u64> {
        let think = 20_000 + self.rng.below(180_000);
        match f.phase {
            Phase::Syn => {
                fb.tcp(&f.c2s(flags::SYN), 0);
                f.c_seq = f.c_seq.wrapping_add(1);
                f.phase = if f.refused {
                    Phase::Refused
                } else {
                    Phase::SynAck
                };
                Some(t + f.rtt)
            }
            Phase::Refused => {
                let mut h = f.s2c(flags::RST | flags::ACK);
                h.seq = 0;
                h.window = 0;
                fb.tcp(&h, 0);
                None
            }
            Phase::SynAck => {
                fb.tcp(&f.s2c(flags::SYN | flags::ACK), 0);
                f.s_seq = f.s_seq.wrapping_add(1);
                f.phase = Phase::HsAck;
                Some(t + think)
            }
            Phase::HsAck => {
                fb.tcp(&f.c2s(flags::ACK), 0);
                f.phase = if f.upload {
                    Phase::Data
                } else {
                    Phase::Request
                };
                Some(t + think)
            }
            Phase::Request => {
                fb.tcp(&f.c2s(flags::PSH | flags::ACK), usize::from(f.req_len));
                f.c_seq = f.c_seq.wrapping_add(u32::from(f.req_len));
                f.phase = Phase::Data;
                Some(t + f.rtt)
            }
            Phase::Data => {
                let last = f.segs_left == 1;
                let len = if last { usize::from(f.last_len) } else { MSS };
                let fl = flags::ACK | if last { flags::PSH } else { 0 };
                if f.upload {
                    fb.tcp(&f.c2s(fl), len);
                    f.c_seq = f.c_seq.wrapping_add(len as u32);
                } else {
                    fb.tcp(&f.s2c(fl), len);
                    f.s_seq = f.s_seq.wrapping_add(len as u32);
                }
                f.segs_left -= 1;
                f.unacked += 1;
                f.last_data_t = t;
                if f.unacked == 2 || f.segs_left == 0 {
                    f.phase = Phase::DataAck;
                    Some(t + f.gap / 2)
                } else {
                    Some(t + f.gap)
                }
            }
            Phase::DataAck => {
                if f.upload {
                    fb.tcp(&f.s2c(flags::ACK), 0);
                } else {
                    fb.tcp(&f.c2s(flags::ACK), 0);
                }
                f.unacked = 0;
                if f.segs_left > 0 {
                    f.phase = Phase::Data;
                    Some((f.last_data_t + f.gap).max(t))
                } else {
                    f.phase = Phase::Close;
                    Some(t + self.rng.range_u64(1_000_000, 20_000_000))
                }
            }
            Phase::Close => {
                if f.rst_close {
                    fb.tcp(&f.c2s(flags::RST | flags::ACK), 0);
                    None
                } else {
                    fb.tcp(&f.c2s(flags::FIN | flags::ACK), 0);
                    f.c_seq = f.c_seq.wrapping_add(1);
                    f.phase = Phase::Fin2;
                    Some(t + f.rtt)
                }
            }
            Phase::Fin2 => {
                fb.tcp(&f.s2c(flags::FIN | flags::ACK), 0);
                f.s_seq = f.s_seq.wrapping_add(1);
                f.phase = Phase::Fin3;
                Some(t + think)
            }
            Phase::Fin3 => {
                fb.tcp(&f.c2s(flags::ACK), 0);
                None
            }
            Phase::DnsQuery => {
                let n = dns_message(&mut self.msg, f.dns_id, f.name_seed, false);
                fb.udp_payload(f.client, f.server, f.cport, 53, &self.msg[..n]);
                f.phase = Phase::DnsResponse;
                Some(t + f.rtt)
            }
            Phase::DnsResponse => {
                let n = dns_message(&mut self.msg, f.dns_id, f.name_seed, true);
                fb.udp_payload(f.server, f.client, 53, f.cport, &self.msg[..n]);
                None
            }
        }
    }

    fn schedule(&mut self, f: Flow, slot: Option<usize>, next: Option<u64>) {
        match next {
            Some(tn) if tn < self.end => {
                let slot = match slot {
                    Some(s) => {
                        self.flows[s] = f;
                        s
                    }
                    None => match self.free.pop() {
                        Some(s) => {
                            self.flows[s] = f;
                            s
                        }
                        None => {
                            self.flows.push(f);
                            self.flows.len() - 1
                        }
                    },
                };
                self.queue.push(tn, slot);
            }
            _ => {
                if let Some(s) = slot {
                    self.free.push(s);
                }
            }
        }
    }
}

impl EventStream for Background {
    fn peek(&self) -> Option<u64> {
        let q = self.queue.peek_time().unwrap_or(u64::MAX);
        let t = self.next_arrival.min(q);
        (t < self.end).then_some(t)
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        let q = self.queue.peek_time().unwrap_or(u64::MAX);
        if self.next_arrival <= q {
            let t = self.next_arrival;
            self.next_arrival = t.saturating_add(exp_gap(&mut self.rng, self.mean_gap_ns));
            let mut f = self.new_flow();
            let next = self.step(&mut f, t, fb);
            self.schedule(f, None, next);
        } else if let Some((t, slot)) = self.queue.pop() {
            let mut f = self.flows[slot];
            let next = self.step(&mut f, t, fb);
            self.schedule(f, Some(slot), next);
        }
    }
}

/// Writes a DNS query (or its answer) for an A record into `buf`; returns its length.
fn dns_message(buf: &mut [u8; 96], id: u16, seed: u64, response: bool) -> usize {
    const TLDS: [&[u8]; 4] = [b"com", b"net", b"org", b"io"];
    let h = hash2(seed, 0x646e73);
    buf[0..2].copy_from_slice(&id.to_be_bytes());
    let fl: u16 = if response { 0x8180 } else { 0x0100 };
    buf[2..4].copy_from_slice(&fl.to_be_bytes());
    buf[4..6].copy_from_slice(&1u16.to_be_bytes());
    buf[6..8].copy_from_slice(&u16::from(response).to_be_bytes());
    buf[8..12].fill(0);
    let mut n = 12;
    let mut label = |buf: &mut [u8; 96], s: &[u8]| {
        buf[n] = s.len() as u8;
        buf[n + 1..n + 1 + s.len()].copy_from_slice(s);
        n += 1 + s.len();
    };
    label(buf, b"www");
    let len = 4 + (h % 7) as usize;
    let mut word = [0u8; 10];
    for (i, c) in word.iter_mut().take(len).enumerate() {
        *c = b'a' + ((h >> (8 + 5 * i)) % 26) as u8;
    }
    label(buf, &word[..len]);
    label(buf, TLDS[((h >> 60) % 4) as usize]);
    buf[n] = 0;
    n += 1;
    buf[n..n + 4].copy_from_slice(&[0, 1, 0, 1]);
    n += 4;
    if response {
        buf[n..n + 12].copy_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4]);
        n += 12;
        let ip = hash2(seed, 0x6970) as u32;
        buf[n..n + 4].copy_from_slice(&ip.to_be_bytes());
        n += 4;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_packets_per_flow_is_plausible() {
        let m = mean_packets_per_flow(0.2);
        assert!((8.0..20.0).contains(&m), "{m}");
    }

    #[test]
    fn dns_messages_are_well_formed() {
        let mut b = [0u8; 96];
        let q = dns_message(&mut b, 7, 42, false);
        let qname_end = 12 + b[12..].iter().position(|&x| x == 0).unwrap();
        assert_eq!(q, qname_end + 5);
        let mut r = [0u8; 96];
        let n = dns_message(&mut r, 7, 42, true);
        assert_eq!(n, q + 16);
        assert_eq!(&b[12..q], &r[12..q]);
    }
}
