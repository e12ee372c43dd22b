//! Cross-check against tshark (skipped, or failed in CI, when it is not installed), per frame
//! of every shared capture:
//!
//! * with `Tunnels::Outer`, the outermost IP addresses and the TCP/UDP ports after them must
//!   match tshark's first layers;
//! * with `Tunnels::Inner` (the default), the innermost flow's addresses (IP, or the MACs of a
//!   tunnelled frame without IP) and ports must match tshark's innermost layers
//!   (`tshark_layers.rs` picks them from `frame.protocols`).

use std::path::Path;
use std::process::Command;

use blb_core::packet::{Addr, PacketClass, PacketMeta, proto};
use blb_wire::{Tunnels, parse_with};

use crate::capture;
use crate::tshark_layers::{FlowLayer, innermost};

/// tshark fields, in order; each value lists every layer's occurrence, outermost first.
const FIELDS: [&str; 11] = [
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "eth.src",
    "eth.dst",
];

/// What tshark says about one frame: per field, the values of every layer.
struct Dissected(Vec<Vec<String>>);

impl Dissected {
    fn protocols(&self) -> &str {
        self.0[0].first().map_or("", |s| s.as_str())
    }

    /// Field `f`'s value in layer `i` (0: outermost).
    fn get(&self, f: usize, i: usize) -> Option<&str> {
        self.0
            .get(f)
            .and_then(|v| v.get(i))
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn pair(&self, f: usize, i: usize) -> Option<(String, String)> {
        Some((self.get(f, i)?.to_owned(), self.get(f + 1, i)?.to_owned()))
    }

    fn ports(&self, f: usize, i: usize) -> Option<(u16, u16)> {
        Some((
            self.get(f, i)?.parse().ok()?,
            self.get(f + 1, i)?.parse().ok()?,
        ))
    }
}

/// tshark's options for a capture: Teredo.pcap's relay uses UDP port 32900, which tshark
/// decodes as Teredo only when told (SOURCES.md).
pub fn decode_as(path: &Path) -> Vec<&'static str> {
    if path.file_name().is_some_and(|n| n == "Teredo.pcap") {
        vec!["-d", "udp.port==32900,teredo"]
    } else {
        Vec::new()
    }
}

fn dissect(path: &Path) -> Vec<Dissected> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args([
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    cmd.args(decode_as(path));
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            Dissected(
                line.split('\t')
                    .map(|c| c.split(',').map(str::to_owned).collect())
                    .collect(),
            )
        })
        .collect()
}

const IP_SRC: usize = 1;
const IPV6_SRC: usize = 3;
const TCP_SRC: usize = 5;
const UDP_SRC: usize = 7;
const ETH_SRC: usize = 9;

