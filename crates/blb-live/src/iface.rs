//! Interface facts: index, link type, up/down.
//!
//! Small wrappers over `if_nametoindex(3)` and the `SIOCGIF*` ioctls. Every error is one
//! sentence naming the interface ("interface eth9: no such interface"). The `*_for`
//! variants let the capture and delivery code put their own context in front ("capture on
//! eth9: no such interface").

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::LiveError;

/// `ARPHRD_RAWIP` (raw IP, e.g. some cellular modems), missing from `libc`.
const ARPHRD_RAWIP: u16 = 519;

/// pcap LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// pcap LINKTYPE_RAW (raw IPv4 or IPv6, no link-layer header).
pub const LINKTYPE_RAW: u32 = 101;

/// Check that `name` can be an interface name: 1 to `IFNAMSIZ - 1` (15) bytes, no NUL.
pub fn check_name(name: &str) -> Result<(), LiveError> {
    check_name_for(&format!("interface {name:?}"), name)
}

pub(crate) fn check_name_for(ctx: &str, name: &str) -> Result<(), LiveError> {
    if name.is_empty() || name.len() > libc::IFNAMSIZ - 1 || name.as_bytes().contains(&0) {
        return Err(LiveError::Invalid(format!(
            "{ctx}: an interface name must be 1 to {} bytes without NUL",
            libc::IFNAMSIZ - 1
        )));
    }
    Ok(())
}

/// The interface's index (`if_nametoindex`).
pub fn index(name: &str) -> Result<u32, LiveError> {
    index_for(&format!("interface {name}"), name)
}

pub(crate) fn index_for(ctx: &str, name: &str) -> Result<u32, LiveError> {
    check_name_for(ctx, name)?;
    let c = CString::new(name).map_err(|_| LiveError::Invalid(format!("{ctx}: NUL in name")))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = std::io::Error::last_os_error();
        return Err(no_such_or(ctx, "looking up the interface index", e));
    }
    Ok(idx)
}

/// Whether the interface is administratively up and running (`IFF_UP` and `IFF_RUNNING`,
/// i.e. it has a carrier).
pub fn is_up(name: &str) -> Result<bool, LiveError> {
    is_up_for(&format!("interface {name}"), name)
}

pub(crate) fn is_up_for(ctx: &str, name: &str) -> Result<bool, LiveError> {
    let req = ioctl(ctx, name, libc::SIOCGIFFLAGS, "reading the interface flags")?;
    // SAFETY: SIOCGIFFLAGS filled in the `ifru_flags` member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags } as libc::c_int;
    let want = libc::IFF_UP | libc::IFF_RUNNING;
    Ok(flags & want == want)
}

/// The interface's MTU in bytes (the largest payload after the link-layer header).
pub fn mtu(name: &str) -> Result<u32, LiveError> {
    mtu_for(&format!("interface {name}"), name)
}

pub(crate) fn mtu_for(ctx: &str, name: &str) -> Result<u32, LiveError> {
    let req = ioctl(ctx, name, libc::SIOCGIFMTU, "reading the MTU")?;
    // SAFETY: SIOCGIFMTU filled in the `ifru_mtu` member of the union.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    Ok(mtu.max(0) as u32)
}

/// The interface's hardware type (`ARPHRD_*`, from `SIOCGIFHWADDR`).
pub fn arphrd(name: &str) -> Result<u16, LiveError> {
    arphrd_for(&format!("interface {name}"), name)
}

pub(crate) fn arphrd_for(ctx: &str, name: &str) -> Result<u16, LiveError> {
    let req = ioctl(ctx, name, libc::SIOCGIFHWADDR, "reading the hardware type")?;
    // SAFETY: SIOCGIFHWADDR filled in the `ifru_hwaddr` member of the union.
    let family = unsafe { req.ifr_ifru.ifru_hwaddr.sa_family };
    Ok(family)
}

/// The pcap LINKTYPE of frames read from the interface with an AF_PACKET `SOCK_RAW` socket:
/// 1 (Ethernet) for Ethernet and loopback devices, 101 (raw IP) for devices without a
/// link-layer header (tun, `ARPHRD_NONE`, `ARPHRD_RAWIP`). Other kinds are refused.
pub fn link_type(name: &str) -> Result<u32, LiveError> {
    link_type_for(&format!("interface {name}"), name)
}

pub(crate) fn link_type_for(ctx: &str, name: &str) -> Result<u32, LiveError> {
    let hw = arphrd_for(ctx, name)?;
    link_type_of(hw).ok_or_else(|| {
        LiveError::Invalid(format!(
            "{ctx}: unsupported interface hardware type {hw} (only Ethernet, loopback and raw IP \
             devices can be captured)"
        ))
    })
}

