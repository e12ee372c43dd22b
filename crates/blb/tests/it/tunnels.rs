//! Every capture of `../shared/pcaps/tunnels`, balanced with `hash` and `blb` on 4 and 10
//! sensors, judged by tshark and the pcap reader rather than by blb's own parser:
//!
//! * packets in = packets out (no drop, no copy), and the input's frame count is tcpdump's;
//! * the outputs hold the input's frames byte for byte, each exactly once, in input order;
//! * by default (`--tunnels inner`), each inner flow, both directions, is on exactly one sensor:
//!   tshark's innermost layers (`tshark_layers.rs`) give its addresses, ports and protocol;
//!   the summary counts tunnelled packets per kind as tshark's dissection does;
//! * with `--tunnels outer`, each outer 5-tuple (tshark's first layers) is on one sensor, and
//!   nothing is counted as tunnelled;
//! * either way, all the fragments of an outer datagram are on one sensor.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tshark_layers::{FlowLayer, innermost};
use crate::util::*;

/// Timeouts longer than any capture here (4in4tunnel.pcap spans 34 hours), so that BLB
/// never places a returning flow anew.
const NO_EXPIRY: &str = "[flow.timeouts]\ntcp_new = 10000000\ntcp_established = 10000000\ntcp_closed = 10000000\n\
udp_new = 10000000\nudp_established = 10000000\nicmp_new = 10000000\nicmp_established = 10000000\n\
other_new = 10000000\nother_established = 10000000\n";

/// One frame as the pcap reader gives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Frame {
    ts: u64,
    wire_len: u32,
    link_type: u32,
    data: Vec<u8>,
}

fn read_frames(path: &Path) -> Vec<Frame> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = blb_pcap::CaptureReader::new(std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(p) = r
        .next_packet()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        out.push(Frame {
            ts: p.ts_nanos,
            wire_len: p.wire_len,
            link_type: p.link_type,
            data: p.data.to_vec(),
        });
    }
    out
}

