//! Live failover: a sensor's veth is taken down in the middle of a replay. Its flows move to
//! the other sensors (and stay there after it returns), the other sensors' flows stay put,
//! every lost packet is counted, and new flows reach the sensor again once it is back.
//!
//! The replayed capture is made here: early flows (UDP) send a numbered packet every 40 ms
//! for the whole 4 s; late flows (TCP, other hosts) start after the sensor is back.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use blb_pcap::{PcapWriter, TsPrecision};

use crate::lab::{Lab, lab_check, metric, read_frames, replayed};
use crate::lab_fault::LabFault;
use crate::util::read_summary;

const EARLY: u32 = 240;
const LATE: u32 = 120;
const STEP_MS: u64 = 40;
const LATE_START_MS: u64 = 3_000;
const END_MS: u64 = 4_000;
const TOKEN: &str = "failover-test-token-0123";

/// An Ethernet/IPv4 frame of flow `id`, packet `seq`: UDP for early flows, TCP for late ones.
fn frame(id: u32, seq: u32) -> Vec<u8> {
    let late = id >= EARLY;
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let proto = if late { 6u8 } else { 17 };
    let l4_len = if late { 20 } else { 8 };
    let payload = 32;
    let total = 20 + l4_len + payload;
    let src = if late {
        [172, 16, (id >> 8) as u8, id as u8]
    } else {
        [10, 1, (id >> 8) as u8, id as u8]
    };
    let dst = if late {
        [192, 168, 50, (id % 5) as u8]
    } else {
        [10, 2, (id % 8) as u8, 1]
    };
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    let sport = 20_000 + (id % 40_000) as u16;
    let dport: u16 = if late { 443 } else { 5000 + (id % 50) as u16 };
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    if late {
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x10, 0x20, 0, 0, 0, 0, 0]);
    } else {
        let len = (8 + payload) as u16;
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    let mut p = vec![0u8; payload];
    p[..4].copy_from_slice(&id.to_be_bytes());
    p[4..8].copy_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&p);
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// (flow id, seq) of a frame made by [`frame`].
fn ids(data: &[u8]) -> (u32, u32) {
    let p = &data[data.len() - 32..];
    (
        u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
    )
}

/// Write the capture; returns the number of frames.
fn write_capture(path: &Path) -> u64 {
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = PcapWriter::new(file, 1, TsPrecision::Micro, 65_535).expect("header");
    let t0 = 1_700_000_000u64 * 1_000_000_000;
    let mut n = 0;
    for step in 0..END_MS / STEP_MS {
        let ms = step * STEP_MS;
        let flows = if ms >= LATE_START_MS {
            0..EARLY + LATE
        } else {
            0..EARLY
        };
        for id in flows {
            let seq = if id >= EARLY {
                ((ms - LATE_START_MS) / STEP_MS) as u32
            } else {
                step as u32
            };
            let ts = t0 + ms * 1_000_000 + u64::from(id) * 10_000;
            let f = frame(id, seq);
            w.write_packet(ts, f.len() as u32, &f).expect("write");
            n += 1;
        }
    }
    w.into_inner().expect("flush");
    n
}