/// Map an `ARPHRD_*` hardware type to a pcap LINKTYPE, if supported.
pub fn link_type_of(arphrd: u16) -> Option<u32> {
    match arphrd {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Some(LINKTYPE_ETHERNET),
        libc::ARPHRD_NONE | ARPHRD_RAWIP => Some(LINKTYPE_RAW),
        _ => None,
    }
}

/// Run an `SIOCGIF*` ioctl for `name` on a throwaway socket and return the filled request.
fn ioctl(ctx: &str, name: &str, cmd: libc::c_ulong, doing: &str) -> Result<libc::ifreq, LiveError> {
    check_name_for(ctx, name)?;
    // Any socket will do for the interface ioctls; an AF_UNIX datagram socket needs no
    // privileges and works even without an IPv4 stack.
    // SAFETY: plain socket(2) call; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(LiveError::last_os(format!(
            "{ctx}: opening a socket for {doing}"
        )));
    }
    // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero ifreq is a valid value (plain integers, arrays and a union of them).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: `req` is a valid, NUL-terminated (name ≤ 15 bytes, zero-filled) ifreq that the
    // kernel may write for the duration of the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), cmd as _, &mut req as *mut libc::ifreq) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(no_such_or(ctx, doing, e));
    }
    Ok(req)
}

/// "CTX: no such interface" for ENODEV/ENXIO, otherwise an I/O error saying what failed.
fn no_such_or(ctx: &str, doing: &str, e: std::io::Error) -> LiveError {
    match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => {
            LiveError::Invalid(format!("{ctx}: no such interface"))
        }
        _ => io_err(ctx, doing, e),
    }
}

// Crate-internal AF_PACKET plumbing shared by the capture source and the interface sink.

/// A new AF_PACKET `SOCK_RAW` socket with protocol 0 (it receives nothing until bound).
pub(crate) fn packet_socket(ctx: &str) -> Result<OwnedFd, LiveError> {
    // SAFETY: plain socket(2) call; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        let e = std::io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => " (needs root or CAP_NET_RAW)",
            _ => "",
        };
        return Err(io_err(
            ctx,
            &format!("opening an AF_PACKET socket{hint}"),
            e,
        ));
    }
    // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Bind an AF_PACKET socket to interface `ifindex` for `protocol` (host byte order).
pub(crate) fn bind_packet(
    fd: &OwnedFd,
    ctx: &str,
    ifindex: u32,
    protocol: u16,
) -> Result<(), LiveError> {
    // SAFETY: an all-zero sockaddr_ll is a valid value (plain integers and arrays).
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(no_such_or(ctx, "binding to the interface", e));
    }
    Ok(())
}

/// setsockopt(2) with a plain-old-data value.
pub(crate) fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    val: &T,
) -> std::io::Result<()> {
    // SAFETY: `val` points to a valid `T` of the size passed, read by the kernel only.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast::<libc::c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// An I/O error "CTX: DOING: os error".
pub(crate) fn io_err(ctx: &str, doing: &str, source: std::io::Error) -> LiveError {
    LiveError::Io {
        what: format!("{ctx}: {doing}"),
        os: source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("eth0").is_ok());
        assert!(check_name("abcdefghijklmno").is_ok());
        let e = check_name("abcdefghijklmnop").unwrap_err().to_string();
        assert!(e.contains("abcdefghijklmnop") && e.contains("15"), "{e}");
        assert!(check_name("").is_err());
        assert!(matches!(index("a\0b"), Err(LiveError::Invalid(_))));
    }

    #[test]
    fn loopback_facts() {
        // Every network namespace has `lo`.
        let Ok(i) = index("lo") else { return };
        assert!(i > 0);
        assert_eq!(arphrd("lo").unwrap(), libc::ARPHRD_LOOPBACK);
        assert_eq!(link_type("lo").unwrap(), LINKTYPE_ETHERNET);
        assert!(mtu("lo").unwrap() > 0);
        let _ = is_up("lo").unwrap();
    }

    #[test]
    fn missing_interface_is_named() {
        let e = index("blbnosuch0").unwrap_err().to_string();
        assert_eq!(e, "interface blbnosuch0: no such interface");
        let e = is_up("blbnosuch0").unwrap_err().to_string();
        assert_eq!(e, "interface blbnosuch0: no such interface");
        let e = mtu("blbnosuch0").unwrap_err().to_string();
        assert_eq!(e, "interface blbnosuch0: no such interface");
    }

    #[test]
    fn link_types() {
        assert_eq!(link_type_of(libc::ARPHRD_ETHER), Some(1));
        assert_eq!(link_type_of(libc::ARPHRD_NONE), Some(101));
        assert_eq!(link_type_of(libc::ARPHRD_IEEE80211_RADIOTAP), None);
    }
}
