//! Capture-file and frame targets: the pcap/pcapng readers and the frame parser.

use std::path::Path;

use blb_core::packet::{PacketClass, PacketMeta, proto};
use blb_core::tunnel::{MAX_TUNNEL_DEPTH, Tunnel};
use blb_pcap::CaptureReader;
use blb_wire::{Tunnels, linktype};

use super::capture_files;

/// Read every record; each one's data lies inside the input.
pub fn reader(data: &[u8]) {
    let Ok(mut r) = CaptureReader::new(data) else {
        return;
    };
    for _ in 0..100_000 {
        match r.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= data.len(), "a record longer than the file");
                let _ = (p.link_type, p.ts_nanos, p.wire_len);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Link types the parser knows, indexed by the first byte.
const LINKS: [u32; 10] = [
    linktype::ETHERNET,
    linktype::RAW,
    linktype::NULL,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
    linktype::IPV4,
    linktype::IPV6,
    linktype::DLT_RAW_12,
    9999,
];

/// Parse one frame: the first byte picks the link type, the rest is the frame. Parsed both
/// ways: with tunnels looked into (the default) and not (`--tunnels outer`).
pub fn frame(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let wire = frame.len() as u32 + 7;
    let outer = blb_wire::parse_with(Tunnels::Outer, link, 1, wire, frame);
    record(&outer, frame);
    assert_eq!(
        outer.tunnel,
        Tunnel::default(),
        "tunnels recorded without looking"
    );
    let m = blb_wire::parse(link, 1, wire, frame);
    record(&m, frame);
    let t = m.tunnel;
    assert!(
        usize::from(t.depth) <= MAX_TUNNEL_DEPTH,
        "depth {}",
        t.depth
    );
    assert_eq!(t.kinds().count(), usize::from(t.depth), "kinds vs depth");
    if t.depth == 0 {
        // Not in a tunnel (or none readable): exactly the outer flow.
        let mut flow = m;
        flow.tunnel = Tunnel::default();
        assert_eq!(flow, outer, "an unentered tunnel changed the flow");
        assert!(t.datagram.is_none() && !t.depth_limited);
    } else {
        assert_ne!(
            m.class,
            PacketClass::Unparsable,
            "a tunnel entered for no flow"
        );
    }
    if t.datagram.is_some() {
        assert!(
            m.fragment.is_some_and(|f| f.is_first()),
            "a datagram header without a first fragment"
        );
    }
}

/// Invariants of any parsed record of `frame`.
fn record(m: &PacketMeta, frame: &[u8]) {
    assert_eq!(m.cap_len as usize, frame.len());
    assert_eq!(m.wire_len, frame.len() as u32 + 7);
    if m.has_ports {
        assert!(
            matches!(m.protocol, proto::TCP | proto::UDP | 132 | 33 | 136),
            "ports on protocol {}",
            m.protocol
        );
    } else {
        assert_eq!((m.src_port, m.dst_port), (0, 0), "ports without has_ports");
    }
    if let Some(f) = m.fragment
        && !f.is_first()
    {
        assert!(!m.has_ports, "a later fragment with ports");
    }
    if m.class == PacketClass::Ip {
        assert!(
            m.src.is_ip() && m.dst.is_ip(),
            "an IP record without IP addresses"
        );
    }
    assert!(usize::from(m.vlan_count) <= m.vlans.len());
}

/// The shared captures (cut to 64 KiB) and a few hand-made files.
pub fn capture_seeds(shared: Option<&Path>) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = capture_files(shared)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|mut b| {
            b.truncate(64 * 1024);
            b
        })
        .collect();
    // A minimal pcap with one Ethernet frame, and a minimal pcapng.
    let mut pcap = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        pcap.extend_from_slice(&w.to_le_bytes());
    }
    for w in [1u32, 2, 14, 14] {
        pcap.extend_from_slice(&w.to_le_bytes());
    }
    pcap.extend_from_slice(&[0xff; 12]);
    pcap.extend_from_slice(&[0x08, 0x00]);
    out.push(pcap);
    let mut ng = Vec::new();
    for w in [
        0x0a0d_0d0au32,
        28,
        0x1a2b_3c4d,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ] {
        ng.extend_from_slice(&w.to_le_bytes());
    }
    for w in [1u32, 20, 1, 0, 20] {
        ng.extend_from_slice(&w.to_le_bytes());
    }
    out.push(ng);
    out
}

/// The first frames of every shared capture, each behind its link type's byte.
pub fn frame_seeds(shared: Option<&Path>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for path in capture_files(shared) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(mut r) = CaptureReader::new(&bytes[..]) else {
            continue;
        };
        for _ in 0..40 {
            let Ok(Some(p)) = r.next_packet() else { break };
            let Some(pick) = LINKS.iter().position(|&l| l == p.link_type) else {
                break;
            };
            let mut seed = vec![pick as u8];
            seed.extend_from_slice(&p.data[..p.data.len().min(2047)]);
            out.push(seed);
        }
    }
    // An Ethernet/IPv4/UDP frame, for when there are no captures.
    let mut udp = vec![0u8];
    udp.extend_from_slice(&[0xff; 12]);
    udp.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 1, 0x20, 0, 64, 17, 0, 0]);
    udp.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 8, 0, 0]);
    out.push(udp.clone());
    // The same frame in tunnels: VXLAN, GRE with a key (bridged), GTP-U, IPv4 in IPv4.
    let inner = &udp[1..];
    let ip = &inner[14..];
    let outer = |protocol: u8, payload: &[u8]| {
        let mut f = vec![0u8];
        f.extend_from_slice(&[0xee; 12]);
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 1, 0, 0, 64, protocol, 0, 0]);
        f.extend_from_slice(&[172, 16, 0, 1, 172, 16, 0, 2]);
        f.extend_from_slice(payload);
        f
    };
    let in_udp = |port: u16, header: &[u8], payload: &[u8]| {
        let p = port.to_be_bytes();
        [&[0xc3, 0x50, p[0], p[1], 0, 0, 0, 0][..], header, payload].concat()
    };
    out.push(outer(
        17,
        &in_udp(4789, &[0x08, 0, 0, 0, 0, 0, 1, 0], inner),
    ));
    out.push(outer(
        47,
        &[&[0x20, 0, 0x65, 0x58, 0, 0, 0, 1][..], inner].concat(),
    ));
    out.push(outer(
        17,
        &in_udp(
            2152,
            &[0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0],
            ip,
        ),
    ));
    out.push(outer(4, ip));
    out
}
