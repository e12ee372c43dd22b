//! Building Ethernet II / IPv4 / TCP / UDP frames into one reused buffer, with correct
//! lengths and checksums and no per-frame allocation.
//!
//! Payloads are filled from a fixed text pattern whose checksum prefix sums are precomputed,
//! so a 1 KB frame costs a `memcpy` and a few dozen arithmetic operations.

/// Largest frame (bytes, without FCS) the builder accepts.
pub const MAX_FRAME: usize = 9018;
/// Smallest Ethernet frame without FCS; shorter frames are zero-padded.
pub const MIN_FRAME: usize = 60;
/// Ethernet + IPv4 header bytes.
pub const ETH_IP_LEN: usize = 14 + 20;
/// Ethernet + IPv4 + UDP header bytes.
pub const UDP_HEADERS: usize = ETH_IP_LEN + 8;
/// Ethernet + IPv4 + TCP (no options) header bytes.
pub const TCP_HEADERS: usize = ETH_IP_LEN + 20;
/// TCP payload of a full-size segment on a 1500-byte MTU without options.
pub const MSS: usize = 1460;

const PATTERN_TEXT: &[u8] = b"blb-gen synthetic payload 0123456789 ";

/// TCP flag bits.
pub mod flags {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// PSH
    pub const PSH: u8 = 0x08;
    /// ACK
    pub const ACK: u8 = 0x10;
}

/// Fields of a TCP segment (addresses as host-order `u32`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tcp {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits ([`flags`]).
    pub flags: u8,
    /// Receive window.
    pub window: u16,
}

