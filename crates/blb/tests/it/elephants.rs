//! Elephant flows offline: a generated capture in which one TCP download carries about 90 %
//! of the bytes. Without a cutoff it breaks the variance bound in every second whatever the
//! balancer; with a 50 KB per-flow cutoff, BLB keeps every second under V, and every cut
//! packet and byte is counted.

use std::path::Path;

use blb_gen::{GenOptions, NullSink, Scenario};

use crate::util::{balance, blb};

/// Four sensors of 2 MB/s: the download alone would fill half of one.
const CAPACITY: &str = "2000000";
const CUTOFF: u64 = 50_000;
const DURATION: f64 = 20.0;
const BACKGROUND: f64 = 200.0;

fn generate(seed: u64, file: &Path) -> blb_gen::GenReport {
    let o = blb(&[
        "generate",
        "elephant",
        "--write",
        file.to_str().expect("utf-8"),
        "--duration",
        &DURATION.to_string(),
        "--background-rate",
        &BACKGROUND.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The same options through the library: what the file holds, split by stream.
    let opts = GenOptions {
        seed,
        duration_secs: DURATION,
        background_rate: BACKGROUND,
        ..GenOptions::default()
    };
    blb_gen::generate(Scenario::Elephant, &opts, &mut NullSink).expect("generates")
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn a_cutoff_keeps_blb_under_the_variance_bound_with_an_elephant() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for seed in 1..=3 {
        let file = tmp.path().join(format!("elephant-{seed}.pcap"));
        let report = generate(seed, &file);
        let share = report.attack_bytes as f64 / report.bytes as f64;
        assert!((0.85..=0.95).contains(&share), "seed {seed}: share {share}");

        let base = [
            "-n",
            "4",
            "-a",
            "blb",
            "--capacity",
            CAPACITY,
            "--no-progress",
        ];
        let whole = balance(&file, &tmp.path().join(format!("whole-{seed}")), &base);
        let seconds = u(&whole["load"]["seconds"]);
        assert_eq!(
            u(&whole["load"]["seconds_over_bound"]),
            seconds,
            "seed {seed}: the elephant uncut breaks V in every second"
        );
        assert_eq!(u(&whole["drops_total"]), 0);

        let cut = CUTOFF.to_string();
        let mut args = base.to_vec();
        args.extend(["--flow-cutoff-bytes", cut.as_str()]);
        let s = balance(&file, &tmp.path().join(format!("cut-{seed}")), &args);
        let load = &s["load"];
        assert_eq!(u(&load["seconds_over_bound"]), 0, "seed {seed}: {load}");
        assert!(load["variance_max"].as_f64().is_some_and(|v| v <= 9.0));
        assert_eq!(u(&load["seconds"]), seconds);

        // Everything in is out or counted; what was cut is counted in packets and bytes.
        let cut_packets = u(&s["drops"]["flow_cutoff"]);
        assert_eq!(u(&s["drops_total"]), cut_packets);
        assert_eq!(u(&s["packets_in"]), u(&s["packets_out"]) + cut_packets);
        let delivered: u64 = (0..4).map(|i| u(&s["per_sensor"][i]["bytes"])).sum();
        let c = &s["flow_cutoff"];
        assert_eq!(u(&s["bytes_in"]), delivered + u(&c["bytes_cut"]), "{c}");
        assert_eq!(u(&c["after_bytes"]), CUTOFF);
        // The download is cut after its first 50 KB (and its FIN and last ACKs still go);
        // background flows past 50 KB are cut too.
        let elephant_cut = report.attack_bytes - CUTOFF - 3 * 60;
        assert!(
            u(&c["bytes_cut"]) >= elephant_cut - 1514,
            "seed {seed}: {} bytes cut, the download alone {elephant_cut}",
            u(&c["bytes_cut"])
        );
        assert!(u(&c["flows"]) >= 1);
    }
}

#[test]
fn cutoffs_are_refused_at_zero_and_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("e.pcap");
    generate(1, &file);
    let o = blb(&[
        "balance",
        "-r",
        file.to_str().expect("utf-8"),
        "-w",
        tmp.path().join("out").to_str().expect("utf-8"),
        "-n",
        "2",
        "-a",
        "hash",
        "--flow-cutoff-packets",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--flow-cutoff-packets"), "{err}");
    let cfg = tmp.path().join("blb.toml");
    std::fs::write(&cfg, "[flow]\ncutoff_bytes = 0\n").expect("config");
    let o = blb(&[
        "balance",
        "-r",
        file.to_str().expect("utf-8"),
        "-w",
        tmp.path().join("out").to_str().expect("utf-8"),
        "-n",
        "2",
        "-a",
        "hash",
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("[flow] cutoff_bytes"), "{err}");
}
