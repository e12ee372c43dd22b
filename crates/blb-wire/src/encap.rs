//! Tunnel headers: given what follows an IP header (its protocol number and bytes), say
//! whether it is a tunnel blb looks into, which kind, and where the packet it carries starts
//! and what that packet is (an Ethernet frame, an IP packet, a PPP frame, or whatever an
//! EtherType names). Reading stops at the tunnel header: [`crate::tunnel`] parses the rest.
//!
//! * GRE (IP protocol 47, RFC 2784/2890 and RFC 1701's routing): optional checksum, key,
//!   sequence number and source routes; the protocol is an EtherType (IPv4, IPv6, MPLS, ...),
//!   0x6558 for Ethernet (transparent Ethernet bridging), 0x88be for ERSPAN type I (no
//!   sequence number: the Ethernet frame follows at once) or II (8-byte header), 0x22eb for
//!   ERSPAN type III (12 bytes, and the 8-byte platform subheader when its O bit is set);
//!   version 1 is PPTP's enhanced GRE, carrying PPP.
//! * IP in IP: protocol 4 (IPv4) and 41 (IPv6), in IPv4 or IPv6.
//! * UDP, by port (destination first, then source): VXLAN (4789, 8472; the I flag must be
//!   set), Geneve (6081; version 0, options skipped), GTP-U (2152; G-PDUs of version 1, with
//!   the optional fields and extension headers skipped; other messages are not tunnelled
//!   packets), Teredo (3544; authentication and origin indicators skipped), L2TPv2 (1701; data
//!   messages, with their optional length, sequence numbers and offset padding; control
//!   messages are not tunnelled packets). On any other port, a UDP payload that is exactly
//!   one IPv6 packet (its payload length matches the UDP length) with a Teredo address
//!   (2001:0::/32) at either end is Teredo too: relays send it from ports of their own.
//!
//! L2TPv3 (IP protocol 115, or UDP 1701 with version 3) is not looked into: its cookie length
//! and the payload's type are configured per session (or learnt from control messages), so
//! a packet alone does not say where the carried frame starts or what it is.

use blb_core::packet::PacketMeta;
use blb_core::tunnel::TunnelKind;

use crate::bytes::{be16, be32};

/// GRE.
pub(crate) const IPPROTO_GRE: u8 = 47;
/// IPv4 in IP.
pub(crate) const IPPROTO_IPIP: u8 = 4;
/// IPv6 in IP.
pub(crate) const IPPROTO_IPV6: u8 = 41;
/// UDP.
const IPPROTO_UDP: u8 = 17;

/// GRE protocol: transparent Ethernet bridging.
const GRE_TEB: u16 = 0x6558;
/// GRE protocol: ERSPAN types I and II.
const GRE_ERSPAN_2: u16 = 0x88be;
/// GRE protocol: ERSPAN type III.
const GRE_ERSPAN_3: u16 = 0x22eb;
/// GRE protocol of PPTP (PPP).
const GRE_PPP: u16 = 0x880b;

/// VXLAN's IANA port.
pub(crate) const PORT_VXLAN: u16 = 4789;
/// VXLAN's port in the Linux kernel by default (and flannel).
pub(crate) const PORT_VXLAN_LINUX: u16 = 8472;
/// Geneve.
pub(crate) const PORT_GENEVE: u16 = 6081;
/// GTP-U.
pub(crate) const PORT_GTP_U: u16 = 2152;
/// Teredo.
pub(crate) const PORT_TEREDO: u16 = 3544;
/// L2TP.
pub(crate) const PORT_L2TP: u16 = 1701;

/// Most GRE source route entries or GTP-U extension headers walked.
const MAX_CHAIN: usize = 16;

