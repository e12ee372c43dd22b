//! Signatures of every scenario, measured from parsed frames (which `run` validates).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use blb_gen::{GenOptions, Scenario};

use crate::common::{ACK, FIN, Pkt, RST, SYN, inside, run};

/// Background frames never involve the default victim/scan target or the swept /16.
pub fn is_background(p: &Pkt) -> bool {
    let v = Ipv4Addr::new(10, 10, 10, 10);
    let swept = |ip: Ipv4Addr| ip.octets()[..2] == [10, 20];
    !(p.src == v || p.dst == v || swept(p.src) || swept(p.dst))
}

fn short(secs: f64) -> GenOptions {
    GenOptions {
        duration_secs: secs,
        ..GenOptions::default()
    }
}

#[test]
fn syn_flood_signature() {
    let opts = short(10.0);
    let (report, pkts) = run(Scenario::SynFlood, &opts);
    let attack: Vec<&Pkt> = pkts.iter().filter(|p| !is_background(p)).collect();
    assert_eq!(attack.len() as u64, report.attack_packets);
    let n = attack.len();
    assert!((9_500..=10_500).contains(&n), "{n} SYNs in 10 s at 1000/s");
    assert!(attack.iter().all(|p| p.proto == 6
        && p.flags == SYN
        && p.dst == opts.victim
        && p.dport == 80
        && p.payload_len == 0
        && p.len == 60));
    let sources: HashSet<Ipv4Addr> = attack.iter().map(|p| p.src).collect();
    assert!(sources.len() as f64 > 0.99 * n as f64);
    assert!(
        sources
            .iter()
            .all(|ip| !ip.is_private() && !ip.is_loopback())
    );
    assert_eq!(report.attack_sources, n as u64);
}

#[test]
fn port_sweep_signature() {
    let opts = short(20.0);
    let (report, pkts) = run(Scenario::PortSweep, &opts);
    let swept = |ip: Ipv4Addr| ip.octets()[..2] == [10, 20];
    let probes: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| swept(p.dst) && p.flags == SYN)
        .collect();
    let n = probes.len();
    assert!((3_700..=4_300).contains(&n), "{n} probes in 20 s at 200/s");
    assert!(probes.iter().all(|p| p.dport == 445));
    let sources: HashSet<Ipv4Addr> = probes.iter().map(|p| p.src).collect();
    assert_eq!(sources.len(), 5);
    assert_eq!(report.attack_sources, 5);
    // Each source visits each address at most once; together they cover many addresses.
    let pairs: HashSet<(Ipv4Addr, Ipv4Addr)> = probes.iter().map(|p| (p.src, p.dst)).collect();
    assert_eq!(pairs.len(), n);
    let targets: HashSet<Ipv4Addr> = probes.iter().map(|p| p.dst).collect();
    assert!(targets.len() > n * 9 / 10);
    // A few targets answer SYN-ACK (and the scanner resets), some RST, most nothing.
    let synacks = pkts
        .iter()
        .filter(|p| swept(p.src) && p.flags == SYN | ACK)
        .count();
    let rsts = pkts
        .iter()
        .filter(|p| swept(p.src) && p.flags == RST | ACK)
        .count();
    let scanner_rsts = pkts
        .iter()
        .filter(|p| swept(p.dst) && p.flags == RST)
        .count();
    let f_open = synacks as f64 / n as f64;
    let f_closed = rsts as f64 / n as f64;
    assert!((0.01..0.035).contains(&f_open), "open fraction {f_open}");
    assert!(
        (0.06..0.10).contains(&f_closed),
        "closed fraction {f_closed}"
    );
    assert!(scanner_rsts + 2 >= synacks && scanner_rsts <= synacks);
    let attack = pkts.iter().filter(|p| !is_background(p)).count() as u64;
    assert_eq!(attack, report.attack_packets);
}

