//! Capture sources: the [`PacketSource`] trait, the AF_PACKET TPACKET_V3 ring (default
//! build) and the libpcap backend (feature `pcap`), and a poll(2) helper to wait on several.

pub mod afpacket;
pub mod fanout;
#[cfg(feature = "pcap")]
pub mod libpcap;

use crate::{Frame, LiveError};

/// Cumulative capture counters as the kernel (or libpcap) reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets the kernel passed to the capture (including those it then dropped).
    pub received: u64,
    /// Packets the kernel dropped because the ring was full.
    pub dropped: u64,
}

/// A source of captured frames.
pub trait PacketSource: Send {
    /// The interface (or description) captured from.
    fn name(&self) -> &str;
    /// The pcap LINKTYPE of the frames (1 = Ethernet).
    fn link_type(&self) -> u32;
    /// A file descriptor that polls readable when frames are waiting.
    fn raw_fd(&self) -> std::os::fd::RawFd;
    /// Hand up to `max` frames that are ready now to `f`, without blocking. Returns how many
    /// were handed over (0 when none was waiting).
    fn drain(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, LiveError>;
    /// Stop taking new frames (what is already captured can still be drained). Sources that
    /// cannot stop (libpcap) do nothing.
    fn stop(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
    /// Cumulative counters since the source was opened.
    fn stats(&mut self) -> Result<CaptureStats, LiveError>;
}

/// Wait until one of `fds` is readable or `timeout_ms` passes (EINTR counts as a timeout).
pub fn wait_readable(fds: &[std::os::fd::RawFd], timeout_ms: i32) -> Result<bool, LiveError> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid, exclusively borrowed array of `pfds.len()` pollfd records.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(LiveError::Io {
            what: "waiting for packets".into(),
            os: e,
        });
    }
    Ok(rc > 0)
}
