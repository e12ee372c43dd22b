//! Unit tests of tunnel parsing on hand-built frames: each encapsulation gives the flow of the
//! packet it carries (checked field by field against that packet parsed alone), nesting and
//! its limit, both directions in different tunnels, and fragmented outer datagrams. Malformed
//! and truncated tunnels are in `tunnel_fault_tests.rs`.

use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::fragments::DatagramKey;
use blb_core::packet::{Addr, FragmentInfo, PacketClass, PacketMeta, proto};
use blb_core::tunnel::{DatagramHeader, MAX_TUNNEL_DEPTH, TunnelKind};
use etherparse::{IpNumber, PacketBuilder};

use crate::tests::{DIP4, DMAC, SIP4, SIP6, SMAC, TS, eth, full, ip4_tcp, ip6_udp, tagged};
use crate::{Tunnels, linktype, parse_with};

use TunnelKind::*;

pub(crate) const OSRC: [u8; 4] = [172, 16, 0, 1];
pub(crate) const ODST: [u8; 4] = [172, 16, 0, 2];

/// Ethernet, then an IPv4 header `OSRC → ODST` of protocol `protocol`, then `payload`.
pub(crate) fn outer4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([0x0a; 6], [0x0b; 6])
        .ipv4(OSRC, ODST, 64)
        .write(&mut v, IpNumber(protocol), payload)
        .unwrap();
    v
}

/// Ethernet, then an IPv6 header of next header `protocol`, then `payload`.
pub(crate) fn outer6(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([0x0a; 6], [0x0b; 6])
        .ipv6([0xfd; 16], [0xfe; 16], 64)
        .write(&mut v, IpNumber(protocol), payload)
        .unwrap();
    v
}

/// Ethernet, IPv4 `OSRC → ODST`, UDP `sp → dp`, then `payload`.
pub(crate) fn outer_udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([0x0a; 6], [0x0b; 6])
        .ipv4(OSRC, ODST, 64)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// A GRE header (flags byte, version byte, protocol, optional fields) and `payload`.
pub(crate) fn gre(flags: u8, ver: u8, protocol: u16, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    [&[flags, ver][..], &protocol.to_be_bytes(), opts, payload].concat()
}

/// The inner Ethernet frame most tests carry: TCP/IPv4 `SIP4:1234 → DIP4:80`.
pub(crate) fn inner_frame() -> Vec<u8> {
    eth(0x0800, &ip4_tcp(b"inner"))
}

/// `frame` gives the flow of `inner` (parsed alone as `inner_link`), reached through `kinds`.
pub(crate) fn assert_inner(
    frame: &[u8],
    inner_link: u32,
    inner: &[u8],
    kinds: &[TunnelKind],
) -> PacketMeta {
    let m = full(linktype::ETHERNET, frame);
    let mut want = parse_with(Tunnels::Outer, inner_link, TS, frame.len() as u32, inner);
    want.cap_len = frame.len() as u32;
    for &k in kinds {
        want.tunnel.push(k);
    }
    assert_eq!(m, want, "{kinds:?}");
    m
}

/// `frame` gives its outer flow, as `--tunnels outer` does, with `malformed` recorded.
pub(crate) fn assert_outer(frame: &[u8], malformed: Option<TunnelKind>) -> PacketMeta {
    let m = full(linktype::ETHERNET, frame);
    let mut want = parse_with(
        Tunnels::Outer,
        linktype::ETHERNET,
        TS,
        frame.len() as u32,
        frame,
    );
    want.tunnel.malformed = malformed;
    assert_eq!(m, want, "{malformed:?}");
    m
}

#[test]
fn outer_mode_never_looks_inside() {
    let f = outer4(47, &gre(0, 0, 0x0800, &[], &ip4_tcp(b"")));
    let m = parse_with(Tunnels::Outer, linktype::ETHERNET, TS, f.len() as u32, &f);
    assert_eq!(
        (m.src, m.dst, m.protocol),
        (Addr::v4(OSRC), Addr::v4(ODST), 47)
    );
    assert_eq!(m.tunnel, Default::default());
    assert_eq!("outer".parse::<Tunnels>(), Ok(Tunnels::Outer));
    assert_eq!("inner".parse::<Tunnels>().map(Tunnels::name), Ok("inner"));
    assert!("both".parse::<Tunnels>().is_err());
}

