//! The paper's §VII figures, measured from the generated frames of `udp-flood` with defaults.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use blb_gen::{GenOptions, Scenario};

use crate::common::{run, secs};

#[test]
fn defaults_match_the_paper() {
    let opts = GenOptions::default();
    let (report, pkts) = run(Scenario::UdpFlood, &opts);
    let victim = Ipv4Addr::new(10, 10, 10, 10);
    assert_eq!(report.victim, Some(victim));

    // Duration: last minus first timestamp is about 100 s.
    let span = (pkts.last().unwrap().ts - pkts[0].ts) as f64 / 1e9;
    assert!((99.0..=100.0).contains(&span), "span {span}");
    assert_eq!(pkts[0].ts, opts.start_time * 1_000_000_000);

    let mut bytes = [0u64; 100];
    let mut new_per_sec = [0u64; 100];
    let mut tuples: HashMap<Ipv4Addr, (u16, u16)> = HashMap::new();
    for p in pkts.iter().filter(|p| p.dst == victim) {
        assert_eq!(p.proto, 17);
        assert_eq!(p.len, 1024);
        let s = secs(&opts, p) as usize;
        bytes[s] += p.len as u64;
        match tuples.get(&p.src) {
            None => {
                new_per_sec[s] += 1;
                tuples.insert(p.src, (p.sport, p.dport));
            }
            Some(&t) => assert_eq!(t, (p.sport, p.dport), "attacker {} changed ports", p.src),
        }
    }
    // 1.0 ± 0.1 MB/s on average, and within ±10 % in every full second.
    let mean = bytes.iter().sum::<u64>() as f64 / 100.0;
    assert!((0.9e6..=1.1e6).contains(&mean), "mean {mean} B/s");
    for (s, &b) in bytes.iter().enumerate() {
        assert!((0.9e6..=1.1e6).contains(&(b as f64)), "second {s}: {b} B");
    }
    // 100 ± 10 new sources per second (mean over the 100 s).
    let new_mean = new_per_sec.iter().sum::<u64>() as f64 / 100.0;
    assert!(
        (90.0..=110.0).contains(&new_mean),
        "new sources/s {new_mean}"
    );
    // 10 000 ± 5 % distinct sources.
    let distinct = tuples.len();
    assert!((9_500..=10_500).contains(&distinct), "distinct {distinct}");
    assert_eq!(report.attack_sources, distinct as u64);
    // Background is light and never touches the victim.
    assert!(report.background_packets > 0);
    assert!(report.background_bytes * 20 < report.attack_bytes);
    println!(
        "udp-flood defaults: {mean:.0} B/s, {new_mean:.1} new sources/s (min {} max {}), \
         {distinct} sources, span {span:.3} s, {} frames ({} background)",
        new_per_sec.iter().min().unwrap(),
        new_per_sec.iter().max().unwrap(),
        report.packets,
        report.background_packets
    );
}

#[test]
fn per_packet_ports_give_many_flows_per_attacker() {
    let opts = GenOptions {
        random_ports_per_packet: true,
        duration_secs: 20.0,
        attackers: 2_000,
        ..GenOptions::default()
    };
    let (_, pkts) = run(Scenario::UdpFlood, &opts);
    let victim = opts.victim;
    let mut tuples: HashMap<Ipv4Addr, HashSet<(u16, u16)>> = HashMap::new();
    let mut n = 0usize;
    for p in pkts.iter().filter(|p| p.dst == victim) {
        tuples.entry(p.src).or_default().insert((p.sport, p.dport));
        n += 1;
    }
    let flows: usize = tuples.values().map(HashSet::len).sum();
    // Nearly every packet is its own 5-tuple.
    assert!(
        flows as f64 > 0.99 * n as f64,
        "{flows} flows for {n} packets"
    );
}

