//! Unit tests of malformed and truncated tunnels: each falls back to the outer flow exactly as
//! `--tunnels outer` reads it, and is recorded as malformed; valid tunnels carrying no flow
//! fall back without being called malformed; every tunnel frame cut at every length parses
//! without a panic into either an inner flow or exactly the outer one.

use blb_core::packet::{PacketClass, PacketMeta};
use blb_core::tunnel::{MAX_TUNNEL_DEPTH, TunnelKind};

use crate::tests::{TS, eth, full, ip4_tcp, ip6_udp};
use crate::tunnel_tests::{
    assert_outer, gre, gtp, inner_frame, outer_udp, outer4, outer6, teredo_ip6,
};
use crate::{Tunnels, linktype, parse_with};

use TunnelKind::*;

#[test]
fn gre_faults() {
    let ip = ip4_tcp(b"");
    // Cut inside the base header; options announced but missing; an unknown version.
    assert_outer(&outer4(47, &[0x00, 0x00]), Some(Gre));
    assert_outer(&outer4(47, &gre(0xb0, 0, 0x0800, &[0; 6], &[])), Some(Gre));
    assert_outer(&outer4(47, &gre(0, 2, 0x0800, &[], &ip)), Some(Gre));
    // PPTP without its key, or not carrying PPP.
    assert_outer(&outer4(47, &gre(0x00, 1, 0x880b, &[], &ip)), Some(Gre));
    assert_outer(&outer4(47, &gre(0x20, 1, 0x0800, &[0; 4], &ip)), Some(Gre));
    // Source routes that never end.
    let sre = [0, 1, 0, 4, 10, 0, 0, 1, 0, 1, 0, 4];
    assert_outer(
        &outer4(
            47,
            &gre(0x40, 0, 0x0800, &[&[0; 4][..], &sre].concat(), &[]),
        ),
        Some(Gre),
    );
    // The carried IPv4 header cut before its addresses, or not IPv4 at all.
    assert_outer(&outer4(47, &gre(0, 0, 0x0800, &[], &ip[..12])), Some(Gre));
    assert_outer(
        &outer4(47, &gre(0, 0, 0x0800, &[], &ip6_udp(b""))),
        Some(Gre),
    );
    // A valid header carrying something without a flow of its own: not malformed.
    assert_outer(&outer4(47, &gre(0, 0, 0x1234, &[], &[1, 2, 3])), None);
}

#[test]
fn erspan_faults() {
    let inner = inner_frame();
    let seq = [0u8, 0, 0, 1];
    for hdr in [
        vec![0x30, 0, 0, 1, 0, 0, 0, 0],                // version 3
        vec![0x10, 0, 0, 1],                            // type II cut
        vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x14, 0], // type III, frame type 5
        vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],    // subheader announced, missing
    ] {
        let body = [&hdr[..], if hdr.len() == 8 { &inner[..] } else { &[] }].concat();
        assert_outer(
            &outer4(47, &gre(0x10, 0, 0x88be, &seq, &body)),
            Some(Erspan),
        );
    }
    // The mirrored frame cut inside its Ethernet header.
    let ii = [0x10, 0, 0, 1, 0, 0, 0, 0];
    let f = outer4(
        47,
        &gre(0x10, 0, 0x88be, &seq, &[&ii[..], &inner[..10]].concat()),
    );
    assert_outer(&f, Some(Erspan));
}

