//! Capture-file and frame targets: the pcap/pcapng readers and the frame parser.

use std::path::Path;

use blb_core::packet::proto;
use blb_pcap::CaptureReader;
use blb_wire::linktype;

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

/// Parse one frame: the first byte picks the link type, the rest is the frame.
pub fn frame(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let m = blb_wire::parse(link, 1, frame.len() as u32 + 7, frame);
    assert_eq!(m.cap_len as usize, frame.len());
    assert_eq!(m.wire_len, frame.len() as u32 + 7);
    if m.has_ports {
        assert!(
            matches!(m.protocol, proto::TCP | proto::UDP | 132 | 33 | 136),
            "ports on protocol {}",
            m.protocol
        );
    }
    if let Some(f) = m.fragment
        && !f.is_first()
    {
        assert!(!m.has_ports, "a later fragment with ports");
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
    out.push(udp);
    out
}
