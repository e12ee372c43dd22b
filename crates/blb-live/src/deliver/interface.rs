//! Delivery to a local interface: the frame sent unchanged on an AF_PACKET socket.
//!
//! The socket is bound with protocol 0, so it never receives anything. A full transmit queue
//! (EAGAIN/ENOBUFS) is retried briefly before the frame is given up as a path failure.
//!
//! A batch goes out with `sendmmsg(2)`: up to 1 024 frames per system call, each with exactly
//! the outcome one `send(2)` would have had (see `deliver/mmsg.rs`). `PACKET_TX_RING` was
//! measured against it and is not used. On this development VM (2 cores, Linux 6.18, veth,
//! 1 M frames in batches of 1 024, CPU time of the sending thread per frame, median of 7):
//!
//! | frame | `send` per frame | `sendmmsg` | TPACKET_V2 TX ring, one `send(NULL)` per batch |
//! |---|---|---|---|
//! | 64 B | 1 877 ns | 1 334 ns | 1 385 ns |
//! | 1 024 B | 1 926 ns | 1 476 ns | 1 633 ns |
//!
//! The kernel's per-skb work (allocation, `dev_queue_xmit`, the veth peer's receive, which
//! runs in the sender's context) dominates both; the ring saves the system call per frame,
//! as `sendmmsg` does, but the ring's frames are zero-copy fragments that veth must copy into
//! fresh pages (`skb_copy_ubufs`), and the ring needs user space to copy each frame into a
//! slot. The ring also stops at a malformed or oversized frame (`TP_STATUS_WRONG_FORMAT`)
//! until user space rewrites the ring behind it, and its slots have a fixed size chosen
//! before the MTU is known, where `sendmmsg` reports `EMSGSIZE` for that one frame and goes
//! on. (On a physical NIC the ring's zero-copy could win; it was not measurable here.)
//!
//! By default frames go through the interface's queueing discipline, so packet taps on the
//! interface itself (tcpdump, a sensor's AF_PACKET socket) see them. [`InterfaceSink::open_with`]
//! can set `PACKET_QDISC_BYPASS` instead, which goes straight to the driver, a little faster,
//! but then taps on this same interface do *not* see the frames: a sensor must listen on the
//! far end (the veth peer, the switch port, the NIC cabled to it).

use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use super::mmsg::{self, Messages, Refusal};
use super::{FrameBatch, FrameSink, SendError};
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
    msgs: Messages,
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
            msgs: Messages::new(),
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
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
        let mut result = Ok(());
        self.send_batch(&[(link_type, frame)], &mut |_, r| result = r);
        result
    }

    fn send_batch(
        &mut self,
        frames: &dyn FrameBatch,
        outcome: &mut dyn FnMut(usize, Result<(), SendError>),
    ) {
        let fd = self.fd.as_raw_fd();
        let name = self.name.as_str();
        // Runs of Ethernet frames, each with one `sendmmsg` per 1 024; a frame of another
        // link type gets its error in its place.
        let send = |msgs: &mut Messages,
                    run: Range<usize>,
                    outcome: &mut dyn FnMut(usize, Result<(), SendError>)| {
            mmsg::send_run(
                fd,
                msgs,
                frames,
                run,
                &[],
                None,
                libc::MSG_DONTWAIT,
                &mut |e, data, refusals| refusal(name, e, data, refusals),
                outcome,
            );
        };
        let mut start = 0;
        for i in 0..frames.len() {
            let link_type = frames.frame(i).0;
            if link_type != LINKTYPE_ETHERNET {
                send(&mut self.msgs, start..i, outcome);
                outcome(
                    i,
                    Err(SendError::Frame(LiveError::Invalid(format!(
                        "interface {name} carries Ethernet frames only, not link type {link_type}"
                    )))),
                );
                start = i + 1;
            }
        }
        send(&mut self.msgs, start..frames.len(), outcome);
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
}

/// What a refused frame comes to: a full queue is tried again (yielding, then pausing) up to
/// [`RETRIES`] times before it is a path error; a frame too large for the MTU or too short
/// for an Ethernet header is the frame's fault; anything else is the path's.
fn refusal(name: &str, e: std::io::Error, data: &[u8], refusals: u32) -> Refusal {
    let path = |os| {
        Refusal::Give(SendError::Path(LiveError::Io {
            what: format!("sending on interface {name}"),
            os,
        }))
    };
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::ENOBUFS) => {
            if refusals >= RETRIES {
                return path(e);
            }
            if refusals < YIELDS {
                std::thread::yield_now();
            } else {
                std::thread::sleep(RETRY_PAUSE);
            }
            Refusal::Retry
        }
        Some(libc::EMSGSIZE) => {
            let mtu = iface::mtu(name)
                .map(|m| m.to_string())
                .unwrap_or_else(|_| "unknown".into());
            Refusal::Give(SendError::Frame(LiveError::Invalid(format!(
                "interface {name}: a frame of {} bytes is too large for the MTU of {mtu}",
                data.len()
            ))))
        }
        Some(libc::EINVAL) if data.len() < 14 => {
            Refusal::Give(SendError::Frame(LiveError::Invalid(format!(
                "interface {name}: a frame of {} bytes is shorter than an Ethernet header",
                data.len()
            ))))
        }
        _ => path(e),
    }
}
