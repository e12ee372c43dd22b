//! Helpers of the AF_PACKET tests: a network namespace per test (IPv6 disabled before any
//! link exists, so the kernel sends nothing of its own; deleted even when the test fails),
//! veth pairs, test frames, and draining a capture.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blb_live::capture::afpacket::AfPacketConfig;
use blb_live::capture::{PacketSource, wait_readable};
use blb_live::{Frame, iface};

use crate::skip;

// ---------------------------------------------------------------------------------------
// Namespace helpers
// ---------------------------------------------------------------------------------------

static NS_COUNTER: AtomicUsize = AtomicUsize::new(0);
/// `ip netns add` mounts /run/netns on first use; concurrent first uses can race.
static NS_CREATE: Mutex<()> = Mutex::new(());

/// A network namespace of this test process, deleted on drop.
pub(crate) struct Netns {
    pub(crate) name: String,
}

impl Netns {
    /// Create a fresh namespace with IPv6 disabled, or `None` (skip) when that is impossible.
    pub(crate) fn new() -> Option<Netns> {
        if !skip::root("AF_PACKET tests need root to create network namespaces") {
            return None;
        }
        if !skip::tool("ip") {
            return None;
        }
        let name = format!(
            "blbt-afp-{}-{}",
            std::process::id(),
            NS_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let out = {
            let _g = NS_CREATE.lock().unwrap_or_else(|p| p.into_inner());
            Command::new("ip").args(["netns", "add", &name]).output()
        };
        let ok = matches!(&out, Ok(o) if o.status.success());
        let why = match &out {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        };
        if !skip::require(
            ok,
            &format!("cannot create network namespace {name} with `ip netns add`: {why}"),
        ) {
            return None;
        }
        let ns = Netns { name };
        // Before any link exists, so that no interface ever gets an IPv6 address.
        let sysctl = ns.try_cmd(&[
            "ip",
            "netns",
            "exec",
            &ns.name,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        if let Err(e) = sysctl {
            // Without IPv6 in the kernel there is nothing to disable.
            eprintln!("note: could not disable IPv6 in {}: {e}", ns.name);
        }
        Some(ns)
    }

    pub(crate) fn try_cmd(&self, argv: &[&str]) -> Result<(), String> {
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .output()
            .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{}` failed: {}",
                argv.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// `ip -n NS ARGS…`, panicking on failure.
    pub(crate) fn ip(&self, args: &[&str]) {
        let mut argv = vec!["ip", "-n", &self.name];
        argv.extend_from_slice(args);
        self.try_cmd(&argv).unwrap();
    }

    /// A veth pair `a`–`b`, both up.
    pub(crate) fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", "name", a, "type", "veth", "peer", "name", b]);
        self.ip(&["link", "set", a, "up"]);
        self.ip(&["link", "set", b, "up"]);
    }

    /// Run `f` on a thread that has entered the namespace; a panic in `f` fails the test.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            let h = s.spawn(move || {
                let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: `file` is an open namespace file; setns only changes this thread's
                // network namespace, and this thread is ours alone.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            });
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

// ---------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------

pub(crate) const UDP: u8 = 17;
pub(crate) const TCP: u8 = 6;

/// An Ethernet frame with VLAN `tags` (outermost first), carrying IPv4 `proto` (UDP or TCP)
/// from port 40000 to `dport` with `payload` bytes of pattern `seed`.
pub(crate) fn frame(
    tags: &[(u16, u16)],
    proto: u8,
    dport: u16,
    payload: usize,
    seed: u8,
) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let l4 = if proto == TCP { 20 } else { 8 };
    let total = (20 + l4 + payload) as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    set_ipv4_checksum(&mut ip);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    if proto == TCP {
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend((0..payload).map(|i| seed.wrapping_add(i as u8)));
    f
}

/// Write the checksum of a 20-byte IPv4 header (whose checksum field is zero) into it.
pub(crate) fn set_ipv4_checksum(ip: &mut [u8]) {
    let sum: u32 = ip[..20]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Captured frames: (ts, wire_len, bytes).
pub(crate) type Got = Vec<(u64, u32, Vec<u8>)>;

/// Drain `src` until `want` frames arrived or `wait` passed; then keep draining briefly to
/// catch any extra frame.
pub(crate) fn collect(src: &mut dyn PacketSource, want: usize, wait: Duration) -> Got {
    let mut got = Got::new();
    let deadline = Instant::now() + wait;
    let mut push = |f: Frame<'_>| got.push((f.ts, f.wire_len, f.data.to_vec()));
    let mut n = 0;
    while n < want && Instant::now() < deadline {
        wait_readable(&[src.raw_fd()], 50).unwrap();
        n += src.drain(usize::MAX, &mut push).unwrap();
    }
    let settle = Instant::now() + Duration::from_millis(200);
    while Instant::now() < settle {
        wait_readable(&[src.raw_fd()], 20).unwrap();
        src.drain(usize::MAX, &mut push).unwrap();
    }
    got
}

pub(crate) fn small_ring() -> AfPacketConfig {
    AfPacketConfig {
        block_size: 1 << 16,
        block_count: 8,
        ..AfPacketConfig::default()
    }
}

/// A raw AF_PACKET sender going through the qdisc (so that taps see its frames as
/// outgoing), unlike `InterfaceSink` which bypasses it.
pub(crate) fn raw_sender(name: &str) -> OwnedFd {
    let idx = iface::index(name).unwrap();
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is fresh and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero sockaddr_ll is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = idx as i32;
    // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    fd
}

pub(crate) fn raw_send(fd: &OwnedFd, data: &[u8]) {
    // SAFETY: `data` is a valid slice for the duration of the call.
    let rc = unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), 0) };
    assert_eq!(
        rc,
        data.len() as isize,
        "send: {}",
        std::io::Error::last_os_error()
    );
}

/// Wait (generously) until `iface::is_up(name)` reads `up`; return what it reads last.
/// The running flag follows the carrier asynchronously (linkwatch).
pub(crate) fn settles_to(name: &str, up: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = iface::is_up(name).unwrap();
        if now == up || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn eth(data: &[u8]) -> Frame<'_> {
    Frame {
        ts: 0,
        wire_len: data.len() as u32,
        data,
    }
}