#[test]
fn training_period_is_background_only() {
    let opts = GenOptions {
        training_secs: 10.0,
        duration_secs: 5.0,
        ..GenOptions::default()
    };
    let t0 = opts.start_time * 1_000_000_000;
    for scenario in [
        Scenario::UdpFlood,
        Scenario::SynFlood,
        Scenario::PortSweep,
        Scenario::PortScan,
    ] {
        let (report, pkts) = run(scenario, &opts);
        assert_eq!(report.attack_start_secs, 10.0);
        assert_eq!(report.duration_secs, 15.0);
        let first_attack = pkts
            .iter()
            .find(|p| !crate::scenarios::is_background(p))
            .expect("attack frames");
        assert!(
            first_attack.ts >= t0 + 10_000_000_000,
            "{scenario}: attack before training end"
        );
        assert!(
            first_attack.ts < t0 + 10_100_000_000,
            "{scenario}: attack starts late"
        );
        let before = pkts.iter().filter(|p| p.ts < t0 + 10_000_000_000).count();
        assert!(
            before > 100,
            "{scenario}: only {before} background frames in training"
        );
        assert!(pkts.iter().all(|p| p.ts < t0 + 15_000_000_000));
        assert_eq!(pkts[0].ts, t0, "{scenario}: first frame at start_time");
    }
}

/// A sink that keeps, per frame, the destination and whether the generator called it attack.
struct Tagged(Vec<(Ipv4Addr, bool)>);

impl blb_gen::FrameSink for Tagged {
    fn frame(&mut self, _ts: u64, _frame: &[u8]) -> std::io::Result<()> {
        unreachable!("the generator tags every frame")
    }

    fn tagged_frame(&mut self, ts: u64, frame: &[u8], attack: bool) -> std::io::Result<()> {
        self.0.push((crate::common::parse(ts, frame).dst, attack));
        Ok(())
    }
}

#[test]
fn a_second_victim_gets_a_flood_of_its_own_and_frames_are_tagged() {
    let second = Ipv4Addr::new(10, 10, 20, 20);
    let opts = GenOptions {
        duration_secs: 20.0,
        training_secs: 5.0,
        second_victim: Some(second),
        ..GenOptions::default()
    };
    let (report, pkts) = run(Scenario::UdpFlood, &opts);
    let victim = Ipv4Addr::new(10, 10, 10, 10);
    let sources = |v: Ipv4Addr| {
        pkts.iter()
            .filter(|p| p.dst == v)
            .map(|p| p.src)
            .collect::<HashSet<_>>()
    };
    let (a, b) = (sources(victim), sources(second));
    // About 100 new attackers per second on each victim, none shared.
    assert!((1900..=2100).contains(&a.len()), "{}", a.len());
    assert!((1900..=2100).contains(&b.len()), "{}", b.len());
    assert!(a.is_disjoint(&b));
    assert_eq!(report.attack_sources, (a.len() + b.len()) as u64);
    // 1 MB/s on each.
    let bytes = |v: Ipv4Addr| {
        pkts.iter()
            .filter(|p| p.dst == v)
            .map(|p| p.len)
            .sum::<usize>()
    };
    assert!((19.0e6..21.0e6).contains(&(bytes(victim) as f64)));
    assert!((19.0e6..21.0e6).contains(&(bytes(second) as f64)));
    // Every frame to a victim is tagged attack, every other frame background.
    let mut sink = Tagged(Vec::new());
    let again = blb_gen::generate(Scenario::UdpFlood, &opts, &mut sink).unwrap();
    assert_eq!(again, report);
    for (dst, attack) in &sink.0 {
        assert_eq!(*attack, *dst == victim || *dst == second, "{dst}");
    }
    assert_eq!(
        sink.0.iter().filter(|(_, a)| *a).count() as u64,
        report.attack_packets
    );
    // The same victim twice is refused, by name.
    let twice = GenOptions {
        second_victim: Some(victim),
        ..opts
    };
    let e = blb_gen::generate(Scenario::UdpFlood, &twice, &mut sink).unwrap_err();
    assert!(e.to_string().contains("second_victim"), "{e}");
}