/// What a tunnel carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Carried<'a> {
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
    /// An IP packet of either version (the version nibble says which).
    Ip(&'a [u8]),
    /// An IPv4 packet.
    Ipv4(&'a [u8]),
    /// An IPv6 packet.
    Ipv6(&'a [u8]),
    /// What an EtherType names (IPv4, IPv6, MPLS, ...).
    EtherType(u16, &'a [u8]),
    /// A PPP frame.
    Ppp(&'a [u8]),
}

/// What follows an IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found<'a> {
    /// Not a tunnel blb looks into.
    None,
    /// A tunnel of this kind, carrying this.
    Tunnel(TunnelKind, Carried<'a>),
    /// A tunnel of this kind whose header is truncated or invalid.
    Malformed(TunnelKind),
}

/// The tunnels' UDP ports.
const TUNNEL_PORTS: [u16; 6] = [
    PORT_L2TP,
    PORT_GTP_U,
    PORT_TEREDO,
    PORT_VXLAN,
    PORT_GENEVE,
    PORT_VXLAN_LINUX,
];

/// A multiplier that sends each tunnel port to its own slot of [`PORT_SLOTS`] (found by
/// search; `port_slots_are_a_perfect_hash` checks it).
const PORT_HASH: u32 = 62_369;

/// A port's slot: the top 6 bits of `port × PORT_HASH` (always below 64).
#[inline(always)]
const fn port_slot(port: u16) -> usize {
    ((port as u32).wrapping_mul(PORT_HASH) >> 26) as usize
}

/// Each tunnel port in its slot, 0 elsewhere.
const PORT_SLOTS: [u16; 64] = {
    let mut t = [0u16; 64];
    let mut i = 0;
    while i < TUNNEL_PORTS.len() {
        t[port_slot(TUNNEL_PORTS[i])] = TUNNEL_PORTS[i];
        i += 1;
    }
    t
};

/// True when `port` is one of the tunnels' UDP ports (or 0, which no tunnel then claims): a
/// multiplication and one table read.
#[inline(always)]
pub(crate) fn tunnel_port(port: u16) -> bool {
    PORT_SLOTS.get(port_slot(port)) == Some(&port)
}

/// Look at what follows an IP header: `protocol` and its bytes `d` (the transport header on).
/// `m` holds the ports already read.
pub(crate) fn find<'a>(m: &PacketMeta, protocol: u8, d: &'a [u8]) -> Found<'a> {
    match protocol {
        IPPROTO_GRE => gre(d),
        IPPROTO_IPIP => Found::Tunnel(TunnelKind::Ipv4InIp, Carried::Ipv4(d)),
        IPPROTO_IPV6 => Found::Tunnel(TunnelKind::Ipv6InIp, Carried::Ipv6(d)),
        IPPROTO_UDP if m.has_ports => udp(m.src_port, m.dst_port, d),
        _ => Found::None,
    }
}

/// A UDP datagram (`d`: its header on) between `src` and `dst` ports.
fn udp(src: u16, dst: u16, d: &[u8]) -> Found<'_> {
    let port = if tunnel_port(dst) { dst } else { src };
    let Some(p) = d.get(8..) else {
        return match kind_of_port(port) {
            Some(kind) => Found::Malformed(kind),
            None => Found::None,
        };
    };
    match port {
        PORT_VXLAN | PORT_VXLAN_LINUX => vxlan(p),
        PORT_GENEVE => geneve(p),
        PORT_GTP_U => gtp_u(p),
        PORT_TEREDO => teredo(p),
        PORT_L2TP => l2tp(p),
        _ => teredo_elsewhere(be16(d, 4).unwrap_or(0), p),
    }
}

fn kind_of_port(port: u16) -> Option<TunnelKind> {
    Some(match port {
        PORT_VXLAN | PORT_VXLAN_LINUX => TunnelKind::Vxlan,
        PORT_GENEVE => TunnelKind::Geneve,
        PORT_GTP_U => TunnelKind::GtpU,
        PORT_TEREDO => TunnelKind::Teredo,
        PORT_L2TP => TunnelKind::L2tp,
        _ => return None,
    })
}

/// A GRE header and what it carries.
fn gre(d: &[u8]) -> Found<'_> {
    use TunnelKind::{Erspan, Gre};
    let Some(&[flags, ver, p0, p1]) = d.first_chunk::<4>() else {
        return Found::Malformed(Gre);
    };
    let protocol = u16::from_be_bytes([p0, p1]);
    let (checksum, routing, key, seq) = (
        flags & 0x80 != 0,
        flags & 0x40 != 0,
        flags & 0x20 != 0,
        flags & 0x10 != 0,
    );
    match ver & 0x07 {
        0 => {}
        1 => {
            // PPTP: the key holds the payload length and call id; then the sequence and
            // acknowledgement numbers when flagged.
            if protocol != GRE_PPP || !key || checksum || routing {
                return Found::Malformed(Gre);
            }
            let off = 8 + 4 * usize::from(seq) + 4 * usize::from(ver & 0x80 != 0);
            return match d.get(off..) {
                Some(p) => Found::Tunnel(Gre, Carried::Ppp(p)),
                None => Found::Malformed(Gre),
            };
        }
        _ => return Found::Malformed(Gre),
    }
    let mut off = 4 + 4 * usize::from(checksum || routing) + 4 * usize::from(key);
    off += 4 * usize::from(seq);
    if routing {
        // Source route entries: address family, offset, length, then `length` bytes; a
        // length of 0 ends the list.
        let mut ended = false;
        for _ in 0..MAX_CHAIN {
            let Some(len) = d.get(off + 3) else {
                return Found::Malformed(Gre);
            };
            off += 4 + usize::from(*len);
            if *len == 0 {
                ended = true;
                break;
            }
        }
        if !ended {
            return Found::Malformed(Gre);
        }
    }
    let Some(p) = d.get(off..) else {
        return Found::Malformed(Gre);
    };
    match protocol {
        GRE_TEB => Found::Tunnel(Gre, Carried::Ethernet(p)),
        GRE_ERSPAN_2 if !seq => Found::Tunnel(Erspan, Carried::Ethernet(p)),
        GRE_ERSPAN_2 | GRE_ERSPAN_3 => erspan(p),
        et => Found::Tunnel(Gre, Carried::EtherType(et, p)),
    }
}

