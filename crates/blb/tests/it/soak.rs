//! Hardening (issue 12): memory bounded by the caps under a long flood, and fragments kept
//! whole.
//!
//! * `flood_memory_is_bounded_by_the_caps`: 300 s of a SYN flood (a fresh source per SYN)
//!   streamed into `blb balance -r -`. The balancer's resident memory is read at fixed points
//!   of *capture* time (the test feeds standard input itself and reads /proc/PID/status once
//!   it has handed over everything before the point), so the figures do not depend on the
//!   machine's speed. It must stay under a ceiling derived from the caps and must not grow
//!   with the capture: before the fix, the flow table's timer wheel kept every one-second
//!   slot's buffer at the size of its busiest second, about 16 bytes per new flow for the
//!   first 1 024 s of a capture (here about 100 MB more at 300 s than at 100 s).
//! * `fragments_*`: every shared capture, every algorithm, 4 and 10 sensors: no datagram's
//!   fragments on two sensors and no first fragment copied, read by tshark from the outputs
//!   (and the summary's `flow_conflicts` is 0); the DNS RRSIG amplification capture, whose
//!   later fragments often arrive before their first, checked on tshark's ip.id, ip.src,
//!   ip.dst, ip.frag_offset and ip.flags.mf.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::*;

const MIB: u64 = 1 << 20;

/// The flood: new flows per second, seconds, the flow table's cap, sensors.
const RATE: u64 = 30_000;
const SECONDS: u64 = 300;
const FLOW_CAP: u64 = 20_000;
const SENSORS: u64 = 4;

/// The ceiling on the balancer's resident memory for these caps (docs/memory.md): the
/// program itself (code, libraries, allocator; about 6 MiB in release, 10 in debug, given 32),
/// the flow table at its cap (entries of 128 + 4 bytes up to the next power of two, the hash
/// index at most 16/7 buckets of 49 bytes per flow), the writer's batches ((sensors + 33) ×
/// 1 MiB), the load samples (2 × 3 600 × 32 bytes) and the destination spread (one victim).
fn ceiling() -> u64 {
    let program = 32 * MIB;
    let flows =
        FLOW_CAP.next_power_of_two() * (128 + 4) + (FLOW_CAP * 16 / 7 + 1).next_power_of_two() * 49;
    let writer = (SENSORS + 33) * MIB;
    let samples = 2 * 3600 * 32;
    program + flows + writer + samples
}

/// Growth tolerated between 100 s and 300 s of capture: the writer's batches filling up
/// (they may, on a busy machine, at any time) and a little for the allocator.
fn tolerated_growth() -> u64 {
    (SENSORS + 33) * MIB + 8 * MIB
}

/// A field of /proc/PID/status in bytes (VmRSS, VmHWM).
fn status_bytes(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    kb * 1024
}

