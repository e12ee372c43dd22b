//! Criterion benchmark of `blb_wire::parse` on typical frames: TCP/IPv4, UDP/IPv6, a
//! VLAN-tagged TCP/IPv4 frame and an MPLS-labelled one, and the TCP/IPv4 frame in tunnels
//! (VXLAN, GRE, GTP-U) parsed to the inner headers, and with `--tunnels outer`.

use std::hint::black_box;

use blb_wire::{linktype, parse};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;

fn tcp4() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 1, 10], [10, 1, 2, 3], 64)
        .tcp(40000, 443, 1, 65535)
        .ack(7)
        .write(&mut v, &[0; 1000])
        .unwrap();
    v
}

fn udp6() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(5353, 53)
        .write(&mut v, &[0; 200])
        .unwrap();
    v
}

/// Insert `tags` (TPID, TCI) after the MAC addresses.
fn with_tags(f: &[u8], tags: &[[u8; 4]]) -> Vec<u8> {
    let mut v = f[..12].to_vec();
    for t in tags {
        v.extend_from_slice(t);
    }
    v.extend_from_slice(&f[12..]);
    v
}

fn mpls(f: &[u8]) -> Vec<u8> {
    let mut v = f[..12].to_vec();
    v.extend_from_slice(&[0x88, 0x47, 0, 0x10, 0, 64, 0, 0x20, 0x01, 64]);
    v.extend_from_slice(&f[14..]);
    v
}

/// `inner` (an Ethernet frame) in VXLAN in UDP/IPv4.
fn vxlan(inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
        .udp(51000, 4789)
        .write(
            &mut v,
            &[&[0x08, 0, 0, 0, 0, 0, 100, 0][..], inner].concat(),
        )
        .unwrap();
    v
}

/// The IP packet of `inner` (an Ethernet frame) in GRE with a key, in IPv4.
fn gre(inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
        .write(
            &mut v,
            etherparse::IpNumber(47),
            &[&[0x20, 0, 0x08, 0x00, 0, 0, 0, 1][..], &inner[14..]].concat(),
        )
        .unwrap();
    v
}

/// The IP packet of `inner` (an Ethernet frame) in a GTP-U G-PDU.
fn gtp(inner: &[u8]) -> Vec<u8> {
    let ip = &inner[14..];
    let len = (ip.len() as u16).to_be_bytes();
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
        .udp(2152, 2152)
        .write(
            &mut v,
            &[&[0x30, 0xff, len[0], len[1], 0, 0, 0xbf, 0x2e][..], ip].concat(),
        )
        .unwrap();
    v
}

fn bench(c: &mut Criterion) {
    let tcp4 = tcp4();
    let cases = [
        ("tcp4", tcp4.clone()),
        ("udp6", udp6()),
        ("vlan_tcp4", with_tags(&tcp4, &[[0x81, 0, 0x03, 0xaf]])),
        (
            "qinq_tcp4",
            with_tags(&tcp4, &[[0x88, 0xa8, 0x05, 0xf5], [0x81, 0, 0, 30]]),
        ),
        ("mpls_tcp4", mpls(&tcp4)),
        ("vxlan_tcp4", vxlan(&tcp4)),
        ("gre_tcp4", gre(&tcp4)),
        ("gtp_tcp4", gtp(&tcp4)),
    ];
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                parse(
                    black_box(linktype::ETHERNET),
                    black_box(1),
                    black_box(frame.len() as u32),
                    black_box(frame),
                )
            })
        });
    }
    // Tunnels not looked into (--tunnels outer).
    for (name, frame) in cases.iter().filter(|c| c.0.ends_with("tcp4")) {
        g.bench_function(format!("outer_{name}"), |b| {
            b.iter(|| {
                blb_wire::parse_with(
                    black_box(blb_wire::Tunnels::Outer),
                    black_box(linktype::ETHERNET),
                    black_box(1),
                    black_box(frame.len() as u32),
                    black_box(frame),
                )
            })
        });
    }
    // The floor: an unsupported link type returns right after filling the record.
    g.bench_function("unsupported_link", |b| {
        b.iter(|| {
            parse(
                black_box(9999),
                black_box(1),
                black_box(60),
                black_box(&tcp4[..]),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
