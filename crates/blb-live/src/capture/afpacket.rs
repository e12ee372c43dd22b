//! AF_PACKET capture with a TPACKET_V3 memory-mapped ring.
//!
//! The kernel fills fixed-size blocks of a ring shared with this process; a block is handed
//! over (`TP_STATUS_USER`) when it is full or when its timeout expires, and given back
//! (`TP_STATUS_KERNEL`) once every frame in it has been processed. No frame is copied here,
//! not even one whose outer VLAN tag the kernel stripped: the tag is put back (as libpcap
//! does, so that the frame is byte-identical to the wire) in the ring itself, by moving the
//! two MAC addresses 4 bytes into the free space the kernel leaves before the frame and
//! writing the tag behind them. The one copy a frame gets is then the delivery queue's. Only
//! a ring record without those 4 spare bytes (not seen: the kernel leaves 14) falls back to a
//! reusable scratch buffer.
//!
//! The host's own outgoing frames are skipped by the kernel (`PACKET_IGNORE_OUTGOING`, Linux
//! 4.20 and later), so they cost nothing; where the kernel refuses that option they reach the
//! ring and are skipped and counted here, by their packet type.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{CaptureStats, PacketSource};
use crate::iface::{self, LINKTYPE_ETHERNET, io_err as io, setsockopt};
use crate::{Frame, LiveError};

/// `TPACKET_V3` from `enum tpacket_versions`.
const TPACKET_V3: libc::c_int = 2;
/// The nominal frame size given to the kernel; TPACKET_V3 packs frames of any length into
/// a block, the kernel only checks this for consistency.
const FRAME_SIZE: usize = 2048;
/// Offset of the `sockaddr_ll` that follows each `tpacket3_hdr` (TPACKET_ALIGN of its size).
const SLL_OFFSET: usize = (size_of::<libc::tpacket3_hdr>() + libc::TPACKET_ALIGNMENT - 1)
    & !(libc::TPACKET_ALIGNMENT - 1);
/// Largest block size accepted (the kernel keeps it in a positive `int`).
const MAX_BLOCK_SIZE: usize = 1 << 30;
/// Largest ring (all blocks together) accepted.
const MAX_RING_SIZE: u64 = 64 << 30;
/// Largest block timeout accepted, in milliseconds.
const MAX_BLOCK_TIMEOUT_MS: u32 = 60_000;
/// The 802.1Q TPID, used when the kernel does not report the stripped tag's TPID.
const ETH_P_8021Q: u16 = 0x8100;

/// Settings of an AF_PACKET TPACKET_V3 capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Bytes per ring block: a power of two, at least the page size (default 1 MiB).
    pub block_size: usize,
    /// Number of blocks in the ring (default 64).
    pub block_count: usize,
    /// How long the kernel fills a block before handing it over anyway, in ms (default 10).
    pub block_timeout_ms: u32,
    /// Put the interface in promiscuous mode while capturing (default true).
    pub promiscuous: bool,
    /// Skip frames the host itself sends on the interface (default true).
    pub ignore_outgoing: bool,
}

impl Default for AfPacketConfig {
    fn default() -> Self {
        AfPacketConfig {
            block_size: 1 << 20,
            block_count: 64,
            block_timeout_ms: 10,
            promiscuous: true,
            ignore_outgoing: true,
        }
    }
}

impl AfPacketConfig {
    /// Check the settings; the error is one sentence naming the setting at fault.
    pub fn validate(&self) -> Result<(), LiveError> {
        let page = page_size();
        if !self.block_size.is_power_of_two()
            || self.block_size < page
            || self.block_size > MAX_BLOCK_SIZE
        {
            return Err(LiveError::Invalid(format!(
                "AF_PACKET block_size {} must be a power of two from the page size ({page}) to \
                 {MAX_BLOCK_SIZE} bytes",
                self.block_size
            )));
        }
        let total = (self.block_size as u64).checked_mul(self.block_count as u64);
        if self.block_count == 0 || total.is_none_or(|t| t > MAX_RING_SIZE) {
            return Err(LiveError::Invalid(format!(
                "AF_PACKET block_count {} must be at least 1 and block_count × block_size must \
                 not exceed {} GiB",
                self.block_count,
                MAX_RING_SIZE >> 30
            )));
        }
        if self.block_timeout_ms == 0 || self.block_timeout_ms > MAX_BLOCK_TIMEOUT_MS {
            return Err(LiveError::Invalid(format!(
                "AF_PACKET block_timeout_ms {} must be from 1 to {MAX_BLOCK_TIMEOUT_MS}",
                self.block_timeout_ms
            )));
        }
        Ok(())
    }
}