/// An ERSPAN type II or III header (the version field says which) and the mirrored frame.
fn erspan(p: &[u8]) -> Found<'_> {
    let bad = Found::Malformed(TunnelKind::Erspan);
    let Some(&v) = p.first() else {
        return bad;
    };
    match v >> 4 {
        1 => match p.get(8..) {
            Some(frame) => Found::Tunnel(TunnelKind::Erspan, Carried::Ethernet(frame)),
            None => bad,
        },
        2 => {
            // Bits of bytes 10-11: P, frame type (5), hardware id (6), D, granularity (2), O.
            let Some(w) = be16(p, 10) else {
                return bad;
            };
            let off = 12 + 8 * usize::from(w & 1 != 0);
            match (p.get(off..), (w >> 10) & 0x1f) {
                (Some(frame), 0) => Found::Tunnel(TunnelKind::Erspan, Carried::Ethernet(frame)),
                (Some(packet), 2) => Found::Tunnel(TunnelKind::Erspan, Carried::Ip(packet)),
                _ => bad,
            }
        }
        _ => bad,
    }
}

/// A VXLAN header (8 bytes, the I flag set) and its Ethernet frame.
fn vxlan(p: &[u8]) -> Found<'_> {
    match (p.first(), p.get(8..)) {
        (Some(flags), Some(frame)) if flags & 0x08 != 0 => {
            Found::Tunnel(TunnelKind::Vxlan, Carried::Ethernet(frame))
        }
        _ => Found::Malformed(TunnelKind::Vxlan),
    }
}

/// A Geneve header (version 0), its options, and what its protocol type names.
fn geneve(p: &[u8]) -> Found<'_> {
    let bad = Found::Malformed(TunnelKind::Geneve);
    let (Some(&v), Some(protocol)) = (p.first(), be16(p, 2)) else {
        return bad;
    };
    if v >> 6 != 0 {
        return bad;
    }
    let Some(inner) = p.get(8 + usize::from(v & 0x3f) * 4..) else {
        return bad;
    };
    match protocol {
        GRE_TEB => Found::Tunnel(TunnelKind::Geneve, Carried::Ethernet(inner)),
        et => Found::Tunnel(TunnelKind::Geneve, Carried::EtherType(et, inner)),
    }
}