#[test]
fn udp_tunnel_faults() {
    let inner = inner_frame();
    let vx = |flags: u8, frame: &[u8]| [&[flags, 0, 0, 0, 0, 0, 1, 0][..], frame].concat();
    // VXLAN without its I flag, cut short, carrying a frame cut before the IP addresses.
    assert_outer(&outer_udp(1, 4789, &vx(0x00, &inner)), Some(Vxlan));
    assert_outer(&outer_udp(1, 8472, &[0x08, 0, 0]), Some(Vxlan));
    assert_outer(
        &outer_udp(1, 4789, &vx(0x08, &inner[..14 + 15])),
        Some(Vxlan),
    );
    // A UDP header cut after the ports, to a tunnel's port.
    assert_outer(&outer4(17, &[0x9e, 0xc6, 0x12, 0xb5]), Some(Vxlan));
    // Geneve of version 1; options longer than the packet.
    assert_outer(
        &outer_udp(
            1,
            6081,
            &[&[0x40, 0, 0x65, 0x58, 0, 0, 1, 0][..], &inner].concat(),
        ),
        Some(Geneve),
    );
    assert_outer(
        &outer_udp(1, 6081, &[0x3f, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2]),
        Some(Geneve),
    );
    // GTP: version 2, GTP' (protocol type bit clear), an extension header of length 0, one
    // running past the end, a G-PDU carrying nothing, a cut header.
    let ip = ip4_tcp(b"");
    let mut v2 = gtp(0, 0xff, &[], &ip);
    v2[0] = 0x50;
    assert_outer(&outer_udp(2152, 2152, &v2), Some(GtpU));
    let mut prime = gtp(0, 0xff, &[], &ip);
    prime[0] = 0x20;
    assert_outer(&outer_udp(2152, 2152, &prime), Some(GtpU));
    assert_outer(
        &outer_udp(
            2152,
            2152,
            &gtp(0x04, 0xff, &[0, 0, 0, 0x85, 0, 0, 0, 0], &ip),
        ),
        Some(GtpU),
    );
    assert_outer(
        &outer_udp(2152, 2152, &gtp(0x04, 0xff, &[0, 0, 0, 0x85, 9, 0], &[])),
        Some(GtpU),
    );
    assert_outer(&outer_udp(2152, 2152, &gtp(0, 0xff, &[], &[])), Some(GtpU));
    assert_outer(&outer_udp(2152, 2152, &[0x30, 0xff, 0, 0]), Some(GtpU));
    // Teredo: not IPv6 after the indicators; an authentication indicator past the end.
    assert_outer(&outer_udp(3797, 3544, b"hello"), Some(Teredo));
    let auth = [0, 1, 200, 200, 1, 2, 3];
    assert_outer(
        &outer_udp(3797, 3544, &[&auth[..], &teredo_ip6([1; 16])].concat()),
        Some(Teredo),
    );
    // L2TP: an unknown version; offset padding past the end.
    assert_outer(
        &outer_udp(1701, 1701, &[0x00, 0x01, 0, 1, 0, 2, 0, 0x21]),
        Some(L2tp),
    );
    assert_outer(
        &outer_udp(1701, 1701, &[0x02, 0x02, 0, 1, 0, 2, 0, 40, 1]),
        Some(L2tp),
    );
}

#[test]
fn ip_in_ip_faults() {
    let ip = ip4_tcp(b"");
    assert_outer(&outer4(4, &ip[..10]), Some(Ipv4InIp));
    assert_outer(&outer4(41, &ip), Some(Ipv6InIp));
    assert_outer(&outer6(4, &ip6_udp(b"")), Some(Ipv4InIp));
    assert_outer(&outer6(41, &[0x60, 0, 0]), Some(Ipv6InIp));
}

/// A malformed tunnel inside a good one: the good one's flow, and the inner one named.
#[test]
fn malformed_level_inside_a_good_one() {
    let vx = outer_udp(1, 4789, &[0x00, 0, 0, 0, 0, 0, 1, 0]);
    let f = outer4(47, &gre(0, 0, 0x6558, &[], &vx));
    let m = full(linktype::ETHERNET, &f);
    let alone = full(linktype::ETHERNET, &vx);
    assert_eq!(
        (m.src, m.dst, m.src_port, m.dst_port),
        (alone.src, alone.dst, 1, 4789)
    );
    assert_eq!(m.tunnel.kinds().collect::<Vec<_>>(), vec![Gre]);
    assert_eq!(m.tunnel.malformed, Some(Vxlan));
}