/// A live capture from one interface through an AF_PACKET socket with a TPACKET_V3 ring.
pub struct AfPacketSource {
    name: String,
    fd: OwnedFd,
    /// Start of the mapped ring (`block_size * block_count` bytes).
    ring: *mut u8,
    ring_len: usize,
    block_size: usize,
    block_count: usize,
    /// The block the kernel will hand over next.
    next_block: usize,
    link_type: u32,
    ignore_outgoing: bool,
    /// Whether the kernel skips outgoing frames itself (`PACKET_IGNORE_OUTGOING` accepted).
    kernel_ignores_outgoing: bool,
    outgoing_ignored: u64,
    /// Where frames get their VLAN tag back; reused, so it grows only to the largest frame.
    scratch: Vec<u8>,
    stats: CaptureStats,
    queue_freezes: u64,
}

// SAFETY: the ring mapping is owned exclusively by this value (no copies of `ring` escape
// except as borrows tied to `&mut self` in `drain`), so moving it to another thread is as
// safe as moving the file descriptor.
unsafe impl Send for AfPacketSource {}

impl AfPacketSource {
    /// Open a capture on `interface`. Needs root or `CAP_NET_RAW`.
    pub fn open(interface: &str, cfg: &AfPacketConfig) -> Result<Self, LiveError> {
        Self::open_with(interface, cfg, false)
    }

