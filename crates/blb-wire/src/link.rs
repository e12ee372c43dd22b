//! Link layers: Ethernet II / 802.3, VLAN tags, MPLS (and Ethernet pseudowires), PPPoE,
//! Linux cooked captures (SLL, SLL2) and BSD loopback (NULL, LOOP).
//!
//! Every function here fills what it can into the record and hands the payload on; a
//! truncated header leaves the record [`PacketClass::Unparsable`] with whatever addresses were
//! already read (the MACs, usually). `INNER` goes on to the IP layer (see [`crate::ip`]).

use blb_core::packet::{Addr, PacketClass, PacketMeta};
use etherparse::EtherType;

use crate::ip;

/// EtherType of IPv4.
pub(crate) const ET_IPV4: u16 = EtherType::IPV4.0;
/// EtherType of IPv6.
pub(crate) const ET_IPV6: u16 = EtherType::IPV6.0;
/// 802.1Q customer VLAN tag.
const ET_VLAN: u16 = EtherType::VLAN_TAGGED_FRAME.0;
/// 802.1ad service VLAN tag (QinQ outer tag).
const ET_QINQ: u16 = EtherType::PROVIDER_BRIDGING.0;
/// The pre-standard QinQ outer tag.
const ET_VLAN_9100: u16 = EtherType::VLAN_DOUBLE_TAGGED_FRAME.0;
/// MPLS unicast.
const ET_MPLS_UC: u16 = 0x8847;
/// MPLS multicast.
const ET_MPLS_MC: u16 = 0x8848;
/// PPPoE session stage.
const ET_PPPOE_SESSION: u16 = 0x8864;
/// Type/length values up to this one are 802.3 lengths, not EtherTypes.
const MAX_8023_LEN: u16 = 1500;
/// PPP protocol number of IPv4.
const PPP_IPV4: u16 = 0x0021;
/// PPP protocol number of IPv6.
const PPP_IPV6: u16 = 0x0057;
/// `ARPHRD_NETLINK`: the cooked header's protocol is a netlink family, not an EtherType.
const ARPHRD_NETLINK: u16 = 824;
/// How many Ethernet pseudowires (inside MPLS) may nest before we give up.
const MAX_PW_DEPTH: u8 = 2;

#[inline(always)]
fn mac6(b: &[u8; 6]) -> Addr {
    Addr::mac(*b)
}

/// Mark the record as a non-IP frame carrying `ethertype` (0 for 802.3 lengths).
fn non_ip(m: &mut PacketMeta, ethertype: u16) {
    m.class = PacketClass::NonIp;
    m.ethertype = if ethertype <= MAX_8023_LEN {
        0
    } else {
        ethertype
    };
    m.protocol = 0;
}

/// Record one VLAN id; tags beyond [`blb_core::packet::MAX_VLANS`] are skipped.
#[inline(always)]
fn push_vlan(m: &mut PacketMeta, vid: u16) {
    if let Some(slot) = m.vlans.get_mut(usize::from(m.vlan_count)) {
        *slot = vid;
        m.vlan_count += 1;
    }
}

/// An Ethernet II or 802.3 frame. `depth` counts the pseudowires already entered.
pub(crate) fn ethernet<const INNER: bool>(m: &mut PacketMeta, d: &[u8], depth: u8) {
    let Some((h, rest)) = d.split_first_chunk::<14>() else {
        if let (Some(dst), Some(src)) = (
            d.first_chunk::<6>(),
            d.get(6..).and_then(|s| s.first_chunk::<6>()),
        ) {
            m.dst = mac6(dst);
            m.src = mac6(src);
        }
        return;
    };
    let [d0, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5, t0, t1] = *h;
    m.dst = Addr::mac([d0, d1, d2, d3, d4, d5]);
    m.src = Addr::mac([s0, s1, s2, s3, s4, s5]);
    let et = u16::from_be_bytes([t0, t1]);
    if et <= MAX_8023_LEN {
        // IEEE 802.3 frame with a length field (LLC/SNAP: STP, CDP, ...).
        non_ip(m, 0);
        return;
    }
    ethertype::<INNER>(m, et, rest, depth);
}

