//! Property tests: arbitrary bytes under every supported link type, and after valid headers
//! leading into each tunnel, never panic, and the record's invariants hold.

use blb_core::packet::PacketClass;
use blb_wire::{is_supported, linktype, parse};
use proptest::prelude::*;

const LINKS: [u32; 10] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    12,
    14,
];

/// Byte strings biased towards headers the parser will walk deep into.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let prefixes: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 12],
        [
            vec![0; 12],
            vec![0x81, 0x00, 0, 1, 0x88, 0xa8, 0, 2, 0x08, 0x00],
        ]
        .concat(),
        [vec![0; 12], vec![0x88, 0x47, 0, 0, 0x01, 64, 0]].concat(),
        [vec![0; 12], vec![0x86, 0xdd, 0x60]].concat(),
        [vec![0; 12], vec![0x08, 0x00, 0x45]].concat(),
        vec![0x45],
        vec![0x60],
    ];
    (
        proptest::sample::select(prefixes),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(p, rest)| [p, rest].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn never_panics(lt in proptest::sample::select(LINKS.to_vec()), data in frame(), ts: u64, wire: u32) {
        prop_assert!(is_supported(lt));
        let m = parse(lt, ts, wire, &data);
        prop_assert_eq!(m.cap_len as usize, data.len());
        prop_assert_eq!((m.ts, m.wire_len), (ts, wire));
        prop_assert!(usize::from(m.vlan_count) <= m.vlans.len());
        if m.class == PacketClass::Ip {
            prop_assert!(m.src.is_ip() && m.dst.is_ip());
        }
        if !m.has_ports {
            prop_assert_eq!((m.src_port, m.dst_port), (0, 0));
        }
    }

    #[test]
    fn any_link_type_never_panics(lt: u32, data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let m = parse(lt, 0, 0, &data);
        prop_assert_eq!(m.cap_len as usize, data.len());
        if !is_supported(lt) {
            prop_assert_eq!(m.class, PacketClass::Unparsable);
        }
    }
}

/// An Ethernet/IPv4 header (20 bytes, total length 0: the captured bytes count) of protocol
/// `protocol`, with `rest` after it.
fn eth_ip4(protocol: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 1, 0, 0, 64, protocol, 0, 0]);
    v.extend_from_slice(&[172, 16, 0, 1, 172, 16, 0, 2]);
    v.extend_from_slice(rest);
    v
}

/// Valid outer headers that lead into each tunnel (and nested ones), for random bytes to
/// follow.
fn tunnel_prefix() -> impl Strategy<Value = Vec<u8>> {
    let udp = |dp: u16| {
        let p = dp.to_be_bytes();
        eth_ip4(17, &[0x9e, 0xc6, p[0], p[1], 0, 0, 0, 0])
    };
    let prefixes: Vec<Vec<u8>> = vec![
        eth_ip4(47, &[]),
        eth_ip4(47, &[0, 0, 0x65, 0x58]),
        eth_ip4(47, &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10]),
        eth_ip4(47, &[0, 0, 0x22, 0xeb, 0x20]),
        eth_ip4(47, &[0x20, 1, 0x88, 0x0b]),
        eth_ip4(4, &[]),
        eth_ip4(4, &[0x45]),
        eth_ip4(41, &[0x60]),
        udp(4789),
        [udp(4789), vec![0x08, 0, 0, 0, 0, 0, 1, 0]].concat(),
        udp(8472),
        udp(6081),
        udp(2152),
        [udp(2152), vec![0x34, 0xff]].concat(),
        udp(3544),
        udp(1701),
        [udp(1701), vec![0x00, 0x02]].concat(),
        [udp(33000), vec![0x60]].concat(),
    ];
    (
        proptest::sample::select(prefixes),
        proptest::collection::vec(any::<u8>(), 0..160),
    )
        .prop_map(|(p, rest)| [p, rest].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8192))]

    /// Random bytes after valid outer headers: no panic, `cap_len` kept, the tunnel record
    /// consistent, and a packet not found in a tunnel has exactly its outer flow.
    #[test]
    fn random_bytes_in_tunnels(data in tunnel_prefix(), wire: u32) {
        let m = parse(linktype::ETHERNET, 7, wire, &data);
        let outer = blb_wire::parse_with(blb_wire::Tunnels::Outer, linktype::ETHERNET, 7, wire, &data);
        prop_assert_eq!(m.cap_len as usize, data.len());
        prop_assert_eq!((m.ts, m.wire_len), (7, wire));
        prop_assert!(usize::from(m.tunnel.depth) <= blb_core::tunnel::MAX_TUNNEL_DEPTH);
        prop_assert_eq!(m.tunnel.kinds().count(), usize::from(m.tunnel.depth));
        prop_assert_eq!(outer.tunnel, Default::default());
        if m.class == PacketClass::Ip {
            prop_assert!(m.src.is_ip() && m.dst.is_ip());
        }
        if !m.has_ports {
            prop_assert_eq!((m.src_port, m.dst_port), (0, 0));
        }
        if m.tunnel.depth == 0 {
            let mut flow = m;
            flow.tunnel.malformed = None;
            flow.tunnel.depth_limited = false;
            prop_assert_eq!(flow, outer);
        } else {
            prop_assert!(m.class != PacketClass::Unparsable);
        }
    }
}