/// Outer mode: the first IP layer's addresses, the ports of the transport header after it.
fn compare_outer(
    m: &PacketMeta,
    t: &Dissected,
    checked: &mut (usize, usize),
    why: &mut Vec<String>,
) {
    let show = |a: &Addr| a.to_string();
    let outer = t
        .protocols()
        .split(':')
        .find(|p| *p == "ip" || *p == "ipv6");
    let want = match outer {
        Some("ip") => t.pair(IP_SRC, 0),
        Some(_) => t.pair(IPV6_SRC, 0),
        None => None,
    };
    match &want {
        Some((s, d)) => {
            checked.0 += 1;
            if m.class != PacketClass::Ip || (show(&m.src), show(&m.dst)) != (s.clone(), d.clone())
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
    let tports = match m.protocol {
        proto::TCP => t.ports(TCP_SRC, 0),
        proto::UDP => t.ports(UDP_SRC, 0),
        _ => None,
    };
    if m.class == PacketClass::Ip && matches!(m.protocol, proto::TCP | proto::UDP) {
        checked.1 += 1;
        let ours = m.has_ports.then_some((m.src_port, m.dst_port));
        if ours != tports {
            why.push(format!("ports: tshark {tports:?}, blb {ours:?}"));
        }
    }
}

/// Inner mode: the innermost flow layer's addresses and the ports right after it.
fn compare_inner(
    m: &PacketMeta,
    t: &Dissected,
    checked: &mut (usize, usize),
    why: &mut Vec<String>,
) {
    let inner = innermost(t.protocols());
    // tshark's `ip` layer hands a header of version 6 to its `ipv6` layer (a fuzzed frame in
    // malformed/): no tunnel, and no IPv4 addresses. blb calls that header unparsable.
    let ip_layers = t.protocols().split(':').filter(|p| *p == "ip").count();
    let ip_srcs = t.0[IP_SRC].iter().filter(|s| !s.is_empty()).count();
    if ip_srcs < ip_layers {
        eprintln!(
            "skipped (an `ip` layer without addresses): [{}]",
            t.protocols()
        );
        return;
    }
    let (want, ip) = match inner.layer {
        Some(FlowLayer::Ipv4(i)) => (t.pair(IP_SRC, i), true),
        Some(FlowLayer::Ipv6(i)) => (t.pair(IPV6_SRC, i), true),
        Some(FlowLayer::Eth(i)) if i > 0 => (t.pair(ETH_SRC, i), false),
        _ => (None, false),
    };
    let ours = (m.src.to_string(), m.dst.to_string());
    match want {
        Some(w) => {
            checked.0 += 1;
            let class = if ip {
                PacketClass::Ip
            } else {
                PacketClass::NonIp
            };
            if m.class != class || ours != w {
                why.push(format!(
                    "inner: tshark {} > {} ({:?}), blb {:?} {} > {}",
                    w.0, w.1, inner.layer, m.class, ours.0, ours.1
                ));
            }
        }
        None if m.class == PacketClass::Ip => {
            why.push(format!("tshark found no IP, blb {} > {}", ours.0, ours.1))
        }
        None => {}
    }
    if let Some((name, i)) = inner.ports {
        checked.1 += 1;
        let tports = if name == "tcp" {
            t.ports(TCP_SRC, i)
        } else {
            t.ports(UDP_SRC, i)
        };
        let ours = m.has_ports.then_some((m.src_port, m.dst_port));
        if ours != tports {
            why.push(format!("inner ports: tshark {tports:?}, blb {ours:?}"));
        }
    }
}

/// Compare one file in one mode; returns the mismatches as text and counts the frames whose
/// addresses (and ports) were compared.
fn compare(dir: &Path, rel: &str, tunnels: Tunnels, checked: &mut (usize, usize)) -> Vec<String> {
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
        let m = parse_with(tunnels, f.link_type, f.ts_nanos, f.wire_len, &f.data);
        let mut why = Vec::new();
        match tunnels {
            Tunnels::Outer => compare_outer(&m, t, checked, &mut why),
            Tunnels::Inner => compare_inner(&m, t, checked, &mut why),
        }
        if !why.is_empty() {
            bad.push(format!(
                "{rel}#{} [{}]: {}",
                f.number,
                t.protocols(),
                why.join("; ")
            ));
        }
    }
    bad
}

fn matches_tshark(tunnels: Tunnels) -> Option<(Vec<String>, (usize, usize))> {
    let dir = capture::pcap_dir()?;
    if !crate::skip::tool("tshark") {
        return None;
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
        bad.extend(compare(&dir, &rel, tunnels, &mut checked));
    }
    for b in &bad {
        eprintln!("{b}");
    }
    eprintln!(
        "{tunnels:?}: {frames} frames, {} with addresses and {} with TCP/UDP compared, {} differ",
        checked.0,
        checked.1,
        bad.len()
    );
    assert!(
        checked.0 > 60_000 && checked.1 > 50_000,
        "too little compared: {checked:?}"
    );
    Some((bad, checked))
}

#[test]
fn outer_headers_match_tshark() {
    if let Some((bad, _)) = matches_tshark(Tunnels::Outer) {
        assert!(bad.is_empty());
    }
}

#[test]
fn inner_headers_match_tshark() {
    if let Some((bad, _)) = matches_tshark(Tunnels::Inner) {
        assert!(bad.is_empty());
    }
}