#[test]
fn gre_with_and_without_options() {
    let ip = ip4_tcp(b"gre");
    // No options; checksum + key + sequence number; key alone; sequence alone.
    for (flags, opts) in [
        (0x00, vec![]),
        (0xb0, vec![0xab, 0xcd, 0, 0, 0, 1, 0xd9, 0x7c, 0, 0, 0, 5]),
        (0x20, vec![2, 0, 0, 0]),
        (0x10, vec![0, 0, 0, 9]),
    ] {
        let f = outer4(47, &gre(flags, 0, 0x0800, &opts, &ip));
        assert_inner(&f, linktype::RAW, &ip, &[Gre]);
    }
    // IPv6 inside, and GRE over IPv6.
    let ip6 = ip6_udp(b"v6");
    assert_inner(
        &outer4(47, &gre(0x20, 0, 0x86dd, &[0; 4], &ip6)),
        linktype::RAW,
        &ip6,
        &[Gre],
    );
    assert_inner(
        &outer6(47, &gre(0, 0, 0x0800, &[], &ip)),
        linktype::RAW,
        &ip,
        &[Gre],
    );
    // RFC 1701 source routes: one entry, then the null entry.
    let sre = [0, 1, 0, 4, 10, 0, 0, 1, 0, 0, 0, 0];
    let f = outer4(
        47,
        &gre(0x40, 0, 0x0800, &[&[0u8; 4][..], &sre].concat(), &ip),
    );
    assert_inner(&f, linktype::RAW, &ip, &[Gre]);
    // MPLS in GRE.
    let mpls = crate::tests::mpls_labels(&[16], &ip);
    assert_inner(
        &outer4(47, &gre(0, 0, 0x8847, &[], &mpls)),
        linktype::RAW,
        &ip,
        &[Gre],
    );
}

#[test]
fn gre_transparent_ethernet_bridging_keeps_inner_vlans_only() {
    let inner = tagged(&inner_frame(), &[(0x8100, 10)]);
    let f = tagged(
        &outer4(47, &gre(0x20, 0, 0x6558, &[0; 4], &inner)),
        &[(0x8100, 5)],
    );
    let m = assert_inner(&f, linktype::ETHERNET, &inner, &[Gre]);
    assert_eq!(m.vlan_ids(), &[10]);
    // A non-IP frame in the bridge: its MAC pair.
    let arp = eth(0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]);
    let m = assert_inner(
        &outer4(47, &gre(0, 0, 0x6558, &[], &arp)),
        linktype::ETHERNET,
        &arp,
        &[Gre],
    );
    assert_eq!(
        (m.class, m.src, m.dst),
        (PacketClass::NonIp, Addr::mac(SMAC), Addr::mac(DMAC))
    );
}

#[test]
fn pptp_enhanced_gre_carries_ppp() {
    let ip = ip4_tcp(b"pptp");
    let key = [0, 40, 0, 7]; // payload length, call id
    for (flags, ver, extra) in [
        (0x20, 0x01, vec![]),
        (0x30, 0x81, vec![0, 0, 0, 1, 0, 0, 0, 2]),
    ] {
        let opts = [&key[..], &extra].concat();
        let ppp = [&[0xff, 0x03, 0x00, 0x21][..], &ip].concat();
        let f = outer4(47, &gre(flags, ver, 0x880b, &opts, &ppp));
        assert_inner(&f, linktype::RAW, &ip, &[Gre]);
    }
    // Compressed PPP (no address and control, one-byte protocol) carrying IPv6.
    let ip6 = ip6_udp(b"");
    let f = outer4(
        47,
        &gre(0x20, 0x01, 0x880b, &key, &[&[0x57][..], &ip6].concat()),
    );
    assert_inner(&f, linktype::RAW, &ip6, &[Gre]);
    // Encrypted PPP (MPPE): no inner flow, and nothing malformed.
    let f = outer4(
        47,
        &gre(0x20, 0x01, 0x880b, &key, &[0x00, 0xfd, 0x90, 0x01]),
    );
    assert_outer(&f, None);
}

