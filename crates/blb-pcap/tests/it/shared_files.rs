//! Every capture under `shared/pcaps` reads with the packet counts of SOURCES.md (and tcpdump).

use std::path::{Path, PathBuf};
use std::process::Command;

use blb_pcap::{CaptureReader, Format, PcapError, TsPrecision};

use crate::{read_all, shared_dir, shared_file};

/// Expected packet counts from SOURCES.md (checked there with capinfos and tcpdump).
const EXPECTED: &[(&str, usize)] = &[
    ("ddos/pkt.TCP.synflood.spoofed.pcap", 37841),
    ("ddos/amp.TCP.reflection.SYNACK.pcap", 8000),
    ("ddos/amp.dns.RRSIG.fragmented.pcap", 4412),
    ("ddos/amp.UDP.isakmp.pcap", 3984),
    ("ddos/amp.UDP.snmp.src161.pcapng", 4373),
    ("scan/tcp_0_1000_20190821.pcap", 1005),
    ("scan/udp_0_1000_20190821.pcap", 1001),
    ("scan/nmap_80_all.pcap", 431),
    ("scan/synscan.pcap", 2011),
    ("scan/nmap-vsn.pcap", 547),
    ("background/alexa-app.pcapng", 3103),
    ("background/netflix.pcap", 1793),
    ("background/wikipedia.pcap", 136),
    ("background/test.pcap", 179),
    ("ipv6/reddit.pcap", 1942),
    ("ipv6/http_ipv6.pcap", 193),
    ("ipv6/v6.pcap", 161),
    ("vlan/icmp_dot1q.pcap", 15),
    ("vlan/ultrasurf.pcap", 333),
    ("vlan/vlan-collisions.pcap", 42),
    ("vlan/twovlan.pcap", 6),
    ("vlan/dot1ad.pcap", 2),
    ("vlan/vlan-qinqinq.pcap", 14),
    ("fragments/dns_fragmented.pcap", 66),
    ("fragments/ip_fragmented_garbage.pcap", 1252),
    ("fragments/fragmented-3.pcap", 5),
    ("fragments/fragmented-syn.pcap", 2),
    ("fragments/ipv6_fragments.pcapng", 22),
    ("malformed/badpackets.pcap", 93),
    ("malformed/fuzz-2006-06-26-2594.pcap", 691),
    ("malformed/ip-bogus-header-len.pcap", 1),
    ("malformed/truncated-header.pcap", 24),
    ("malformed/ipv6_frag6_negative_len.pcap", 1),
    ("malformed/empty.pcap", 0),
    ("malformed/bigendian.pcap", 2),
];

/// Files that must fail, handled in their own tests.
const KNOWN_BAD: &[&str] = &[
    "malformed/fuzz-2021-10-13.pcap",
    "malformed/pcap-invalid-version-1.pcap",
];

