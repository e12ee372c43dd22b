//! Property tests: arbitrary bytes under every supported link type never panic, and the
//! record's invariants hold.

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
