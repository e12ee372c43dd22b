//! Round trips: packets written with PcapWriter (micro, nano) and PcapNgWriter read back identically.

use std::io::{BufWriter, Seek, SeekFrom};

use blb_pcap::{CaptureReader, Format, PcapNgWriter, PcapWriter, TsPrecision};

use crate::read_all;

/// (ts_nanos, wire_len, data) test packets of varied sizes, including empty and large ones.
fn sample() -> Vec<(u64, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut ts = 1_600_000_000_000_000_000u64;
    for i in 0..300u32 {
        let len = match i % 7 {
            0 => 0,
            1 => 1,
            2 => 60,
            3 => 1514,
            4 => 9000,
            5 => (i * 13) as usize % 257,
            _ => 65_535,
        };
        let data: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
        ts += u64::from(i) * 1_234_567 + 1;
        out.push((ts, len as u32 + i % 3, data));
    }
    out
}

fn pcap_round_trip(precision: TsPrecision) {
    let mut file = tempfile::tempfile().unwrap();
    let mut w = PcapWriter::new(
        BufWriter::with_capacity(1 << 20, &mut file),
        1,
        precision,
        65_535,
    )
    .unwrap();
    for (ts, wire, data) in sample() {
        w.write_packet(ts, wire, &data).unwrap();
    }
    assert_eq!(w.packets_written(), 300);
    drop(w.into_inner().unwrap());
    file.seek(SeekFrom::Start(0)).unwrap();

    let r = CaptureReader::new(&mut file).unwrap();
    assert_eq!(r.format(), Format::Pcap);
    assert_eq!(r.precision(), precision);
    assert_eq!(r.link_type(), Some(1));
    assert_eq!(r.link_types(), vec![1]);
    assert_eq!(r.snaplen(), 65_535);
    drop(r);
    file.seek(SeekFrom::Start(0)).unwrap();
    let got = read_all(&mut file);
    assert!(got.error.is_none());
    assert_eq!(got.packets.len(), 300);
    for (p, (ts, wire, data)) in got.packets.iter().zip(sample()) {
        let want_ts = match precision {
            TsPrecision::Micro => ts / 1000 * 1000,
            TsPrecision::Nano => ts,
        };
        assert_eq!(p.ts_nanos, want_ts);
        assert_eq!(p.wire_len, wire);
        assert_eq!(p.cap_len as usize, data.len());
        assert_eq!(p.data, data);
        assert_eq!((p.link_type, p.interface), (1, 0));
    }
}

#[test]
fn pcap_micro_round_trip() {
    pcap_round_trip(TsPrecision::Micro);
}

#[test]
fn pcap_nano_round_trip() {
    pcap_round_trip(TsPrecision::Nano);
}

#[test]
fn pcapng_round_trip() {
    let mut w = PcapNgWriter::new(BufWriter::new(Vec::new())).unwrap();
    let eth = w.add_interface(1, 0).unwrap();
    let raw = w.add_interface(101, 9000).unwrap();
    for (i, (ts, wire, data)) in sample().into_iter().enumerate() {
        let itf = if i % 3 == 0 { raw } else { eth };
        w.write_packet(itf, ts, wire, &data).unwrap();
    }
    w.flush().unwrap();
    let bytes = w.into_inner().unwrap().into_inner().unwrap();
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    assert_eq!(r.link_type(), None, "no IDB read yet");
    let mut n = 0;
    let want = sample();
    while let Some(p) = r.next_packet().unwrap() {
        let (ts, wire, data) = &want[n];
        assert_eq!(p.ts_nanos, *ts);
        assert_eq!(p.wire_len, *wire);
        assert_eq!(p.data, &data[..]);
        let (itf, lt) = if n % 3 == 0 { (raw, 101) } else { (eth, 1) };
        assert_eq!((p.interface, p.link_type), (itf, lt));
        n += 1;
    }
    assert_eq!(n, want.len());
    assert_eq!(r.link_types(), vec![1, 101]);
    assert_eq!(r.precision(), TsPrecision::Nano);
    assert_eq!(r.snaplen(), 262_144);
}

#[test]
fn large_packet_grows_the_buffer() {
    // 5 MiB packet: larger than the 1 MiB initial buffer, below the 16 MiB limit.
    let big: Vec<u8> = (0..5 << 20).map(|i: u32| (i % 251) as u8).collect();
    for ng in [false, true] {
        let bytes = if ng {
            let mut w = PcapNgWriter::new(Vec::new()).unwrap();
            w.add_interface(1, 0).unwrap();
            w.write_packet(0, 1, 60, &[1; 60]).unwrap();
            w.write_packet(0, 2, big.len() as u32, &big).unwrap();
            w.write_packet(0, 3, 60, &[3; 60]).unwrap();
            w.into_inner().unwrap()
        } else {
            let mut w = PcapWriter::new(Vec::new(), 1, TsPrecision::Nano, 8 << 20).unwrap();
            w.write_packet(1, 60, &[1; 60]).unwrap();
            w.write_packet(2, big.len() as u32, &big).unwrap();
            w.write_packet(3, 60, &[3; 60]).unwrap();
            w.into_inner().unwrap()
        };
        let got = read_all(&bytes[..]);
        assert!(got.error.is_none(), "{:?}", got.error);
        assert_eq!(got.packets.len(), 3);
        assert_eq!(got.packets[1].data, big);
        assert_eq!(got.packets[2].data, vec![3; 60]);
    }
}