    /// [`open`](Self::open); with `rejecting`, the socket refuses every frame from its bind
    /// on, until [`accept_again`](Self::accept_again) (a fanout group's members are joined
    /// before any of them takes a frame, so none is captured twice).
    pub(crate) fn open_with(
        interface: &str,
        cfg: &AfPacketConfig,
        rejecting: bool,
    ) -> Result<Self, LiveError> {
        let ctx = format!("capture on {interface}");
        cfg.validate()
            .map_err(|e| LiveError::Invalid(format!("{ctx}: {e}")))?;
        let ifindex = iface::index_for(&ctx, interface)?;
        let link_type = iface::link_type_for(&ctx, interface)?;

        // Protocol 0: the socket receives nothing until it is bound below, so the ring
        // holds only frames of this interface.
        let fd = iface::packet_socket(&ctx)?;
        // Before the bind, so that no outgoing frame reaches the ring. Refused before Linux
        // 4.20 (ENOPROTOOPT); then `walk_block` skips them by their packet type.
        let kernel_ignores_outgoing = cfg.ignore_outgoing
            && setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &(1 as libc::c_int),
            )
            .is_ok();
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3)
            .map_err(|e| io(&ctx, "selecting TPACKET_V3", e))?;

        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size as u32,
            tp_block_nr: cfg.block_count as u32,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: ((cfg.block_size / FRAME_SIZE) * cfg.block_count) as u32,
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        let ring_len = cfg.block_size * cfg.block_count;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(|e| {
            io(
                &ctx,
                &format!(
                    "setting up a ring of {} blocks of {} bytes",
                    cfg.block_count, cfg.block_size
                ),
                e,
            )
        })?;

        // SAFETY: mapping the ring the kernel just allocated for `fd`; length and flags are
        // what PACKET_RX_RING expects, and the result is checked.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(LiveError::last_os(format!(
                "{ctx}: mapping the {ring_len}-byte capture ring"
            )));
        }
        // From here on, Drop unmaps the ring and closes the socket on any error.
        let src = AfPacketSource {
            name: interface.to_string(),
            fd,
            ring: ring.cast::<u8>(),
            ring_len,
            block_size: cfg.block_size,
            block_count: cfg.block_count,
            next_block: 0,
            link_type,
            ignore_outgoing: cfg.ignore_outgoing,
            kernel_ignores_outgoing,
            outgoing_ignored: 0,
            scratch: Vec::with_capacity(cfg.block_size.min(16 * 1024)),
            stats: CaptureStats::default(),
            queue_freezes: 0,
        };

        if cfg.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as libc::c_int,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                &src.fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
            )
            .map_err(|e| io(&ctx, "entering promiscuous mode", e))?;
        }

        if rejecting {
            src.reject_all()
                .map_err(|e| io(&ctx, "refusing frames until the group is joined", e))?;
        }
        iface::bind_packet(&src.fd, &ctx, ifindex, libc::ETH_P_ALL as u16)?;
        Ok(src)
    }

    /// The socket, for the fanout group's options.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Attach a socket filter that refuses every frame.
    fn reject_all(&self) -> std::io::Result<()> {
        let mut reject_all = [libc::sock_filter {
            code: 0x06, // BPF_RET | BPF_K: accept 0 bytes
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: reject_all.as_mut_ptr(),
        };
        setsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
    }

    /// Remove the filter of [`open_with`](Self::open_with)`(.., true)`: frames enter the ring.
    pub(crate) fn accept_again(&self) -> Result<(), LiveError> {
        // SO_DETACH_FILTER is 27 on every Linux architecture (the libc crate does not
        // export it for Linux); the value passed is ignored.
        const SO_DETACH_FILTER: libc::c_int = 27;
        setsockopt(
            &self.fd,
            libc::SOL_SOCKET,
            SO_DETACH_FILTER,
            &(0 as libc::c_int),
        )
        .map_err(|e| {
            io(
                &format!("capture on {}", self.name),
                "starting the capture",
                e,
            )
        })
    }

    /// Frames skipped here because the host itself sent them (`ignore_outgoing`). Always 0
    /// when [`kernel_ignores_outgoing`](Self::kernel_ignores_outgoing): the kernel then never
    /// hands them over (nor counts them in the statistics).
    pub fn outgoing_ignored(&self) -> u64 {
        self.outgoing_ignored
    }

    /// Whether the kernel skips outgoing frames (`PACKET_IGNORE_OUTGOING`), rather than this
    /// source after they reached the ring.
    pub fn kernel_ignores_outgoing(&self) -> bool {
        self.kernel_ignores_outgoing
    }

    /// How often the kernel froze the ring because every block was in user space (from
    /// `tp_freeze_q_cnt`, accumulated by [`PacketSource::stats`]).
    pub fn queue_freezes(&self) -> u64 {
        self.queue_freezes
    }

    /// Read (and so clear) the socket's pending error, if any.
    fn take_socket_error(&self) -> Result<(), LiveError> {
        let mut err: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` is a valid c_int of `len` bytes that the kernel may fill.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast::<libc::c_void>(),
                &mut len,
            )
        };
        let source = if rc < 0 {
            std::io::Error::last_os_error()
        } else if err != 0 {
            std::io::Error::from_raw_os_error(err)
        } else {
            return Ok(());
        };
        Err(LiveError::Io {
            what: format!("capture on {}", self.name),
            os: source,
        })
    }

    /// The status word of block `i`, shared with the kernel.
    fn block_status(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < self.block_count);
        // SAFETY: block `i` lies inside the mapping (i < block_count) and starts with a
        // page-aligned `tpacket_block_desc`, whose `block_status` is a naturally aligned u32
        // that the kernel and this process only access atomically (the kernel with its own
        // barriers), for as long as `self` (and thus the mapping) lives.
        unsafe {
            let desc = self
                .ring
                .add(i * self.block_size)
                .cast::<libc::tpacket_block_desc>();
            AtomicU32::from_ptr(std::ptr::addr_of_mut!((*desc).hdr.bh1.block_status))
        }
    }
}

impl Drop for AfPacketSource {
    fn drop(&mut self) {
        // SAFETY: `ring`/`ring_len` are exactly the mapping made in `open`, and no borrow of
        // it outlives `&mut self`. The socket is closed afterwards by `OwnedFd`.
        unsafe {
            libc::munmap(self.ring.cast::<libc::c_void>(), self.ring_len);
        }
    }
}

impl PacketSource for AfPacketSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn link_type(&self) -> u32 {
        self.link_type
    }

    fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// A socket filter that refuses every frame: nothing enters the ring or the counters
    /// any more, and the kernel still retires the block being filled after the block
    /// timeout, so what was captured can be drained.
    fn stop(&mut self) -> Result<(), LiveError> {
        self.reject_all().map_err(|e| {
            io(
                &format!("capture on {}", self.name),
                "stopping the capture",
                e,
            )
        })
    }

    /// Whole blocks are processed, so `max` is a soft limit that may be exceeded. When no
    /// block was ready, a pending socket error is reported (once) instead: the kernel sets
    /// ENETDOWN when the interface goes down or away, which would otherwise keep the socket
    /// polling readable. Capture resumes by itself when the interface comes back up (not
    /// when it was deleted and re-created: that needs a new source).
    fn drain(&mut self, max: usize, f: &mut dyn FnMut(Frame<'_>)) -> Result<usize, LiveError> {
        let mut handed = 0;
        let mut blocks = 0;
        while handed < max {
            let i = self.next_block;
            if self.block_status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                break;
            }
            blocks += 1;
            // SAFETY: block `i` is inside the mapping (mapped writable) and, its status being
            // TP_STATUS_USER, belongs to this process until it is handed back below; the
            // kernel neither reads nor writes it meanwhile, and no other borrow of it exists.
            let block = unsafe {
                std::slice::from_raw_parts_mut(self.ring.add(i * self.block_size), self.block_size)
            };
            let (n, skipped) = walk_block(
                block,
                self.link_type,
                self.ignore_outgoing,
                &mut self.scratch,
                f,
            );
            handed += n;
            self.outgoing_ignored += skipped;
            self.block_status(i)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.next_block = (i + 1) % self.block_count;
        }
        if blocks == 0 && max > 0 {
            self.take_socket_error()?;
        }
        Ok(handed)
    }

    /// `received` is the kernel's `tp_packets`, which on Linux counts every packet that
    /// reached the socket, *including* those dropped for want of ring space (the kernel
    /// adds `tp_drops` to it); `dropped` is `tp_drops`. The kernel resets both on every
    /// read, so they are accumulated here.
    fn stats(&mut self) -> Result<CaptureStats, LiveError> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` is a valid tpacket_stats_v3 of `len` bytes that the kernel may fill.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(LiveError::last_os(format!(
                "capture on {}: reading the packet statistics",
                self.name
            )));
        }
        self.stats.received += u64::from(st.tp_packets);
        self.stats.dropped += u64::from(st.tp_drops);
        self.queue_freezes += u64::from(st.tp_freeze_q_cnt);
        Ok(self.stats)
    }
}

