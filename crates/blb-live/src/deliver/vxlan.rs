//! Delivery to a remote sensor over VXLAN (RFC 7348).
//!
//! Each Ethernet frame goes unchanged as the payload of one UDP datagram, behind the 8-byte
//! VXLAN header: flags byte `0x08` (the "I" bit: the VNI is valid), 3 reserved bytes, the
//! 24-bit VNI, 1 reserved byte. The sensor host normally does not listen on the port at all
//! (the IDS sniffs the VXLAN traffic on its interface), so the socket is left *unconnected*
//! and every datagram goes with its destination: on a connected socket the host's ICMP
//! port-unreachable would come back as `ECONNREFUSED` on the next send.
//!
//! A batch goes out with `sendmmsg(2)`, up to 1 024 datagrams per system call, each gathered
//! from two parts (the sink's header, then the frame where the queue holds it), so no frame
//! is copied in user space. UDP GSO (`UDP_SEGMENT`) is not used: it cuts one buffer into
//! segments of one size, so it would need every frame copied behind its own header, and it
//! helps only runs of equal-sized frames; it was not measured.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::mmsg::{self, Messages, Refusal, SockAddr};
use super::{FrameBatch, FrameSink, SendError};
use crate::{Frame, LiveError};

/// The IANA port of VXLAN.
pub const DEFAULT_PORT: u16 = 4789;
/// Length of the VXLAN header.
pub const HEADER_LEN: usize = 8;
/// Largest UDP payload over IPv4 (65535 − 20 IP − 8 UDP); also used for IPv6.
pub const MAX_PAYLOAD: usize = 65_507;
/// Largest Ethernet frame that fits behind the header.
pub const MAX_FRAME: usize = MAX_PAYLOAD - HEADER_LEN;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;
/// pcap LINKTYPE_ETHERNET, the only link type VXLAN carries.
const LINKTYPE_ETHERNET: u32 = 1;
/// Attempts of a send that fails with `ENOBUFS` / `EAGAIN` before it counts as a path error.
const RETRIES: u32 = 8;

/// Where a VXLAN sink sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanConfig {
    /// The sensor's VTEP address and port (usually [`DEFAULT_PORT`], see [`parse_destination`]).
    pub destination: SocketAddr,
    /// VXLAN network identifier, at most [`MAX_VNI`] (2^24 − 1).
    pub vni: u32,
    /// Local address to bind; default the unspecified address of the destination's family,
    /// port 0 (any).
    pub source: Option<SocketAddr>,
}

impl VxlanConfig {
    /// A configuration with the default source.
    pub fn new(destination: SocketAddr, vni: u32) -> Self {
        Self {
            destination,
            vni,
            source: None,
        }
    }

    /// Checks the VNI, the destination and the source's address family.
    pub fn validate(&self) -> Result<(), LiveError> {
        if self.vni > MAX_VNI {
            return Err(LiveError::Invalid(format!(
                "VXLAN VNI {} is out of range (0 to {MAX_VNI})",
                self.vni
            )));
        }
        if self.destination.ip().is_unspecified() || self.destination.port() == 0 {
            return Err(LiveError::Invalid(format!(
                "VXLAN destination {} needs an address and a port",
                self.destination
            )));
        }
        if let Some(src) = self.source
            && src.is_ipv4() != self.destination.is_ipv4()
        {
            return Err(LiveError::Invalid(format!(
                "VXLAN source {src} and destination {} are of different address families",
                self.destination
            )));
        }
        Ok(())
    }

    /// The address to bind: `source`, or the unspecified address of the destination's family.
    pub fn bind_address(&self) -> SocketAddr {
        self.source.unwrap_or(match self.destination.ip() {
            IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        })
    }
}

/// Parses a destination given as `addr`, `addr:port`, `[v6]` or `[v6]:port`; the port
/// defaults to [`DEFAULT_PORT`]. Host names are not resolved.
pub fn parse_destination(s: &str) -> Result<SocketAddr, LiveError> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
        .map_err(|_| {
            LiveError::Invalid(format!(
                "VXLAN destination {s:?} is not an address or address:port"
            ))
        })
}

/// The 8-byte VXLAN header of `vni`.
pub fn header(vni: u32) -> [u8; HEADER_LEN] {
    let v = vni.to_be_bytes();
    [0x08, 0, 0, 0, v[1], v[2], v[3], 0]
}

/// Sends Ethernet frames to one sensor, encapsulated in VXLAN over UDP.
#[derive(Debug)]
pub struct VxlanSink {
    socket: UdpSocket,
    to: SockAddr,
    /// "ADDRESS:PORT vni VNI", for messages.
    label: String,
    header: [u8; HEADER_LEN],
    msgs: Messages,
}

impl VxlanSink {
    /// Validates `cfg` and binds an unconnected UDP socket.
    pub fn open(cfg: &VxlanConfig) -> Result<Self, LiveError> {
        cfg.validate()?;
        let bind = cfg.bind_address();
        let socket = UdpSocket::bind(bind).map_err(|source| LiveError::Io {
            what: format!(
                "binding the VXLAN socket for {} vni {} to {bind}",
                cfg.destination, cfg.vni
            ),
            os: source,
        })?;
        Ok(Self {
            socket,
            to: SockAddr::new(cfg.destination),
            label: format!("{} vni {}", cfg.destination, cfg.vni),
            header: header(cfg.vni),
            msgs: Messages::new(),
        })
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> Result<SocketAddr, LiveError> {
        self.socket.local_addr().map_err(|source| LiveError::Io {
            what: format!("the local address of {}", self.describe()),
            os: source,
        })
    }
}

impl FrameSink for VxlanSink {
    fn describe(&self) -> String {
        format!("vxlan {}", self.label)
    }