#[test]
fn flood_memory_is_bounded_by_the_caps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("output dir");
    // The sensors' outputs go to /dev/null: 9 million packets need not be kept.
    for i in 0..SENSORS {
        std::os::unix::fs::symlink("/dev/null", out.join(format!("sensor-{i}.pcap")))
            .expect("symlink");
    }
    let summary = out.join("summary.json");
    let (rate, secs, cap, n) = (
        RATE.to_string(),
        SECONDS.to_string(),
        FLOW_CAP.to_string(),
        SENSORS.to_string(),
    );
    let mut generate = Command::new(env!("CARGO_BIN_EXE_blb"))
        .args([
            "generate",
            "syn-flood",
            "--syn-rate",
            &rate,
            "--duration",
            &secs,
        ])
        .args(["--training", "0", "--background-rate", "0", "--seed", "7"])
        .args(["--write", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("blb generate runs");
    let mut balance = Command::new(env!("CARGO_BIN_EXE_blb"))
        .args(["balance", "-r", "-", "--sensors", &n, "--algorithm", "hash"])
        .args(["--hash-key", KEY, "--flow-cap", &cap, "--no-progress"])
        .arg("--write-dir")
        .arg(&out)
        .arg("--summary")
        .arg(&summary)
        .stdin(Stdio::piped())
        .spawn()
        .expect("blb balance runs");
    let pid = balance.id();
    let mut from = generate.stdout.take().expect("stdout");
    let mut to = balance.stdin.take().expect("stdin");

    // Copy the capture in large chunks, reading the balancer's memory every 25 s of capture
    // time once every record before that point is in its hands.
    let mut buf = vec![0u8; 24];
    from.read_exact(&mut buf).expect("pcap header");
    let magic = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
    assert!(
        [0xa1b2_c3d4, 0xa1b2_3c4d].contains(&magic),
        "little-endian pcap"
    );
    to.write_all(&buf).expect("write header");
    buf.clear();
    let mut chunk = vec![0u8; 1 << 16];
    let (mut start, mut next, mut packets) = (None, 25u64, 0u64);
    let mut rss: BTreeMap<u64, u64> = BTreeMap::new();
    loop {
        let got = from.read(&mut chunk).expect("read the capture");
        if got == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..got]);
        let (mut pos, mut sent) = (0, 0);
        while let Some(rec) = buf.get(pos..pos + 16) {
            let sec = u64::from(u32::from_le_bytes(rec[..4].try_into().expect("4 bytes")));
            let len = u32::from_le_bytes(rec[8..12].try_into().expect("4 bytes")) as usize;
            if pos + 16 + len > buf.len() {
                break;
            }
            if sec - *start.get_or_insert(sec) >= next {
                to.write_all(&buf[sent..pos]).expect("write the capture");
                sent = pos;
                rss.insert(next, status_bytes(pid, "VmRSS"));
                next += 25;
            }
            pos += 16 + len;
            packets += 1;
        }
        to.write_all(&buf[sent..pos]).expect("write the capture");
        buf.drain(..pos);
    }
    rss.insert(SECONDS, status_bytes(pid, "VmRSS"));
    let peak = status_bytes(pid, "VmHWM");
    drop(to);
    assert!(generate.wait().expect("generate ends").success());
    assert!(balance.wait().expect("balance ends").success());

    let s = read_summary(&summary);
    assert_eq!(s["packets_in"].as_u64(), Some(packets));
    assert_eq!(s["drops_total"].as_u64(), Some(0));
    assert!(s["flow_table"]["peak"].as_u64() <= Some(FLOW_CAP));
    assert!(packets > RATE * SECONDS * 99 / 100, "{packets} packets");
    let mib = |b: u64| b as f64 / MIB as f64;
    let shown: Vec<String> = rss
        .iter()
        .map(|(t, b)| format!("{t} s: {:.1}", mib(*b)))
        .collect();
    eprintln!(
        "balance RSS (MiB) by capture time: {}; peak {:.1}; ceiling {:.1}",
        shown.join(", "),
        mib(peak),
        mib(ceiling())
    );
    assert!(
        peak <= ceiling(),
        "peak RSS {:.1} MiB above the ceiling {:.1} MiB: {shown:?}",
        mib(peak),
        mib(ceiling())
    );
    let growth = rss[&SECONDS].saturating_sub(rss[&100]);
    assert!(
        growth <= tolerated_growth(),
        "RSS grew {:.1} MiB from 100 s to {SECONDS} s of capture (at most {:.1}): {shown:?}",
        mib(growth),
        mib(tolerated_growth())
    );
}

const ALGORITHMS: [&str; 4] = ["single", "round-robin", "hash", "blb"];

/// One run's outputs: algorithm, sensors, and the first output's index among all files.
struct Run {
    name: String,
    sensors: usize,
    first_file: usize,
}

