//! Several capture rings on one interface as one `PACKET_FANOUT` group: the kernel hands
//! each frame to exactly one member, so several balancing workers can each drain a ring of
//! their own.
//!
//! The group's mode is `PACKET_FANOUT_HASH`: the member is chosen by the kernel's
//! *symmetric* flow hash (`__skb_get_hash_symmetric`, seeded at random at boot, so traffic
//! cannot aim at a member), computed after the kernel stripped the outer VLAN tag. Both
//! directions of a connection hash alike. The kernel's flow dissector does not read the
//! ports of a fragment, not even the first one's, so every fragment of a datagram hashes on
//! its addresses and protocol alone and meets the others in one ring. The members' order
//! within a ring is the wire's.
//!
//! The group's id comes from the kernel (`PACKET_FANOUT_FLAG_UNIQUEID`), so it never joins
//! a group another program (a Suricata or Zeek capturing the same interface) made. Every
//! member refuses frames until all have joined, so no frame is captured twice while the
//! group forms; the frames of those microseconds are not captured at all, as if they had
//! come before the start.

use super::afpacket::{AfPacketConfig, AfPacketSource};
use crate::LiveError;
use crate::iface::{io_err as io, setsockopt};

/// `PACKET_FANOUT` (the libc crate exports it only in its raw kernel headers).
const PACKET_FANOUT: libc::c_int = 18;
/// `PACKET_FANOUT_HASH`: the member by the symmetric flow hash.
const PACKET_FANOUT_HASH: u32 = 0;
/// `PACKET_FANOUT_FLAG_UNIQUEID`: the kernel picks an unused group id (Linux 4.3 and later).
const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;

/// Open `members` captures of `interface` in one new fanout group. With one member, a plain
/// capture (no group).
pub fn open_group(
    interface: &str,
    cfg: &AfPacketConfig,
    members: usize,
) -> Result<Vec<AfPacketSource>, LiveError> {
    if members <= 1 {
        return Ok(vec![AfPacketSource::open(interface, cfg)?]);
    }
    let mut out = Vec::with_capacity(members);
    let mut id = None;
    for _ in 0..members {
        let src = AfPacketSource::open_with(interface, cfg, true)?;
        id = Some(join(&src, interface, id)?);
        out.push(src);
    }
    for src in &out {
        src.accept_again()?;
    }
    Ok(out)
}

/// Join the group `id`, or make a new one; returns the group's id.
fn join(src: &AfPacketSource, interface: &str, id: Option<u16>) -> Result<u16, LiveError> {
    let ctx = format!("capture on {interface}");
    let arg: u32 = match id {
        Some(id) => u32::from(id) | (PACKET_FANOUT_HASH << 16),
        None => (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
    };
    setsockopt(src.fd(), libc::SOL_PACKET, PACKET_FANOUT, &arg).map_err(|e| {
        io(
            &ctx,
            "joining a PACKET_FANOUT group (several workers need Linux 4.3 or later)",
            e,
        )
    })?;
    if let Some(id) = id {
        return Ok(id);
    }
    let mut val: u32 = 0;
    let mut len = size_of::<u32>() as libc::socklen_t;
    // SAFETY: `val` is a valid u32 of `len` bytes that the kernel may fill.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(src.fd()),
            libc::SOL_PACKET,
            PACKET_FANOUT,
            (&mut val as *mut u32).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(LiveError::last_os(format!(
            "{ctx}: reading the PACKET_FANOUT group's id"
        )));
    }
    Ok((val & 0xffff) as u16)
}