#[test]
fn erspan_types_one_two_three() {
    let inner = inner_frame();
    // Type I: no sequence number, no ERSPAN header.
    let f = outer4(47, &gre(0, 0, 0x88be, &[], &inner));
    assert_inner(&f, linktype::ETHERNET, &inner, &[Erspan]);
    // Type II: sequence number, 8-byte header of version 1.
    let ii = [0x10, 23, 0, 100, 0, 0, 0, 0];
    let f = outer4(
        47,
        &gre(0x10, 0, 0x88be, &[0, 0, 0, 1], &[&ii[..], &inner].concat()),
    );
    assert_inner(&f, linktype::ETHERNET, &inner, &[Erspan]);
    // Type III, with and without the GRE sequence number, with the platform subheader.
    let iii = [0x20, 20, 0, 1, 1, 2, 3, 4, 0, 0, 0x00, 0x00];
    for seq in [0x10, 0x00] {
        let opts = if seq != 0 { vec![0, 0, 0, 7] } else { vec![] };
        let f = outer4(
            47,
            &gre(seq, 0, 0x22eb, &opts, &[&iii[..], &inner].concat()),
        );
        assert_inner(&f, linktype::ETHERNET, &inner, &[Erspan]);
    }
    let mut with_sub = iii.to_vec();
    with_sub[11] = 0x01;
    with_sub.extend_from_slice(&[0xee; 8]);
    let f = outer4(
        47,
        &gre(0, 0, 0x22eb, &[], &[&with_sub[..], &inner].concat()),
    );
    assert_inner(&f, linktype::ETHERNET, &inner, &[Erspan]);
    // Frame type 2: an IP packet.
    let mut ip_type = iii.to_vec();
    ip_type[10] = 0x08;
    let ip = ip4_tcp(b"");
    let f = outer4(47, &gre(0, 0, 0x22eb, &[], &[&ip_type[..], &ip].concat()));
    assert_inner(&f, linktype::RAW, &ip, &[Erspan]);
}

#[test]
fn vxlan_on_both_ports_drops_outer_vlans() {
    let inner = inner_frame();
    for port in [4789, 8472] {
        let vx = [&[0x08, 0, 0, 0, 0, 0x04, 0x57, 0][..], &inner].concat();
        let f = tagged(&outer_udp(40646, port, &vx), &[(0x8100, 5)]);
        let m = assert_inner(&f, linktype::ETHERNET, &inner, &[Vxlan]);
        assert_eq!(m.vlan_count, 0);
        // The source port may be the tunnel's (a reply from a VTEP that sends from 4789).
        let f = outer_udp(port, 50000, &vx);
        assert_inner(&f, linktype::ETHERNET, &inner, &[Vxlan]);
    }
}

#[test]
fn geneve_with_options_ethernet_or_ip() {
    let inner = inner_frame();
    let opts = [
        0x01, 0x00, 0x80, 0x01, 0, 0, 0, 0x0c, 0x01, 0x00, 0x01, 0x00,
    ];
    let hdr = [3, 0x40, 0x65, 0x58, 0x0c, 0x01, 0x2e, 0];
    let f = outer_udp(6667, 6081, &[&hdr[..], &opts, &inner].concat());
    assert_inner(&f, linktype::ETHERNET, &inner, &[Geneve]);
    let ip = ip4_tcp(b"");
    let f = outer_udp(
        6667,
        6081,
        &[&[0, 0, 0x08, 0x00, 0, 0, 10, 0][..], &ip].concat(),
    );
    assert_inner(&f, linktype::RAW, &ip, &[Geneve]);
}

