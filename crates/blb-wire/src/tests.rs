//! Unit tests of [`crate::parse`] on hand-built frames: every link type and encapsulation,
//! fragments, truncation and malformed headers, each checked field by field.

use blb_core::packet::{Addr, FragmentInfo, PacketClass, PacketMeta, proto, tcp_flags};
use etherparse::PacketBuilder;

use crate::{is_supported, linktype, parse};

pub(crate) const SMAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub(crate) const DMAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub(crate) const SIP4: [u8; 4] = [192, 168, 1, 10];
pub(crate) const DIP4: [u8; 4] = [10, 1, 2, 3];
pub(crate) const SIP6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];
pub(crate) const DIP6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
];
pub(crate) const TS: u64 = 1_700_000_000_123_456_789;

/// A raw IPv4 TCP SYN 1234 → 80 with `payload`.
pub(crate) fn ip4_tcp(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(SIP4, DIP4, 64)
        .tcp(1234, 80, 1, 4096)
        .syn()
        .write(&mut v, payload)
        .unwrap();
    v
}

/// A raw IPv4 UDP 5353 → 53 with `payload`.
pub(crate) fn ip4_udp(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(SIP4, DIP4, 64)
        .udp(5353, 53)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// A raw IPv6 UDP 40000 → 443 with `payload`.
pub(crate) fn ip6_udp(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(SIP6, DIP6, 64)
        .udp(40000, 443)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// An Ethernet header carrying `ethertype`, followed by `payload`.
pub(crate) fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&DMAC);
    v.extend_from_slice(&SMAC);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Insert VLAN tags (TPID, VLAN id), outermost first, after the MAC addresses of `frame`.
pub(crate) fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    for &(tpid, vid) in tags {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&(0x2000 | vid).to_be_bytes()); // priority 1
    }
    v.extend_from_slice(&frame[12..]);
    v
}

/// MPLS labels (bottom of stack set on the last one) in front of `payload`.
pub(crate) fn mpls_labels(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        v.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

fn tcp4_meta(wire_len: usize, cap_len: usize) -> PacketMeta {
    PacketMeta {
        ts: TS,
        wire_len: wire_len as u32,
        cap_len: cap_len as u32,
        class: PacketClass::Ip,
        src: Addr::v4(SIP4),
        dst: Addr::v4(DIP4),
        src_port: 1234,
        dst_port: 80,
        has_ports: true,
        protocol: proto::TCP,
        ethertype: 0x0800,
        tcp_flags: tcp_flags::SYN,
        fragment: None,
        vlans: [0; 3],
        vlan_count: 0,
        tunnel: Default::default(),
    }
}

fn udp6_meta(len: usize) -> PacketMeta {
    PacketMeta {
        ts: TS,
        wire_len: len as u32,
        cap_len: len as u32,
        class: PacketClass::Ip,
        src: Addr::v6(SIP6),
        dst: Addr::v6(DIP6),
        src_port: 40000,
        dst_port: 443,
        has_ports: true,
        protocol: proto::UDP,
        ethertype: 0x86dd,
        tcp_flags: 0,
        fragment: None,
        vlans: [0; 3],
        vlan_count: 0,
        tunnel: Default::default(),
    }
}

pub(crate) fn full(link: u32, f: &[u8]) -> PacketMeta {
    parse(link, TS, f.len() as u32, f)
}

#[test]
fn supported_link_types() {
    for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276] {
        assert!(is_supported(lt), "{lt}");
    }
    for lt in [2, 105, 127, 147, 65535] {
        assert!(!is_supported(lt), "{lt}");
    }
}

#[test]
fn ethernet_tcp4() {
    let f = eth(0x0800, &ip4_tcp(b"hello"));
    assert_eq!(full(linktype::ETHERNET, &f), tcp4_meta(f.len(), f.len()));
}

#[test]
fn ethernet_udp6() {
    let f = eth(0x86dd, &ip6_udp(b"quic"));
    assert_eq!(full(linktype::ETHERNET, &f), udp6_meta(f.len()));
}

#[test]
fn ipv4_options_are_skipped() {
    let mut ip = ip4_tcp(b"");
    // Grow the header to 24 bytes with a NOP,NOP,NOP,EOL option.
    ip.splice(20..20, [1, 1, 1, 0]);
    ip[0] = 0x46;
    let total = (ip.len() as u16).to_be_bytes();
    ip[2..4].copy_from_slice(&total);
    let f = eth(0x0800, &ip);
    assert_eq!(full(linktype::ETHERNET, &f), tcp4_meta(f.len(), f.len()));
}