/// The locally administered MAC address derived from an IPv4 address: `02:00:a:b:c:d`.
#[inline]
pub fn mac_for(ip: u32) -> [u8; 6] {
    let b = ip.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// One reusable frame buffer.
pub struct FrameBuf {
    buf: Vec<u8>,
    len: usize,
    ip_id: u16,
    pattern: Vec<u8>,
    /// `prefix[k]` = sum of the first `k` big-endian 16-bit words of `pattern`.
    prefix: Vec<u32>,
}

impl Default for FrameBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameBuf {
    /// A builder with its buffer and payload pattern allocated once.
    pub fn new() -> Self {
        let pattern: Vec<u8> = PATTERN_TEXT
            .iter()
            .copied()
            .cycle()
            .take(MAX_FRAME)
            .collect();
        let mut prefix = Vec::with_capacity(MAX_FRAME / 2 + 1);
        let mut s = 0u32;
        prefix.push(0);
        for w in pattern.chunks_exact(2) {
            s += u32::from(u16::from_be_bytes([w[0], w[1]]));
            prefix.push(s);
        }
        FrameBuf {
            buf: vec![0; MAX_FRAME],
            len: 0,
            ip_id: 0,
            pattern,
            prefix,
        }
    }

    /// The frame built last.
    #[inline]
    pub fn frame(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Checksum contribution of the first `n` pattern bytes (payload starts word-aligned).
    #[inline]
    fn pattern_sum(&self, n: usize) -> u32 {
        let mut s = self.prefix[n / 2];
        if n % 2 == 1 {
            s += u32::from(self.pattern[n - 1]) << 8;
        }
        s
    }

    /// Writes Ethernet and IPv4 headers for an IP payload of `l4_len` bytes.
    #[inline]
    fn eth_ip(&mut self, src: u32, dst: u32, proto: u8, l4_len: usize, df: bool) {
        let total = 20 + l4_len;
        debug_assert!(14 + total <= MAX_FRAME);
        let b = &mut self.buf;
        b[0..6].copy_from_slice(&mac_for(dst));
        b[6..12].copy_from_slice(&mac_for(src));
        b[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut b[14..34];
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        self.ip_id = self.ip_id.wrapping_add(1);
        ip[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
        ip[6..8].copy_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
        ip[8] = crate::addr::ttl_for(src);
        ip[9] = proto;
        ip[10] = 0;
        ip[11] = 0;
        ip[12..16].copy_from_slice(&src.to_be_bytes());
        ip[16..20].copy_from_slice(&dst.to_be_bytes());
        let mut s = 0u32;
        for w in ip.chunks_exact(2) {
            s += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        ip[10..12].copy_from_slice(&fold(s).to_be_bytes());
        self.len = (14 + total).max(MIN_FRAME);
        if 14 + total < MIN_FRAME {
            self.buf[14 + total..MIN_FRAME].fill(0);
        }
    }

    /// Builds a UDP frame with `payload_len` pattern bytes.
    pub fn udp(&mut self, src: u32, dst: u32, sport: u16, dport: u16, payload_len: usize) {
        let off = UDP_HEADERS;
        self.buf[off..off + payload_len].copy_from_slice(&self.pattern[..payload_len]);
        let ps = self.pattern_sum(payload_len);
        self.finish_udp(src, dst, sport, dport, payload_len, ps);
    }

    /// Builds a UDP frame carrying `payload`.
    pub fn udp_payload(&mut self, src: u32, dst: u32, sport: u16, dport: u16, payload: &[u8]) {
        let off = UDP_HEADERS;
        self.buf[off..off + payload.len()].copy_from_slice(payload);
        let ps = sum_bytes(payload);
        self.finish_udp(src, dst, sport, dport, payload.len(), ps);
    }

    fn finish_udp(&mut self, src: u32, dst: u32, sport: u16, dport: u16, plen: usize, ps: u32) {
        let l4 = 8 + plen;
        self.eth_ip(src, dst, 17, l4, false);
        let u = &mut self.buf[ETH_IP_LEN..UDP_HEADERS];
        u[0..2].copy_from_slice(&sport.to_be_bytes());
        u[2..4].copy_from_slice(&dport.to_be_bytes());
        u[4..6].copy_from_slice(&(l4 as u16).to_be_bytes());
        let s = pseudo(src, dst, 17, l4) + u32::from(sport) + u32::from(dport) + l4 as u32 + ps;
        let mut c = fold(s);
        if c == 0 {
            c = 0xffff;
        }
        u[6..8].copy_from_slice(&c.to_be_bytes());
    }

    /// Builds a TCP frame (no options) with `payload_len` pattern bytes.
    pub fn tcp(&mut self, h: &Tcp, payload_len: usize) {
        let off = TCP_HEADERS;
        self.buf[off..off + payload_len].copy_from_slice(&self.pattern[..payload_len]);
        let ps = self.pattern_sum(payload_len);
        let l4 = 20 + payload_len;
        self.eth_ip(h.src, h.dst, 6, l4, true);
        let t = &mut self.buf[ETH_IP_LEN..TCP_HEADERS];
        t[0..2].copy_from_slice(&h.sport.to_be_bytes());
        t[2..4].copy_from_slice(&h.dport.to_be_bytes());
        t[4..8].copy_from_slice(&h.seq.to_be_bytes());
        t[8..12].copy_from_slice(&h.ack.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = h.flags;
        t[14..16].copy_from_slice(&h.window.to_be_bytes());
        t[16..20].fill(0);
        let mut s = pseudo(h.src, h.dst, 6, l4) + ps;
        for w in t.chunks_exact(2) {
            s += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        t[16..18].copy_from_slice(&fold(s).to_be_bytes());
    }
}

#[inline]
fn pseudo(src: u32, dst: u32, proto: u8, l4_len: usize) -> u32 {
    (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + u32::from(proto) + l4_len as u32
}

#[inline]
fn sum_bytes(b: &[u8]) -> u32 {
    let mut s = 0u32;
    let mut it = b.chunks_exact(2);
    for w in &mut it {
        s += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = it.remainder() {
        s += u32::from(*last) << 8;
    }
    s
}

/// Folds a 32-bit one's-complement sum and complements it.
#[inline]
fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn check(frame: &[u8]) -> (u8, usize) {
        let p = SlicedPacket::from_ethernet(frame).expect("parses");
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not ipv4")
        };
        let h = ip.header().to_header();
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        assert_eq!(
            usize::from(h.total_len),
            frame.len().min(14 + h.total_len as usize) - 14
        );
        match &p.transport {
            Some(TransportSlice::Udp(u)) => {
                let c = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
                assert_eq!(c, u.checksum());
                (17, u.payload().len())
            }
            Some(TransportSlice::Tcp(t)) => {
                let c = t.calc_checksum_ipv4(h.source, h.destination).unwrap();
                assert_eq!(c, t.checksum());
                (6, t.payload().len())
            }
            _ => panic!("no transport"),
        }
    }

    #[test]
    fn udp_frames_are_valid_at_all_sizes() {
        let mut fb = FrameBuf::new();
        for size in [60usize, 61, 64, 100, 1023, 1024, 1514, 9000] {
            fb.udp(0x0102_0304, 0x0a0a_0a0a, 40000, 53, size - UDP_HEADERS);
            assert_eq!(fb.frame().len(), size);
            assert_eq!(check(fb.frame()), (17, size - UDP_HEADERS));
        }
        fb.udp_payload(0x0102_0304, 0x0a0a_0a0a, 1, 2, b"abc");
        assert_eq!(fb.frame().len(), MIN_FRAME);
        assert_eq!(check(fb.frame()), (17, 3));
        assert_eq!(&fb.frame()[0..6], &mac_for(0x0a0a_0a0a));
    }

    #[test]
    fn tcp_frames_are_valid() {
        let mut fb = FrameBuf::new();
        for plen in [0usize, 1, 7, 500, MSS] {
            let h = Tcp {
                src: 0x0a0a_0102,
                dst: 0x5db8_d822,
                sport: 51000,
                dport: 443,
                seq: 0xdead_beef,
                ack: 12345,
                flags: flags::ACK | flags::PSH,
                window: 64240,
            };
            fb.tcp(&h, plen);
            assert_eq!(fb.frame().len(), (TCP_HEADERS + plen).max(MIN_FRAME));
            assert_eq!(check(fb.frame()), (6, plen));
        }
    }
}