/// The payload of a link layer that says what it carries with an EtherType: skips VLAN tags,
/// then dispatches on the type.
pub(crate) fn ethertype<const INNER: bool>(
    m: &mut PacketMeta,
    mut et: u16,
    mut d: &[u8],
    depth: u8,
) {
    while matches!(et, ET_VLAN | ET_QINQ | ET_VLAN_9100) {
        let Some((tag, rest)) = d.split_first_chunk::<4>() else {
            m.ethertype = et;
            return;
        };
        push_vlan(m, u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff);
        et = u16::from_be_bytes([tag[2], tag[3]]);
        d = rest;
    }
    match et {
        ET_IPV4 => ip::ipv4::<INNER>(m, d),
        ET_IPV6 => ip::ipv6::<INNER>(m, d),
        ET_MPLS_UC | ET_MPLS_MC => mpls::<INNER>(m, et, d, depth),
        ET_PPPOE_SESSION => pppoe::<INNER>(m, d),
        _ => non_ip(m, et),
    }
}

/// An MPLS label stack: pop labels to the bottom of the stack, then guess the payload from its
/// first nibble as Wireshark does (4: IPv4, 6: IPv6, 0: control word + Ethernet pseudowire).
fn mpls<const INNER: bool>(m: &mut PacketMeta, et: u16, mut d: &[u8], depth: u8) {
    m.ethertype = et;
    loop {
        let Some((label, rest)) = d.split_first_chunk::<4>() else {
            return;
        };
        d = rest;
        if label[2] & 0x01 != 0 {
            break;
        }
    }
    match d.first().map(|b| b >> 4) {
        None => {}
        Some(4) => ip::ipv4::<INNER>(m, d),
        Some(6) => ip::ipv6::<INNER>(m, d),
        Some(0) if depth < MAX_PW_DEPTH => {
            if let Some(inner) = d.get(4..) {
                ethernet::<INNER>(m, inner, depth + 1);
            }
        }
        Some(_) => non_ip(m, et),
    }
}

/// A PPPoE session frame: 6-byte PPPoE header, then the 2-byte PPP protocol.
fn pppoe<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    m.ethertype = ET_PPPOE_SESSION;
    let Some((h, rest)) = d.split_first_chunk::<8>() else {
        return;
    };
    match u16::from_be_bytes([h[6], h[7]]) {
        PPP_IPV4 => ip::ipv4::<INNER>(m, rest),
        PPP_IPV6 => ip::ipv6::<INNER>(m, rest),
        _ => non_ip(m, ET_PPPOE_SESSION),
    }
}

/// A PPP frame as tunnels carry it (L2TP, PPTP's GRE): an optional address and control field
/// (`ff 03`), then the protocol, one byte when compressed (odd first byte), else two. Only
/// inside tunnels, so only with inner parsing.
pub(crate) fn ppp(m: &mut PacketMeta, d: &[u8]) {
    let d = match d {
        [0xff, 0x03, rest @ ..] => rest,
        _ => d,
    };
    let (protocol, rest) = match d {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return,
    };
    match protocol {
        PPP_IPV4 => ip::ipv4::<true>(m, rest),
        PPP_IPV6 => ip::ipv6::<true>(m, rest),
        _ => non_ip(m, 0),
    }
}

/// Linux cooked capture v1: packet type, ARPHRD type, address length, 8 address bytes,
/// protocol (16 bytes). Only the source link-layer address is known.
pub(crate) fn sll<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    let Some((h, rest)) = d.split_first_chunk::<16>() else {
        return;
    };
    let hatype = u16::from_be_bytes([h[2], h[3]]);
    if u16::from_be_bytes([h[4], h[5]]) == 6 {
        m.src = Addr::mac([h[6], h[7], h[8], h[9], h[10], h[11]]);
    }
    cooked_payload::<INNER>(m, hatype, u16::from_be_bytes([h[14], h[15]]), rest);
}

