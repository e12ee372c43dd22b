//! `elephant`: one bulk TCP download that carries most of the capture's bytes.
//!
//! From `training_secs` on, the host `victim` (default 10.10.10.10, port 51000) opens one TCP
//! connection to `elephant_server` (default 203.0.113.80, port 443): the three-way handshake
//! over a 1 ms round trip, then full-size segments (1460 payload bytes, 1514-byte frames)
//! from the server at `elephant_rate_bytes` (default 1 000 000 frame bytes per second), evenly
//! spaced, with the client's ACK 100 µs after every second segment, as delayed ACKs do. The
//! server closes the connection (FIN, FIN, ACK) just before the capture ends. With the
//! default background (50 packets per second) the download is about 99 % of the bytes; a
//! heavier background (`background_rate` about 1000) brings it to about 90 %.
//!
//! This is the traffic a per-flow cutoff or a sensor's bypass is for: without either, the
//! one sensor the flow goes to carries it all.

use crate::frame::{FrameBuf, Tcp, flags};
use crate::merge::{EventStream, TimedQueue};
use crate::options::GenOptions;
use crate::rng::Rng;
use crate::scenario::streams;

/// Payload bytes of a full-size segment (a 1514-byte frame).
const MSS: usize = 1460;
/// Frame bytes of a full-size segment.
const SEGMENT_FRAME: f64 = 1514.0;
/// Client port of the download.
pub const CLIENT_PORT: u16 = 51000;
/// Server port of the download.
pub const SERVER_PORT: u16 = 443;
/// Half the round trip, nanoseconds.
const HALF_RTT: u64 = 500_000;
/// The client's delayed ACK, nanoseconds after the segment it acknowledges.
const ACK_DELAY: u64 = 100_000;

/// The elephant stream.
pub(crate) struct Elephant {
    queue: TimedQueue<(Tcp, usize)>,
    client: u32,
    server: u32,
    server_seq: u32,
    client_seq: u32,
    gap_ns: f64,
    data_start: u64,
    sent: u64,
    close_at: u64,
    end: u64,
}

impl Elephant {
    /// The download between `start` and `end` (ns from the capture start).
    pub(crate) fn new(opts: &GenOptions, start: u64, end: u64) -> Self {
        let mut rng = Rng::stream(opts.seed, streams::ELEPHANT);
        let (client, server) = (u32::from(opts.victim), u32::from(opts.elephant_server));
        let (client_seq, server_seq) = (rng.next_u32(), rng.next_u32());
        let mut e = Elephant {
            queue: TimedQueue::default(),
            client,
            server,
            server_seq,
            client_seq,
            gap_ns: 1e9 * SEGMENT_FRAME / opts.elephant_rate_bytes,
            data_start: start + 3 * HALF_RTT,
            sent: 0,
            close_at: end.saturating_sub(4 * HALF_RTT),
            end,
        };
        let syn = e.client_segment(flags::SYN);
        e.queue.push(start, (syn, 0));
        let synack = Tcp {
            ack: client_seq.wrapping_add(1),
            ..e.server_segment(flags::SYN | flags::ACK)
        };
        e.queue.push(start + HALF_RTT, (synack, 0));
        e.client_seq = e.client_seq.wrapping_add(1);
        e.server_seq = e.server_seq.wrapping_add(1);
        let ack = e.client_segment(flags::ACK);
        e.queue.push(start + 2 * HALF_RTT, (ack, 0));
        if e.data_start < e.close_at {
            e.queue
                .push(e.data_start, (e.server_segment(flags::ACK), MSS));
        }
        e
    }

    fn client_segment(&self, flags: u8) -> Tcp {
        Tcp {
            src: self.client,
            dst: self.server,
            sport: CLIENT_PORT,
            dport: SERVER_PORT,
            seq: self.client_seq,
            ack: self.server_seq,
            flags,
            window: 65535,
        }
    }

    fn server_segment(&self, flags: u8) -> Tcp {
        Tcp {
            src: self.server,
            dst: self.client,
            sport: SERVER_PORT,
            dport: CLIENT_PORT,
            seq: self.server_seq,
            ack: self.client_seq,
            flags,
            window: 65535,
        }
    }

    /// After data segment `self.sent`: the client's ACK every second segment, and the next
    /// segment, or the close.
    fn after_segment(&mut self, t: u64) {
        self.server_seq = self.server_seq.wrapping_add(MSS as u32);
        self.sent += 1;
        if self.sent.is_multiple_of(2) {
            let ack = self.client_segment(flags::ACK);
            self.queue.push(t + ACK_DELAY, (ack, 0));
        }
        let next = self.data_start + (self.sent as f64 * self.gap_ns).round() as u64;
        if next < self.close_at {
            self.queue
                .push(next.max(t + 1), (self.server_segment(flags::ACK), MSS));
        } else {
            self.close(self.close_at.max(t + ACK_DELAY + 1));
        }
    }

    /// The server's FIN, the client's FIN, the server's last ACK.
    fn close(&mut self, t: u64) {
        let fin = flags::FIN | flags::ACK;
        self.queue.push(t, (self.server_segment(fin), 0));
        let client_fin = Tcp {
            ack: self.server_seq.wrapping_add(1),
            ..self.client_segment(fin)
        };
        self.queue.push(t + 2 * HALF_RTT, (client_fin, 0));
        let last = Tcp {
            seq: self.server_seq.wrapping_add(1),
            ack: self.client_seq.wrapping_add(1),
            ..self.server_segment(flags::ACK)
        };
        self.queue.push(t + 3 * HALF_RTT, (last, 0));
    }
}

impl EventStream for Elephant {
    fn peek(&self) -> Option<u64> {
        self.queue.peek_time().filter(|&t| t < self.end)
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        let Some((t, (h, len))) = self.queue.pop() else {
            return;
        };
        fb.tcp(&h, len);
        if len > 0 {
            self.after_segment(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{GenOptions, Scenario, generate};

    #[test]
    fn one_connection_carries_the_rate_and_closes() {
        let opts = GenOptions {
            duration_secs: 2.0,
            background_rate: 0.0,
            ..GenOptions::default()
        };
        let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
        let report = generate(Scenario::Elephant, &opts, &mut frames).expect("generates");
        assert_eq!(report.background_packets, 0);
        // About 2 s × 1 MB/s of segments, less the handshake and the close, and 2 % of ACKs.
        let rate = report.attack_bytes as f64 / 2.0;
        assert!((990_000.0..=1_030_000.0).contains(&rate), "{rate}");
        let tcp_flags: Vec<u8> = frames.iter().map(|(_, f)| f[14 + 20 + 13]).collect();
        assert_eq!(tcp_flags[..3], [0x02, 0x12, 0x10]);
        assert_eq!(tcp_flags[tcp_flags.len() - 3..], [0x11, 0x11, 0x10]);
        assert!(frames.windows(2).all(|w| w[0].0 <= w[1].0));
        let full = frames.iter().filter(|(_, f)| f.len() == 1514).count();
        // Every short frame but the handshake's three and the close's three is an ACK.
        let acks = frames.iter().filter(|(_, f)| f.len() == 60).count() - 6;
        assert_eq!(acks, full / 2, "{acks} ACKs, {full} segments");
    }
}
