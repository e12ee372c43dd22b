//! Tests of fanout: a `PACKET_FANOUT` group of capture rings on one interface hands every
//! frame to exactly one ring, and keeps both directions of every connection and every
//! fragment of a datagram in the same ring.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use blb_live::capture::fanout::open_group;
use blb_live::capture::{PacketSource, wait_readable};
use blb_live::deliver::FrameSink;
use blb_live::deliver::interface::InterfaceSink;

use crate::netns::*;

/// What a frame belongs to: a connection (both directions alike) or a datagram.
type Group = (IpAddr, IpAddr, u8, u16, u16);

/// One frame of the test traffic, and the connection or datagram it belongs to.
struct Sent {
    bytes: Vec<u8>,
    group: Group,
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&frag.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    set_ipv4_checksum(&mut ip);
    ip.extend_from_slice(l4);
    ip
}

fn ipv6(src: [u8; 16], dst: [u8; 16], l4: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0, 0, 0, UDP, 64];
    ip[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(l4);
    ip
}

fn ethernet(vlan: Option<u16>, ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    if let Some(v) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn ports(sport: u16, dport: u16, seq: u8, payload: usize) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend((0..payload).map(|i| seq.wrapping_add(i as u8)));
    l4
}

/// Connections (IPv4 UDP, some VLAN-tagged, and IPv6), 3 packets each way, and fragmented
/// IPv4 and IPv6 datagrams (3 fragments, from both ends), interleaved.
fn traffic() -> Vec<Sent> {
    let mut out = Vec::new();
    for c in 0..120u16 {
        let (a, b) = ([10, 1, (c >> 8) as u8, c as u8], [10, 2, 0, (c % 7) as u8]);
        let (pa, pb) = (20_000 + c, 53);
        let vlan = (c % 4 == 0).then_some(100 + c);
        let group = (IpAddr::from(a), IpAddr::from(b), UDP, pa, pb);
        for seq in 0..3u8 {
            let there = ipv4(a, b, UDP, c, 0, &ports(pa, pb, seq, 20));
            let back = ipv4(b, a, UDP, c, 0, &ports(pb, pa, seq, 30));
            for ip in [there, back] {
                out.push(Sent {
                    bytes: ethernet(vlan, 0x0800, &ip),
                    group,
                });
            }
        }
    }
    for c in 0..40u16 {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = c as u8;
        let mut b = a;
        b[14] = 1;
        let group = (IpAddr::from(a), IpAddr::from(b), UDP, 30_000 + c, 443);
        for seq in 0..3u8 {
            let there = ipv6(a, b, &ports(30_000 + c, 443, seq, 10));
            let back = ipv6(b, a, &ports(443, 30_000 + c, seq, 10));
            for ip in [there, back] {
                out.push(Sent {
                    bytes: ethernet(None, 0x86dd, &ip),
                    group,
                });
            }
        }
    }
    for d in 0..60u16 {
        let (a, b) = ([192, 168, 1, d as u8], [172, 16, (d % 3) as u8, 9]);
        let (src, dst) = if d % 2 == 0 { (a, b) } else { (b, a) };
        let group = (IpAddr::from(src), IpAddr::from(dst), UDP, 0, 1000 + d);
        let first = ports(7000 + d, 9000, d as u8, 16);
        for (offset, more, body) in [
            (0u16, true, first),
            (3, true, vec![1; 24]),
            (6, false, vec![2; 8]),
        ] {
            let frag = offset | if more { 0x2000 } else { 0 };
            out.push(Sent {
                bytes: ethernet(None, 0x0800, &ipv4(src, dst, UDP, 1000 + d, frag, &body)),
                group,
            });
        }
    }
    // IPv6 datagrams in three fragments (a fragment header, next header UDP), both ways.
    for d in 0..40u16 {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = d as u8;
        let mut b = a;
        b[13] = 9;
        let (src, dst) = if d % 2 == 0 { (a, b) } else { (b, a) };
        let group = (IpAddr::from(src), IpAddr::from(dst), 44, 0, 2000 + d);
        let first = ports(8000 + d, 9000, d as u8, 16);
        for (offset, more, body) in [
            (0u16, true, first),
            (3, true, vec![3; 24]),
            (6, false, vec![4; 8]),
        ] {
            let mut frag = vec![UDP, 0];
            frag.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
            frag.extend_from_slice(&u32::from(2000 + d).to_be_bytes());
            frag.extend_from_slice(&body);
            let mut ip = ipv6(src, dst, &frag);
            ip[6] = 44;
            out.push(Sent {
                bytes: ethernet(None, 0x86dd, &ip),
                group,
            });
        }
    }
    // Interleave deterministically, keeping each group's own order.
    let mut mixed: Vec<(usize, Sent)> = out.into_iter().enumerate().collect();
    mixed.sort_by_key(|(i, s)| ((s.group.3 as usize * 7919 + s.group.4 as usize) % 97, *i));
    mixed.into_iter().map(|(_, s)| s).collect()
}

