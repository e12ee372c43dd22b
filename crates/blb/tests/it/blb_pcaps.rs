//! BLB on the real DDoS captures, 10 sensors, V = 9: with capacities that let the bound hold it
//! keeps the victim's flows together where round robin and hash scatter them; with capacities
//! that make the bound bind it spreads them enough to hold V; the indexed search and the
//! reference scan write identical outputs.

use std::collections::HashSet;
use std::path::Path;

use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::packet::Addr;

use crate::util::*;

const VICTIM: [u8; 4] = [10, 10, 10, 10];

/// Distinct flows to the victim in each sensor's output, read back from the files.
fn victim_flows_per_sensor(dir: &Path, n: usize) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let file = std::fs::File::open(dir.join(format!("sensor-{i}.pcap"))).expect("output");
            let mut r = blb_pcap::CaptureReader::new(file).expect("readable output");
            let mut flows = HashSet::new();
            while let Some(p) = r.next_packet().expect("packet") {
                let m = blb_wire::parse(p.link_type, p.ts_nanos, p.wire_len, p.data);
                if m.dst == Addr::v4(VICTIM) {
                    flows.insert(FlowKey::from_packet(&m, KeyOptions::default(), true).0);
                }
            }
            flows.len()
        })
        .collect()
}

fn run(input: &Path, out: &Path, algo: &str, extra: &[&str]) -> (serde_json::Value, Vec<usize>) {
    let mut args = vec!["-n", "10", "-a", algo, "--hash-key", KEY, "--no-progress"];
    args.extend_from_slice(extra);
    let s = balance(input, out, &args);
    let per = victim_flows_per_sensor(out, 10);
    (s, per)
}

fn share(per: &[usize]) -> f64 {
    let total: usize = per.iter().sum();
    *per.iter().max().unwrap_or(&0) as f64 / total.max(1) as f64
}

#[test]
fn blb_keeps_the_victim_together_when_the_bound_holds() {
    let Some(pcaps) = pcaps() else { return };
    for input in [
        "ddos/pkt.TCP.synflood.spoofed.pcap",
        "ddos/amp.UDP.isakmp.pcap",
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        // The default 1 Gbit/s sensors: the whole flood on one sensor stays under V = 9, even at
        // the sub-second peaks the load estimate sees. Started from the input's first flows
        // (which are attack flows, spread while they are collected) and from normal traffic.
        let cap = ["--variance-bound", "9"];
        let train = pcaps.join("background/netflix.pcap");
        let trained = [
            "--variance-bound",
            "9",
            "--train",
            train.to_str().expect("utf-8"),
        ];
        for (name, args) in [("blb", &cap[..]), ("blb-trained", &trained[..])] {
            let (s, blb) = run(&pcaps.join(input), &tmp.path().join(name), "blb", args);
            assert!(
                share(&blb) >= 0.8,
                "{input}: {name} keeps {:.2} of the victim's flows on one sensor: {blb:?}",
                share(&blb)
            );
            assert_eq!(
                s["load"]["seconds_over_bound"].as_u64(),
                Some(0),
                "{input}: {}",
                s["load"]
            );
            let dest = &s["destinations"]["top"][0];
            assert_eq!(dest[0], "10.10.10.10");
        }
        for algo in ["round-robin", "hash"] {
            let (_, per) = run(&pcaps.join(input), &tmp.path().join(algo), algo, &cap);
            assert!(
                per.iter().all(|&f| f > 0),
                "{input}: {algo} reaches every sensor: {per:?}"
            );
            assert!(share(&per) < 0.2, "{input}: {algo} scatters: {per:?}");
        }
    }
}

#[test]
fn blb_spreads_enough_to_hold_the_bound_when_it_binds() {
    let Some(pcaps) = pcaps() else { return };
    // Capacities at which the flood on one sensor would break V = 9 many times over; a load
    // time constant of 0.5 s lets the estimate follow these bursty captures within a second.
    for (input, capacity) in [
        ("ddos/pkt.TCP.synflood.spoofed.pcap", "400000"),
        ("ddos/amp.UDP.isakmp.pcap", "2000000"),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let args = [
            "--capacity",
            capacity,
            "--variance-bound",
            "9",
            "--load-time-constant",
            "0.5",
        ];
        let (s, per) = run(&pcaps.join(input), tmp.path(), "blb", &args);
        let seconds = s["load"]["seconds"].as_u64().unwrap_or(0);
        let over = s["load"]["seconds_over_bound"].as_u64().unwrap_or(u64::MAX);
        assert!(seconds > 0);
        assert!(
            (over as f64) <= 0.01 * seconds as f64,
            "{input}: {over} of {seconds} seconds over V: {}",
            s["load"]
        );
        assert!(
            per.iter().filter(|&&f| f > 0).count() > 1,
            "{input}: the bound forces a spread: {per:?}"
        );
        // Holding everything on one sensor would have broken the bound: single shows it.
        let (single, _) = run(
            &pcaps.join(input),
            &tmp.path().join("single"),
            "single",
            &args,
        );
        assert!(
            single["load"]["seconds_over_bound"].as_u64().unwrap_or(0) > 0,
            "{input}: the bound really binds"
        );
    }
}

#[test]
fn indexed_and_brute_force_write_identical_outputs() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = "ddos/pkt.TCP.synflood.spoofed.pcap";
    let args = [
        "--capacity",
        "400000",
        "--load-time-constant",
        "0.5",
        "--train-flows",
        "50",
    ];
    let (a, _) = run(
        &pcaps.join(input),
        &tmp.path().join("indexed"),
        "blb",
        &[&args[..], &["--search", "indexed"]].concat(),
    );
    let (b, _) = run(
        &pcaps.join(input),
        &tmp.path().join("brute"),
        "blb",
        &[&args[..], &["--search", "brute-force"]].concat(),
    );
    for i in 0..10 {
        let f = format!("sensor-{i}.pcap");
        let x = std::fs::read(tmp.path().join("indexed").join(&f)).expect("read");
        let y = std::fs::read(tmp.path().join("brute").join(&f)).expect("read");
        assert!(
            x == y,
            "{f} differs between the indexed search and the scan"
        );
    }
    assert_eq!(a["balancer"], b["balancer"]);
    assert!(
        a["balancer"]["new_clusters"].as_u64().unwrap_or(0) > 0,
        "the run exercises cluster creation: {}",
        a["balancer"]
    );
}

#[test]
fn training_capture_gives_the_k_medoids_start() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let train = pcaps.join("background/netflix.pcap");
    let (s, _) = run(
        &pcaps.join("ddos/amp.UDP.isakmp.pcap"),
        tmp.path(),
        "blb",
        &[
            "--train",
            train.to_str().expect("utf-8"),
            "--train-flows",
            "40",
        ],
    );
    assert_eq!(
        s["balancer"]["warmup_flows"].as_u64(),
        Some(0),
        "no warm-up with a training capture"
    );
    assert!(
        s["balancer"]["clusters_created"]
            .as_u64()
            .is_some_and(|c| c > 0),
        "{}",
        s["balancer"]
    );
    let o = blb(&[
        "balance",
        "-r",
        pcaps.join("vlan/dot1ad.pcap").to_str().expect("utf-8"),
        "-n",
        "2",
        "-a",
        "blb",
        "-w",
        tmp.path().join("x").to_str().expect("utf-8"),
        "--train",
        "/nonexistent/train.pcap",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/train.pcap"));
}
