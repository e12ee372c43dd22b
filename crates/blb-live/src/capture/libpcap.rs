//! libpcap capture with BPF filters (feature `pcap`).
//!
//! A nonblocking, immediate-mode libpcap handle with nanosecond timestamps when libpcap
//! offers them. Useful where a BPF filter is wanted or AF_PACKET rings are not available.

use std::os::fd::{AsRawFd, RawFd};

use pcap::{Active, Capture, Linktype, Precision};

use super::{CaptureStats, PacketSource};
use crate::{Frame, LiveError, iface};

/// `PCAP_TSTAMP_PRECISION_NANO` from pcap.h.
const PCAP_TSTAMP_PRECISION_NANO: libc::c_int = 1;
/// `DLT_RAW` on Linux (LINKTYPE_RAW in files).
const DLT_RAW: i32 = 12;
/// Largest snap length libpcap accepts (MAXIMUM_SNAPLEN).
const MAX_SNAPLEN: i32 = 262_144;

// SAFETY: the declaration matches pcap.h's `int pcap_get_tstamp_precision(pcap_t *)`; the
// symbol comes from the libpcap the `pcap` crate links.
unsafe extern "C" {
    /// From libpcap (linked by the `pcap` crate): the time stamp precision of a handle.
    fn pcap_get_tstamp_precision(p: *mut libc::c_void) -> libc::c_int;
}

/// A live capture from one interface through libpcap.
pub struct PcapSource {
    name: String,
    cap: Capture<Active>,
    fd: RawFd,
    link_type: u32,
    /// Whether libpcap reports nanoseconds (else microseconds) in `tv_usec`.
    nanos: bool,
    /// libpcap's 32-bit counters as last read, to accumulate across their wrap-around.
    last: (u32, u32),
    stats: CaptureStats,
}

impl PcapSource {
    /// Open a capture on `interface`: `filter` is a BPF expression (compiled with
    /// optimisation), `snaplen` the bytes kept per frame, `buffer_size` the kernel buffer in
    /// bytes. Needs root or `CAP_NET_RAW`.
    pub fn open(
        interface: &str,
        filter: Option<&str>,
        snaplen: i32,
        promiscuous: bool,
        buffer_size: i32,
    ) -> Result<Self, LiveError> {
        let ctx = format!("capture on {interface}");
        if !(1..=MAX_SNAPLEN).contains(&snaplen) {
            return Err(LiveError::Invalid(format!(
                "{ctx}: the snap length {snaplen} must be from 1 to {MAX_SNAPLEN}"
            )));
        }
        if buffer_size <= 0 {
            return Err(LiveError::Invalid(format!(
                "{ctx}: the buffer size {buffer_size} must be positive"
            )));
        }
        iface::index_for(&ctx, interface)?;
        let lib = |e: pcap::Error| LiveError::Pcaplib(format!("{ctx}: {}", message(&e)));
        let cap = Capture::from_device(interface)
            .map_err(lib)?
            .promisc(promiscuous)
            .snaplen(snaplen)
            .buffer_size(buffer_size)
            .immediate_mode(true)
            .precision(Precision::Nano)
            .open()
            .map_err(lib)?;
        let mut cap = cap.setnonblock().map_err(lib)?;
        if let Some(expr) = filter {
            cap.filter(expr, true)
                .map_err(|e| bad_filter(&format!("{ctx}: "), expr, &e))?;
        }
        // SAFETY: `cap` holds a live, activated pcap_t for as long as the call lasts.
        let precision = unsafe { pcap_get_tstamp_precision(cap.as_ptr().cast::<libc::c_void>()) };
        let link_type = linktype_of_dlt(cap.get_datalink().0);
        let fd = cap.as_raw_fd();
        Ok(PcapSource {
            name: interface.to_string(),
            cap,
            fd,
            link_type,
            nanos: precision == PCAP_TSTAMP_PRECISION_NANO,
            last: (0, 0),
            stats: CaptureStats::default(),
        })
    }
}

/// Check that `expr` compiles as a BPF filter for link type `link_type` (on a dead handle,
/// so settings can be validated before any capture starts).
pub fn check_filter(expr: &str, link_type: u32) -> Result<(), LiveError> {
    let dead = Capture::dead(Linktype(dlt_of_linktype(link_type)))
        .map_err(|e| LiveError::Pcaplib(format!("checking filter {expr:?}: {}", message(&e))))?;
    dead.compile(expr, true)
        .map(drop)
        .map_err(|e| bad_filter("", expr, &e))
}

/// libpcap speaks DLT_ values, pcap files LINKTYPE_ values; they differ for a few, of
/// which only raw IP matters on Linux (DLT_RAW 12 = LINKTYPE_RAW 101).
fn linktype_of_dlt(dlt: i32) -> u32 {
    match dlt {
        DLT_RAW => iface::LINKTYPE_RAW,
        other => other as u32,
    }
}

fn dlt_of_linktype(link_type: u32) -> i32 {
    match link_type {
        iface::LINKTYPE_RAW => DLT_RAW,
        other => other as i32,
    }
}

fn bad_filter(prefix: &str, expr: &str, e: &pcap::Error) -> LiveError {
    LiveError::Invalid(format!(
        "{prefix}bad capture filter {expr:?}: {}",
        message(e)
    ))
}

/// libpcap's own message, without the crate's "libpcap error: " prefix.
fn message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m.clone(),
        other => other.to_string(),
    }
}

impl PacketSource for PcapSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn link_type(&self) -> u32 {
        self.link_type
    }

    fn raw_fd(&self) -> RawFd {
        self.fd
    }

    fn drain(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, LiveError> {
        let scale: u64 = if self.nanos { 1 } else { 1000 };
        let mut handed = 0;
        while handed < max {
            let n = self
                .cap
                .dispatch(Some((max - handed).min(i32::MAX as usize)), |p| {
                    let ts = (p.header.ts.tv_sec.max(0) as u64) * 1_000_000_000
                        + (p.header.ts.tv_usec.max(0) as u64) * scale;
                    f(Frame {
                        ts,
                        wire_len: p.header.len,
                        data: p.data,
                    });
                })
                .map_err(|e| {
                    LiveError::Pcaplib(format!("capture on {}: {}", self.name, message(&e)))
                })?;
            if n == 0 {
                break;
            }
            handed += n;
        }
        Ok(handed)
    }

    /// libpcap's `ps_recv` (on Linux this includes the packets then dropped) and
    /// `ps_drop + ps_ifdrop`, accumulated so that the 32-bit counters may wrap.
    fn stats(&mut self) -> Result<CaptureStats, LiveError> {
        let s = self.cap.stats().map_err(|e| {
            LiveError::Pcaplib(format!(
                "capture on {}: reading the statistics: {}",
                self.name,
                message(&e)
            ))
        })?;
        let dropped = s.dropped.wrapping_add(s.if_dropped);
        self.stats.received += u64::from(s.received.wrapping_sub(self.last.0));
        self.stats.dropped += u64::from(dropped.wrapping_sub(self.last.1));
        self.last = (s.received, dropped);
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        check_filter("udp port 53", 1).unwrap();
        check_filter("ip and tcp", 101).unwrap();
        let e = check_filter("udp prot 53", 1).unwrap_err().to_string();
        assert!(e.contains("\"udp prot 53\""), "{e}");
    }
}
