//! Every file under `malformed/`: no panic; a bad file gives one clear error naming the file and
//! the record, with the packets before it written; packets that do not parse are counted and
//! still forwarded.

use std::path::Path;

use crate::util::*;

/// `blb balance` on `file` of the folder `dir`, writing into `tmp`.
fn run(dir: &Path, file: &str, tmp: &Path) -> std::process::Output {
    let input = dir.join(file);
    blb(&[
        "balance",
        "-r",
        input.to_str().expect("utf-8"),
        "--sensors",
        "4",
        "--algorithm",
        "round-robin",
        "--write-dir",
        tmp.to_str().expect("utf-8"),
        "--summary",
        tmp.join("summary.json").to_str().expect("utf-8"),
        "--no-progress",
    ])
}

fn written(tmp: &Path) -> u64 {
    read_summary(&tmp.join("summary.json"))["packets_out"]
        .as_u64()
        .expect("packets_out")
}

#[test]
fn no_file_makes_blb_panic() {
    let Some(pcaps) = pcaps() else { return };
    let dir = pcaps.join("malformed");
    for input in captures(&pcaps, "malformed") {
        let tmp = tempfile::tempdir().expect("tempdir");
        let name = input
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let o = run(&dir, &name, tmp.path());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{name}: exit {:?}: {stderr}",
            o.status.code()
        );
    }
}

#[test]
fn unsupported_version_is_a_clear_error() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = run(
        &pcaps.join("malformed"),
        "pcap-invalid-version-1.pcap",
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("pcap-invalid-version-1.pcap"), "{stderr}");
    assert!(stderr.contains("version 1"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
}

#[test]
fn impossible_record_stops_after_writing_the_packets_before() {
    let Some(pcaps) = pcaps() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = run(&pcaps.join("malformed"), "fuzz-2021-10-13.pcap", tmp.path());
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr.trim().lines().last().unwrap_or("");
    assert!(
        last.contains("fuzz-2021-10-13.pcap") && last.contains("packet 2"),
        "{stderr}"
    );
    assert_eq!(written(tmp.path()), 1);
    let s = read_summary(&tmp.path().join("summary.json"));
    assert!(
        s["input_error"]
            .as_str()
            .is_some_and(|e| e.contains("packet 2"))
    );
    if tool("tcpdump") {
        let total: u64 = (0..4)
            .map(|i| tcpdump_count(&tmp.path().join(format!("sensor-{i}.pcap"))).0)
            .sum();
        assert_eq!(total, 1);
    }
}

#[test]
fn malformed_packets_are_counted_and_forwarded() {
    let Some(pcaps) = pcaps() else { return };
    let dir = pcaps.join("malformed");
    let tcpdump = tool("tcpdump");
    for (file, expected_in) in [
        ("badpackets.pcap", 93u64),
        ("fuzz-2006-06-26-2594.pcap", 691),
        ("ip-bogus-header-len.pcap", 1),
        ("truncated-header.pcap", 24),
        ("ipv6_frag6_negative_len.pcap", 1),
        ("empty.pcap", 0),
        ("bigendian.pcap", 2),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let o = run(&dir, file, tmp.path());
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s = read_summary(&tmp.path().join("summary.json"));
        assert_eq!(s["packets_in"].as_u64(), Some(expected_in), "{file}");
        assert_eq!(s["packets_out"].as_u64(), Some(expected_in), "{file}");
        if tcpdump {
            let total: u64 = (0..4)
                .map(|i| tcpdump_count(&tmp.path().join(format!("sensor-{i}.pcap"))).0)
                .sum();
            assert_eq!(total, expected_in, "{file}");
        }
    }
    // The fuzzed capture has frames that no parser makes sense of: they are counted.
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(
        run(&dir, "fuzz-2006-06-26-2594.pcap", tmp.path())
            .status
            .success()
    );
    let s = read_summary(&tmp.path().join("summary.json"));
    let odd = s["unparsable"].as_u64().unwrap_or(0) + s["non_ip"].as_u64().unwrap_or(0);
    assert!(
        odd > 0,
        "fuzzed frames counted as unparsable or non-IP: {s}"
    );
}
