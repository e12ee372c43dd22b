//! Live balancing end to end: tcpreplay plays the shared captures and a generated scenario
//! into the capture interface of a network namespace; tcpdump records what arrives on each
//! sensor's veth. Every frame that arrived at the capture interface comes out on exactly one
//! sensor, byte for byte, no flow or datagram is split, and the kernel dropped nothing.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::fragments::DatagramKey;

use crate::lab::{Captured, Lab, multiset};
use crate::util::{captures, pcaps, read_summary};

/// The shared captures that tcpreplay can play (Ethernet; the malformed ones excluded), or
/// `None` (skipped) without them.
fn playable() -> Option<Vec<PathBuf>> {
    let pcaps = pcaps()?;
    let dirs = ["background", "ddos", "fragments", "ipv6", "scan", "vlan"];
    Some(dirs.iter().flat_map(|d| captures(&pcaps, d)).collect())
}

/// Which sensors each flow and each fragmented datagram reached; panics on a split. Frames
/// in `copies` (first fragments copied to both their flow's and their datagram's sensor) are
/// left out.
pub fn assert_no_split(per_sensor: &[Vec<Captured>], copies: &HashSet<&[u8]>) {
    let mut flows: HashMap<FlowKey, HashSet<usize>> = HashMap::new();
    let mut datagrams: HashMap<DatagramKey, HashSet<usize>> = HashMap::new();
    for (s, frames) in per_sensor.iter().enumerate() {
        for f in frames
            .iter()
            .filter(|f| !copies.contains(f.data.as_slice()))
        {
            let meta = blb_wire::parse(1, f.ts, f.data.len() as u32, &f.data);
            match meta.fragment {
                Some(frag) => {
                    datagrams
                        .entry(DatagramKey::of(&meta, frag.id))
                        .or_default()
                        .insert(s);
                    if frag.is_first() && meta.has_ports {
                        let (k, _) = FlowKey::from_packet(&meta, KeyOptions::default(), true);
                        flows.entry(k).or_default().insert(s);
                    }
                }
                None => {
                    let (k, _) = FlowKey::from_packet(&meta, KeyOptions::default(), true);
                    flows.entry(k).or_default().insert(s);
                }
            }
        }
    }
    let split: Vec<_> = flows.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(
        split.is_empty(),
        "{} flows split, e.g. {:?}",
        split.len(),
        split.first()
    );
    let split: Vec<_> = datagrams.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(
        split.is_empty(),
        "{} datagrams split, e.g. {:?}",
        split.len(),
        split.first()
    );
    assert!(
        flows.len() > 10,
        "too few flows to mean anything: {}",
        flows.len()
    );
}

/// Replay `inputs` through blb with `algorithm` over `n` interface sensors and check that
/// packets in equal packets out, byte for byte, with no flow split.
fn replay_whole(algorithm: &str, n: usize, inputs: &[PathBuf], extra: &[&str]) {
    replay_taps(algorithm, n, &[inputs.to_vec()], extra);
}

