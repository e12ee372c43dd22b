//! Shared helpers: parsing and validating generated frames with etherparse.

use blb_gen::{FnSink, GenOptions, GenReport, Scenario, generate};
use etherparse::{LinkSlice, NetSlice, SlicedPacket, TransportSlice};
use std::net::Ipv4Addr;

/// The fields of a generated frame the tests look at.
#[derive(Clone, Copy, Debug)]
pub struct Pkt {
    pub ts: u64,
    pub len: usize,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// 6 (TCP) or 17 (UDP).
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// TCP flags byte (0 for UDP).
    pub flags: u8,
    pub payload_len: usize,
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Parses `frame`, checking Ethernet II, IPv4 header checksum and total length, and the
/// TCP/UDP length and checksum. Panics with a message on any defect.
pub fn parse(ts: u64, frame: &[u8]) -> Pkt {
    assert!(frame.len() >= 60, "runt frame of {} bytes", frame.len());
    let p = SlicedPacket::from_ethernet(frame).expect("frame parses");
    let Some(LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!("not Ethernet II")
    };
    assert_eq!(eth.ether_type(), etherparse::EtherType::IPV4);
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(
        h.header_checksum,
        h.calc_header_checksum(),
        "IPv4 header checksum"
    );
    let total = usize::from(h.total_len);
    assert!(14 + total <= frame.len());
    assert!(
        frame.len() == 14 + total || frame.len() == 60,
        "frame length vs IPv4 total length"
    );
    // MACs are derived from the addresses.
    assert_eq!(&eth.source()[2..], &h.source);
    assert_eq!(&eth.destination()[2..], &h.destination);
    let (proto, sport, dport, flags, payload_len) = match &p.transport {
        Some(TransportSlice::Udp(u)) => {
            assert_eq!(usize::from(u.length()), total - 20, "UDP length");
            let c = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
            assert_eq!(c, u.checksum(), "UDP checksum");
            (
                17,
                u.source_port(),
                u.destination_port(),
                0,
                u.payload().len(),
            )
        }
        Some(TransportSlice::Tcp(t)) => {
            let c = t.calc_checksum_ipv4(h.source, h.destination).unwrap();
            assert_eq!(c, t.checksum(), "TCP checksum");
            let fl = t.header_slice()[13];
            (
                6,
                t.source_port(),
                t.destination_port(),
                fl,
                t.payload().len(),
            )
        }
        other => panic!("unexpected transport {other:?}"),
    };
    Pkt {
        ts,
        len: frame.len(),
        src: Ipv4Addr::from(h.source),
        dst: Ipv4Addr::from(h.destination),
        proto,
        sport,
        dport,
        flags,
        payload_len,
    }
}

/// Generates `scenario`, parsing and validating every frame; checks non-decreasing timestamps.
pub fn run(scenario: Scenario, opts: &GenOptions) -> (GenReport, Vec<Pkt>) {
    let mut pkts: Vec<Pkt> = Vec::new();
    let mut sink = FnSink(|ts: u64, frame: &[u8]| {
        if let Some(last) = pkts.last() {
            assert!(ts >= last.ts, "timestamps go back: {} then {ts}", last.ts);
        }
        pkts.push(parse(ts, frame));
        Ok(())
    });
    let report = generate(scenario, opts, &mut sink).expect("generates");
    assert_eq!(report.packets, pkts.len() as u64);
    assert_eq!(report.bytes, pkts.iter().map(|p| p.len as u64).sum::<u64>());
    (report, pkts)
}

/// Seconds since the capture start.
pub fn secs(opts: &GenOptions, p: &Pkt) -> f64 {
    (p.ts - opts.start_time * 1_000_000_000) as f64 / 1e9
}

/// True for addresses in 10.10.0.0/16.
pub fn inside(ip: Ipv4Addr) -> bool {
    ip.octets()[0] == 10 && ip.octets()[1] == 10
}