/// Hand every frame of one ready block to `f`. Returns (frames handed, outgoing skipped).
/// A frame whose outer VLAN tag the kernel stripped gets it back in place (see the module
/// documentation), so the block is modified.
fn walk_block(
    block: &mut [u8],
    link_type: u32,
    ignore_outgoing: bool,
    scratch: &mut Vec<u8>,
    f: &mut dyn FnMut(Frame<'_>),
) -> (usize, u64) {
    // SAFETY: the block starts with a tpacket_block_desc (the block is at least a page).
    let desc =
        unsafe { std::ptr::read_unaligned(block.as_ptr().cast::<libc::tpacket_block_desc>()) };
    // SAFETY: TPACKET_V3 blocks always use the `bh1` member of the header union.
    let (num_pkts, first) = unsafe { (desc.hdr.bh1.num_pkts, desc.hdr.bh1.offset_to_first_pkt) };
    let (mut handed, mut skipped) = (0, 0);
    let mut off = first as usize;
    for _ in 0..num_pkts {
        // Offsets come from the kernel; check them anyway so that a surprise cannot read
        // outside the block.
        if off + SLL_OFFSET + size_of::<libc::sockaddr_ll>() > block.len() {
            break;
        }
        // SAFETY: the header (which ends at or before SLL_OFFSET) lies inside the block
        // (checked just above).
        let h = unsafe {
            std::ptr::read_unaligned(block.as_ptr().add(off).cast::<libc::tpacket3_hdr>())
        };
        // SAFETY: the sockaddr_ll lies inside the block (checked above).
        let sll = unsafe {
            std::ptr::read_unaligned(
                block
                    .as_ptr()
                    .add(off + SLL_OFFSET)
                    .cast::<libc::sockaddr_ll>(),
            )
        };
        let start = off + h.tp_mac as usize;
        let end = start + h.tp_snaplen as usize;
        if end > block.len() {
            break;
        }
        if ignore_outgoing && sll.sll_pkttype == libc::PACKET_OUTGOING {
            skipped += 1;
        } else {
            let ts = u64::from(h.tp_sec) * 1_000_000_000 + u64::from(h.tp_nsec);
            let tagged = h.tp_status & libc::TP_STATUS_VLAN_VALID != 0 || h.hv1.tp_vlan_tci != 0;
            if tagged && link_type == LINKTYPE_ETHERNET && end - start >= 12 {
                let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0
                    && h.hv1.tp_vlan_tpid != 0
                {
                    h.hv1.tp_vlan_tpid
                } else {
                    ETH_P_8021Q
                };
                let mut tag = [0u8; 4];
                tag[..2].copy_from_slice(&tpid.to_be_bytes());
                tag[2..].copy_from_slice(&(h.hv1.tp_vlan_tci as u16).to_be_bytes());
                let data = if start >= off + SLL_OFFSET + size_of::<libc::sockaddr_ll>() + 4 {
                    // The 4 bytes before the frame are free (past this record's header and
                    // address, which were read above): the addresses move there, and the
                    // tag goes between them and the EtherType.
                    block.copy_within(start..start + 12, start - 4);
                    block[start + 8..start + 12].copy_from_slice(&tag);
                    &block[start - 4..end]
                } else {
                    let data = &block[start..end];
                    scratch.clear();
                    scratch.extend_from_slice(&data[..12]);
                    scratch.extend_from_slice(&tag);
                    scratch.extend_from_slice(&data[12..]);
                    &scratch[..]
                };
                f(Frame {
                    ts,
                    wire_len: h.tp_len.saturating_add(4),
                    data,
                });
            } else {
                f(Frame {
                    ts,
                    wire_len: h.tp_len,
                    data: &block[start..end],
                });
            }
            handed += 1;
        }
        if h.tp_next_offset == 0 {
            break;
        }
        off += h.tp_next_offset as usize;
    }
    (handed, skipped)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

#[cfg(test)]
#[path = "afpacket_tests.rs"]
mod tests;
