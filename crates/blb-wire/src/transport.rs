//! The transport layer: ports of TCP, UDP, SCTP, DCCP and UDP-Lite, and the TCP flags byte.
//!
//! All of these put the source and destination ports in their first four bytes, so four
//! captured bytes are enough for the ports (a first fragment or a short snaplen may hold no
//! more). The TCP flags are read only when byte 13 was captured.

use blb_core::packet::{PacketMeta, proto};

/// DCCP.
const DCCP: u8 = 33;
/// SCTP.
const SCTP: u8 = 132;
/// UDP-Lite.
const UDPLITE: u8 = 136;

/// Set `protocol` and, when the protocol has ports and they were captured, the ports (and TCP
/// flags) from the transport header at the start of `d`.
#[inline(always)]
pub(crate) fn ports(m: &mut PacketMeta, protocol: u8, d: &[u8]) {
    m.protocol = protocol;
    if !matches!(protocol, proto::TCP | proto::UDP | SCTP | DCCP | UDPLITE) {
        return;
    }
    let Some(p) = d.first_chunk::<4>() else {
        return;
    };
    m.src_port = u16::from_be_bytes([p[0], p[1]]);
    m.dst_port = u16::from_be_bytes([p[2], p[3]]);
    m.has_ports = true;
    if protocol == proto::TCP
        && let Some(&flags) = d.get(13)
    {
        m.tcp_flags = flags;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blb_core::packet::tcp_flags;

    #[test]
    fn tcp_ports_without_flags() {
        let mut m = PacketMeta::default();
        ports(&mut m, proto::TCP, &[0, 80, 0x1f, 0x90, 0, 0, 0, 0]);
        assert!(m.has_ports);
        assert_eq!((m.src_port, m.dst_port, m.tcp_flags), (80, 8080, 0));
        let mut hdr = [0u8; 14];
        hdr[13] = tcp_flags::SYN | tcp_flags::ACK;
        let mut m = PacketMeta::default();
        ports(&mut m, proto::TCP, &hdr);
        assert_eq!(m.tcp_flags, 0x12);
    }

    #[test]
    fn too_short_or_portless() {
        let mut m = PacketMeta::default();
        ports(&mut m, proto::UDP, &[0, 53, 0]);
        assert!(!m.has_ports);
        assert_eq!(m.protocol, proto::UDP);
        let mut m = PacketMeta::default();
        ports(&mut m, proto::ICMP, &[8, 0, 1, 2, 3, 4]);
        assert!(!m.has_ports);
        assert_eq!((m.src_port, m.dst_port), (0, 0));
        for p in [SCTP, DCCP, UDPLITE] {
            let mut m = PacketMeta::default();
            ports(&mut m, p, &[0, 1, 0, 2]);
            assert!(m.has_ports);
            assert_eq!((m.src_port, m.dst_port), (1, 2));
        }
    }
}