/// A GTP-U header: a G-PDU (message type 255) of version 1 carries an IP packet after the
/// optional sequence number, N-PDU number and extension headers.
fn gtp_u(p: &[u8]) -> Found<'_> {
    let bad = Found::Malformed(TunnelKind::GtpU);
    let Some(&[flags, msg_type, ..]) = p.first_chunk::<8>() else {
        return bad;
    };
    if flags >> 5 != 1 || flags & 0x10 == 0 {
        return bad; // not GTPv1 (GTP' has the protocol type bit clear)
    }
    if msg_type != 0xff {
        return Found::None; // echo, error indication, end marker: signalling, not a packet
    }
    let mut off = 8;
    if flags & 0x07 != 0 {
        let Some(&next) = p.get(11) else {
            return bad;
        };
        off = 12;
        let mut next = if flags & 0x04 != 0 { next } else { 0 };
        let mut walked = 0;
        while next != 0 {
            // Each extension header: length in 4-byte units, content, next type.
            let len = p.get(off).map_or(0, |&l| usize::from(l) * 4);
            walked += 1;
            if len == 0 || walked > MAX_CHAIN {
                return bad;
            }
            let Some(&n) = p.get(off + len - 1) else {
                return bad;
            };
            next = n;
            off += len;
        }
    }
    match p.get(off..) {
        Some(packet) => Found::Tunnel(TunnelKind::GtpU, Carried::Ip(packet)),
        None => bad,
    }
}

/// Teredo on its port: an authentication indicator (`00 01`), an origin indication
/// (`00 00`), either, both (in that order) or neither, then an IPv6 packet.
fn teredo(mut p: &[u8]) -> Found<'_> {
    let bad = Found::Malformed(TunnelKind::Teredo);
    if let [0x00, 0x01, id_len, auth_len, ..] = *p {
        // Client identifier, authentication value, nonce (8) and confirmation (1).
        let len = 4 + usize::from(id_len) + usize::from(auth_len) + 9;
        let Some(rest) = p.get(len..) else {
            return bad;
        };
        p = rest;
    }
    if let [0x00, 0x00, ..] = *p {
        let Some(rest) = p.get(8..) else {
            return bad;
        };
        p = rest;
    }
    match p.first() {
        Some(v) if v >> 4 == 6 => Found::Tunnel(TunnelKind::Teredo, Carried::Ipv6(p)),
        _ => bad,
    }
}

/// Teredo's prefix, 2001:0::/32.
const TEREDO_PREFIX: u32 = 0x2001_0000;

/// Teredo off its port: the UDP payload `p` (of a datagram whose UDP length is `udp_len`) is
/// exactly one IPv6 packet with a Teredo address at either end.
fn teredo_elsewhere(udp_len: u16, p: &[u8]) -> Found<'_> {
    let is_teredo = p.first().is_some_and(|v| v >> 4 == 6)
        && be16(p, 4).is_some_and(|plen| u32::from(plen) + 48 == u32::from(udp_len))
        && (be32(p, 8) == Some(TEREDO_PREFIX) || be32(p, 24) == Some(TEREDO_PREFIX));
    if is_teredo {
        Found::Tunnel(TunnelKind::Teredo, Carried::Ipv6(p))
    } else {
        Found::None
    }
}

/// An L2TPv2 data message and its PPP frame. Control messages are not tunnelled packets, nor
/// is L2TPv3 looked into (see the module docs).
fn l2tp(p: &[u8]) -> Found<'_> {
    let bad = Found::Malformed(TunnelKind::L2tp);
    let Some(flags) = be16(p, 0) else {
        return bad;
    };
    match flags & 0x0f {
        2 => {}
        3 => return Found::None,
        _ => return bad,
    }
    if flags & 0x8000 != 0 {
        return Found::None;
    }
    // Flags and version, length (L), tunnel and session ids, Ns and Nr (S), offset (O).
    let mut off =
        2 + 2 * usize::from(flags & 0x4000 != 0) + 4 + 4 * usize::from(flags & 0x0800 != 0);
    if flags & 0x0200 != 0 {
        let Some(pad) = be16(p, off) else {
            return bad;
        };
        off += 2 + usize::from(pad);
    }
    match p.get(off..) {
        Some(frame) => Found::Tunnel(TunnelKind::L2tp, Carried::Ppp(frame)),
        None => bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_slots_are_a_perfect_hash() {
        let mut slots: Vec<usize> = TUNNEL_PORTS.iter().map(|&p| port_slot(p)).collect();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), TUNNEL_PORTS.len());
        for port in 1..=u16::MAX {
            assert_eq!(tunnel_port(port), TUNNEL_PORTS.contains(&port), "{port}");
        }
    }
}