fn wait_metric(lab: &Lab, sample: &str, want: f64, within: Duration) {
    let end = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < end {
        let (_, body) = lab.curl(&["http://127.0.0.1:19187/metrics"]);
        if metric(&body, sample) == Some(want) {
            return;
        }
        last = body;
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{sample} never became {want}:\n{last}");
}

/// Run the failover scenario with `algorithm`; `pick` chooses the sensor to take down from
/// the flows each sensor has (from /status) after a second.
fn failover(algorithm: &str, extra: &[&str]) {
    Lab::run(&["curl"], |lab| {
        let n = 3;
        lab.veth("in0", "in0p");
        let config = format!("[live]\ncontrol_token = \"{TOKEN}\"\n") + &lab.interface_sensors(n);
        let input = lab.path("flows.pcap");
        let sent = write_capture(&input);
        let mut sniffers = lab.sniff_sensors(n);
        let mut args = vec!["--metrics", "19187", "--control", "19188"];
        args.extend_from_slice(extra);
        let (mut blb, summary_path) = lab.balance(algorithm, &config, &args);
        let started = Instant::now();
        let mut replay = lab
            .cmd(&["tcpreplay", "-i", "in0p", input.to_str().expect("utf-8")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpreplay starts");

        // After a second, take down the veth of the sensor with the most flows.
        std::thread::sleep(Duration::from_millis(1_100));
        let (_, status) = lab.curl(&["http://127.0.0.1:19188/status"]);
        let status: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
        let flows: Vec<u64> = (0..n)
            .map(|i| status["sensors"][i]["flows"].as_u64().expect("flows"))
            .collect();
        let victim = (0..n).max_by_key(|&i| (flows[i], i)).expect("a sensor");
        // A machine so busy that the replay has not begun voids the attempt.
        if flows[victim] == 0 {
            let _ = replay.kill();
            let _ = replay.wait();
            return Err(LabFault(format!("no flows after 1.1 s: {status}")));
        }
        let veth = format!("s{victim}");
        let label = format!("blb_sensor_up{{sensor=\"sensor-{victim}\"}}");
        lab.sh(&["ip", "link", "set", &veth, "down"]);
        wait_metric(lab, &label, 0.0, Duration::from_secs(3));
        let (down_at, up_wait) = (started.elapsed(), Duration::from_millis(2_300));
        std::thread::sleep(up_wait.saturating_sub(down_at));
        lab.sh(&["ip", "link", "set", &veth, "up"]);
        wait_metric(lab, &label, 1.0, Duration::from_secs(3));
        let back_at = started.elapsed();
        let replayed = replayed(&replay.wait_with_output().expect("tcpreplay ends"))?;
        // The scenario needs the sensor back before the late flows start; a machine too busy
        // to keep its timing voids the attempt.
        lab_check(back_at < Duration::from_millis(LATE_START_MS), || {
            format!("the sensor was back only at {back_at:?}, after the late flows began")
        })?;
        lab_check(replayed == sent, || {
            format!("tcpreplay sent {replayed} of the capture's {sent} frames")
        })?;
        std::thread::sleep(Duration::from_millis(500));
        let (_, metrics) = lab.curl(&["http://127.0.0.1:19187/metrics"]);
        assert!(blb.stop("TERM").success(), "{}", blb.stderr());
        lab.stop_sniffers(&mut sniffers)?;

        // Each flow's packets, in order, with the sensor each reached.
        let mut seen: BTreeMap<u32, BTreeMap<u32, usize>> = BTreeMap::new();
        let mut captured = 0u64;
        for s in 0..n {
            for f in read_frames(&lab.path(&format!("s{s}.pcap"))) {
                let (id, seq) = ids(&f.data);
                assert!(
                    seen.entry(id).or_default().insert(seq, s).is_none(),
                    "flow {id} packet {seq} arrived twice"
                );
                captured += 1;
            }
        }
        let summary = read_summary(&summary_path);
        // What did not come out is counted: lost to the downed veth, or, on a busy machine
        // where a sensor's delivery thread waits for the CPU, to its full queue. Nothing else
        // drops a packet here.
        let drops = &summary["drops"];
        let lost: u64 = ["sensor_write_error", "sensor_queue_full"]
            .iter()
            .map(|reason| drops[reason].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(summary["packets_in"], sent, "{summary:#}");
        assert_eq!(
            captured + lost,
            sent,
            "lost packets not counted: {summary:#}"
        );
        assert_eq!(summary["drops_total"], lost, "{summary:#}");
        assert_eq!(summary["live"]["capture"][0]["kernel_dropped"], 0);
        let f = &summary["live"]["failover"];
        assert_eq!(
            (f["sensors_left"].as_u64(), f["sensors_returned"].as_u64()),
            (Some(1), Some(1)),
            "{f}"
        );

        let mut moved = 0;
        let mut early_on_victim = 0;
        // Flows whose first packets were lost (counted above): they may have been on the
        // victim before they moved, unseen.
        let mut unseen_start = 0;
        for (id, packets) in seen.iter().filter(|(id, _)| **id < EARLY) {
            let first = *packets.values().next().expect("a packet");
            if first != victim {
                if packets.keys().next() != Some(&0) {
                    unseen_start += 1;
                }
                let all: Vec<usize> = packets.values().copied().collect();
                assert!(
                    all.iter().all(|&s| s == first),
                    "flow {id} on sensor {first} moved: {all:?}"
                );
                continue;
            }
            early_on_victim += 1;
            // Off the victim at some point, then on one other sensor for good.
            let after: Vec<usize> = packets
                .values()
                .copied()
                .skip_while(|&s| s == victim)
                .collect();
            assert!(!after.is_empty(), "flow {id} never left sensor {victim}");
            assert!(
                after.iter().all(|&s| s == after[0] && s != victim),
                "flow {id}: {after:?}"
            );
            moved += 1;
        }
        assert!(moved > 0);
        if algorithm == "blb" {
            assert!(f["clusters_moved"].as_u64() > Some(0), "{f}");
        }
        let flows_moved = f["flows_moved"].as_u64().expect("flows_moved");
        assert!(
            (early_on_victim..=early_on_victim + unseen_start).contains(&flows_moved),
            "{f}: {early_on_victim} flows seen on sensor {victim} first, {unseen_start} whose start was lost"
        );
        assert_eq!(
            metric(&metrics, "blb_failover_flows_moved_total"),
            Some(flows_moved as f64)
        );
        let late_on_victim = seen
            .iter()
            .filter(|(id, p)| **id >= EARLY && p.values().all(|&s| s == victim))
            .count();
        assert!(
            late_on_victim > 0,
            "no new flow reached sensor {victim} after it came back"
        );
        assert!(
            blb.stderr().contains("sensor out of service"),
            "{}",
            blb.stderr()
        );
        assert!(blb.stderr().contains("interface_down"), "{}", blb.stderr());
        assert!(
            blb.stderr().contains("sensor back in service"),
            "{}",
            blb.stderr()
        );
        Ok(())
    });
}

#[test]
fn hash_failover_moves_only_the_dead_sensors_flows() {
    failover("hash", &[]);
}

#[test]
fn blb_failover_moves_clusters_to_the_least_loaded() {
    // A small capacity makes the variance bound bind, so clusters spread over the sensors.
    failover("blb", &["--capacity", "20000", "--train-flows", "0"]);
}

/// The capture interface going down and up (a pulled cable, a flapping tap) does not stop
/// blb: it logs the failure, keeps trying, and balances again once the link is back.
#[test]
fn capture_interface_down_and_up_does_not_stop_blb() {
    Lab::run(&[], |lab| {
        lab.veth("in0", "in0p");
        let config = lab.interface_sensors(1);
        let mut sniffer = lab.sniff("s0p", &lab.path("s0.pcap"), &[]);
        let (mut blb, summary_path) = lab.balance("hash", &config, &[]);
        let input = lab.path("flows.pcap");
        write_capture(&input);
        lab.sh(&["ip", "link", "set", "in0", "down"]);
        std::thread::sleep(Duration::from_millis(500));
        lab.sh(&["ip", "link", "set", "in0", "up"]);
        lab.settle("in0");
        lab.settle("in0p");
        std::thread::sleep(Duration::from_millis(300));
        let sent = lab.replay("in0p", &[&input], Some(20_000))?;
        std::thread::sleep(Duration::from_millis(500));
        assert!(blb.stop("TERM").success(), "{}", blb.stderr());
        lab.stop_sniffers([&mut sniffer])?;
        let summary = read_summary(&summary_path);
        assert_eq!(summary["packets_in"], sent, "{summary:#}");
        assert_eq!(read_frames(&lab.path("s0.pcap")).len() as u64, sent);
        Ok(())
    });
}
