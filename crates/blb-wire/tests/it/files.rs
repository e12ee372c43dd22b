//! Tests over the shared captures: nothing panics, and what SOURCES.md says each file holds is
//! what the parser finds (VLAN stacks, fragments, MPLS, truncated and malformed headers).

use std::path::Path;

use blb_core::packet::{Addr, PacketClass, PacketMeta, proto, tcp_flags};
use blb_wire::{is_supported, parse};

use crate::capture::{self, Frame};

/// Parse every frame of the capture `rel` under the shared captures `dir`.
fn parse_file(dir: &Path, rel: &str) -> Vec<(Frame, PacketMeta)> {
    let frames = capture::read(&dir.join(rel));
    assert!(!frames.is_empty(), "{rel}: no frames read");
    frames
        .into_iter()
        .map(|f| {
            let m = parse(f.link_type, f.ts_nanos, f.wire_len, &f.data);
            (f, m)
        })
        .collect()
}

fn count(ms: &[(Frame, PacketMeta)], class: PacketClass) -> usize {
    ms.iter().filter(|(_, m)| m.class == class).count()
}

#[test]
fn every_capture_parses() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let files = capture::all_captures(&dir);
    assert!(files.len() >= 30, "only {} captures found", files.len());
    for path in files {
        let frames = capture::read(&path);
        let mut counts = [0usize; 3];
        for f in &frames {
            assert!(
                is_supported(f.link_type),
                "{}: link type {}",
                path.display(),
                f.link_type
            );
            let m = parse(f.link_type, f.ts_nanos, f.wire_len, &f.data);
            assert_eq!(m.cap_len as usize, f.data.len());
            assert_eq!((m.ts, m.wire_len), (f.ts_nanos, f.wire_len));
            assert!(usize::from(m.vlan_count) <= m.vlans.len());
            if m.class == PacketClass::Ip {
                assert!(
                    m.src.is_ip() && m.dst.is_ip(),
                    "{}#{}",
                    path.display(),
                    f.number
                );
            }
            if !m.has_ports {
                assert_eq!((m.src_port, m.dst_port), (0, 0));
            }
            counts[m.class as usize] += 1;
        }
        eprintln!(
            "{:50} {:6} frames: ip {} non-ip {} unparsable {}",
            path.display(),
            frames.len(),
            counts[0],
            counts[1],
            counts[2]
        );
    }
}

#[test]
fn vlan_qinqinq_outer_first() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "vlan/vlan-qinqinq.pcap");
    assert_eq!(ms.len(), 14);
    for (f, m) in &ms {
        assert_eq!(m.vlan_ids(), &[30, 20, 10], "frame {}", f.number);
        assert!(m.is_tcp() && m.has_ports);
        assert!([m.src_port, m.dst_port].contains(&80));
    }
}

#[test]
fn vlan_collisions_three_encapsulations_one_flow() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "vlan/vlan-collisions.pcap");
    let mut stacks: Vec<&[u16]> = ms.iter().map(|(_, m)| m.vlan_ids()).collect();
    stacks.sort();
    stacks.dedup();
    assert_eq!(stacks, vec![&[][..], &[10, 20][..], &[42][..]]);
    let first = &ms[0].1;
    for (_, m) in &ms {
        assert!(m.is_tcp());
        let same = (m.src, m.dst, m.src_port, m.dst_port)
            == (first.src, first.dst, first.src_port, first.dst_port);
        let swapped = (m.src, m.dst, m.src_port, m.dst_port)
            == (first.dst, first.src, first.dst_port, first.src_port);
        assert!(same || swapped);
    }
}

#[test]
fn twovlan_and_dot1ad() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    for (_, m) in parse_file(&dir, "vlan/twovlan.pcap") {
        assert_eq!(m.vlan_ids(), &[201, 200]);
        assert!(m.is_tcp() && m.has_ports);
    }
    let ms = parse_file(&dir, "vlan/dot1ad.pcap");
    let stacks: Vec<&[u16]> = ms.iter().map(|(_, m)| m.vlan_ids()).collect();
    assert_eq!(stacks, vec![&[1525, 30][..], &[1535, 40][..]]);
    for (_, m) in &ms {
        assert_eq!(
            (m.class, m.protocol, m.has_ports, m.ethertype),
            (PacketClass::Ip, proto::ICMP, false, 0x0800)
        );
    }
}

#[test]
fn icmp_dot1q_arp_and_icmp() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "vlan/icmp_dot1q.pcap");
    assert_eq!(ms.len(), 15);
    let arp: Vec<_> = ms
        .iter()
        .filter(|(_, m)| m.class == PacketClass::NonIp)
        .collect();
    assert_eq!(arp.len(), 6);
    for (_, m) in &arp {
        assert_eq!(
            (m.ethertype, m.protocol, m.src.family),
            (0x0806, 0, blb_core::packet::AddrFamily::Mac)
        );
    }
    assert_eq!(count(&ms, PacketClass::Ip), 9);
    for (_, m) in &ms {
        assert_eq!(m.vlan_ids(), &[123]);
        if m.class == PacketClass::Ip {
            assert_eq!((m.protocol, m.has_ports), (proto::ICMP, false));
            assert!([m.src, m.dst].contains(&Addr::v4([192, 168, 123, 1])));
        }
    }
}

#[test]
fn masscan_syn_on_vlan_943() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "scan/tcp_0_1000_20190821.pcap");
    assert_eq!(ms.len(), 1005);
    let syns = ms
        .iter()
        .filter(|(_, m)| m.tcp_flags == tcp_flags::SYN)
        .count();
    assert_eq!(syns, 1001);
    let mut dports: Vec<u16> = ms
        .iter()
        .filter(|(_, m)| m.tcp_flags == tcp_flags::SYN)
        .map(|(_, m)| m.dst_port)
        .collect();
    dports.sort();
    dports.dedup();
    assert_eq!(dports, (0..=1000).collect::<Vec<u16>>());
    for (_, m) in &ms {
        assert_eq!(m.vlan_ids(), &[943]);
        assert!(m.is_tcp() && m.has_ports);
    }
}