#[test]
fn vlan_stacks_outer_first() {
    let base = eth(0x0800, &ip4_tcp(b""));
    for tags in [
        vec![(0x8100, 943)],
        vec![(0x88a8, 1525), (0x8100, 30)],
        vec![(0x9100, 7), (0x8100, 8)],
        vec![(0x8100, 30), (0x8100, 20), (0x8100, 10)],
    ] {
        let f = tagged(&base, &tags);
        let mut want = tcp4_meta(f.len(), f.len());
        for (i, &(_, vid)) in tags.iter().enumerate() {
            want.vlans[i] = vid;
        }
        want.vlan_count = tags.len() as u8;
        assert_eq!(full(linktype::ETHERNET, &f), want, "{tags:?}");
    }
}

#[test]
fn more_than_three_vlans_are_skipped_but_parsed_through() {
    let f = tagged(
        &eth(0x86dd, &ip6_udp(b"x")),
        &[
            (0x88a8, 1),
            (0x8100, 2),
            (0x8100, 3),
            (0x8100, 4),
            (0x8100, 5),
        ],
    );
    let mut want = udp6_meta(f.len());
    want.vlans = [1, 2, 3];
    want.vlan_count = 3;
    assert_eq!(full(linktype::ETHERNET, &f), want);
}

#[test]
fn truncated_vlan_tag_is_unparsable_with_macs() {
    let f = [&DMAC[..], &SMAC[..], &[0x81, 0x00, 0x00]].concat();
    let m = full(linktype::ETHERNET, &f);
    assert_eq!(m.class, PacketClass::Unparsable);
    assert_eq!((m.src, m.dst), (Addr::mac(SMAC), Addr::mac(DMAC)));
    assert_eq!(m.vlan_count, 0);
}

#[test]
fn arp_and_8023_are_non_ip() {
    let f = tagged(&eth(0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]), &[(0x8100, 123)]);
    let want = PacketMeta {
        ts: TS,
        wire_len: f.len() as u32,
        cap_len: f.len() as u32,
        class: PacketClass::NonIp,
        src: Addr::mac(SMAC),
        dst: Addr::mac(DMAC),
        ethertype: 0x0806,
        vlans: [123, 0, 0],
        vlan_count: 1,
        ..PacketMeta::default()
    };
    assert_eq!(full(linktype::ETHERNET, &f), want);
    // STP over 802.3/LLC: the type field is a length.
    let f = eth(38, &[0x42, 0x42, 0x03, 0, 0, 0, 0]);
    let m = full(linktype::ETHERNET, &f);
    assert_eq!(
        (m.class, m.ethertype, m.protocol, m.has_ports),
        (PacketClass::NonIp, 0, 0, false)
    );
    assert_eq!((m.src, m.dst), (Addr::mac(SMAC), Addr::mac(DMAC)));
    // LLDP.
    let m = full(linktype::ETHERNET, &eth(0x88cc, &[2, 7, 4]));
    assert_eq!((m.class, m.ethertype), (PacketClass::NonIp, 0x88cc));
}

#[test]
fn mpls_ipv4_and_ipv6() {
    let f = eth(0x8847, &mpls_labels(&[100, 200], &ip4_tcp(b"")));
    let mut want = tcp4_meta(f.len(), f.len());
    assert_eq!(full(linktype::ETHERNET, &f), want);
    let f = tagged(
        &eth(0x8848, &mpls_labels(&[16], &ip6_udp(b""))),
        &[(0x8100, 5)],
    );
    want = udp6_meta(f.len());
    want.vlans[0] = 5;
    want.vlan_count = 1;
    assert_eq!(full(linktype::ETHERNET, &f), want);
}

#[test]
fn mpls_ethernet_pseudowire_with_vlan() {
    let inner = tagged(&eth(0x0800, &ip4_tcp(b"pw")), &[(0x8100, 42)]);
    let pw = [&[0u8, 0, 0, 1][..], &inner].concat(); // control word
    let f = tagged(
        &eth(0x8847, &mpls_labels(&[1000, 2000], &pw)),
        &[(0x8100, 7)],
    );
    let mut want = tcp4_meta(f.len(), f.len());
    want.vlans = [7, 42, 0];
    want.vlan_count = 2;
    assert_eq!(full(linktype::ETHERNET, &f), want);
    // A non-IP frame in the pseudowire: the inner MACs.
    let inner = [&[0xaa; 6][..], &[0xbb; 6], &[0x08, 0x06, 0, 1]].concat();
    let f = eth(
        0x8847,
        &mpls_labels(&[3], &[&[0u8; 4][..], &inner].concat()),
    );
    let m = full(linktype::ETHERNET, &f);
    assert_eq!((m.class, m.ethertype), (PacketClass::NonIp, 0x0806));
    assert_eq!((m.dst, m.src), (Addr::mac([0xaa; 6]), Addr::mac([0xbb; 6])));
}