    fn accepts(&self, link_type: u32) -> bool {
        link_type == LINKTYPE_ETHERNET
    }

    fn send(&mut self, link_type: u32, frame: Frame<'_>) -> Result<(), SendError> {
        let mut result = Ok(());
        self.send_batch(&[(link_type, frame)], &mut |_, r| result = r);
        result
    }

    fn send_batch(
        &mut self,
        frames: &dyn FrameBatch,
        outcome: &mut dyn FnMut(usize, Result<(), SendError>),
    ) {
        let fd = self.socket.as_raw_fd();
        let label = self.label.as_str();
        // Runs of frames that can go, each with one `sendmmsg` per 1 024; a frame that cannot
        // go at all (not Ethernet, too large) gets its error in its place.
        let (header, to) = (&self.header, &self.to);
        let send = |msgs: &mut Messages,
                    run: Range<usize>,
                    outcome: &mut dyn FnMut(usize, Result<(), SendError>)| {
            // Blocking, as a plain send_to: a full socket buffer waits instead of failing.
            mmsg::send_run(
                fd,
                msgs,
                frames,
                run,
                header,
                Some(to),
                0,
                &mut |e, data, refusals| refusal(label, e, data, refusals),
                outcome,
            );
        };
        let mut start = 0;
        for i in 0..frames.len() {
            if let Some(e) = refuse(label, frames.frame(i)) {
                send(&mut self.msgs, start..i, outcome);
                outcome(i, Err(SendError::Frame(e)));
                start = i + 1;
            }
        }
        send(&mut self.msgs, start..frames.len(), outcome);
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
}

/// Why a frame cannot go at all (not Ethernet, too large for a datagram), if it cannot;
/// `label` is the sink's "ADDRESS:PORT vni VNI".
fn refuse(label: &str, (link_type, frame): (u32, Frame<'_>)) -> Option<LiveError> {
    if link_type != LINKTYPE_ETHERNET {
        return Some(LiveError::Invalid(format!(
            "vxlan {label}: link type {link_type} is not Ethernet"
        )));
    }
    if frame.data.len() > MAX_FRAME {
        return Some(LiveError::Invalid(format!(
            "vxlan {label}: frame of {} bytes does not fit in a UDP datagram (at most {MAX_FRAME})",
            frame.data.len()
        )));
    }
    None
}

/// What a refused datagram comes to: `EMSGSIZE` is the frame's fault; a full local queue
/// (`ENOBUFS`, `EAGAIN`) is tried again after 50 µs, 100 µs, … (≈ 13 ms in all, [`RETRIES`]
/// pauses) before it is held against the path, as is any other error.
fn refusal(label: &str, e: io::Error, data: &[u8], refusals: u32) -> Refusal {
    let error = |doing: String, os| LiveError::Io {
        what: format!("{doing} to VXLAN sensor {label}"),
        os,
    };
    match e.raw_os_error() {
        Some(libc::EMSGSIZE) => Refusal::Give(SendError::Frame(error(
            format!("sending a frame of {} bytes", data.len()),
            e,
        ))),
        Some(libc::ENOBUFS | libc::EAGAIN) if refusals <= RETRIES => {
            std::thread::sleep(Duration::from_micros(50 << (refusals - 1)));
            Refusal::Retry
        }
        _ => Refusal::Give(SendError::Path(error("sending".into(), e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        assert_eq!(header(0x12_3456), [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        assert_eq!(header(7), [0x08, 0, 0, 0, 0, 0, 7, 0]);
    }

    #[test]
    fn destinations() {
        let a = parse_destination("10.0.0.2").unwrap();
        assert_eq!(a, "10.0.0.2:4789".parse().unwrap());
        let a = parse_destination("10.0.0.2:5000").unwrap();
        assert_eq!(a.port(), 5000);
        let a = parse_destination("[fd00::2]").unwrap();
        assert_eq!(a, "[fd00::2]:4789".parse().unwrap());
        let a = parse_destination("fd00::2").unwrap();
        assert_eq!(a.port(), DEFAULT_PORT);
        assert!(parse_destination("sensor.example").is_err());
    }

    #[test]
    fn validation() {
        let d: SocketAddr = "10.0.0.2:4789".parse().unwrap();
        assert!(VxlanConfig::new(d, MAX_VNI).validate().is_ok());
        let e = VxlanConfig::new(d, 1 << 24).validate().unwrap_err();
        assert!(e.to_string().contains("16777216"), "{e}");
        assert!(
            VxlanConfig::new("0.0.0.0:4789".parse().unwrap(), 1)
                .validate()
                .is_err()
        );
        let mut c = VxlanConfig::new(d, 1);
        c.source = Some("[::]:0".parse().unwrap());
        assert!(c.validate().is_err());
        c.source = None;
        assert_eq!(c.bind_address(), "0.0.0.0:0".parse().unwrap());
        let c6 = VxlanConfig::new("[::1]:4789".parse().unwrap(), 1);
        assert_eq!(c6.bind_address(), "[::]:0".parse().unwrap());
    }
}
