//! The network layer: IPv4 (options, fragments, bogus lengths) and IPv6 (extension headers,
//! Fragment header), tolerant of truncated captures.
//!
//! The addresses matter most: as soon as a header is present up to its addresses the record
//! becomes [`PacketClass::Ip`], whatever its length fields say, and the transport ports are
//! read from whatever was captured.
//!
//! With `INNER` (balancing on inner headers), what follows the last header read is handed to
//! [`crate::tunnel`] when it may be a tunnel: the parse then goes on inside. Without it, the
//! tunnel check is compiled out.

use blb_core::packet::{Addr, FragmentInfo, PacketClass, PacketMeta};

use crate::bytes::be32;
use crate::link::{ET_IPV4, ET_IPV6};
use crate::{transport, tunnel};

/// IPv6 Hop-by-Hop Options header.
const HOPOPT: u8 = 0;
/// IPv6 Routing header.
const ROUTING: u8 = 43;
/// IPv6 Fragment header.
const FRAGMENT: u8 = 44;
/// Encapsulating Security Payload: opaque from here on.
const ESP: u8 = 50;
/// Authentication Header.
const AH: u8 = 51;
/// No next header.
const NO_NEXT: u8 = 59;
/// IPv6 Destination Options header.
const DSTOPTS: u8 = 60;
/// Most extension headers walked before giving up (each is at least 8 bytes anyway).
const MAX_EXT_HEADERS: usize = 16;

/// Raw IP: the version nibble says which.
pub(crate) fn by_version<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    match d.first().map(|b| b >> 4) {
        Some(4) => ipv4::<INNER>(m, d),
        Some(6) => ipv6::<INNER>(m, d),
        _ => {}
    }
}

/// An IPv4 header and what follows.
pub(crate) fn ipv4<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    m.ethertype = ET_IPV4;
    let Some(h) = d.first_chunk::<20>() else {
        return;
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if h[0] >> 4 != 4 || ihl < 20 {
        return;
    }
    m.class = PacketClass::Ip;
    m.src = Addr::v4([h[12], h[13], h[14], h[15]]);
    m.dst = Addr::v4([h[16], h[17], h[18], h[19]]);
    m.protocol = h[9];
    let flags_off = u16::from_be_bytes([h[6], h[7]]);
    let more = flags_off & 0x2000 != 0;
    let offset = u32::from(flags_off & 0x1fff) * 8;
    if more || offset > 0 {
        m.fragment = Some(FragmentInfo {
            id: u32::from(u16::from_be_bytes([h[4], h[5]])),
            offset,
            more,
        });
        if offset > 0 {
            return;
        }
    }
    // Trust the total length only to cut off link-layer padding; a bogus one (0, shorter
    // than the header, or longer than captured) is ignored.
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let end = if total >= ihl && total <= d.len() {
        total
    } else {
        d.len()
    };
    if let Some(payload) = d.get(ihl..end) {
        transport::ports(m, h[9], payload);
        if INNER && tunnel::may_be_tunnel(m, h[9], payload) {
            tunnel::descend(m, h[9], payload);
        }
    }
}