/// Each input frame is in exactly one output, byte for byte, and each output keeps the
/// input's order.
fn check_frames(name: &str, input: &[Frame], outputs: &[PathBuf]) {
    let mut at: HashMap<&Frame, VecDeque<usize>> = HashMap::new();
    for (i, f) in input.iter().enumerate() {
        at.entry(f).or_default().push_back(i);
    }
    let mut seen = vec![false; input.len()];
    for out in outputs {
        let mut last = None;
        for f in read_frames(out) {
            let i = at
                .get_mut(&f)
                .and_then(|q| q.pop_front())
                .unwrap_or_else(|| {
                    panic!(
                        "{name}: {} holds a frame not in the input, or twice",
                        out.display()
                    )
                });
            assert!(
                last < Some(i),
                "{name}: {} out of input order",
                out.display()
            );
            last = Some(i);
            seen[i] = true;
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(missing, 0, "{name}: {missing} input frames in no output");
}

/// tshark's view of one output frame.
struct Row {
    file: usize,
    protocols: String,
    fields: Vec<Vec<String>>,
}

const FIELDS: [&str; 16] = [
    "frame.interface_id",
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
    "ip.id",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.fraghdr.offset",
];
const IP_SRC: usize = 2;
const IPV6_SRC: usize = 4;
const TCP_SRC: usize = 6;
const UDP_SRC: usize = 8;
const ETH_SRC: usize = 10;
const IP_ID: usize = 12;
const IP_MF: usize = 13;
const IP_OFF: usize = 14;

impl Row {
    fn get(&self, f: usize, i: usize) -> &str {
        self.fields
            .get(f)
            .and_then(|v| v.get(i))
            .map_or("", |s| s.as_str())
    }

    /// Endpoints `(address, port)` of field pairs `a` and `p` at layers `i` and `j`.
    fn ends(&self, a: usize, i: usize, p: Option<(usize, usize)>) -> [(String, String); 2] {
        let port = |k: usize| p.map_or(String::new(), |(f, j)| self.get(f + k, j).to_string());
        [
            (self.get(a, i).to_string(), port(0)),
            (self.get(a + 1, i).to_string(), port(1)),
        ]
    }

    /// The outermost IPv4 header is a fragment: (src, dst, id) of its datagram.
    fn outer_datagram(&self) -> Option<(String, String, String)> {
        let more = matches!(self.get(IP_MF, 0), "1" | "True");
        let offset = self.get(IP_OFF, 0).parse::<u32>().unwrap_or(0);
        (more || offset > 0).then(|| {
            (
                self.get(IP_SRC, 0).to_string(),
                self.get(IP_SRC + 1, 0).to_string(),
                self.get(IP_ID, 0).to_string(),
            )
        })
    }
}

/// A flow's identity as tshark sees it: protocol and the two endpoints, lower first.
type FlowId = (String, (String, String), (String, String));

fn flow_id(proto: &str, ends: [(String, String); 2]) -> FlowId {
    let [x, y] = ends;
    let (a, b) = if x <= y { (x, y) } else { (y, x) };
    (proto.to_string(), a, b)
}

impl Row {
    /// The innermost flow, unless its packet is a later fragment (no ports, no tunnel).
    fn inner_flow(&self) -> Option<FlowId> {
        let inner = innermost(&self.protocols);
        let ports = inner
            .ports
            .map(|(n, j)| (if n == "tcp" { TCP_SRC } else { UDP_SRC }, j));
        let ends = match inner.layer? {
            FlowLayer::Ipv4(i) => {
                if self.get(IP_OFF, i).parse::<u32>().unwrap_or(0) > 0 {
                    return None;
                }
                self.ends(IP_SRC, i, ports)
            }
            FlowLayer::Ipv6(i) => {
                if self.protocols.contains("ipv6.fraghdr") {
                    return None;
                }
                self.ends(IPV6_SRC, i, ports)
            }
            FlowLayer::Eth(i) => self.ends(ETH_SRC, i, None),
        };
        Some(flow_id(&inner.next, ends))
    }

    /// The outermost IP 5-tuple, unless the packet is a fragment (as `util::tshark_flows`).
    fn outer_flow(&self) -> Option<FlowId> {
        let first = self
            .protocols
            .split(':')
            .find(|p| *p == "ip" || *p == "ipv6")?;
        if self.outer_datagram().is_some() || self.protocols.contains("ipv6.fraghdr") {
            return None;
        }
        let after: Vec<&str> = self
            .protocols
            .split(':')
            .skip_while(|p| *p != first)
            .skip(1)
            .filter(|p| *p != "ethertype" && !p.starts_with("ipv6."))
            .collect();
        let next = after.first().copied().unwrap_or("");
        let ports = match next {
            "tcp" => Some((TCP_SRC, 0)),
            "udp" => Some((UDP_SRC, 0)),
            _ => None,
        };
        let a = if first == "ip" { IP_SRC } else { IPV6_SRC };
        Some(flow_id(next, self.ends(a, 0, ports)))
    }
}

/// The tunnel kinds (blb's names) tshark went through to the innermost flow layer.
fn kinds(protocols: &str) -> BTreeSet<&'static str> {
    let mut pending: Vec<&'static str> = Vec::new();
    let mut kinds = Vec::new();
    let mut prev = "";
    for name in protocols.split(':') {
        if name == "ethertype" || name.starts_with("ipv6.") {
            continue;
        }
        match name {
            "icmp" | "icmpv6" => break,
            "gre" => pending.push("gre"),
            "erspan" => {
                pending.pop();
                pending.push("erspan");
            }
            "vxlan" => pending.push("vxlan"),
            "geneve" => pending.push("geneve"),
            "teredo" => pending.push("teredo"),
            "l2tp" => pending.push("l2tp"),
            "gtp" => pending.push("gtp_u"),
            "ip" | "ipv6" if prev == "ip" || prev == "ipv6" => pending.push(if name == "ip" {
                "ipv4_in_ip"
            } else {
                "ipv6_in_ip"
            }),
            _ => {}
        }
        if matches!(name, "ip" | "ipv6" | "eth") {
            kinds.clone_from(&pending);
        }
        prev = name;
    }
    kinds.into_iter().collect()
}

/// tshark's fields for every frame of `files`, merged (interface id = file index).
fn dissect(files: &[PathBuf], scratch: &Path, decode_as: &[&str]) -> Vec<Row> {
    let merged = merge_outputs(files, scratch);
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
    .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"])
    .args(decode_as);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark runs");
    assert!(
        o.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<Vec<String>> = line
                .split('\t')
                .map(|c| c.split(',').map(str::to_owned).collect())
                .collect();
            Row {
                file: fields[0][0].parse().expect("interface id"),
                protocols: fields[1][0].clone(),
                fields,
            }
        })
        .collect()
}