#[test]
fn port_scan_signature() {
    let opts = short(20.0);
    let (report, pkts) = run(Scenario::PortScan, &opts);
    let target = opts.scan_target;
    let probes: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.dst == target && p.flags == SYN)
        .collect();
    assert_eq!(probes.len(), 1000);
    let sources: HashSet<Ipv4Addr> = probes.iter().map(|p| p.src).collect();
    assert_eq!(sources.len(), 1);
    let ports: Vec<u16> = probes.iter().map(|p| p.dport).collect();
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=1000).collect::<Vec<u16>>());
    assert_ne!(ports, sorted, "ports are probed in random order");
    let synacks: HashSet<u16> = pkts
        .iter()
        .filter(|p| p.src == target && p.flags == SYN | ACK)
        .map(|p| p.sport)
        .collect();
    let expected: HashSet<u16> = [21, 22, 25, 53, 80, 110, 139, 143, 443, 445].into();
    assert_eq!(synacks, expected);
    let rsts = pkts
        .iter()
        .filter(|p| p.src == target && p.flags == RST | ACK)
        .count();
    assert_eq!(rsts, 990);
    assert_eq!(report.victim, Some(target));
    assert_eq!(report.attack_packets, 1000 + 1000 + 10);
}

#[test]
fn background_signature() {
    let opts = short(300.0);
    let (report, pkts) = run(Scenario::Background, &opts);
    assert_eq!(report.attack_packets, 0);
    assert!(pkts.iter().all(is_background));
    let rate = pkts.len() as f64 / 300.0;
    assert!((30.0..=70.0).contains(&rate), "background {rate} packets/s");
    let tcp = |f: &dyn Fn(&Pkt) -> bool| pkts.iter().filter(|p| p.proto == 6 && f(p)).count();
    let out = |p: &Pkt| inside(p.src) && !inside(p.dst);
    let inn = |p: &Pkt| !inside(p.src) && inside(p.dst);
    assert!(pkts.iter().all(|p| out(p) || inn(p)));
    assert!(tcp(&|p| out(p) && p.flags == SYN) > 20);
    assert!(tcp(&|p| inn(p) && p.flags == SYN | ACK) > 20);
    assert!(tcp(&|p| out(p) && p.flags & FIN != 0) > 10);
    assert!(tcp(&|p| inn(p) && p.flags & FIN != 0) > 10);
    assert!(tcp(&|p| p.flags & RST != 0) > 0);
    assert!(tcp(&|p| inn(p) && p.payload_len > 0) > 100);
    assert!(tcp(&|p| out(p) && p.payload_len > 0) > 20);
    let dns_q = pkts
        .iter()
        .filter(|p| p.proto == 17 && p.dport == 53)
        .count();
    let dns_r = pkts
        .iter()
        .filter(|p| p.proto == 17 && p.sport == 53)
        .count();
    assert!(dns_q > 20 && dns_r + 2 >= dns_q && dns_r <= dns_q);
    let ports: HashSet<u16> = pkts.iter().filter(|p| out(p)).map(|p| p.dport).collect();
    assert_eq!(ports, [22, 25, 53, 80, 443].into());
    // Both directions of each connection appear.
    let mut conns: HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), (usize, usize)> = HashMap::new();
    for p in pkts.iter().filter(|p| p.proto == 6) {
        if out(p) {
            conns.entry((p.src, p.sport, p.dst, p.dport)).or_default().0 += 1;
        } else {
            conns.entry((p.dst, p.dport, p.src, p.sport)).or_default().1 += 1;
        }
    }
    let both = conns.values().filter(|(a, b)| *a > 0 && *b > 0).count();
    assert!(both as f64 > 0.9 * conns.len() as f64);
    // Heavy-tailed flow sizes: the median connection is small, the largest is large.
    let mut sizes: Vec<usize> = conns.values().map(|(a, b)| a + b).collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    let max = *sizes.last().unwrap();
    assert!(median <= 15, "median {median}");
    assert!(max >= 100, "max {max}");
    println!(
        "background: {rate:.1} pps, {} connections, median {median} max {max} packets",
        conns.len()
    );
}