#[test]
fn pppoe_session_ipv4() {
    let ip = ip4_tcp(b"");
    let mut pppoe = vec![0x11, 0x00, 0x12, 0x34];
    pppoe.extend_from_slice(&(ip.len() as u16 + 2).to_be_bytes());
    pppoe.extend_from_slice(&[0x00, 0x21]);
    pppoe.extend_from_slice(&ip);
    let f = eth(0x8864, &pppoe);
    assert_eq!(full(linktype::ETHERNET, &f), tcp4_meta(f.len(), f.len()));
    // LCP: non-IP.
    pppoe[6..8].copy_from_slice(&[0xc0, 0x21]);
    let m = full(linktype::ETHERNET, &eth(0x8864, &pppoe));
    assert_eq!((m.class, m.ethertype), (PacketClass::NonIp, 0x8864));
}

#[test]
fn linux_sll_and_sll2() {
    let ip = ip4_tcp(b"");
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend_from_slice(&SMAC);
    sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
    let f = [&sll[..], &ip].concat();
    let mut want = tcp4_meta(f.len(), f.len());
    assert_eq!(full(linktype::LINUX_SLL, &f), want);
    let mut sll2 = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6];
    sll2.extend_from_slice(&SMAC);
    sll2.extend_from_slice(&[0, 0]);
    let f = [&sll2[..], &ip6_udp(b"")].concat();
    want = udp6_meta(f.len());
    assert_eq!(full(linktype::LINUX_SLL2, &f), want);
    // ARP in SLL: non-IP with the one MAC it has.
    let mut arp = sll.clone();
    arp[14..16].copy_from_slice(&[0x08, 0x06]);
    let m = full(linktype::LINUX_SLL, &arp);
    assert_eq!(
        (m.class, m.ethertype, m.src, m.dst),
        (PacketClass::NonIp, 0x0806, Addr::mac(SMAC), Addr::NONE)
    );
    // Too short for the header.
    let m = full(linktype::LINUX_SLL2, &sll2[..19]);
    assert_eq!((m.class, m.src), (PacketClass::Unparsable, Addr::NONE));
}

#[test]
fn raw_ip_by_version_nibble() {
    for lt in [linktype::RAW, 12, 14, linktype::IPV4, linktype::IPV6] {
        let f = ip4_tcp(b"");
        assert_eq!(full(lt, &f), tcp4_meta(f.len(), f.len()), "{lt}");
        let f = ip6_udp(b"");
        assert_eq!(full(lt, &f), udp6_meta(f.len()), "{lt}");
        let m = full(lt, &[0x50; 40]);
        assert_eq!((m.class, m.src), (PacketClass::Unparsable, Addr::NONE));
    }
}

#[test]
fn bsd_loopback_both_byte_orders() {
    for lt in [linktype::NULL, linktype::LOOP] {
        for fam in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let f = [&fam[..], &ip4_tcp(b"")].concat();
            assert_eq!(full(lt, &f), tcp4_meta(f.len(), f.len()));
        }
        for af in [10u32, 24, 28, 30] {
            for fam in [af.to_le_bytes(), af.to_be_bytes()] {
                let f = [&fam[..], &ip6_udp(b"")].concat();
                assert_eq!(full(lt, &f), udp6_meta(f.len()), "{af}");
            }
        }
    }
}

#[test]
fn unsupported_link_and_short_frames() {
    let f = eth(0x0800, &ip4_tcp(b""));
    let m = full(147, &f);
    assert_eq!(
        (m.class, m.src, m.dst, m.cap_len),
        (
            PacketClass::Unparsable,
            Addr::NONE,
            Addr::NONE,
            f.len() as u32
        )
    );
    let m = full(linktype::ETHERNET, &f[..13]);
    assert_eq!(
        (m.class, m.src, m.dst),
        (PacketClass::Unparsable, Addr::mac(SMAC), Addr::mac(DMAC))
    );
    let m = full(linktype::ETHERNET, &[]);
    assert_eq!((m.class, m.cap_len), (PacketClass::Unparsable, 0));
}