/// Run every algorithm on 4 and 10 sensors over `input`; check each summary (no first
/// fragment copied, nothing lost) and return the runs and every output file. `None` when
/// blb cannot read the capture at all (a malformed one: nothing was written to check).
fn run_all(input: &Path, tmp: &Path) -> Option<(Vec<Run>, Vec<PathBuf>)> {
    let name = input.display().to_string();
    let (mut runs, mut files) = (Vec::new(), Vec::new());
    for algo in ALGORITHMS {
        for n in [4usize, 10] {
            let out = tmp.join(format!("{algo}-{n}"));
            std::fs::create_dir_all(&out).expect("output dir");
            let summary = out.join("summary.json");
            let n_s = n.to_string();
            let o = Command::new(env!("CARGO_BIN_EXE_blb"))
                .args(["balance", "--read"])
                .arg(input)
                .arg("--write-dir")
                .arg(&out)
                .arg("--summary")
                .arg(&summary)
                .args(["--sensors", &n_s, "--algorithm", algo, "--hash-key", KEY])
                .arg("--no-progress")
                .output()
                .expect("blb runs");
            let written = std::fs::metadata(&summary).is_ok_and(|m| m.len() > 0);
            if !written {
                let malformed = input.parent().is_some_and(|d| d.ends_with("malformed"));
                assert!(
                    malformed,
                    "{name}: blb {algo} failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                return None;
            }
            let s = read_summary(&summary);
            let get = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in summary"));
            let f = &s["fragments"];
            assert_eq!(
                f["flow_conflicts"].as_u64(),
                Some(0),
                "{name} {algo} {n}: a first fragment was copied: {f}"
            );
            assert_eq!(
                get("packets_out") + get("drops_total"),
                get("packets_in") + get("copies"),
                "{name} {algo} {n}: packets lost"
            );
            runs.push(Run {
                name: format!("{algo} on {n}"),
                sensors: n,
                first_file: files.len(),
            });
            files.extend((0..n).map(|i| out.join(format!("sensor-{i}.pcap"))));
        }
    }
    Some((runs, files))
}

/// One fragment as tshark reads it from the merged outputs.
struct Fragment {
    file: usize,
    time: f64,
    /// Source, destination, protocol, identification.
    datagram: (String, String, String, String),
    offset: u64,
    more: bool,
}

/// tshark's fields of every IP fragment in `files` (merged, file index = interface id).
fn tshark_fragments(files: &[PathBuf], scratch: &Path) -> Vec<Fragment> {
    let merged = merge_outputs(files, scratch);
    let fields = [
        "frame.interface_id",
        "frame.time_epoch",
        "ip.src",
        "ip.dst",
        "ip.proto",
        "ip.id",
        "ip.frag_offset",
        "ip.flags.mf",
        "ipv6.src",
        "ipv6.dst",
        "ipv6.fraghdr.nxt",
        "ipv6.fraghdr.ident",
        "ipv6.fraghdr.offset",
        "ipv6.fraghdr.more",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-n",
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-r",
    ])
    .arg(&merged)
    .args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark runs");
    assert!(
        o.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let yes = |v: &str| v == "1" || v == "True";
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|line| {
            // The outer header's values (tunnels give several).
            let f: Vec<&str> = line
                .split('|')
                .map(|v| v.split(',').next().unwrap_or(""))
                .collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let (datagram, offset, more) = if !get(5).is_empty() && !get(2).is_empty() {
                let key = (get(2), get(3), get(4), get(5));
                (key, get(6).parse().unwrap_or(0), yes(get(7)))
            } else if !get(11).is_empty() {
                let key = (get(8), get(9), get(10), get(11));
                (key, get(12).parse().unwrap_or(0), yes(get(13)))
            } else {
                return None;
            };
            if offset == 0 && !more {
                return None; // not a fragment
            }
            let (a, b, c, d) = datagram;
            Some(Fragment {
                file: get(0).parse().expect("interface id"),
                time: get(1).parse().expect("time"),
                datagram: (a.into(), b.into(), c.into(), d.into()),
                offset,
                more,
            })
        })
        .collect()
}

/// The engine remembers a datagram for 30 s: fragments of one key further apart are
/// another datagram (identifications are reused).
const DATAGRAM_LIFE: f64 = 30.0;