/// A GTP-U G-PDU header with `flags` (E, S, PN) and `tail` (optional fields and extension
/// headers) in front of `packet`.
pub(crate) fn gtp(flags: u8, msg: u8, tail: &[u8], packet: &[u8]) -> Vec<u8> {
    let len = (tail.len() + packet.len()) as u16;
    [
        &[0x30 | flags, msg][..],
        &len.to_be_bytes(),
        &[0, 0, 0xbf, 0x2e],
        tail,
        packet,
    ]
    .concat()
}

#[test]
fn gtp_u_with_optional_fields_and_extension_headers() {
    let ip = ip4_tcp(b"gtp");
    let ip6 = ip6_udp(b"gtp6");
    for (flags, tail) in [
        (0, vec![]),
        (0x02, vec![0, 7, 0, 0]), // sequence number
        // Extension headers: PDU session container (4 bytes), then one of 8 bytes.
        (
            0x04,
            vec![0, 0, 0, 0x85, 1, 0x10, 0x09, 0x40, 2, 1, 2, 3, 4, 5, 6, 0],
        ),
    ] {
        for inner in [&ip, &ip6] {
            let f = outer_udp(5906, 2152, &gtp(flags, 0xff, &tail, inner));
            assert_inner(&f, linktype::RAW, inner, &[GtpU]);
        }
    }
    // An echo request is signalling, not a tunnelled packet: the outer flow, not malformed.
    assert_outer(
        &outer_udp(2152, 2152, &gtp(0x02, 1, &[0, 1, 0, 0], &[])),
        None,
    );
}

#[test]
fn ip_in_ip_all_four_ways() {
    let ip = ip4_tcp(b"");
    let ip6 = ip6_udp(b"");
    assert_inner(&outer4(4, &ip), linktype::RAW, &ip, &[Ipv4InIp]);
    assert_inner(&outer4(41, &ip6), linktype::RAW, &ip6, &[Ipv6InIp]);
    assert_inner(&outer6(4, &ip), linktype::RAW, &ip, &[Ipv4InIp]);
    assert_inner(&outer6(41, &ip6), linktype::RAW, &ip6, &[Ipv6InIp]);
}

/// An IPv6 UDP packet between a Teredo client (2001:0:…) and `peer`.
pub(crate) fn teredo_ip6(peer: [u8; 16]) -> Vec<u8> {
    let mut client = [0u8; 16];
    client[..4].copy_from_slice(&[0x20, 0x01, 0, 0]);
    client[4..].copy_from_slice(&[
        0x41, 0x37, 0x9e, 0x50, 0x80, 0, 0xf1, 0x2a, 0xb9, 0xc8, 0x28, 0x15,
    ]);
    let mut v = Vec::new();
    PacketBuilder::ipv6(client, peer, 64)
        .udp(1286, 80)
        .write(&mut v, b"teredo")
        .unwrap();
    v
}

#[test]
fn teredo_with_indicators_and_off_its_port() {
    let ip6 = teredo_ip6(SIP6);
    let origin = [0, 0, 0xf1, 0x2a, 0xbe, 0xab, 0xfe, 0xef];
    let auth = [&[0, 1, 2, 3][..], &[9; 5], &[7; 8], &[0]].concat();
    for ind in [
        vec![],
        origin.to_vec(),
        auth.clone(),
        [&auth[..], &origin].concat(),
    ] {
        let payload = [&ind[..], &ip6].concat();
        assert_inner(
            &outer_udp(3797, 3544, &payload),
            linktype::RAW,
            &ip6,
            &[Teredo],
        );
        assert_inner(
            &outer_udp(3544, 3797, &payload),
            linktype::RAW,
            &ip6,
            &[Teredo],
        );
    }
    // A relay's own port: recognised by the Teredo address and the exact length.
    assert_inner(
        &outer_udp(3797, 32900, &ip6),
        linktype::RAW,
        &ip6,
        &[Teredo],
    );
    // Not Teredo: IPv6 without a Teredo address, or not exactly the UDP payload.
    let plain = ip6_udp(b"x");
    assert_outer(&outer_udp(3797, 32900, &plain), None);
    assert_outer(&outer_udp(3797, 32900, &[&ip6[..], &[0]].concat()), None);
}