fn all_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn rel(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_file_reads_with_expected_counts() {
    let Some(dir) = shared_dir() else { return };
    let files = all_files(&dir);
    assert!(
        files.len() >= 37,
        "only {} capture files found",
        files.len()
    );
    for path in files {
        let name = rel(&dir, &path);
        if KNOWN_BAD.contains(&name.as_str()) {
            continue;
        }
        // Read through a plain File, as the binary does.
        let got = read_all(std::fs::File::open(&path).unwrap());
        assert!(got.error.is_none(), "{name}: {}", got.error.unwrap());
        if let Some((_, want)) = EXPECTED.iter().find(|(n, _)| *n == name) {
            assert_eq!(got.packets.len(), *want, "{name}");
        }
        for (i, p) in got.packets.iter().enumerate() {
            assert_eq!(p.number, i as u64 + 1, "{name}");
        }
        // Every byte of the file was consumed.
        assert_eq!(got.consumed, path.metadata().unwrap().len(), "{name}");
    }
    for (name, _) in EXPECTED {
        assert!(dir.join(name).is_file(), "{name} is missing");
    }
}

#[test]
fn fuzz_2021_gives_one_packet_then_error_naming_packet_2() {
    let Some(dir) = shared_dir() else { return };
    let data = shared_file(&dir, "malformed/fuzz-2021-10-13.pcap");
    let mut r = CaptureReader::new(&data[..]).unwrap();
    assert_eq!(r.precision(), TsPrecision::Nano);
    assert_eq!(r.link_type(), Some(0));
    assert_eq!(r.snaplen(), 262_144);
    let p = r.next_packet().unwrap().unwrap();
    // Version 2.0: the lengths are stored wire-length first (as libpcap reads them).
    assert_eq!((p.number, p.cap_len, p.wire_len), (1, 197, 524_501));
    let e = r.next_packet().unwrap_err();
    assert!(
        matches!(
            e,
            PcapError::Truncated { packet: 2, .. } | PcapError::ImpossibleLength { packet: 2, .. }
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("packet 2: "), "{e}");
}

#[test]
fn invalid_version_is_rejected() {
    let Some(dir) = shared_dir() else { return };
    let data = shared_file(&dir, "malformed/pcap-invalid-version-1.pcap");
    let e = CaptureReader::new(&data[..]).unwrap_err();
    assert!(
        matches!(e, PcapError::UnsupportedVersion { major: 1, minor: 4 }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "unsupported pcap version 1.4 (only 2.x is supported)"
    );
}

#[test]
fn header_properties() {
    let Some(dir) = shared_dir() else { return };
    let data = shared_file(&dir, "malformed/bigendian.pcap");
    let r = CaptureReader::new(&data[..]).unwrap();
    assert_eq!((r.format(), r.link_type()), (Format::Pcap, Some(1)));
    assert_eq!(r.precision(), TsPrecision::Micro);

    // Despite its name (and SOURCES.md), this one is a classic pcap file.
    let data = shared_file(&dir, "ddos/amp.UDP.snmp.src161.pcapng");
    let r = CaptureReader::new(&data[..]).unwrap();
    assert_eq!(r.format(), Format::Pcap);

    for name in [
        "background/alexa-app.pcapng",
        "fragments/ipv6_fragments.pcapng",
    ] {
        let data = shared_file(&dir, name);
        let mut r = CaptureReader::new(&data[..]).unwrap();
        assert_eq!(r.format(), Format::PcapNg);
        while r.next_packet().unwrap().is_some() {}
        assert_eq!(r.link_types(), vec![1], "{name}");
        assert_eq!(r.precision(), TsPrecision::Micro, "{name}");
        assert_eq!(r.bytes_consumed(), data.len() as u64, "{name}");
    }
    let data = shared_file(&dir, "ddos/amp.UDP.snmp.src161.pcapng");
    let mut r = CaptureReader::new(&data[..]).unwrap();
    while r.next_packet().unwrap().is_some() {}
    assert_eq!(r.link_types(), vec![1]);
    assert_eq!(r.bytes_consumed(), data.len() as u64);

    let data = shared_file(&dir, "malformed/truncated-header.pcap");
    let r = CaptureReader::new(&data[..]).unwrap();
    assert_eq!(r.snaplen(), 68);
}

/// tcpdump's view of a file: one timestamp per packet, in nanoseconds.
fn tcpdump_timestamps(path: &Path) -> Vec<u64> {
    let out = Command::new("tcpdump")
        .args(["-r"])
        .arg(path)
        .args(["-nn", "-q", "-tt", "--time-stamp-precision=nano"])
        .output()
        .expect("tcpdump runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ts = Vec::new();
    for line in text.lines() {
        let Some(first) = line.split(' ').next() else {
            continue;
        };
        let Some((s, f)) = first.split_once('.') else {
            continue;
        };
        if s.is_empty() || f.len() != 9 || !s.bytes().chain(f.bytes()).all(|b| b.is_ascii_digit()) {
            continue;
        }
        ts.push(
            s.parse::<u64>().expect("seconds") * 1_000_000_000
                + f.parse::<u64>().expect("nanoseconds"),
        );
    }
    ts
}

#[test]
fn counts_and_timestamps_match_tcpdump() {
    let Some(dir) = shared_dir() else { return };
    if !crate::skip::tool("tcpdump") {
        return;
    }
    for path in all_files(&dir) {
        let name = rel(&dir, &path);
        if name.ends_with("pcap-invalid-version-1.pcap") {
            continue;
        }
        let theirs = tcpdump_timestamps(&path);
        let ours: Vec<u64> = read_all(std::fs::File::open(&path).unwrap())
            .packets
            .iter()
            .map(|p| p.ts_nanos)
            .collect();
        if name.ends_with("fuzz-2021-10-13.pcap") {
            // tcpdump prints "[Invalid header: ...]" instead of a line with its timestamp.
            assert_eq!(ours.len(), 1, "{name}");
            continue;
        }
        assert_eq!(ours, theirs, "{name}");
    }
}
