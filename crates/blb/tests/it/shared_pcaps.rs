//! Every shared capture (but `malformed/`), every algorithm, 4 and 10 sensors: packets in equal
//! packets out (tcpdump's count), outputs that tcpdump and tshark read cleanly, and no flow
//! split across sensors (no 5-tuple, or with `--hash-mode ip-pair` no IP pair, in two outputs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::*;

const RUNS: [(&str, Option<&str>); 5] = [
    ("single", None),
    ("round-robin", None),
    ("hash", Some("five-tuple")),
    ("hash", Some("ip-pair")),
    ("blb", None),
];

struct Run {
    algo: &'static str,
    mode: Option<&'static str>,
    sensors: usize,
    first_file: usize,
    packets_out: u64,
}

fn check_dir(dir: &str) {
    let Some(pcaps) = pcaps() else { return };
    let tools = tool("tcpdump") && tool("tshark") && tool("mergecap");
    let inputs = captures(&pcaps, dir);
    assert!(!inputs.is_empty(), "no captures in {dir}");
    for input in inputs {
        check_capture(&input, tools);
    }
}

/// Timeouts longer than any capture here (dns_fragmented.pcap spans 22 days). With the
/// default timeouts a 5-tuple that stays idle past its timeout and comes back is a new flow,
/// which round robin rightly places anew; the hash runs keep the defaults, where the same
/// 5-tuple always maps to the same sensor.
const NO_EXPIRY: &str = "[flow.timeouts]\ntcp_new = 10000000\ntcp_established = 10000000\ntcp_closed = 10000000\n\
udp_new = 10000000\nudp_established = 10000000\nicmp_new = 10000000\nicmp_established = 10000000\n\
other_new = 10000000\nother_established = 10000000\n";

fn check_capture(input: &Path, tools: bool) {
    let name = input.display().to_string();
    let tmp = tempfile::tempdir().expect("tempdir");
    let no_expiry = tmp.path().join("no-expiry.toml");
    std::fs::write(&no_expiry, NO_EXPIRY).expect("write config");
    let no_expiry = no_expiry.to_str().expect("utf-8").to_string();
    let expected = if tools {
        Some(tcpdump_count(input).0)
    } else {
        None
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut runs = Vec::new();
    for (algo, mode) in RUNS {
        for n in [4usize, 10] {
            let out = tmp
                .path()
                .join(format!("{algo}-{}-{n}", mode.unwrap_or("x")));
            let n_s = n.to_string();
            let mut args = vec![
                "--sensors",
                &n_s,
                "--algorithm",
                algo,
                "--hash-key",
                KEY,
                "--no-progress",
            ];
            match mode {
                Some(m) => args.extend(["--hash-mode", m]),
                None => args.extend(["--config", &no_expiry]),
            }
            let s = balance(input, &out, &args);
            let packets_in = s["packets_in"].as_u64().expect("packets_in");
            let copies = s["copies"].as_u64().expect("copies");
            assert_eq!(
                s["drops_total"].as_u64(),
                Some(0),
                "{name} {algo}: drops {}",
                s["drops"]
            );
            assert_eq!(
                s["packets_out"].as_u64(),
                Some(packets_in + copies),
                "{name} {algo}"
            );
            if let Some(e) = expected {
                assert_eq!(
                    packets_in, e,
                    "{name}: blb read {packets_in} packets, tcpdump {e}"
                );
            }
            let per = s["per_sensor"].as_array().expect("per_sensor");
            assert_eq!(per.len(), n);
            if algo == "round-robin" {
                let flows: Vec<u64> = per
                    .iter()
                    .map(|p| p["flows"].as_u64().unwrap_or(0))
                    .collect();
                let (lo, hi) = (
                    flows.iter().min().copied().unwrap_or(0),
                    flows.iter().max().copied().unwrap_or(0),
                );
                assert!(
                    hi - lo <= 1,
                    "{name}: round robin flows per sensor {flows:?}"
                );
                let pinned = s["pinned_flows"].as_u64().unwrap_or(0);
                assert_eq!(
                    flows.iter().sum::<u64>() + pinned,
                    s["flows_total"].as_u64().unwrap_or(0)
                );
            }
            if algo == "single" {
                assert!(
                    per.iter().skip(1).all(|p| p["packets"].as_u64() == Some(0)),
                    "{name}: single"
                );
            }
            runs.push(Run {
                algo,
                mode,
                sensors: n,
                first_file: files.len(),
                packets_out: packets_in + copies,
            });
            for (i, p) in per.iter().enumerate() {
                let file = out.join(format!("sensor-{i}.pcap"));
                assert!(file.exists(), "{} missing", file.display());
                if tools {
                    let (count, clean) = tcpdump_count(&file);
                    assert!(clean, "tcpdump cannot read {} cleanly", file.display());
                    assert_eq!(
                        Some(count),
                        p["packets"].as_u64(),
                        "{}: tcpdump count vs summary",
                        file.display()
                    );
                }
                files.push(file);
            }
        }
    }
    if !tools {
        return;
    }
    let rows = tshark_flows(&files, tmp.path());
    let in_tshark = rows.len() as u64;
    assert!(
        in_tshark > 0 || expected == Some(0),
        "{name}: tshark read nothing"
    );
    for run in &runs {
        let range = run.first_file..run.first_file + run.sensors;
        let mine: Vec<_> = rows
            .iter()
            .filter(|(i, _)| range.contains(i))
            .cloned()
            .collect();
        assert_eq!(
            mine.len() as u64,
            run.packets_out,
            "{name}: tshark reads a different count in {} outputs",
            run.algo
        );
        let by_flow = flow_files(&mine);
        for (flow, where_) in &by_flow {
            assert_eq!(
                where_.len(),
                1,
                "{name}: {} {:?} with {} sensors split flow {flow:?} over outputs {where_:?}",
                run.algo,
                run.mode,
                run.sensors
            );
        }
        if run.mode == Some("ip-pair") {
            let mut pairs: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
            for (i, f) in mine.iter().filter_map(|(i, f)| f.as_ref().map(|f| (*i, f))) {
                let (x, y) = (f.a.0.clone(), f.b.0.clone());
                let v = pairs
                    .entry(if x <= y { (x, y) } else { (y, x) })
                    .or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
            for (pair, where_) in pairs {
                assert_eq!(
                    where_.len(),
                    1,
                    "{name}: ip-pair hash split {pair:?} over {where_:?}"
                );
            }
        }
    }
}

#[test]
fn ddos_captures() {
    check_dir("ddos");
}

#[test]
fn scan_captures() {
    check_dir("scan");
}

#[test]
fn background_captures() {
    check_dir("background");
}

#[test]
fn ipv6_captures() {
    check_dir("ipv6");
}

#[test]
fn vlan_captures() {
    check_dir("vlan");
}

#[test]
fn fragment_captures() {
    check_dir("fragments");
}