#[test]
fn l2tp_v2_data_messages() {
    let ip = ip4_tcp(b"l2tp");
    let ip6 = ip6_udp(b"l2tp");
    // Length and sequence numbers; then offset padding; PPP with and without ff 03.
    for (hdr, ppp) in [
        (
            vec![0x48, 0x02, 0, 0, 0x4a, 0x32, 0xd3, 0x5e, 0, 1, 0, 2],
            vec![0xff, 0x03, 0x00, 0x21],
        ),
        (
            vec![0x02, 0x02, 0x05, 0xf7, 0x20, 0x6a, 0, 2, 0xaa, 0xbb],
            vec![0x00, 0x21],
        ),
    ] {
        let f = outer_udp(1701, 1701, &[&hdr[..], &ppp, &ip].concat());
        assert_inner(&f, linktype::RAW, &ip, &[L2tp]);
    }
    let f = outer_udp(
        1701,
        1701,
        &[&[0x00, 0x02, 0, 1, 0, 2, 0x57][..], &ip6].concat(),
    );
    assert_inner(&f, linktype::RAW, &ip6, &[L2tp]);
    // Control messages, LCP and L2TPv3: the outer flow, nothing malformed.
    assert_outer(
        &outer_udp(1701, 1701, &[0xc8, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0]),
        None,
    );
    assert_outer(
        &outer_udp(1701, 1701, &[0x00, 0x02, 0, 1, 0, 2, 0xc0, 0x21, 9, 1]),
        None,
    );
    assert_outer(
        &outer_udp(1701, 1701, &[0x00, 0x03, 0, 0, 0, 0, 0x96, 0x52, 0xca]),
        None,
    );
    // L2TPv3 over IP is not looked into either.
    assert_outer(
        &outer4(115, &[&[0, 0, 0x96, 0x52][..], &inner_frame()].concat()),
        None,
    );
}

#[test]
fn nesting_records_each_level_outermost_first() {
    let inner = inner_frame();
    let vx = outer_udp(
        1,
        4789,
        &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &inner].concat(),
    );
    // VXLAN in GRE (bridged) in 6in4... of IPv6 in IPv4 carrying GRE over IPv6.
    let gre6 = outer6(47, &gre(0, 0, 0x6558, &[], &vx));
    let f = outer4(41, &gre6[14..]);
    let m = assert_inner(&f, linktype::ETHERNET, &inner, &[Ipv6InIp, Gre, Vxlan]);
    assert_eq!(m.tunnel.outermost(), Some(Ipv6InIp));
}

#[test]
fn depth_limit_stops_at_the_last_level_and_says_so() {
    // MAX_TUNNEL_DEPTH + 1 levels of IPv4 in IPv4, level i between 10.0.i.1 and 10.0.i.2.
    let mut packet = ip4_tcp(b"deep");
    for i in (0..=MAX_TUNNEL_DEPTH as u8).rev() {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, i, 1], [10, 0, i, 2], 64)
            .write(&mut v, IpNumber(4), &packet)
            .unwrap();
        packet = v;
    }
    let f = eth(0x0800, &packet);
    let m = full(linktype::ETHERNET, &f);
    assert_eq!(usize::from(m.tunnel.depth), MAX_TUNNEL_DEPTH);
    assert!(m.tunnel.depth_limited);
    assert_eq!(
        m.tunnel.kinds().collect::<Vec<_>>(),
        vec![Ipv4InIp; MAX_TUNNEL_DEPTH]
    );
    let last = MAX_TUNNEL_DEPTH as u8;
    assert_eq!(
        (m.src, m.dst, m.protocol, m.has_ports),
        (
            Addr::v4([10, 0, last, 1]),
            Addr::v4([10, 0, last, 2]),
            4,
            false
        )
    );
    // One level fewer: the innermost TCP flow, no limit reached.
    let m = full(linktype::ETHERNET, &eth(0x0800, &packet[20..]));
    assert!(!m.tunnel.depth_limited);
    assert_eq!((m.src, m.dst_port), (Addr::v4(SIP4), 80));
}