/// No datagram's fragments in two outputs of one run, and no first fragment in two.
fn check_whole(name: &str, runs: &[Run], frags: &[Fragment]) -> usize {
    let mut datagrams = 0;
    for run in runs {
        let range = run.first_file..run.first_file + run.sensors;
        let mut by_key: BTreeMap<&(String, String, String, String), Vec<&Fragment>> =
            BTreeMap::new();
        for f in frags.iter().filter(|f| range.contains(&f.file)) {
            by_key.entry(&f.datagram).or_default().push(f);
        }
        for (key, mut list) in by_key {
            list.sort_by(|a, b| a.time.total_cmp(&b.time));
            let mut start = f64::NEG_INFINITY;
            let (mut files, mut firsts): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
            let check = |files: &mut Vec<usize>, firsts: &mut Vec<usize>| {
                files.dedup();
                assert!(
                    files.len() <= 1,
                    "{name}, {}: datagram {key:?} on sensors {:?}",
                    run.name,
                    files.iter().map(|f| f - run.first_file).collect::<Vec<_>>()
                );
                firsts.sort();
                firsts.dedup();
                assert!(
                    firsts.len() <= 1,
                    "{name}, {}: first fragment of {key:?} copied",
                    run.name
                );
                files.clear();
                firsts.clear();
            };
            for f in list {
                if f.time - start >= DATAGRAM_LIFE {
                    check(&mut files, &mut firsts);
                    start = f.time;
                    datagrams += 1;
                }
                files.push(f.file);
                files.sort();
                if f.offset == 0 && f.more {
                    firsts.push(f.file);
                }
            }
            check(&mut files, &mut firsts);
        }
    }
    datagrams
}

fn check_fragments_in(dirs: &[&str]) {
    let Some(pcaps) = pcaps() else { return };
    if !(tool("tshark") && tool("mergecap")) {
        return;
    }
    for dir in dirs {
        for input in captures(&pcaps, dir) {
            let tmp = tempfile::tempdir().expect("tempdir");
            let Some((runs, files)) = run_all(&input, tmp.path()) else {
                continue;
            };
            let frags = tshark_fragments(&files, tmp.path());
            check_whole(&input.display().to_string(), &runs, &frags);
        }
    }
}

#[test]
fn fragments_whole_in_ddos_captures() {
    check_fragments_in(&["ddos"]);
}

#[test]
fn fragments_whole_in_fragment_captures() {
    check_fragments_in(&["fragments"]);
}

#[test]
fn fragments_whole_in_the_other_captures() {
    check_fragments_in(&["background", "ipv6", "malformed", "scan", "tunnels", "vlan"]);
}

#[test]
fn rrsig_amplification_fragments_stay_whole() {
    // 120 of its 527 fragmented DNS answers show a later fragment before the first; before
    // holding, 79 first fragments were copied to a second sensor with round robin or hash.
    let Some(pcaps) = pcaps() else { return };
    if !(tool("tshark") && tool("mergecap")) {
        return;
    }
    let input = pcaps.join("ddos/amp.dns.RRSIG.fragmented.pcap");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (runs, files) = run_all(&input, tmp.path()).expect("a readable capture");
    for run in &runs {
        let dir = files[run.first_file].parent().expect("output dir");
        let s = read_summary(&dir.join("summary.json"));
        let f = &s["fragments"];
        assert!(f["held"].as_u64() > Some(100), "{}: {f}", run.name);
        assert_eq!(f["hold_overflowed"].as_u64(), Some(0), "{}: {f}", run.name);
        assert_eq!(s["copies"].as_u64(), Some(0), "{}", run.name);
    }
    let frags = tshark_fragments(&files, tmp.path());
    let datagrams = check_whole("amp.dns.RRSIG.fragmented.pcap", &runs, &frags);
    assert_eq!(datagrams, 527 * runs.len(), "tshark's datagrams");
}