/// Teredo.pcap's relay sends from UDP port 32900, which tshark decodes only when told.
fn decode_as(input: &Path) -> Vec<&'static str> {
    if input.file_name().is_some_and(|n| n == "Teredo.pcap") {
        vec!["-d", "udp.port==32900,teredo"]
    } else {
        Vec::new()
    }
}

/// Balance one capture every way and check it. Returns how many inner flows were split over
/// sensors (in all runs): none by default; with `--tunnels outer`, what balancing on inner
/// headers avoids.
fn check_capture(input: &Path, tunnels: &str) -> usize {
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().expect("tempdir");
    let no_expiry = tmp.path().join("no-expiry.toml");
    std::fs::write(&no_expiry, NO_EXPIRY).expect("write config");
    let frames = read_frames(input);
    assert_eq!(
        tcpdump_count(input).0,
        frames.len() as u64,
        "{name}: tcpdump's count"
    );
    let mut files = Vec::new();
    let mut runs = Vec::new();
    let mut summaries = Vec::new();
    for algo in ["hash", "blb"] {
        for n in [4usize, 10] {
            let out = tmp.path().join(format!("{algo}-{n}"));
            let n_s = n.to_string();
            let mut args = vec!["--sensors", &n_s, "--algorithm", algo, "--no-progress"];
            args.extend(["--tunnels", tunnels, "--hash-key", KEY]);
            if algo == "blb" {
                args.extend(["--config", no_expiry.to_str().expect("utf-8")]);
            }
            let s = balance(input, &out, &args);
            let what = format!("{name} {algo} {n} --tunnels {tunnels}");
            assert_eq!(
                s["packets_in"].as_u64(),
                Some(frames.len() as u64),
                "{what}"
            );
            assert_eq!(s["packets_out"], s["packets_in"], "{what}");
            assert_eq!(
                (s["drops_total"].as_u64(), s["copies"].as_u64()),
                (Some(0), Some(0)),
                "{what}"
            );
            assert_eq!(s["tunnels"]["mode"], tunnels, "{what}");
            let outputs: Vec<PathBuf> = (0..n)
                .map(|i| out.join(format!("sensor-{i}.pcap")))
                .collect();
            check_frames(&what, &frames, &outputs);
            runs.push((what, files.len()..files.len() + n));
            files.extend(outputs);
            summaries.push(s);
        }
    }
    let rows = dissect(&files, tmp.path(), &decode_as(input));
    assert_eq!(rows.len(), 4 * frames.len(), "{name}: tshark's frame count");
    let mut inner_split = 0;
    for (what, range) in &runs {
        let mine: Vec<&Row> = rows.iter().filter(|r| range.contains(&r.file)).collect();
        let mut flows: BTreeMap<FlowId, BTreeSet<usize>> = BTreeMap::new();
        let mut inner: BTreeMap<FlowId, BTreeSet<usize>> = BTreeMap::new();
        let mut datagrams: BTreeMap<(String, String, String), BTreeSet<usize>> = BTreeMap::new();
        for r in &mine {
            let flow = if tunnels == "inner" {
                r.inner_flow()
            } else {
                r.outer_flow()
            };
            if let Some(f) = flow {
                flows.entry(f).or_default().insert(r.file);
            }
            if let Some(f) = r.inner_flow() {
                inner.entry(f).or_default().insert(r.file);
            }
            if let Some(d) = r.outer_datagram() {
                datagrams.entry(d).or_default().insert(r.file);
            }
        }
        for (f, on) in &flows {
            assert_eq!(on.len(), 1, "{what}: flow {f:?} on sensors {on:?}");
        }
        for (d, on) in &datagrams {
            assert_eq!(on.len(), 1, "{what}: datagram {d:?} on sensors {on:?}");
        }
        let split = inner.values().filter(|on| on.len() > 1).count();
        inner_split += split;
        let used: BTreeSet<usize> = mine.iter().map(|r| r.file).collect();
        eprintln!(
            "{what}: {} frames on {} sensors, {} flows and {} fragmented datagrams each on one sensor; {split} inner flows split",
            mine.len(),
            used.len(),
            flows.len(),
            datagrams.len()
        );
    }
    // The tunnel counters against tshark's dissection of the input.
    let input_rows = dissect(&[input.to_path_buf()], tmp.path(), &decode_as(input));
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut tunnelled, mut fragmented) = (0u64, 0u64);
    for r in &input_rows {
        let k = kinds(&r.protocols);
        if !k.is_empty() && tunnels == "inner" {
            tunnelled += 1;
            fragmented += u64::from(r.outer_datagram().is_some());
            for kind in k {
                *want.entry(kind).or_default() += 1;
            }
        }
    }
    for s in &summaries {
        let t = &s["tunnels"];
        assert_eq!(t["packets"].as_u64(), Some(tunnelled), "{name}: {t}");
        assert_eq!(
            t["fragmented_outer"].as_u64(),
            Some(fragmented),
            "{name}: {t}"
        );
        for (kind, v) in t["by_kind"].as_object().expect("by_kind") {
            let w = want.get(kind.as_str()).copied().unwrap_or(0);
            assert_eq!(v.as_u64(), Some(w), "{name}: {kind} in {t}");
        }
    }
    eprintln!(
        "{name}: --tunnels {tunnels}: tunnelled {tunnelled} {want:?}, fragmented outer {fragmented}"
    );
    inner_split
}

