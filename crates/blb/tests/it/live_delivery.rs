//! Live delivery: VXLAN to remote sensors, decoded by tshark, carries the original frames
//! byte for byte behind each sensor's VNI; a signal stops blb cleanly, with its pcap outputs
//! flushed and whole, and every frame the capture counted as received accounted for, even
//! when the signal comes in the middle of traffic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::lab::*;
use crate::util::{pcaps, read_summary, tcpdump_count};

fn unhex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
    assert!(s.len().is_multiple_of(2), "odd hex string {s:?}");
    s.chunks(2)
        .map(|c| {
            u8::from_str_radix(std::str::from_utf8(c).expect("ascii"), 16)
                .unwrap_or_else(|e| panic!("bad hex {c:?}: {e}"))
        })
        .collect()
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

// --- 1. VXLAN ----------------------------------------------------------------------------

/// One VXLAN datagram as tshark decodes it.
#[derive(Debug)]
struct VxlanRow {
    /// tshark's protocol stack, e.g. `eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp`.
    protocols: String,
    /// Outer destination address.
    outer_dst: String,
    /// Outer UDP destination port.
    dst_port: u16,
    /// VXLAN flags (16 bits).
    flags: u16,
    /// The I flag (VNI valid).
    flag_i: bool,
    /// The VNI.
    vni: u32,
    /// The UDP payload: the VXLAN header and the inner frame.
    payload: Vec<u8>,
    /// The inner Ethernet destination and source, as tshark prints them.
    inner_eth: (String, String),
}