/// [`replay_whole`] with one capture interface per entry of `taps` (`in0`, `in1`, ...), each
/// replayed its own files in turn.
fn replay_taps(algorithm: &str, n: usize, taps: &[Vec<PathBuf>], extra: &[&str]) {
    Lab::run(&[], |lab| {
        let names: Vec<String> = (0..taps.len()).map(|i| format!("in{i}")).collect();
        let mut flags: Vec<&str> = Vec::new();
        for name in &names {
            lab.veth(name, &format!("{name}p"));
            if name != "in0" {
                flags.extend_from_slice(&["-i", name]);
            }
        }
        flags.extend_from_slice(extra);
        let config = lab.interface_sensors(n);
        let mut references: Vec<_> = names
            .iter()
            .map(|name| lab.sniff(name, &lab.path(&format!("{name}.pcap")), &[]))
            .collect();
        let mut sniffers = lab.sniff_sensors(n);
        let (mut blb, summary_path) = lab.balance(algorithm, &config, &flags);
        let mut per_tap = Vec::new();
        for (name, inputs) in names.iter().zip(taps) {
            let files: Vec<&std::path::Path> = inputs.iter().map(PathBuf::as_path).collect();
            per_tap.push(lab.replay(&format!("{name}p"), &files, Some(10_000))?);
        }
        let sent: u64 = per_tap.iter().sum();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let status = blb.stop("TERM");
        assert!(status.success(), "blb failed:\n{}", blb.stderr());
        assert!(blb.stderr().contains("stopping"), "{}", blb.stderr());
        lab.stop_sniffers(references.iter_mut().chain(&mut sniffers))?;

        let mut arrived = Vec::new();
        for (name, n) in names.iter().zip(&per_tap) {
            arrived.extend(lab.reference_frames(&lab.path(&format!("{name}.pcap")), *n)?);
        }
        let out = lab.sensor_frames(n);
        let summary = read_summary(&summary_path);
        let live = &summary["live"];
        assert_eq!(summary["packets_in"], sent, "{summary:#}");
        for (i, n) in per_tap.iter().enumerate() {
            assert_eq!(live["capture"][i]["received"], *n, "{summary:#}");
            assert_eq!(live["capture"][i]["kernel_dropped"], 0, "{summary:#}");
        }
        assert_eq!(summary["drops_total"], 0, "{summary:#}");
        let copies = summary["copies"].as_u64().expect("copies");
        assert_eq!(
            summary["fragments"]["flow_conflicts"], copies,
            "{summary:#}"
        );
        assert_eq!(live["stopped_by"], "signal");
        // Every worker took its share of the capture, and every frame was taken once.
        let k = match extra.iter().position(|a| *a == "--workers") {
            Some(i) => extra[i + 1].parse().expect("--workers K"),
            None => crate::lab::workers(),
        };
        let took: Vec<u64> = live["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .map(|w| w.as_u64().expect("a count"))
            .collect();
        assert_eq!(took.len(), k, "{summary:#}");
        assert_eq!(took.iter().sum::<u64>(), sent, "{summary:#}");
        assert!(
            took.iter().all(|n| *n > 0),
            "a worker took nothing: {took:?}"
        );
        let total: usize = out.iter().map(Vec::len).sum();
        assert_eq!(
            total as u64,
            sent + copies,
            "per sensor: {:?}, blb: {:#}",
            out.iter().map(Vec::len).collect::<Vec<_>>(),
            live["delivery"]
        );
        for (i, o) in out.iter().enumerate() {
            assert_eq!(
                summary["per_sensor"][i]["packets"],
                o.len() as u64,
                "sensor {i}"
            );
            assert_eq!(
                live["delivery"][i]["sent_packets"],
                o.len() as u64,
                "sensor {i}"
            );
        }
        // Byte for byte: every frame that arrived came out as often as it arrived, plus the
        // counted copies.
        let (got, want) = (multiset(out.iter().flatten()), multiset(&arrived));
        let mut extra = HashSet::new();
        let mut extra_count = 0;
        for (frame, n) in &got {
            let w = want.get(frame).copied().unwrap_or(0);
            assert!(*n >= w, "a frame that arrived {w} times came out {n} times");
            if *n > w {
                extra.insert(*frame);
                extra_count += n - w;
            }
        }
        assert_eq!(want.len(), got.len(), "frames came out that never arrived");
        assert_eq!(extra_count, copies, "copies beyond the counted ones");
        assert!(
            out.iter().filter(|o| !o.is_empty()).count() >= 2,
            "one sensor got everything"
        );
        assert_no_split(&out, &extra);
        Ok(())
    });
}

#[test]
fn hash_delivers_the_shared_captures_whole() {
    let Some(inputs) = playable() else { return };
    replay_whole("hash", 4, &inputs, &[]);
}

#[test]
fn blb_delivers_the_shared_captures_and_a_scenario_whole() {
    let Some(mut inputs) = playable() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("udp-flood.pcap");
    let o = crate::util::blb(&[
        "generate",
        "udp-flood",
        "-w",
        scenario.to_str().expect("utf-8"),
        "--training",
        "2",
        "--duration",
        "3",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    inputs.push(scenario);
    replay_whole(
        "blb",
        4,
        &inputs,
        &["--capacity", "2000000", "--train-flows", "50"],
    );
}

/// Three workers (three rings in one fanout group): the kernel spreads the connections over
/// them, and both directions of every connection and every fragment of every datagram still
/// reach one sensor, byte for byte.
#[test]
fn three_workers_keep_connections_and_datagrams_on_one_sensor() {
    let Some(inputs) = playable() else { return };
    replay_whole(
        "blb",
        4,
        &inputs,
        &["--workers", "3", "--capacity", "2000000"],
    );
    replay_whole("hash", 3, &inputs, &["--workers", "3"]);
}

/// A tap that gives each direction its own port: blb captures both ports (two interfaces,
/// each its own fanout group over the workers), so the two directions of a connection come in
/// on different interfaces and may reach different workers; they still reach one sensor,
/// byte for byte, as do the fragments of every datagram.
#[test]
fn a_tap_with_one_port_per_direction_keeps_connections_together() {
    let Some(inputs) = playable() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // One direction: the lower source address (its first 4 bytes); the other: the rest.
    let lower = "(ip and ip[12:4] < ip[16:4]) or (ip6 and ip6[8:4] < ip6[24:4])";
    let (mut there, mut back) = (Vec::new(), Vec::new());
    for (i, input) in inputs.iter().enumerate() {
        for (side, filter) in [("a", lower.to_string()), ("b", format!("not ({lower})"))] {
            let path = dir.path().join(format!("{i}-{side}.pcap"));
            let o = std::process::Command::new("tcpdump")
                .arg("-r")
                .arg(input)
                .arg("-w")
                .arg(&path)
                .arg(&filter)
                .output()
                .expect("tcpdump runs");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            // A pcap file of its 24-byte header alone holds no frame: nothing to replay.
            if std::fs::metadata(&path).expect("written").len() > 24 {
                if side == "a" { &mut there } else { &mut back }.push(path);
            }
        }
    }
    assert!(there.len() > 3 && back.len() > 3, "{there:?} {back:?}");
    replay_taps("blb", 4, &[there, back], &["--capacity", "2000000"]);
}

/// The libpcap backend with a BPF filter: only the frames the filter passes are balanced,
/// and they all arrive whole.
#[cfg(feature = "pcap")]
#[test]
fn pcap_backend_applies_the_bpf_filter() {
    let Some(pcaps) = pcaps() else { return };
    Lab::run(&[], |lab| {
        lab.veth("in0", "in0p");
        let n = 2;
        let config = lab.interface_sensors(n);
        let mut reference = lab.sniff("in0", &lab.path("in0.pcap"), &[]);
        let mut sniffers = lab.sniff_sensors(n);
        let (mut blb, summary_path) =
            lab.balance("hash", &config, &["--backend", "pcap", "--filter", "udp"]);
        let inputs = [
            captures(&pcaps, "scan")
                .into_iter()
                .find(|p| p.ends_with("udp_0_1000_20190821.pcap")),
            captures(&pcaps, "scan")
                .into_iter()
                .find(|p| p.ends_with("tcp_0_1000_20190821.pcap")),
        ];
        let files: Vec<&std::path::Path> = inputs.iter().flatten().map(PathBuf::as_path).collect();
        assert_eq!(files.len(), 2, "the scan captures are missing");
        let sent = lab.replay("in0p", &files, Some(5_000))?;
        std::thread::sleep(std::time::Duration::from_millis(700));
        assert!(blb.stop("INT").success(), "{}", blb.stderr());
        lab.stop_sniffers(std::iter::once(&mut reference).chain(&mut sniffers))?;
        let udp: Vec<Captured> = lab
            .reference_frames(&lab.path("in0.pcap"), sent)?
            .into_iter()
            .filter(|f| blb_wire::parse(1, f.ts, f.data.len() as u32, &f.data).protocol == 17)
            .collect();
        let out = lab.sensor_frames(n);
        let summary = read_summary(&summary_path);
        assert!(udp.len() > 900, "{} UDP frames", udp.len());
        assert_eq!(summary["packets_in"], udp.len() as u64, "{summary:#}");
        assert_eq!(multiset(out.iter().flatten()), multiset(&udp));
        assert_no_split(&out, &HashSet::new());
        Ok(())
    });
}
