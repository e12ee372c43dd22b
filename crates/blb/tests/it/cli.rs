//! The command line as a script sees it: exit statuses, error sentences, standard input,
//! the configuration file, the generator.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::*;

#[test]
fn bad_settings_exit_2_with_one_sentence() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = pcaps.join("vlan/dot1ad.pcap");
    let dir = tmp.path().to_str().expect("utf-8");
    for (args, needle) in [
        (vec!["--sensors", "0", "--algorithm", "hash"], "--sensors"),
        (vec!["--sensors", "65", "--algorithm", "hash"], "--sensors"),
        (
            vec!["--sensors", "2", "--algorithm", "telepathy"],
            "telepathy",
        ),
        (
            vec![
                "--sensors",
                "2",
                "--algorithm",
                "hash",
                "--hash-mode",
                "sideways",
            ],
            "--hash-mode",
        ),
        (
            vec!["--sensors", "2", "--algorithm", "hash", "--hash-key", "xyz"],
            "--hash-key",
        ),
        (
            vec!["--sensors", "2", "--algorithm", "hash", "--capacity", "0"],
            "--capacity",
        ),
        (vec!["--sensors", "two", "--algorithm", "hash"], "two"),
    ] {
        let mut all = vec![
            "balance",
            "-r",
            input.to_str().expect("utf-8"),
            "--write-dir",
            dir,
        ];
        all.extend(args);
        let o = blb(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(needle), "{all:?}: {err}");
    }
}

#[test]
fn missing_input_is_a_runtime_error_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = blb(&[
        "balance",
        "-r",
        "/nonexistent/x.pcap",
        "-n",
        "2",
        "-a",
        "hash",
        "-w",
        tmp.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/x.pcap"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn reads_standard_input_and_prints_json_summary_to_stdout() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = std::fs::read(pcaps.join("vlan/ultrasurf.pcap")).expect("capture");
    let mut child = Command::new(env!("CARGO_BIN_EXE_blb"))
        .args([
            "balance",
            "-r",
            "-",
            "-n",
            "3",
            "-a",
            "round-robin",
            "--summary",
            "-",
            "-w",
        ])
        .arg(tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&data)
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(s["packets_in"].as_u64(), Some(333));
    assert_eq!(s["input"], "-");
    for key in [
        "bytes_in",
        "flows_total",
        "flow_table_evictions",
        "non_ip",
        "unparsable",
        "drops",
        "load",
    ] {
        assert!(!s[key].is_null(), "summary lacks {key}");
    }
    for key in ["variance_mean", "variance_max", "max_load"] {
        assert!(s["load"][key].is_number(), "summary lacks load.{key}");
    }
}

#[test]
fn config_file_sets_everything_and_flags_override() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = pcaps.join("scan/synscan.pcap");
    let out = tmp.path().join("out");
    let cfg = tmp.path().join("blb.toml");
    std::fs::write(
        &cfg,
        format!(
            "[balance]\nread = {:?}\nsensors = 5\nalgorithm = \"single\"\nwrite_dir = {:?}\nsummary = {:?}\n[flow]\ncap = 100\n",
            input.to_str().expect("utf-8"),
            out.to_str().expect("utf-8"),
            tmp.path().join("s.json").to_str().expect("utf-8"),
        ),
    )
    .expect("write config");
    let o = blb(&[
        "balance",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--algorithm",
        "round-robin",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_summary(&tmp.path().join("s.json"));
    assert_eq!(s["sensors"].as_u64(), Some(5));
    assert_eq!(s["algorithm"], "round-robin", "the flag overrides the file");
    assert!(
        s["flow_table_evictions"].as_u64().unwrap_or(0) > 0,
        "cap 100 with ~2000 flows evicts"
    );
    assert!(out.join("sensor-4.pcap").exists());

    std::fs::write(&cfg, "[balance]\nsensorz = 5\n").expect("write config");
    let o = blb(&["balance", "--config", cfg.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("blb.toml") && err.contains("sensorz"), "{err}");
}

#[test]
fn generated_scenario_balances_end_to_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("flood.pcap");
    let o = blb(&[
        "generate",
        "udp-flood",
        "--write",
        file.to_str().expect("utf-8"),
        "--duration",
        "5",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = tmp.path().join("again.pcap");
    assert!(
        blb(&[
            "generate",
            "udp-flood",
            "--write",
            again.to_str().expect("utf-8"),
            "--duration",
            "5",
            "--seed",
            "7"
        ])
        .status
        .success()
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        std::fs::read(&again).expect("read"),
        "same seed, same file"
    );
    let s = balance(
        &file,
        &tmp.path().join("out"),
        &["-n", "10", "-a", "hash", "--no-progress"],
    );
    assert!(s["packets_in"].as_u64().unwrap_or(0) > 1000);
    if tool("tcpdump") {
        assert_eq!(Some(tcpdump_count(&file).0), s["packets_in"].as_u64());
    }
    let o = blb(&[
        "generate",
        "udp-flood",
        "--write",
        file.to_str().expect("utf-8"),
        "--packet-size",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--packet-size"));
}