#[test]
fn both_directions_in_different_tunnels_share_one_key() {
    let mut back = Vec::new();
    PacketBuilder::ethernet2(DMAC, SMAC)
        .ipv4(DIP4, SIP4, 64)
        .tcp(80, 1234, 9, 4096)
        .write(&mut back, b"reply")
        .unwrap();
    let fwd = [
        outer_udp(
            40646,
            4789,
            &[&[0x08, 0, 0, 0, 0, 0, 0x0a, 0][..], &inner_frame()].concat(),
        ),
        outer4(47, &gre(0x20, 0, 0x6558, &[0, 0, 0, 0], &inner_frame())),
    ];
    let rev = [
        outer_udp(
            36286,
            4789,
            &[&[0x08, 0, 0, 0, 0, 0, 0x0b, 0][..], &back].concat(),
        ),
        outer_udp(5906, 2152, &gtp(0, 0xff, &[], &back[14..])),
        outer4(4, &back[14..]),
    ];
    let key = |f: &[u8]| {
        FlowKey::from_packet(&full(linktype::ETHERNET, f), KeyOptions::default(), true).0
    };
    let k = key(&fwd[0]);
    for f in fwd.iter().chain(&rev) {
        assert_eq!(key(f), k);
    }
    assert_eq!(k.protocol, proto::TCP);
}

#[test]
fn fragmented_outer_datagram_is_identified_by_its_outer_header() {
    let ip = ip4_tcp(&[5; 64]);
    let mut first = outer4(47, &gre(0, 0, 0x0800, &[], &ip));
    first[14 + 4..14 + 8].copy_from_slice(&[0xe1, 0x19, 0x20, 0x00]); // id, MF
    let m = assert_inner_fragment(&first);
    let frag = FragmentInfo {
        id: 0xe119,
        offset: 0,
        more: true,
    };
    assert_eq!(m.fragment, Some(frag));
    let outer = DatagramHeader {
        src: Addr::v4(OSRC),
        dst: Addr::v4(ODST),
        protocol: 47,
    };
    assert_eq!(m.tunnel.datagram, Some(outer));
    let mut later = outer4(47, &[0x77; 40]);
    later[14 + 4..14 + 8].copy_from_slice(&[0xe1, 0x19, 0x00, 0xb9]); // offset 185 * 8
    let l = assert_outer(&later, None);
    assert_eq!(
        (l.tunnel.depth, l.fragment.map(|f| f.offset)),
        (0, Some(1480))
    );
    assert_eq!(DatagramKey::of(&m, 0xe119), DatagramKey::of(&l, 0xe119));
    // A fragment inside an unfragmented tunnel is the inner datagram's own.
    let mut inner_frag = ip4_tcp(&[5; 64]);
    inner_frag[6..8].copy_from_slice(&[0x20, 0x00]);
    let m = full(linktype::ETHERNET, &outer4(4, &inner_frag));
    assert_eq!((m.tunnel.depth, m.tunnel.datagram), (1, None));
    assert_eq!(m.fragment.map(|f| (f.offset, f.more)), Some((0, true)));
    assert_eq!(DatagramKey::of(&m, 0).src, Addr::v4(SIP4));
}

/// A first fragment's flow is its inner packet's: everything but the fragment and datagram.
fn assert_inner_fragment(f: &[u8]) -> PacketMeta {
    let m = full(linktype::ETHERNET, f);
    assert_eq!(
        (m.class, m.src, m.dst),
        (PacketClass::Ip, Addr::v4(SIP4), Addr::v4(DIP4))
    );
    assert_eq!((m.src_port, m.dst_port, m.protocol), (1234, 80, proto::TCP));
    assert_eq!(m.tunnel.kinds().collect::<Vec<_>>(), vec![Gre]);
    m
}
