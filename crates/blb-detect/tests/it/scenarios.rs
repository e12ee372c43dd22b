//! The detectors on generated scenarios: background stays quiet, attacks alarm on time.

use blb_core::packet::PacketMeta;
use blb_detect::{Cusum, CusumConfig, ScanConfig, ScanDetector};
use blb_gen::{GenOptions, Scenario};
use blb_pcap::{CaptureReader, PcapWriter, TsPrecision};

use crate::common::{Run, run};

fn opts(training_secs: f64, duration_secs: f64) -> GenOptions {
    GenOptions {
        training_secs,
        duration_secs,
        ..GenOptions::default()
    }
}

#[test]
fn ten_minutes_of_background_raise_no_alarm() {
    // 900 s of background: the first 300 s train the database, the next 600 s are watched.
    let r = run(Scenario::Background, &opts(300.0, 600.0));
    let db = r.trained_db();
    assert!(db.len() >= 60, "clients and servers learned: {}", db.len());
    let c = r.cusum();
    let s = r.scan();
    let new: u64 = c.intervals().iter().map(|i| i.new_sources).sum();
    let max_t = s.intervals().iter().map(|i| i.max_targets_per_source).max();
    let max_p = s.intervals().iter().map(|i| i.max_dsts_per_port).max();
    eprintln!(
        "background: db {} addresses, {} detection intervals, new sources {new}, max Y {}, \
         max targets/source {max_t:?}, max dsts/port {max_p:?}",
        db.len(),
        c.intervals().len(),
        c.max_y()
    );
    assert_eq!(c.intervals().len(), 600);
    assert!(c.first_alarm().is_none(), "{:?}", c.first_alarm());
    assert!(c.max_y() < 1.0);
    assert_eq!(s.intervals().len(), 600);
    assert!(s.first_alarm().is_none(), "{:?}", s.first_alarm());
}

#[test]
fn udp_flood_alarms_20_seconds_after_the_attack_starts() {
    let r = run(Scenario::UdpFlood, &opts(60.0, 100.0));
    assert!(
        r.report.attack_sources > 9000,
        "{}",
        r.report.attack_sources
    );
    assert_eq!(r.report.attack_start_secs, 60.0);
    let c = r.cusum();
    let a = *c.first_alarm().expect("udp-flood must alarm");
    let secs = c.first_alarm_secs().unwrap();
    let ys: Vec<f64> = c.intervals().iter().take(25).map(|i| i.y).collect();
    eprintln!(
        "udp-flood: alarm at interval {} = {secs} s after the attack start (decided at {} s), \
         Y = {ys:?}, max Y {}",
        a.index,
        r.secs_after_start(a.end_ts),
        c.max_y()
    );
    assert!((18.0..=22.0).contains(&secs), "{secs}");
    assert!(r.scan().first_alarm().is_none(), "a flood is not a scan");
}

#[test]
fn udp_flood_split_by_source_over_ten_sensors_never_alarms() {
    // Flow/hash-based balancing spreads the sources: each sensor sees about 10 new sources/s,
    // and with C fixed for the whole link none of them alarms (NOTES: round robin "never").
    let r = run(Scenario::UdpFlood, &opts(60.0, 100.0));
    let db = r.trained_db();
    let mut sensors: Vec<Cusum> = (0..10)
        .map(|_| Cusum::new(CusumConfig::default(), db.clone(), Some(r.attack_start)).unwrap())
        .collect();
    for p in r.detection() {
        let h = (p.src.as_slice().iter())
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)));
        sensors[(h % 10) as usize].observe(p);
    }
    for s in &mut sensors {
        s.finish(r.end);
    }
    let max_y = sensors.iter().map(Cusum::max_y).fold(0.0, f64::max);
    eprintln!("udp-flood over 10 source-hashed sensors: max Y {max_y}");
    assert!(sensors.iter().all(|s| s.first_alarm().is_none()));
}

fn scan_alarm_secs(r: &Run, d: &ScanDetector) -> f64 {
    let a = d.first_alarm().expect("scan must alarm");
    r.secs_after_start(a.alarm_ts.expect("alarm time"))
}

#[test]
fn port_scan_alarms_within_seconds() {
    let r = run(Scenario::PortScan, &opts(60.0, 30.0));
    let d = r.scan();
    let secs = scan_alarm_secs(&r, &d);
    let a = d.first_alarm().unwrap();
    eprintln!("port-scan: scan alarm {secs:.3} s after the attack start: {a:?}");
    assert!((0.0..=3.0).contains(&secs), "{secs}");
    assert_eq!(a.scanning_sources, 1);
    assert!(
        r.cusum().first_alarm().is_none(),
        "one new source is no DDoS"
    );
    // Training background alone does not alarm the scan detector either.
    let mut bg = ScanDetector::new(ScanConfig::default(), None).unwrap();
    for p in r.packets.iter().filter(|p| p.ts < r.attack_start) {
        bg.observe(p);
    }
    bg.finish(r.attack_start);
    assert!(bg.first_alarm().is_none());
}

#[test]
fn port_sweep_alarms_within_seconds() {
    let r = run(Scenario::PortSweep, &opts(60.0, 30.0));
    let d = r.scan();
    let secs = scan_alarm_secs(&r, &d);
    let a = d.first_alarm().unwrap();
    let by_source = d
        .intervals()
        .iter()
        .find(|i| i.scanning_sources > 0)
        .map(|i| r.secs_after_start(i.alarm_ts.unwrap_or(i.start_ts)));
    eprintln!(
        "port-sweep: scan alarm {secs:.3} s after the attack start (first per-source flag \
         {by_source:?} s): {a:?}"
    );
    assert!((0.0..=3.0).contains(&secs), "{secs}");
    assert!(a.swept_ports >= 1 || a.scanning_sources >= 1);
    let worst = d.intervals().iter().map(|i| i.scanning_sources).max();
    assert_eq!(worst, Some(5), "all five sweepers are flagged eventually");
}

#[test]
fn a_pcap_round_trip_gives_the_same_alarm() {
    let o = opts(20.0, 15.0);
    let direct = run(Scenario::PortScan, &o);
    let mut file = Vec::new();
    {
        let mut w = PcapWriter::new(&mut file, 1, TsPrecision::Nano, 65535).unwrap();
        let mut sink = blb_gen::FnSink(|ts: u64, frame: &[u8]| {
            let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
            w.write_packet(ts, len, frame)
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
        blb_gen::generate(Scenario::PortScan, &o, &mut sink).unwrap();
    }
    let mut reader = CaptureReader::new(file.as_slice()).unwrap();
    let mut packets: Vec<PacketMeta> = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        packets.push(blb_wire::parse(p.link_type, p.ts_nanos, p.wire_len, p.data));
    }
    assert_eq!(packets, direct.packets);
    let from_file = Run { packets, ..direct };
    let (a, b) = (from_file.scan(), run(Scenario::PortScan, &o).scan());
    assert_eq!(a.intervals(), b.intervals());
    assert!(a.first_alarm().is_some());
}
