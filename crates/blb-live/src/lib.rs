//! The live side of blb: packet capture from interfaces (AF_PACKET TPACKET_V3, or libpcap
//! behind the `pcap` feature), delivery to sensors (a local interface, rotated pcap files,
//! VXLAN), bounded per-sensor queues, sensor load feedback (SNMP v2c; Suricata's and Zeek's
//! own loss figures from their logs and Suricata's command socket), and a small HTTP
//! server for the metrics and control endpoints.
//!
//! Everything here does I/O; the balancing decisions stay in `blb-core`. Each piece sits
//! behind a small trait ([`capture::PacketSource`], [`deliver::FrameSink`]) so the runtime
//! and the tests can swap it.

pub mod capture;
pub mod deliver;
pub mod error;
pub mod feedback;
pub mod http;
pub mod iface;

pub use error::LiveError;

/// One captured or delivered frame: the bytes as they were on the wire (possibly cut to the
/// snap length), the original length, and the capture time in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since 1970-01-01 UTC.
    pub ts: u64,
    /// Length of the frame on the wire (≥ `data.len()`).
    pub wire_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}
