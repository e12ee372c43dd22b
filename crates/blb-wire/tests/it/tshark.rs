//! Cross-check against tshark (skipped, or failed in CI, when it is not installed): per frame, the outermost IP
//! addresses and the TCP/UDP ports must match what tshark dissects.

use std::path::Path;
use std::process::Command;

use blb_core::packet::{Addr, PacketClass, proto};
use blb_wire::parse;

use crate::capture;

/// What tshark says about one frame.
struct Dissected {
    protocols: String,
    ip: Option<(String, String)>,
    ipv6: Option<(String, String)>,
    tcp: Option<(u16, u16)>,
    udp: Option<(u16, u16)>,
}

fn first(s: &str) -> Option<&str> {
    s.split(',').next().filter(|v| !v.is_empty())
}

fn pair(a: &str, b: &str) -> Option<(String, String)> {
    Some((first(a)?.to_owned(), first(b)?.to_owned()))
}

fn ports(a: &str, b: &str) -> Option<(u16, u16)> {
    Some((first(a)?.parse().ok()?, first(b)?.parse().ok()?))
}

fn dissect(path: &std::path::Path) -> Vec<Dissected> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
        ])
        .args([
            "-e",
            "frame.protocols",
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
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
        ])
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            let g = |i: usize| c.get(i).copied().unwrap_or("");
            Dissected {
                protocols: g(0).to_owned(),
                ip: pair(g(1), g(2)),
                ipv6: pair(g(3), g(4)),
                tcp: ports(g(5), g(6)),
                udp: ports(g(7), g(8)),
            }
        })
        .collect()
}

/// Compare one file; returns the mismatches as text and counts the frames whose addresses
/// (and ports) were compared.
fn compare(dir: &Path, rel: &str, checked: &mut (usize, usize)) -> Vec<String> {
    let path = dir.join(rel);
    let frames = capture::read(&path);
    let dissected = dissect(&path);
    if frames.len() != dissected.len() {
        // A corrupt capture file that tshark salvages differently: the reader's business.
        eprintln!(
            "{rel}: {} frames read, tshark {}: skipped",
            frames.len(),
            dissected.len()
        );
        return Vec::new();
    }
    let mut bad = Vec::new();
    for (f, t) in frames.iter().zip(&dissected) {
        let m = parse(f.link_type, f.ts_nanos, f.wire_len, &f.data);
        let show = |a: &Addr| a.to_string();
        let mut why = Vec::new();
        // The outermost network layer tshark found.
        let outer = t.protocols.split(':').find(|p| *p == "ip" || *p == "ipv6");
        let want = match outer {
            Some("ip") => t.ip.clone(),
            Some(_) => t.ipv6.clone(),
            None => None,
        };
        match &want {
            Some((s, d)) => {
                checked.0 += 1;
                if m.class != PacketClass::Ip
                    || (show(&m.src), show(&m.dst)) != (s.clone(), d.clone())
                {
                    why.push(format!(
                        "addr: tshark {s} > {d}, blb {:?} {} > {}",
                        m.class, m.src, m.dst
                    ));
                }
            }
            None if m.class == PacketClass::Ip => {
                why.push(format!("tshark found no IP, blb {} > {}", m.src, m.dst))
            }
            None => {}
        }
        // Ports of the transport header right after the outer IP layer.
        let tports = match m.protocol {
            proto::TCP => t.tcp,
            proto::UDP => t.udp,
            _ => None,
        };
        if m.class == PacketClass::Ip && matches!(m.protocol, proto::TCP | proto::UDP) {
            checked.1 += 1;
            let ours = m.has_ports.then_some((m.src_port, m.dst_port));
            if ours != tports {
                why.push(format!("ports: tshark {tports:?}, blb {ours:?}"));
            }
        }
        if !why.is_empty() {
            bad.push(format!(
                "{rel}#{} [{}]: {}",
                f.number,
                t.protocols,
                why.join("; ")
            ));
        }
    }
    bad
}

#[test]
fn matches_tshark() {
    let Some(dir) = capture::pcap_dir() else {
        return;
    };
    if !crate::skip::tool("tshark") {
        return;
    }
    let mut bad = Vec::new();
    let mut frames = 0;
    let mut checked = (0, 0);
    for path in capture::all_captures(&dir) {
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.contains("pcap-invalid-version") {
            continue;
        }
        frames += capture::read(&path).len();
        bad.extend(compare(&dir, &rel, &mut checked));
    }
    for b in &bad {
        eprintln!("{b}");
    }
    eprintln!(
        "{frames} frames, {} with IP and {} with TCP/UDP compared, {} differ",
        checked.0,
        checked.1,
        bad.len()
    );
    assert!(
        checked.0 > 60_000 && checked.1 > 50_000,
        "too little compared: {checked:?}"
    );
    assert!(bad.is_empty());
}