#[test]
fn malformed_ipv4_is_unparsable_with_macs() {
    let mut ip = ip4_tcp(b"");
    ip[0] = 0x43; // IHL 3
    let m = full(linktype::ETHERNET, &eth(0x0800, &ip));
    assert_eq!(
        (m.class, m.src, m.dst, m.ethertype),
        (
            PacketClass::Unparsable,
            Addr::mac(SMAC),
            Addr::mac(DMAC),
            0x0800
        )
    );
    ip[0] = 0x65; // IPv6 nibble under EtherType IPv4
    let m = full(linktype::ETHERNET, &eth(0x0800, &ip));
    assert_eq!(m.class, PacketClass::Unparsable);
    // IPv4 header cut before the addresses.
    let ip = ip4_tcp(b"");
    let m = full(linktype::ETHERNET, &eth(0x0800, &ip[..19]));
    assert_eq!((m.class, m.src), (PacketClass::Unparsable, Addr::mac(SMAC)));
}

#[test]
fn truncated_capture_keeps_addresses_and_ports() {
    let f = eth(0x0800, &ip4_tcp(&[0; 1000]));
    // Snaplen 68: the TCP header is cut after 34 bytes... well, after byte 13 here.
    for (cut, ports, flags) in [
        (68, true, true),
        (14 + 20 + 13, true, false),
        (14 + 20 + 4, true, false),
        (14 + 23, false, false),
    ] {
        let m = parse(linktype::ETHERNET, TS, f.len() as u32, &f[..cut]);
        let mut want = tcp4_meta(f.len(), cut);
        if !ports {
            want.has_ports = false;
            want.src_port = 0;
            want.dst_port = 0;
        }
        if !flags {
            want.tcp_flags = 0;
        }
        assert_eq!(m, want, "cut {cut}");
    }
}

#[test]
fn ipv4_fragments() {
    let base = ip4_udp(&[7; 64]);
    let set_frag =
        |ip: &mut Vec<u8>, flags_off: u16| ip[6..8].copy_from_slice(&flags_off.to_be_bytes());
    // First fragment: MF, offset 0: ports.
    let mut ip = base.clone();
    set_frag(&mut ip, 0x2000);
    let m = full(linktype::RAW, &ip);
    let id = u32::from(u16::from_be_bytes([ip[4], ip[5]]));
    assert_eq!(
        m.fragment,
        Some(FragmentInfo {
            id,
            offset: 0,
            more: true
        })
    );
    assert!(m.has_ports);
    assert_eq!((m.src_port, m.dst_port, m.protocol), (5353, 53, proto::UDP));
    // Middle and last fragments: no ports.
    for (flags_off, more) in [(0x2000 | 185, true), (185, false)] {
        let mut ip = base.clone();
        ip[4..6].copy_from_slice(&0xbeefu16.to_be_bytes());
        set_frag(&mut ip, flags_off);
        let m = full(linktype::RAW, &ip);
        assert_eq!(
            m.fragment,
            Some(FragmentInfo {
                id: 0xbeef,
                offset: 1480,
                more
            })
        );
        assert_eq!(
            (m.has_ports, m.src_port, m.dst_port, m.protocol),
            (false, 0, 0, proto::UDP)
        );
        assert_eq!(
            (m.class, m.src, m.dst),
            (PacketClass::Ip, Addr::v4(SIP4), Addr::v4(DIP4))
        );
    }
    // DF alone is not a fragment.
    let mut ip = base.clone();
    set_frag(&mut ip, 0x4000);
    assert_eq!(full(linktype::RAW, &ip).fragment, None);
}

