//! Many frames per system call: the `sendmmsg(2)` loop shared by the interface and VXLAN
//! sinks, with the same outcome per frame as one `send` each.
//!
//! `sendmmsg` sends messages in order and stops at the first one the kernel refuses: it
//! returns how many went (the refusal itself is then reported by the next call, which starts
//! with the refused message), or −1 with `errno` when the very first was refused. So the loop
//! below always knows which frame an error belongs to: the first one not yet sent. The sink
//! decides (its [`Refusal`] closure) whether to try that frame again (a full queue, after a
//! pause) or to give it up with the error its `send` would have returned; the loop then goes
//! on with the next frame. Every frame gets exactly one outcome, in order.
//!
//! The message headers and I/O vectors are allocated once per sink ([`Messages`]) and point
//! into the caller's frames only for the duration of one [`send_run`] call.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::RawFd;

use super::{FrameBatch, SendError};

/// Most messages per `sendmmsg` call (the kernel's `UIO_MAXIOV`, which caps `vlen`).
pub const MAX_MESSAGES: usize = 1024;

/// What a sink makes of a message the kernel refused.
pub enum Refusal {
    /// Try the same frame again (the sink has already paused as it sees fit).
    Retry,
    /// Give the frame up with this error.
    Give(SendError),
}

/// A socket address in the form the kernel takes.
#[derive(Clone, Copy)]
pub enum SockAddr {
    /// IPv4.
    V4(libc::sockaddr_in),
    /// IPv6.
    V6(libc::sockaddr_in6),
}

impl std::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SockAddr::V4(_) => "SockAddr::V4",
            SockAddr::V6(_) => "SockAddr::V6",
        })
    }
}

impl SockAddr {
    /// `addr` as a `sockaddr_in` or `sockaddr_in6`.
    pub fn new(addr: SocketAddr) -> Self {
        match addr {
            SocketAddr::V4(a) => SockAddr::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => SockAddr::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }

    fn raw(&self) -> (*mut libc::c_void, libc::socklen_t) {
        match self {
            SockAddr::V4(a) => (
                (a as *const libc::sockaddr_in).cast_mut().cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            SockAddr::V6(a) => (
                (a as *const libc::sockaddr_in6).cast_mut().cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}

/// The reusable message headers and I/O vectors of one sink.
pub struct Messages {
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
}

// SAFETY: the raw pointers inside the headers and vectors are written at the start of every
// `send_run` and followed only by the kernel during that call; between calls they are stale
// and never read, so the buffers can move between threads like plain memory.
unsafe impl Send for Messages {}

impl Default for Messages {
    fn default() -> Self {
        Self::new()
    }
}

impl Messages {
    /// Room for [`MAX_MESSAGES`] messages of up to two parts each, allocated now.
    pub fn new() -> Self {
        Messages {
            headers: Vec::with_capacity(MAX_MESSAGES),
            iovecs: Vec::with_capacity(2 * MAX_MESSAGES),
        }
    }
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

/// Send frames `run` of `frames` on `fd`, each as one message: `prefix` (if not empty) then
/// the frame's bytes, to `to` (if given; else where the socket is bound or connected), with
/// `flags`. `outcome(i, result)` is called once for every frame of `run`, in order; a refused
/// frame goes to `refused(error, frame bytes, refusals of this frame so far)`. `EINTR` is
/// retried at once.
#[allow(clippy::too_many_arguments)]
pub fn send_run(
    fd: RawFd,
    msgs: &mut Messages,
    frames: &dyn FrameBatch,
    run: Range<usize>,
    prefix: &[u8],
    to: Option<&SockAddr>,
    flags: libc::c_int,
    refused: &mut dyn FnMut(io::Error, &[u8], u32) -> Refusal,
    outcome: &mut dyn FnMut(usize, Result<(), SendError>),
) {
    let (name, namelen) = to.map_or((std::ptr::null_mut(), 0), SockAddr::raw);
    let mut first = run.start;
    while first < run.end {
        let last = run.end.min(first + MAX_MESSAGES);
        let count = last - first;
        let parts = if prefix.is_empty() { 1 } else { 2 };
        msgs.iovecs.clear();
        for i in first..last {
            let data = frames.frame(i).1.data;
            if !prefix.is_empty() {
                msgs.iovecs.push(libc::iovec {
                    iov_base: prefix.as_ptr().cast_mut().cast(),
                    iov_len: prefix.len(),
                });
            }
            msgs.iovecs.push(libc::iovec {
                iov_base: data.as_ptr().cast_mut().cast(),
                iov_len: data.len(),
            });
        }
        // Headers after the vectors, which no longer move (they stay within capacity).
        msgs.headers.clear();
        let iov = msgs.iovecs.as_mut_ptr();
        for k in 0..count {
            // SAFETY: `k * parts < iovecs.len()`, so the pointer stays inside the vector.
            let msg_iov = unsafe { iov.add(k * parts) };
            // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = name;
            h.msg_hdr.msg_namelen = namelen;
            h.msg_hdr.msg_iov = msg_iov;
            h.msg_hdr.msg_iovlen = parts as _;
            msgs.headers.push(h);
        }
        let mut done = 0;
        let mut refusals = 0u32;
        while done < count {
            // SAFETY: headers[done..count] are initialised and point at the iovecs above,
            // which point at `prefix`, `to` and the frames' bytes, all borrowed for this call;
            // the kernel only reads them (and writes each header's msg_len).
            let rc = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs.headers.as_mut_ptr().add(done),
                    (count - done) as libc::c_uint,
                    flags,
                )
            };
            if rc > 0 {
                for k in done..done + rc as usize {
                    outcome(first + k, Ok(()));
                }
                done += rc as usize;
                refusals = 0;
                continue;
            }
            let e = if rc == 0 {
                // Not expected with at least one message; treated as a full queue.
                io::Error::from_raw_os_error(libc::EAGAIN)
            } else {
                io::Error::last_os_error()
            };
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            refusals += 1;
            let data = frames.frame(first + done).1.data;
            match refused(e, data, refusals) {
                Refusal::Retry => {}
                Refusal::Give(err) => {
                    outcome(first + done, Err(err));
                    done += 1;
                    refusals = 0;
                }
            }
        }
        first = last;
    }
}