/// Decode every datagram of `file` as VXLAN with tshark (in the root namespace).
fn tshark_vxlan(file: &Path) -> Vec<VxlanRow> {
    let fields = [
        "frame.protocols",
        "ip.dst",
        "udp.dstport",
        "vxlan.flags",
        "vxlan.flag_i",
        "vxlan.vni",
        "udp.payload",
        "eth.dst",
        "eth.src",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(file)
        .args(["-d", "udp.port==4789,vxlan", "-T", "fields"])
        .args([
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "tshark failed: {err}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            assert_eq!(f.len(), fields.len(), "tshark line {line:?}");
            // Every occurrence, outer first (a DNS frame inside has a UDP payload of its own).
            let nth = |i: usize, k: usize| f[i].split(',').nth(k).unwrap_or("").to_string();
            let first = |i: usize| nth(i, 0);
            VxlanRow {
                protocols: f[0].to_string(),
                outer_dst: first(1),
                dst_port: first(2)
                    .parse()
                    .unwrap_or_else(|_| panic!("port in {line:?}")),
                flags: u16::from_str_radix(first(3).trim_start_matches("0x"), 16)
                    .unwrap_or_else(|_| panic!("flags in {line:?}")),
                flag_i: matches!(first(4).as_str(), "1" | "True"),
                vni: first(5)
                    .parse()
                    .unwrap_or_else(|_| panic!("vni in {line:?}")),
                payload: unhex(&first(6)),
                inner_eth: (nth(7, 1), nth(8, 1)),
            }
        })
        .collect()
}

#[test]
fn vxlan_delivery_decodes_to_the_original_frames() {
    let Some(pcaps) = pcaps() else { return };
    Lab::run(&["tshark"], |lab| {
        lab.veth("in0", "in0p");
        // Sensor i ↔ (VTEP address, VNI).
        let vteps = [("127.0.0.1", 100u32), ("127.0.0.2", 200u32)];
        let mut config = String::new();
        for (addr, vni) in vteps {
            config += &format!("[[sensor]]\nvxlan = \"{addr}:4789\"\nvni = {vni}\n");
        }
        let mut reference = lab.sniff("in0", &lab.path("in0.pcap"), &[]);
        let mut wire = lab.sniff("lo", &lab.path("lo.pcap"), &["udp", "port", "4789"]);
        let (mut blb, summary_path) = lab.balance("hash", &config, &[]);
        let inputs = [
            pcaps.join("scan/nmap_80_all.pcap"),
            pcaps.join("vlan/icmp_dot1q.pcap"),
            pcaps.join("background/test.pcap"),
        ];
        let files: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let sent = lab.replay("in0p", &files, Some(5_000))?;
        std::thread::sleep(Duration::from_millis(700));
        let st = blb.stop("TERM");
        assert!(st.success(), "blb failed:\n{}", blb.stderr());
        lab.stop_sniffers([&mut reference, &mut wire])?;

        let arrived = lab.reference_frames(&lab.path("in0.pcap"), sent)?;
        let summary = read_summary(&summary_path);
        assert_eq!(summary["packets_in"], sent, "{summary:#}");
        assert_eq!(summary["drops_total"], 0, "{summary:#}");
        assert_eq!(summary["copies"], 0, "{summary:#}");

        let rows = tshark_vxlan(&lab.path("lo.pcap"));
        assert_eq!(
            rows.len() as u64,
            sent,
            "one VXLAN datagram per frame that arrived"
        );
        let vni_of: HashMap<&str, u32> = vteps.iter().copied().collect();
        let mut inner: Vec<Vec<Captured>> = vec![Vec::new(); vteps.len()];
        for row in &rows {
            assert!(
                row.protocols.contains(":udp:vxlan:eth:"),
                "tshark did not decode an Ethernet frame inside VXLAN: {row:?}"
            );
            assert_eq!(row.dst_port, 4789, "{row:?}");
            assert_eq!(row.flags, 0x0800, "only the I flag: {row:?}");
            assert!(row.flag_i, "{row:?}");
            let want = *vni_of
                .get(row.outer_dst.as_str())
                .unwrap_or_else(|| panic!("a datagram to an unknown VTEP: {row:?}"));
            assert_eq!(row.vni, want, "VNI of the datagram to {}", row.outer_dst);
            // The payload is the 8-byte VXLAN header, then the frame.
            assert!(row.payload.len() > 8 + 14, "{row:?}");
            let v = row.vni.to_be_bytes();
            assert_eq!(
                row.payload[..8],
                [0x08, 0, 0, 0, v[1], v[2], v[3], 0],
                "{row:?}"
            );
            let frame = &row.payload[8..];
            // tshark's own dissection of the inner Ethernet header agrees with the bytes.
            assert_eq!(
                (row.inner_eth.0.as_str(), row.inner_eth.1.as_str()),
                (mac(&frame[..6]).as_str(), mac(&frame[6..12]).as_str()),
                "{row:?}"
            );
            let sensor = vteps
                .iter()
                .position(|(a, _)| *a == row.outer_dst)
                .expect("known VTEP");
            inner[sensor].push(Captured {
                ts: 0,
                data: frame.to_vec(),
            });
        }
        let outputs: Vec<&[Captured]> = inner.iter().map(Vec::as_slice).collect();
        assert_same_frames(&outputs, &arrived, "VXLAN inner frames");
        for (i, frames) in inner.iter().enumerate() {
            assert!(
                !frames.is_empty(),
                "sensor {i} got nothing: {:?}",
                inner.iter().map(Vec::len).collect::<Vec<_>>()
            );
            assert_eq!(
                summary["per_sensor"][i]["packets"],
                frames.len() as u64,
                "sensor {i}"
            );
            let d = &summary["live"]["delivery"][i];
            assert_eq!(d["sent_packets"], frames.len() as u64, "sensor {i}: {d}");
            assert_eq!(d["send_errors"], 0, "sensor {i}: {d}");
            let (addr, vni) = vteps[i];
            assert_eq!(d["delivery"], format!("vxlan {addr}:4789 vni {vni}"), "{d}");
            let bytes: usize = frames.iter().map(|f| f.data.len()).sum();
            assert_eq!(d["sent_bytes"], bytes as u64, "sensor {i}: {d}");
        }
        Ok(())
    });
}

// --- 4. SIGINT ---------------------------------------------------------------------------

#[test]
fn sigint_stops_cleanly_and_flushes_pcap_outputs() {
    let Some(pcaps) = pcaps() else { return };
    Lab::run(&[], |lab| {
        let n = 3;
        lab.veth("in0", "in0p");
        let out_dir = lab.path("out");
        std::fs::create_dir_all(&out_dir).expect("out dir");
        let mut reference = lab.sniff("in0", &lab.path("in0.pcap"), &[]);
        let sensors = n.to_string();
        let (mut blb, summary_path) = lab.balance(
            "hash",
            "",
            &["--sensors", &sensors, "--write-dir", utf8(&out_dir)],
        );
        let inputs = [
            pcaps.join("scan/nmap_80_all.pcap"),
            pcaps.join("scan/synscan.pcap"),
            pcaps.join("vlan/icmp_dot1q.pcap"),
        ];
        let files: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let sent = lab.replay("in0p", &files, Some(10_000))?;
        std::thread::sleep(Duration::from_millis(500));
        let st = blb.stop("INT");
        assert!(st.success(), "blb exited with {st}:\n{}", blb.stderr());
        lab.stop_sniffers([&mut reference])?;

        let stderr = blb.stderr();
        assert!(stderr.contains("stopping"), "{stderr}");
        assert!(
            stderr.contains(&format!("{sent} packets (")),
            "no summary on stderr:\n{stderr}"
        );
        let summary = read_summary(&summary_path);
        assert_eq!(summary["live"]["stopped_by"], "signal", "{summary:#}");
        assert_eq!(summary["packets_in"], sent, "{summary:#}");
        assert_eq!(summary["drops_total"], 0, "{summary:#}");
        assert_eq!(summary["copies"], 0, "{summary:#}");

        let arrived = lab.reference_frames(&lab.path("in0.pcap"), sent)?;
        let out: Vec<Vec<Captured>> = (0..n)
            .map(|i| {
                let file = out_dir.join(format!("sensor-{i}.pcap"));
                assert!(file.exists(), "{} was not written", file.display());
                let (count, clean) = tcpdump_count(&file);
                assert!(clean, "tcpdump -r {} complained", file.display());
                let frames = read_frames(&file);
                assert_eq!(count, frames.len() as u64, "{}", file.display());
                assert_eq!(
                    summary["per_sensor"][i]["packets"],
                    frames.len() as u64,
                    "sensor {i}"
                );
                frames
            })
            .collect();
        assert!(
            out.iter().filter(|o| !o.is_empty()).count() >= 2,
            "one sensor got everything: {:?}",
            out.iter().map(Vec::len).collect::<Vec<_>>()
        );
        let outputs: Vec<&[Captured]> = out.iter().map(Vec::as_slice).collect();
        assert_same_frames(&outputs, &arrived, "pcap outputs after SIGINT");
        Ok(())
    });
}

/// SIGINT while traffic still flows: everything blb handled is in the files, and every frame
/// the capture counted as received is accounted for (handled, or dropped with a reason).
#[test]
fn sigint_during_traffic_accounts_for_every_captured_frame() {
    let Some(pcaps) = pcaps() else { return };
    Lab::run(&[], |lab| {
        let n = 3;
        lab.veth("in0", "in0p");
        let out_dir = lab.path("out");
        std::fs::create_dir_all(&out_dir).expect("out dir");
        let mut reference = lab.sniff("in0", &lab.path("in0.pcap"), &[]);
        // A longer block timeout (default 10 ms) leaves many frames in the block the kernel is
        // still filling when the signal comes: every one of them must be accounted for.
        let sensors = n.to_string();
        let (mut blb, summary_path) = lab.balance(
            "hash",
            "[live]\nring_block_timeout_ms = 100\n",
            &["--sensors", &sensors, "--write-dir", utf8(&out_dir)],
        );
        let input = pcaps.join("scan/synscan.pcap");
        // 2011 frames at 5000 per second: about 0.4 s of traffic, interrupted after 0.2 s.
        let replay = lab
            .cmd(&["tcpreplay", "-i", "in0p", "--pps=5000", utf8(&input)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpreplay starts");
        std::thread::sleep(Duration::from_millis(200));
        let st = blb.stop("INT");
        let sent = replayed(&replay.wait_with_output().expect("tcpreplay ends"))?;
        assert!(st.success(), "blb exited with {st}:\n{}", blb.stderr());
        lab.stop_sniffers([&mut reference])?;

        let summary = read_summary(&summary_path);
        assert_eq!(summary["live"]["stopped_by"], "signal", "{summary:#}");
        let arrived = lab.reference_frames(&lab.path("in0.pcap"), sent)?;
        let mut out: Vec<Captured> = Vec::new();
        for i in 0..n {
            let file = out_dir.join(format!("sensor-{i}.pcap"));
            let (count, clean) = tcpdump_count(&file);
            assert!(clean, "tcpdump -r {} complained", file.display());
            let frames = read_frames(&file);
            assert_eq!(count, frames.len() as u64);
            assert_eq!(summary["per_sensor"][i]["packets"], frames.len() as u64);
            out.extend(frames);
        }
        // What blb handled went out whole, and is part of what arrived.
        let handled = summary["packets_in"].as_u64().expect("packets_in");
        assert_eq!(out.len() as u64, handled, "{summary:#}");
        let want = multiset(&arrived);
        for (frame, k) in multiset(&out) {
            assert!(
                want.get(frame).is_some_and(|w| *w >= k),
                "a frame that never arrived"
            );
        }
        assert!(
            handled > 0 && (handled as usize) < arrived.len(),
            "not interrupted mid-replay"
        );
        // Every frame the capture received was handled or counted as dropped.
        let capture = &summary["live"]["capture"][0];
        let received = capture["received"].as_u64().expect("received");
        let kernel_dropped = capture["kernel_dropped"].as_u64().expect("kernel_dropped");
        let drops = summary["drops_total"].as_u64().expect("drops_total");
        assert_eq!(
            received - kernel_dropped,
            handled + drops,
            "{} frames the capture received were neither handled nor counted as dropped: {capture}",
            received - kernel_dropped - handled - drops
        );
        Ok(())
    });
}