/// An IPv6 header, its extension headers and what follows.
pub(crate) fn ipv6<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    m.ethertype = ET_IPV6;
    let Some((h, rest)) = d.split_first_chunk::<40>() else {
        return;
    };
    if h[0] >> 4 != 6 {
        return;
    }
    m.class = PacketClass::Ip;
    let (src, dst) = match (h[8..24].try_into(), h[24..40].try_into()) {
        (Ok(s), Ok(d)) => (s, d),
        _ => return,
    };
    m.src = Addr::v6(src);
    m.dst = Addr::v6(dst);
    // Payload length 0 means a jumbogram or a bogus header: use what was captured.
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let mut p = if plen > 0 {
        rest.get(..plen).unwrap_or(rest)
    } else {
        rest
    };
    let mut next = h[6];
    m.protocol = next;
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            HOPOPT | ROUTING | DSTOPTS => p.get(1).map(|&l| (usize::from(l) + 1) * 8),
            AH => p.get(1).map(|&l| (usize::from(l) + 2) * 4),
            FRAGMENT => {
                let Some(f) = p.first_chunk::<8>() else {
                    m.protocol = p.first().copied().unwrap_or(next);
                    return;
                };
                let off_flags = u16::from_be_bytes([f[2], f[3]]);
                let offset = u32::from(off_flags & 0xfff8);
                m.fragment = Some(FragmentInfo {
                    id: be32(f, 4).unwrap_or(0),
                    offset,
                    more: off_flags & 0x0001 != 0,
                });
                if offset > 0 {
                    m.protocol = f[0];
                    return;
                }
                Some(8)
            }
            ESP | NO_NEXT => return,
            _ => {
                transport::ports(m, next, p);
                if INNER && tunnel::may_be_tunnel(m, next, p) {
                    tunnel::descend(m, next, p);
                }
                return;
            }
        };
        // Every extension header starts with the next header's number.
        let Some(&nh) = p.first() else {
            return;
        };
        m.protocol = nh;
        next = nh;
        match len.and_then(|l| p.get(l..)) {
            Some(after) => p = after,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blb_core::packet::proto;

    fn blank() -> PacketMeta {
        PacketMeta {
            class: PacketClass::Unparsable,
            ..PacketMeta::default()
        }
    }

    fn v4_header(total: u16, proto: u8, flags_off: u16) -> Vec<u8> {
        let t = total.to_be_bytes();
        let f = flags_off.to_be_bytes();
        vec![
            0x45, 0, t[0], t[1], 0x12, 0x34, f[0], f[1], 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]
    }

    #[test]
    fn ihl_below_five_is_unparsable() {
        let mut h = v4_header(40, proto::TCP, 0);
        h[0] = 0x44;
        let mut m = blank();
        ipv4::<false>(&mut m, &h);
        assert_eq!(m.class, PacketClass::Unparsable);
        assert_eq!(m.ethertype, ET_IPV4);
    }

    #[test]
    fn wrong_version_is_unparsable() {
        let mut h = v4_header(40, proto::TCP, 0);
        h[0] = 0x65;
        let mut m = blank();
        ipv4::<false>(&mut m, &h);
        assert_eq!(m.class, PacketClass::Unparsable);
        let mut m = blank();
        ipv6::<false>(&mut m, &[0x45; 40]);
        assert_eq!(m.class, PacketClass::Unparsable);
    }

    #[test]
    fn padding_after_total_length_is_not_a_transport_header() {
        // Total length 20: no payload, but 8 bytes of Ethernet padding follow.
        let mut h = v4_header(20, proto::UDP, 0);
        h.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let mut m = blank();
        ipv4::<false>(&mut m, &h);
        assert_eq!(m.class, PacketClass::Ip);
        assert!(!m.has_ports);
    }

    #[test]
    fn bogus_total_length_uses_captured_bytes() {
        for total in [0u16, 10, 1500] {
            let mut h = v4_header(total, proto::UDP, 0);
            h.extend_from_slice(&[0, 53, 0x30, 0x39]);
            let mut m = blank();
            ipv4::<false>(&mut m, &h);
            assert_eq!(m.class, PacketClass::Ip, "total {total}");
            assert!(m.has_ports);
            assert_eq!((m.src_port, m.dst_port), (53, 12345));
        }
    }

    #[test]
    fn options_cut_short_give_no_ports() {
        let mut h = v4_header(60, proto::TCP, 0);
        h[0] = 0x4f; // 60-byte header, only 20 captured
        let mut m = blank();
        ipv4::<false>(&mut m, &h);
        assert_eq!(m.class, PacketClass::Ip);
        assert_eq!(m.protocol, proto::TCP);
        assert!(!m.has_ports);
    }

    #[test]
    fn truncated_ipv6_extension_header_keeps_addresses() {
        let mut h = vec![0x60, 0, 0, 0, 0, 16, HOPOPT, 64];
        h.extend_from_slice(&[0xfe; 32]);
        h.extend_from_slice(&[proto::UDP, 1]); // says 16 bytes long, only 2 present
        let mut m = blank();
        ipv6::<false>(&mut m, &h);
        assert_eq!(m.class, PacketClass::Ip);
        assert_eq!(m.protocol, proto::UDP);
        assert!(!m.has_ports);
    }

    #[test]
    fn esp_and_no_next_stop_the_walk() {
        for nh in [ESP, NO_NEXT] {
            let mut h = vec![0x60, 0, 0, 0, 0, 8, nh, 64];
            h.extend_from_slice(&[0xfe; 32]);
            h.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 0]);
            let mut m = blank();
            ipv6::<false>(&mut m, &h);
            assert_eq!(m.class, PacketClass::Ip);
            assert_eq!(m.protocol, nh);
            assert!(!m.has_ports);
        }
    }
}