/// Check every tunnel capture; the inner flows split, in all.
fn check_all(tunnels: &str) -> Option<usize> {
    let pcaps = pcaps()?;
    if !(tool("tcpdump") && tool("tshark") && tool("mergecap")) {
        return None;
    }
    let inputs = captures(&pcaps, "tunnels");
    assert!(inputs.len() >= 22, "only {} tunnel captures", inputs.len());
    Some(inputs.iter().map(|i| check_capture(i, tunnels)).sum())
}

#[test]
fn tunnels_inner_flows_on_one_sensor() {
    if let Some(split) = check_all("inner") {
        assert_eq!(split, 0);
    }
}

/// The outer headers decide, as before tunnels were known: then some inner connections whose
/// directions travel with different outer headers are split (the test above has teeth).
#[test]
fn tunnels_outer_flows_on_one_sensor() {
    if let Some(split) = check_all("outer") {
        assert!(split > 0, "no inner flow split by the outer headers");
    }
}

#[test]
fn kinds_follow_tshark_names() {
    let k = |p: &str| kinds(p).into_iter().collect::<Vec<_>>();
    assert_eq!(
        k("eth:ethertype:ip:gre:erspan:eth:ethertype:ip:icmp:data"),
        ["erspan"]
    );
    assert_eq!(k("eth:ethertype:ip:gre:ip:icmp:ip:udp:dns"), ["gre"]);
    assert_eq!(k("eth:ethertype:ip:ipv6:icmpv6:ipv6:tcp"), ["ipv6_in_ip"]);
    assert_eq!(k("sll:ethertype:ip:udp:gtp:ipv6:tcp"), ["gtp_u"]);
    assert_eq!(
        k("eth:ethertype:pppoes:ppp:ip:udp:l2tp:ppp:lcp"),
        Vec::<&str>::new()
    );
    assert_eq!(k("eth:ethertype:ip:data"), Vec::<&str>::new());
}