#[test]
fn first_fragment_with_partial_tcp_header() {
    // A SYN whose first fragment holds only 8 bytes of the TCP header.
    let mut ip = ip4_tcp(b"")[..28].to_vec();
    ip[2..4].copy_from_slice(&28u16.to_be_bytes());
    ip[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
    let m = full(linktype::RAW, &ip);
    assert_eq!(
        (m.class, m.has_ports, m.src_port, m.dst_port, m.tcp_flags),
        (PacketClass::Ip, true, 1234, 80, 0)
    );
    assert_eq!(m.fragment.map(|f| (f.offset, f.more)), Some((0, true)));
}

/// An IPv6 packet with the given extension headers (each: next header is filled in) and UDP.
fn ip6_with_ext(exts: &[(u8, Vec<u8>)], udp_payload: &[u8]) -> Vec<u8> {
    let plain = ip6_udp(udp_payload);
    let udp = &plain[40..];
    let mut body = Vec::new();
    for (i, (_, ext)) in exts.iter().enumerate() {
        let mut e = ext.clone();
        e[0] = exts.get(i + 1).map_or(proto::UDP, |n| n.0);
        body.extend_from_slice(&e);
    }
    body.extend_from_slice(udp);
    let mut v = plain[..40].to_vec();
    v[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
    v[6] = exts.first().map_or(proto::UDP, |e| e.0);
    v.extend_from_slice(&body);
    v
}

#[test]
fn ipv6_extension_headers() {
    let hbh = (0u8, vec![0, 0, 1, 4, 0, 0, 0, 0]);
    let rt = (43u8, vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let dst = (60u8, vec![0, 0, 1, 4, 0, 0, 0, 0]);
    let ah = (51u8, vec![0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]); // 16 bytes: (2+2)*4
    let ip = ip6_with_ext(&[hbh, rt, dst, ah], b"data");
    let f = eth(0x86dd, &ip);
    assert_eq!(full(linktype::ETHERNET, &f), udp6_meta(f.len()));
}

#[test]
fn ipv6_fragments() {
    let frag = |off_flags: u16, id: u32| {
        let mut e = vec![0, 0];
        e.extend_from_slice(&off_flags.to_be_bytes());
        e.extend_from_slice(&id.to_be_bytes());
        (44u8, e)
    };
    let ip = ip6_with_ext(&[frag(0x0001, 0xdead_beef)], b"first");
    let f = eth(0x86dd, &ip);
    let mut want = udp6_meta(f.len());
    want.fragment = Some(FragmentInfo {
        id: 0xdead_beef,
        offset: 0,
        more: true,
    });
    assert_eq!(full(linktype::ETHERNET, &f), want);
    let ip = ip6_with_ext(
        &[(0, vec![0, 0, 1, 4, 0, 0, 0, 0]), frag(1448 | 1, 7)],
        b"middle",
    );
    let f = eth(0x86dd, &ip);
    want = udp6_meta(f.len());
    want.fragment = Some(FragmentInfo {
        id: 7,
        offset: 1448,
        more: true,
    });
    (want.has_ports, want.src_port, want.dst_port) = (false, 0, 0);
    assert_eq!(full(linktype::ETHERNET, &f), want);
    // Payload length 0 (bogus) with a fragment header: still parsed from the captured bytes.
    let mut ip = ip6_with_ext(&[frag(0x0001, 9)], b"x");
    ip[4..6].copy_from_slice(&[0, 0]);
    let m = full(linktype::RAW, &ip);
    assert_eq!(
        (m.class, m.has_ports, m.protocol),
        (PacketClass::Ip, true, proto::UDP)
    );
    assert_eq!(
        m.fragment,
        Some(FragmentInfo {
            id: 9,
            offset: 0,
            more: true
        })
    );
}

#[test]
fn icmp_has_no_ports() {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SMAC, DMAC)
        .ipv4(SIP4, DIP4, 64)
        .icmpv4_echo_request(1, 2)
        .write(&mut v, b"ping")
        .unwrap();
    let m = full(linktype::ETHERNET, &v);
    assert_eq!(
        (m.class, m.protocol, m.has_ports, m.src_port, m.dst_port),
        (PacketClass::Ip, proto::ICMP, false, 0, 0)
    );
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SMAC, DMAC)
        .ipv6(SIP6, DIP6, 64)
        .icmpv6_echo_request(1, 2)
        .write(&mut v, b"ping")
        .unwrap();
    let m = full(linktype::ETHERNET, &v);
    assert_eq!(
        (m.class, m.protocol, m.has_ports, m.src, m.dst),
        (
            PacketClass::Ip,
            proto::ICMPV6,
            false,
            Addr::v6(SIP6),
            Addr::v6(DIP6)
        )
    );
    // Some other protocol (GRE): no ports.
    let mut ip = ip4_udp(b"abcd");
    ip[9] = 47;
    let m = full(linktype::RAW, &ip);
    assert_eq!(
        (m.class, m.protocol, m.has_ports),
        (PacketClass::Ip, 47, false)
    );
}