/// Every tunnel frame the tests build.
fn tunnel_frames() -> Vec<Vec<u8>> {
    let inner = inner_frame();
    let ip = ip4_tcp(b"0123456789");
    let ip6 = ip6_udp(b"0123");
    vec![
        outer4(47, &gre(0xb0, 0, 0x0800, &[0; 12], &ip)),
        outer4(47, &gre(0x20, 0, 0x6558, &[0; 4], &inner)),
        outer4(
            47,
            &gre(
                0x10,
                0,
                0x88be,
                &[0; 4],
                &[&[0x10, 0, 0, 1, 0, 0, 0, 0][..], &inner].concat(),
            ),
        ),
        outer4(
            47,
            &gre(
                0,
                0,
                0x22eb,
                &[],
                &[
                    &[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1][..],
                    &[0; 8],
                    &inner,
                ]
                .concat(),
            ),
        ),
        outer4(
            47,
            &gre(
                0x30,
                0x81,
                0x880b,
                &[0; 12],
                &[&[0xff, 0x03, 0, 0x21][..], &ip].concat(),
            ),
        ),
        outer_udp(
            1,
            4789,
            &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &inner].concat(),
        ),
        outer_udp(
            1,
            6081,
            &[&[1, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4][..], &inner].concat(),
        ),
        outer_udp(
            1,
            2152,
            &gtp(0x04, 0xff, &[0, 0, 0, 0x85, 1, 0, 0, 0], &ip6),
        ),
        outer_udp(
            3797,
            3544,
            &[
                &[0, 1, 1, 1, 9, 9][..],
                &[0; 9],
                &[0; 8],
                &teredo_ip6([2; 16]),
            ]
            .concat(),
        ),
        outer_udp(3797, 32900, &teredo_ip6([2; 16])),
        outer_udp(
            1701,
            1701,
            &[
                &[0x4a, 0x02, 0, 0, 0, 1, 0, 2, 0, 1, 0, 2, 0, 0][..],
                &[0xff, 3, 0, 0x21],
                &ip,
            ]
            .concat(),
        ),
        outer4(4, &ip),
        outer6(41, &ip6),
        outer4(41, &outer6(47, &gre(0, 0, 0x6558, &[], &inner))[14..]),
    ]
}

#[test]
fn every_truncation_gives_the_inner_or_the_outer_flow() {
    for f in tunnel_frames() {
        let whole = full(linktype::ETHERNET, &f);
        assert!(whole.tunnel.depth >= 1, "{whole:?}");
        assert_eq!(whole.tunnel.malformed, None);
        for cut in 0..=f.len() {
            let d = &f[..cut];
            let m = parse_with(Tunnels::Inner, linktype::ETHERNET, TS, f.len() as u32, d);
            let outer = parse_with(Tunnels::Outer, linktype::ETHERNET, TS, f.len() as u32, d);
            check(&m, cut);
            if m.tunnel.depth == 0 {
                let mut flow = m;
                flow.tunnel.malformed = None;
                assert_eq!(flow, outer, "cut {cut} of {f:02x?}");
            } else {
                assert!(m.class != PacketClass::Unparsable);
            }
        }
    }
}

/// The record's invariants.
pub(crate) fn check(m: &PacketMeta, cap_len: usize) {
    assert_eq!(m.cap_len as usize, cap_len);
    assert!(usize::from(m.tunnel.depth) <= MAX_TUNNEL_DEPTH);
    assert_eq!(m.tunnel.kinds().count(), usize::from(m.tunnel.depth));
    if m.class == PacketClass::Ip {
        assert!(m.src.is_ip() && m.dst.is_ip());
    }
    if !m.has_ports {
        assert_eq!((m.src_port, m.dst_port), (0, 0));
    }
    if m.tunnel.datagram.is_some() {
        assert!(m.fragment.is_some_and(|f| f.is_first()) && m.tunnel.depth > 0);
    }
}

#[test]
fn non_ip_inner_frame_of_a_bridge_is_its_own_flow() {
    let lldp = eth(0x88cc, &[2, 7, 4, 0, 0, 0, 0, 0]);
    let m = full(
        linktype::ETHERNET,
        &outer_udp(1, 4789, &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &lldp].concat()),
    );
    assert_eq!(
        (m.class, m.ethertype, m.tunnel.depth),
        (PacketClass::NonIp, 0x88cc, 1)
    );
}