#[test]
fn dns_fragmented_ids() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "fragments/dns_fragmented.pcap");
    let frags: Vec<(u64, u32, u32, bool)> = ms
        .iter()
        .filter_map(|(f, m)| m.fragment.map(|fr| (f.number, fr.id, fr.offset, fr.more)))
        .collect();
    assert_eq!(
        frags,
        vec![
            (2, 0xd0fe, 0, true),
            (3, 0xd0fe, 1480, false),
            (5, 0x2840_3c0b, 0, true),
            (6, 0x2840_3c0b, 1448, false),
            (8, 0x247f_0cb3, 0, true),
            (9, 0x247f_0cb3, 1448, false),
            (11, 0xe211, 0, true),
            (12, 0xe211, 1480, false),
            (16, 0x893c, 0, true),
            (17, 0x893c, 1480, false),
            (38, 0x0000_069a, 0, true),
            (39, 0x0000_069a, 1432, false),
            (41, 0xdca5, 0, true),
            (42, 0xdca5, 1480, false),
        ]
    );
    for (f, m) in &ms {
        let first = m.fragment.is_none_or(|fr| fr.is_first());
        assert_eq!(m.has_ports, first, "frame {}", f.number);
        assert_eq!(m.class, PacketClass::Ip);
        if m.fragment.is_some() {
            assert_eq!(m.protocol, proto::UDP);
            if first {
                assert_eq!(m.src_port, 53);
            }
        }
    }
}

#[test]
fn tiny_fragment_flood() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "fragments/ip_fragmented_garbage.pcap");
    let non_first = ms
        .iter()
        .filter(|(_, m)| m.fragment.is_some_and(|f| !f.is_first()))
        .count();
    assert_eq!(non_first, 1248);
    for (_, m) in &ms {
        assert_eq!((m.class, m.protocol), (PacketClass::Ip, proto::TCP));
        assert_eq!(
            (m.src, m.dst),
            (Addr::v4([10, 0, 0, 2]), Addr::v4([10, 128, 0, 2]))
        );
    }
}

#[test]
fn fragmented_syn_first_fragment_has_ports_and_flags() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "fragments/fragmented-syn.pcap");
    let (a, b) = (&ms[0].1, &ms[1].1);
    assert_eq!(
        (a.src_port, a.dst_port, a.has_ports, a.tcp_flags),
        (12345, 80, true, tcp_flags::SYN)
    );
    assert_eq!(
        a.fragment.map(|f| (f.id, f.offset, f.more)),
        Some((1, 0, true))
    );
    assert_eq!(
        (b.has_ports, b.tcp_flags, b.protocol),
        (false, 0, proto::TCP)
    );
    assert_eq!(
        b.fragment.map(|f| (f.id, f.offset, f.more)),
        Some((1, 24, false))
    );
    assert_eq!((a.src, a.dst), (b.src, b.dst));
}

#[test]
fn mpls_in_background_test_pcap() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "background/test.pcap");
    let mpls: Vec<_> = ms
        .iter()
        .filter(|(f, _)| f.data.get(12..14) == Some(&[0x88, 0x47]))
        .collect();
    assert_eq!(mpls.len(), 16);
    for (f, m) in &mpls {
        assert_eq!(
            (m.class, m.protocol, m.ethertype),
            (PacketClass::Ip, proto::ICMP, 0x0800),
            "frame {}",
            f.number
        );
    }
    // Ten of them are Ethernet pseudowires carrying 802.1Q frames.
    assert_eq!(mpls.iter().filter(|(_, m)| m.vlan_count == 1).count(), 10);
    assert_eq!(count(&ms, PacketClass::Ip), 176);
    assert_eq!(count(&ms, PacketClass::NonIp), 3);
}

#[test]
fn truncated_and_bogus_lengths_still_give_addresses() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    let ms = parse_file(&dir, "malformed/badpackets.pcap");
    assert_eq!(ms.len(), 93);
    for (f, m) in &ms {
        let total = usize::from(u16::from_be_bytes([f.data[16], f.data[17]]));
        assert!(
            total > f.data.len() - 14,
            "frame {}: IP total length {total} fits",
            f.number
        );
        assert_eq!(
            (m.class, m.protocol, m.has_ports),
            (PacketClass::Ip, proto::UDP, true)
        );
        assert!(m.fragment.is_some_and(|fr| fr.is_first() && fr.more));
        assert!(m.src_port == 53 || m.dst_port == 53);
    }
    let ms = parse_file(&dir, "malformed/ip-bogus-header-len.pcap");
    assert_eq!(
        (ms[0].1.class, ms[0].1.protocol),
        (PacketClass::Ip, proto::ICMP)
    );
    assert_eq!(ms[0].1.src, Addr::v4([118, 181, 144, 194]));
    let ms = parse_file(&dir, "malformed/truncated-header.pcap");
    assert_eq!(ms.len(), 24);
    for (_, m) in &ms {
        assert!(m.is_tcp() && m.has_ports);
        assert!(m.src_port == 25 || m.dst_port == 25);
    }
    let ms = parse_file(&dir, "malformed/ipv6_frag6_negative_len.pcap");
    let m = &ms[0].1;
    assert_eq!(
        (m.class, m.src.family),
        (PacketClass::Ip, blb_core::packet::AddrFamily::V6)
    );
    assert!(m.fragment.is_some() && !m.has_ports);
}