#[test]
fn a_fanout_group_keeps_connections_and_datagrams_in_one_ring() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        assert!(settles_to("blb-rx", true));
        assert!(settles_to("blb-tx", true));
        let mut rings = open_group("blb-rx", &small_ring(), 2).unwrap();
        assert_eq!(rings.len(), 2);
        // A second group on the same interface is a group of its own.
        let other = open_group("blb-rx", &small_ring(), 2).unwrap();
        let sent = traffic();
        let mut sink = InterfaceSink::open("blb-tx").unwrap();
        for s in &sent {
            sink.send(1, eth(&s.bytes)).unwrap();
        }
        sink.flush().unwrap();

        let got = collect_all(&mut rings, sent.len());
        let total: usize = got.iter().map(Vec::len).sum();
        assert_eq!(total, sent.len(), "every frame in exactly one ring");
        let mut ring_of: HashMap<&[u8], usize> = HashMap::new();
        for (r, frames) in got.iter().enumerate() {
            assert!(
                !frames.is_empty(),
                "ring {r} got no frame of {} groups",
                sent.len()
            );
            for f in frames {
                assert!(ring_of.insert(f.as_slice(), r).is_none(), "a frame twice");
            }
        }
        let mut group_ring: HashMap<Group, usize> = HashMap::new();
        for s in &sent {
            let r = *ring_of
                .get(s.bytes.as_slice())
                .expect("every sent frame captured");
            let first = *group_ring.entry(s.group).or_insert(r);
            assert_eq!(first, r, "{:?} split over two rings", s.group);
        }
        // Each ring keeps the order the frames were sent in.
        for frames in &got {
            let at: Vec<usize> = frames
                .iter()
                .map(|f| sent.iter().position(|s| s.bytes == *f).unwrap())
                .collect();
            assert!(
                at.windows(2).all(|w| w[0] < w[1]),
                "a ring reordered frames"
            );
        }
        // The other group saw every frame too, once.
        let mut other = other;
        let seen: usize = collect_all(&mut other, sent.len())
            .iter()
            .map(Vec::len)
            .sum();
        assert_eq!(seen, sent.len());
        for r in &mut rings {
            assert_eq!(r.stats().unwrap().dropped, 0);
        }
    });
}

/// Drain every ring until `want` frames came in all, then a little longer for extras.
fn collect_all(
    rings: &mut [blb_live::capture::afpacket::AfPacketSource],
    want: usize,
) -> Vec<Vec<Vec<u8>>> {
    let mut got = vec![Vec::new(); rings.len()];
    let fds: Vec<_> = rings.iter().map(|r| r.raw_fd()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut settle = None;
    loop {
        let now = Instant::now();
        if now >= deadline || settle.is_some_and(|s| now >= s) {
            return got;
        }
        wait_readable(&fds, 20).unwrap();
        for (r, ring) in rings.iter_mut().enumerate() {
            ring.drain(usize::MAX, &mut |f| got[r].push(f.data.to_vec()))
                .unwrap();
        }
        if settle.is_none() && got.iter().map(Vec::len).sum::<usize>() >= want {
            settle = Some(now + Duration::from_millis(200));
        }
    }
}
