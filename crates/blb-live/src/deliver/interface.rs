//! Delivery to a local interface: the frame sent unchanged on an AF_PACKET socket.
//!
//! The socket is bound with protocol 0, so it never receives anything. A full transmit queue
//! (EAGAIN/ENOBUFS) is retried briefly before the frame is given up as a path failure.
//!
//! By default frames go through the interface's queueing discipline, so packet taps on the
//! interface itself (tcpdump, a sensor's AF_PACKET socket) see them. [`InterfaceSink::open_with`]
//! can set `PACKET_QDISC_BYPASS` instead, which goes straight to the driver, a little faster,
//! but then taps on this same interface do *not* see the frames: a sensor must listen on the
//! far end (the veth peer, the switch port, the NIC cabled to it).

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use super::{FrameSink, SendError};
use crate::iface::{self, LINKTYPE_ETHERNET, io_err as io, setsockopt};
use crate::{Frame, LiveError};

/// Send buffer requested for the socket (the kernel may cap `SO_SNDBUF` lower).
const SNDBUF: libc::c_int = 4 << 20;
/// Attempts on a full queue before giving up.
const RETRIES: u32 = 100;
/// Attempts that only yield the CPU before sleeping between retries.
const YIELDS: u32 = 10;
/// Pause between the later retries.
const RETRY_PAUSE: Duration = Duration::from_micros(20);

/// Sends frames out of one local interface, byte for byte.
pub struct InterfaceSink {
    name: String,
    fd: OwnedFd,
}

impl InterfaceSink {
    /// Open a raw AF_PACKET socket on interface `name`, through its queueing discipline.
    /// Needs root or `CAP_NET_RAW`.
    pub fn open(name: &str) -> Result<Self, LiveError> {
        Self::open_with(name, false)
    }

    /// [`InterfaceSink::open`], bypassing the queueing discipline when `qdisc_bypass`.
    pub fn open_with(name: &str, qdisc_bypass: bool) -> Result<Self, LiveError> {
        let ctx = format!("interface {name}");
        let ifindex = iface::index_for(&ctx, name)?;
        // Protocol 0: the socket receives nothing.
        let fd = iface::packet_socket(&ctx)?;

        // A large send buffer absorbs bursts; SO_SNDBUFFORCE ignores the wmem_max cap but
        // needs CAP_NET_ADMIN, so fall back to SO_SNDBUF (capped) without it.
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &SNDBUF).is_err() {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &SNDBUF)
                .map_err(|e| io(&ctx, "setting the send buffer size", e))?;
        }
        if qdisc_bypass {
            setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &(1 as libc::c_int),
            )
            .map_err(|e| io(&ctx, "enabling PACKET_QDISC_BYPASS", e))?;
        }

        iface::bind_packet(&fd, &ctx, ifindex, 0)?;
        Ok(InterfaceSink {
            name: name.to_string(),
            fd,
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn path_error(&self, source: std::io::Error) -> SendError {
        SendError::Path(LiveError::Io {
            what: format!("sending on interface {}", self.name),
            os: source,
        })
    }
}

impl FrameSink for InterfaceSink {
    fn describe(&self) -> String {
        format!("interface {}", self.name)
    }

    fn accepts(&self, link_type: u32) -> bool {
        link_type == LINKTYPE_ETHERNET
    }

    fn send(&mut self, link_type: u32, frame: Frame<'_>) -> Result<(), SendError> {
        if link_type != LINKTYPE_ETHERNET {
            return Err(SendError::Frame(LiveError::Invalid(format!(
                "interface {} carries Ethernet frames only, not link type {link_type}",
                self.name
            ))));
        }
        let data = frame.data;
        let mut attempt = 0;
        loop {
            // SAFETY: `data` is a valid byte slice for the duration of the call.
            let rc = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    data.as_ptr().cast::<libc::c_void>(),
                    data.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if rc >= 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN | libc::ENOBUFS) => {
                    attempt += 1;
                    if attempt >= RETRIES {
                        return Err(self.path_error(e));
                    }
                    if attempt < YIELDS {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(RETRY_PAUSE);
                    }
                }
                Some(libc::EMSGSIZE) => {
                    let mtu = iface::mtu(&self.name)
                        .map(|m| m.to_string())
                        .unwrap_or_else(|_| "unknown".into());
                    return Err(SendError::Frame(LiveError::Invalid(format!(
                        "interface {}: a frame of {} bytes is too large for the MTU of {mtu}",
                        self.name,
                        data.len()
                    ))));
                }
                Some(libc::EINVAL) if data.len() < 14 => {
                    return Err(SendError::Frame(LiveError::Invalid(format!(
                        "interface {}: a frame of {} bytes is shorter than an Ethernet header",
                        self.name,
                        data.len()
                    ))));
                }
                _ => return Err(self.path_error(e)),
            }
        }
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
}