/// Linux cooked capture v2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, 8 address bytes (20 bytes).
pub(crate) fn sll2<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    let Some((h, rest)) = d.split_first_chunk::<20>() else {
        return;
    };
    let hatype = u16::from_be_bytes([h[8], h[9]]);
    if h[11] == 6 {
        m.src = Addr::mac([h[12], h[13], h[14], h[15], h[16], h[17]]);
    }
    cooked_payload::<INNER>(m, hatype, u16::from_be_bytes([h[0], h[1]]), rest);
}

fn cooked_payload<const INNER: bool>(m: &mut PacketMeta, hatype: u16, protocol: u16, rest: &[u8]) {
    if hatype == ARPHRD_NETLINK {
        non_ip(m, 0);
        return;
    }
    // Values up to 1500 are Linux ETH_P_* pseudo-protocols (802.2 LLC, 802.3, CAN, ...).
    ethertype::<INNER>(m, protocol, rest, 0);
}

/// The IP version an address family value stands for (BSD loopback header).
#[inline(always)]
fn af_version(af: u32) -> u8 {
    match af {
        2 => 4,
        // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS.
        10 | 24 | 28 | 30 => 6,
        _ => 0,
    }
}

/// BSD loopback (NULL, LOOP): a 4-byte address family in either byte order.
pub(crate) fn loopback<const INNER: bool>(m: &mut PacketMeta, d: &[u8]) {
    let Some((h, rest)) = d.split_first_chunk::<4>() else {
        return;
    };
    let v = match af_version(u32::from_le_bytes(*h)) {
        0 => af_version(u32::from_be_bytes(*h)),
        v => v,
    };
    match v {
        4 => ip::ipv4::<INNER>(m, rest),
        6 => ip::ipv6::<INNER>(m, rest),
        _ => non_ip(m, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blb_core::packet::{AddrFamily, MAX_VLANS};

    fn blank() -> PacketMeta {
        PacketMeta {
            class: PacketClass::Unparsable,
            ..PacketMeta::default()
        }
    }

    #[test]
    fn push_vlan_caps_at_max() {
        let mut m = blank();
        for vid in 1..=5 {
            push_vlan(&mut m, vid);
        }
        assert_eq!(usize::from(m.vlan_count), MAX_VLANS);
        assert_eq!(m.vlans, [1, 2, 3]);
    }

    #[test]
    fn short_ethernet_keeps_macs_when_readable() {
        let mut m = blank();
        ethernet::<false>(&mut m, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08], 0);
        assert_eq!(m.class, PacketClass::Unparsable);
        assert_eq!(m.dst, Addr::mac([1, 2, 3, 4, 5, 6]));
        assert_eq!(m.src, Addr::mac([7, 8, 9, 10, 11, 12]));
        let mut m = blank();
        ethernet::<false>(&mut m, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0);
        assert_eq!(m.src.family, AddrFamily::None);
    }

    #[test]
    fn loopback_families_both_orders() {
        for af in [10u32, 24, 28, 30] {
            assert_eq!(af_version(af), 6);
        }
        assert_eq!(af_version(2), 4);
        assert_eq!(af_version(7), 0);
        let mut m = blank();
        loopback::<false>(&mut m, &[0, 0, 0, 7, 0x45]);
        assert_eq!(m.class, PacketClass::NonIp);
        let mut m = blank();
        loopback::<false>(&mut m, &[0, 0, 0]);
        assert_eq!(m.class, PacketClass::Unparsable);
    }

    #[test]
    fn mpls_without_payload_is_unparsable() {
        let mut m = blank();
        mpls::<false>(&mut m, ET_MPLS_UC, &[0, 0, 0x11, 64], 0);
        assert_eq!(m.class, PacketClass::Unparsable);
        assert_eq!(m.ethertype, ET_MPLS_UC);
        let mut m = blank();
        mpls::<false>(&mut m, ET_MPLS_UC, &[0, 0, 0x10, 64, 0, 0, 0x11], 0);
        assert_eq!(m.class, PacketClass::Unparsable);
        let mut m = blank();
        mpls::<false>(&mut m, ET_MPLS_UC, &[0, 0, 0x11, 64, 0x90, 0], 0);
        assert_eq!(m.class, PacketClass::NonIp);
        assert_eq!(m.ethertype, ET_MPLS_UC);
    }
}
