//! Instructions per parsed frame, for comparing parser versions on a busy machine where wall
//! times swing: run under callgrind twice with different counts and divide the difference.
//!
//! ```sh
//! cargo build --release -p blb-wire --example parse_cost
//! for n in 100000 200000; do
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         target/release/examples/parse_cost tcp4 $n 2>&1 | grep refs
//! done
//! ```
//!
//! Cases: `tcp4` (Ethernet/IPv4/TCP), `udp6` (Ethernet/IPv6/UDP), `vlan_tcp4`, `udp4_dns`
//! (a UDP/IPv4 frame to port 53: the path every UDP packet takes past the tunnel checks),
//! and, once the parser knows tunnels, `vxlan_tcp4` and `gre_tcp4`.

use std::hint::black_box;

use blb_wire::{linktype, parse};
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

fn udp4_dns() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 1, 10], [10, 1, 2, 3], 64)
        .udp(40000, 53)
        .write(&mut v, &[0x61; 40])
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

fn vlan(f: &[u8]) -> Vec<u8> {
    [&f[..12], &[0x81, 0, 0x03, 0xaf], &f[12..]].concat()
}

/// `inner` (an Ethernet frame) in VXLAN (VNI 100) in UDP/IPv4 to port 4789.
fn vxlan(inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0, 0, 0, 100, 0];
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
        .udp(51000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// The IPv4 packet of `inner` (an Ethernet frame) in GRE (no options) in IPv4.
fn gre(inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0, 0, 0x08, 0x00];
    payload.extend_from_slice(&inner[14..]);
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
        .write(&mut v, etherparse::IpNumber(47), &payload)
        .unwrap();
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "tcp4".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let frame = match case.as_str() {
        "tcp4" => tcp4(),
        "udp6" => udp6(),
        "vlan_tcp4" => vlan(&tcp4()),
        "udp4_dns" => udp4_dns(),
        "vxlan_tcp4" => vxlan(&tcp4()),
        "gre_tcp4" => gre(&tcp4()),
        other => panic!("unknown case {other}"),
    };
    let mut sum = 0u64;
    for _ in 0..n {
        let m = parse(
            black_box(linktype::ETHERNET),
            black_box(1),
            black_box(frame.len() as u32),
            black_box(&frame),
        );
        sum = sum.wrapping_add(u64::from(black_box(m).src_port));
    }
    println!("{case} {n} {sum}");
}
