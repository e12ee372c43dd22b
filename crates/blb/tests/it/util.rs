//! Helpers of the integration tests: paths, running blb, and reading captures with tcpdump and
//! tshark.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use crate::skip::{pcaps, tool};

/// Every capture file under a subdirectory of the shared captures `pcaps`, sorted.
pub fn captures(pcaps: &Path, dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pcaps.join(dir))
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", pcaps.join(dir).display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// Run blb with arguments.
pub fn blb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blb"))
        .args(args)
        .output()
        .expect("blb runs")
}

/// Run `blb balance` on `input` and return the parsed JSON summary; panics with blb's stderr
/// when it fails.
pub fn balance(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    // The summary goes inside the output directory, which blb would make only after it has
    // checked that the summary can be written.
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let summary = out.join("summary.json");
    let mut args = vec![
        "balance",
        "--read",
        input.to_str().expect("utf-8 path"),
        "--write-dir",
        out.to_str().expect("utf-8 path"),
        "--summary",
        summary.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let o = blb(&args);
    assert!(
        o.status.success(),
        "blb {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    read_summary(&summary)
}

/// Parse a JSON summary file.
pub fn read_summary(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("summary is JSON")
}

/// The row of `algorithm` in an experiment's `report.json`.
pub fn algorithm_result(report: &serde_json::Value, algorithm: &str) -> serde_json::Value {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|x| x["algorithm"] == algorithm)
        .cloned()
        .expect(algorithm)
}

/// Packets tcpdump reads from a file, and whether it read the file without complaint.
pub fn tcpdump_count(file: &Path) -> (u64, bool) {
    // `-#` numbers each packet's first line; hex dumps of odd frames add unnumbered lines.
    let o = Command::new("tcpdump")
        .args(["-#", "-nn", "-q", "-r"])
        .arg(file)
        .output()
        .expect("tcpdump runs");
    let n = o
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| {
            let t = l.iter().skip_while(|b| **b == b' ').collect::<Vec<_>>();
            let digits = t.iter().take_while(|b| b.is_ascii_digit()).count();
            digits > 0 && t.get(digits) == Some(&&b' ')
        })
        .count() as u64;
    (n, o.status.success())
}

/// One packet as tshark sees it: the flow identity that must not be split.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TsharkFlow {
    /// Protocol number.
    pub proto: String,
    /// Lower endpoint (address, port).
    pub a: (String, String),
    /// Higher endpoint.
    pub b: (String, String),
}

fn first(field: &str) -> String {
    field.split(',').next().unwrap_or("").to_string()
}

/// Merge `files` into `scratch/merged.pcapng` with `mergecap -a -I none`, so that a frame's
/// interface id is the index of its file (its sensor); returns the merged file.
pub fn merge_outputs(files: &[PathBuf], scratch: &Path) -> PathBuf {
    let merged = scratch.join("merged.pcapng");
    let o = Command::new("mergecap")
        .args(["-a", "-I", "none", "-F", "pcapng", "-w"])
        .arg(&merged)
        .args(files)
        .output()
        .expect("mergecap runs");
    assert!(
        o.status.success(),
        "mergecap failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    merged
}

/// Merge outputs with `mergecap -a -I none` (interface id = file index) and let tshark list,
/// per packet, the file index and its bidirectional 5-tuple (None for non-IP frames and IP
/// fragments, which carry no ports). Also checks that tshark reads the files cleanly.
pub fn tshark_flows(files: &[PathBuf], scratch: &Path) -> Vec<(usize, Option<TsharkFlow>)> {
    let merged = merge_outputs(files, scratch);
    let o = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-r",
        ])
        .arg(&merged)
        .args(["-T", "fields", "-E", "separator=|"])
        .args([
            "-e",
            "frame.interface_id",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
        ])
        .args([
            "-e",
            "ip.proto",
            "-e",
            "ipv6.nxt",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
        ])
        .args([
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "ip.flags.mf",
            "-e",
            "ip.frag_offset",
        ])
        .args(["-e", "ipv6.fraghdr.offset", "-e", "ipv6.fraghdr.more"])
        .output()
        .expect("tshark runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "tshark failed: {err}");
    assert!(
        !err.contains("appears to have been cut short") && !err.contains("isn't a capture file"),
        "tshark: {err}"
    );
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines()
        .map(|line| {
            let f: Vec<String> = line.split('|').map(first).collect();
            let get = |i: usize| f.get(i).cloned().unwrap_or_default();
            let iface: usize = get(0).parse().expect("interface id");
            let (src, dst) = if !get(1).is_empty() {
                (get(1), get(2))
            } else {
                (get(3), get(4))
            };
            let proto = if !get(5).is_empty() { get(5) } else { get(6) };
            let fragment = get(11) == "1"
                || get(11) == "True"
                || get(12).parse::<u32>().is_ok_and(|o| o > 0)
                || !get(13).is_empty();
            if src.is_empty() || fragment {
                return (iface, None);
            }
            let (sp, dp) = match proto.as_str() {
                "6" => (get(7), get(8)),
                "17" => (get(9), get(10)),
                _ => (String::new(), String::new()),
            };
            let (x, y) = ((src, sp), (dst, dp));
            let (a, b) = if x <= y { (x, y) } else { (y, x) };
            (iface, Some(TsharkFlow { proto, a, b }))
        })
        .collect()
}

/// Group tshark's flows by the set of files they appear in.
pub fn flow_files(rows: &[(usize, Option<TsharkFlow>)]) -> BTreeMap<TsharkFlow, Vec<usize>> {
    let mut m: BTreeMap<TsharkFlow, Vec<usize>> = BTreeMap::new();
    for (i, f) in rows {
        if let Some(f) = f {
            let v = m.entry(f.clone()).or_default();
            if !v.contains(i) {
                v.push(*i);
            }
        }
    }
    m
}

/// A key for `--hash-key` in tests.
pub const KEY: &str = "0123456789abcdef0123456789abcdef";
