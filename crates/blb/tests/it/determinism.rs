//! A fixed hash key gives the same mapping on every run, a different key a different mapping;
//! round robin gives each sensor the same number of flows ±1.

use std::path::Path;

use crate::util::*;

fn outputs(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| std::fs::read(dir.join(format!("sensor-{i}.pcap"))).expect("output"))
        .collect()
}

#[test]
fn fixed_key_same_mapping_other_key_other_mapping() {
    let Some(pcaps) = pcaps() else { return };
    let input = pcaps.join("ddos/amp.UDP.isakmp.pcap");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let args = ["--sensors", "10", "--algorithm", "hash", "--no-progress"];
    let with_key = |k: &'static str| {
        let mut v = args.to_vec();
        v.extend(["--hash-key", k]);
        v
    };
    balance(&input, &a, &with_key(KEY));
    balance(&input, &b, &with_key(KEY));
    balance(&input, &c, &with_key("fedcba9876543210fedcba9876543210"));
    assert_eq!(outputs(&a, 10), outputs(&b, 10), "same key, same outputs");
    assert_ne!(
        outputs(&a, 10),
        outputs(&c, 10),
        "another key, another mapping"
    );
}

#[test]
fn random_key_by_default_is_reported() {
    let Some(pcaps) = pcaps() else { return };
    let input = pcaps.join("vlan/ultrasurf.pcap");
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = balance(
        &input,
        tmp.path(),
        &["--sensors", "3", "--algorithm", "hash", "--no-progress"],
    );
    assert_eq!(s["hash_key"], "random");
    assert!(!s.to_string().contains(KEY));
}

#[test]
fn round_robin_flows_even_on_a_flood() {
    let Some(pcaps) = pcaps() else { return };
    let input = pcaps.join("ddos/pkt.TCP.synflood.spoofed.pcap");
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = balance(
        &input,
        tmp.path(),
        &[
            "--sensors",
            "7",
            "--algorithm",
            "round-robin",
            "--no-progress",
        ],
    );
    let flows: Vec<u64> = s["per_sensor"]
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["flows"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        flows.iter().sum::<u64>(),
        s["flows_total"].as_u64().unwrap_or(0)
    );
    assert!(
        flows.iter().max().unwrap_or(&0) - flows.iter().min().unwrap_or(&0) <= 1,
        "{flows:?}"
    );
}
