//! Tests of afpacket: AF_PACKET capture, delivery to an interface, interface facts and the
//! libpcap backend, each test in its own network namespace with veth pairs.
//!
//! The namespace gets IPv6 disabled before any link exists, so the kernel sends nothing of
//! its own and every captured frame is one the test sent. A guard deletes the namespace
//! even when the test fails.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blb_live::capture::afpacket::{AfPacketConfig, AfPacketSource};
use blb_live::capture::{PacketSource, wait_readable};
use blb_live::deliver::interface::InterfaceSink;
use blb_live::deliver::{FrameSink, SendError};
use blb_live::{Frame, LiveError, iface};

use crate::skip;

// ---------------------------------------------------------------------------------------
// Namespace helpers
// ---------------------------------------------------------------------------------------

static NS_COUNTER: AtomicUsize = AtomicUsize::new(0);
/// `ip netns add` mounts /run/netns on first use; concurrent first uses can race.
static NS_CREATE: Mutex<()> = Mutex::new(());

/// A network namespace of this test process, deleted on drop.
pub(crate) struct Netns {
    name: String,
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

    fn try_cmd(&self, argv: &[&str]) -> Result<(), String> {
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
    fn ip(&self, args: &[&str]) {
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
const TCP: u8 = 6;

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
    let sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
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

fn now_ns() -> u64 {
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

fn small_ring() -> AfPacketConfig {
    AfPacketConfig {
        block_size: 1 << 16,
        block_count: 8,
        ..AfPacketConfig::default()
    }
}

/// A raw AF_PACKET sender going through the qdisc (so that taps see its frames as
/// outgoing), unlike `InterfaceSink` which bypasses it.
fn raw_sender(name: &str) -> OwnedFd {
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

fn raw_send(fd: &OwnedFd, data: &[u8]) {
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

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// (a) Frames sent with InterfaceSink come out of AfPacketSource on the peer byte for byte,
/// VLAN tags included (the kernel strips the outer one; the source puts it back).
#[test]
fn frames_round_trip_byte_for_byte() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        assert!(settles_to("blb-rx", true));
        assert!(settles_to("blb-tx", true));
        assert_eq!(iface::link_type("blb-rx").unwrap(), 1);
        assert_eq!(iface::mtu("blb-tx").unwrap(), 1500);
        let mut src = AfPacketSource::open("blb-rx", &small_ring()).unwrap();
        assert_eq!(src.name(), "blb-rx");
        assert_eq!(src.link_type(), 1);
        let mut sink = InterfaceSink::open("blb-tx").unwrap();
        assert_eq!(sink.name(), "blb-tx");
        assert_eq!(sink.describe(), "interface blb-tx");
        assert!(sink.accepts(1) && !sink.accepts(101));

        let frames = vec![
            frame(&[], UDP, 53, 18, 1),
            frame(&[(0x8100, 0xa064)], UDP, 53, 40, 2),
            frame(&[(0x88a8, 0x00c8), (0x8100, 0x0064)], UDP, 53, 40, 3),
            // A priority tag: VLAN id 0, PCP 0; still a tag on the wire.
            frame(&[(0x8100, 0x0000)], UDP, 53, 40, 4),
            frame(&[], TCP, 80, 1460, 5),
            frame(&[(0x8100, 0x0fff)], UDP, 9, 1000, 6),
        ];
        let before = now_ns();
        for f in &frames {
            sink.send(1, eth(f)).unwrap();
        }
        sink.flush().unwrap();
        let after = now_ns();
        let got = collect(&mut src, frames.len(), Duration::from_secs(10));
        let bytes: Vec<&[u8]> = got.iter().map(|g| g.2.as_slice()).collect();
        let want: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        assert_eq!(bytes, want, "captured frames differ from those sent");
        for (ts, wire_len, data) in &got {
            assert_eq!(*wire_len as usize, data.len());
            assert!(
                *ts + 1_000_000_000 >= before && *ts <= after + 5_000_000_000,
                "timestamp {ts} not within [{before}, {after}]"
            );
        }
        let st = src.stats().unwrap();
        assert!(st.received >= frames.len() as u64, "{st:?}");
        assert_eq!(st.dropped, 0, "{st:?}");
        assert_eq!(src.outgoing_ignored(), 0);

        // Not Ethernet, too large for the MTU: the frame is at fault, not the path.
        let e = sink.send(101, eth(&frames[0])).unwrap_err();
        assert!(matches!(e, SendError::Frame(_)), "{e:?}");
        let big = frame(&[], UDP, 53, 1600, 7);
        match sink.send(1, eth(&big)).unwrap_err() {
            SendError::Frame(e) => {
                let m = e.to_string();
                assert!(
                    m.contains("blb-tx") && m.contains("1642") && m.contains("1500"),
                    "{m}"
                );
            }
            other => panic!("expected a frame error, got {other:?}"),
        }
    });
}

/// Frames the host sends on the captured interface are skipped and counted, unless asked.
#[test]
fn outgoing_frames_are_skipped_and_counted() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        assert!(settles_to("blb-tx", true));
        let mut skip = AfPacketSource::open("blb-tx", &small_ring()).unwrap();
        let keep_cfg = AfPacketConfig {
            ignore_outgoing: false,
            ..small_ring()
        };
        let mut keep = AfPacketSource::open("blb-tx", &keep_cfg).unwrap();
        let tx = raw_sender("blb-tx");
        let frames: Vec<Vec<u8>> = (0..5).map(|i| frame(&[], UDP, 53, 30, i)).collect();
        for f in &frames {
            raw_send(&tx, f);
        }
        let kept = collect(&mut keep, frames.len(), Duration::from_secs(10));
        let kept: Vec<Vec<u8>> = kept.into_iter().map(|g| g.2).collect();
        assert_eq!(kept, frames);
        let skipped = collect(&mut skip, 0, Duration::from_secs(1));
        assert!(
            skipped.is_empty(),
            "{} outgoing frames not skipped",
            skipped.len()
        );
        assert_eq!(skip.outgoing_ignored(), frames.len() as u64);
    });
}

/// (b) A tiny ring that is never drained overflows, and stats() says so; `received`
/// includes the dropped packets.
#[test]
fn tiny_ring_reports_drops() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        let cfg = AfPacketConfig {
            block_size: 4096,
            block_count: 2,
            ..AfPacketConfig::default()
        };
        assert!(settles_to("blb-tx", true));
        let mut src = AfPacketSource::open("blb-rx", &cfg).unwrap();
        let mut sink = InterfaceSink::open("blb-tx").unwrap();
        let f = frame(&[], UDP, 53, 200, 9);
        let sent = 2000u64;
        for _ in 0..sent {
            sink.send(1, eth(&f)).unwrap();
        }
        // Let the block timer hand over the last partial block.
        std::thread::sleep(Duration::from_millis(300));
        let st = src.stats().unwrap();
        assert!(st.dropped > 0, "no drops reported: {st:?}");
        assert!(st.received >= st.dropped, "{st:?}");
        let handed = collect(&mut src, usize::MAX, Duration::from_millis(500)).len() as u64;
        assert!(handed > 0 && handed < sent, "handed {handed}");
        let st = src.stats().unwrap();
        // tp_packets counts the dropped packets too.
        assert_eq!(st.received, handed + st.dropped, "{st:?}, handed {handed}");
        assert!(st.received <= sent, "{st:?}");
    });
}

/// (c) A missing interface is named in the error; so is an impossible name.
#[test]
fn missing_interface_is_named() {
    // Needs no privileges: the name lookup fails before any socket is opened.
    let e = AfPacketSource::open("blbnosuch9", &AfPacketConfig::default())
        .err()
        .expect("opened a missing interface")
        .to_string();
    assert_eq!(e, "capture on blbnosuch9: no such interface");
    let e = InterfaceSink::open("blbnosuch9").err().unwrap().to_string();
    assert_eq!(e, "interface blbnosuch9: no such interface");
    assert!(
        iface::index("blbnosuch9")
            .unwrap_err()
            .to_string()
            .contains("blbnosuch9")
    );
    let e = AfPacketSource::open("a-very-long-interface-name", &AfPacketConfig::default())
        .err()
        .unwrap();
    assert!(matches!(e, LiveError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("a-very-long-interface-name"), "{e}");
    let bad = AfPacketConfig {
        block_size: 5000,
        ..AfPacketConfig::default()
    };
    let e = AfPacketSource::open("lo", &bad).err().unwrap().to_string();
    assert!(e.contains("block_size"), "{e}");
}

/// Interface facts inside a namespace: veth and lo are Ethernet, a tun device is raw IP.
#[test]
fn link_types_of_interfaces() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    let tun = ns
        .try_cmd(&[
            "ip", "-n", &ns.name, "tuntap", "add", "mode", "tun", "name", "blb-tun",
        ])
        .is_ok();
    ns.run(|| {
        if tun {
            assert_eq!(iface::arphrd("blb-tun").unwrap(), libc::ARPHRD_NONE);
            assert_eq!(iface::link_type("blb-tun").unwrap(), 101);
            let src = AfPacketSource::open("blb-tun", &small_ring()).unwrap();
            assert_eq!(src.link_type(), 101);
        } else {
            eprintln!("note: no tun device, raw IP link type not checked");
        }
        let lo = AfPacketSource::open("lo", &small_ring()).unwrap();
        assert_eq!(lo.link_type(), 1);
        let e = AfPacketSource::open("blbnosuch9", &small_ring())
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "capture on blbnosuch9: no such interface");
    });
}

/// (d) An interface set down reads as down and sending on it is a path error; so is a
/// veth whose peer is down (no carrier).
#[test]
fn down_interface_is_a_path_error() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    let mut sink = ns.run(|| {
        assert!(settles_to("blb-tx", true));
        InterfaceSink::open("blb-tx").unwrap()
    });
    let f = frame(&[], UDP, 53, 20, 1);
    sink.send(1, eth(&f)).unwrap();

    // The peer down: blb-tx loses its carrier.
    ns.ip(&["link", "set", "blb-rx", "down"]);
    ns.run(|| assert!(!settles_to("blb-tx", false)));
    match sink.send(1, eth(&f)) {
        Err(SendError::Path(e)) => assert!(e.to_string().contains("blb-tx"), "{e}"),
        // Some kernels drop silently when the carrier is off.
        Ok(()) => eprintln!("note: send without carrier succeeded"),
        Err(e) => panic!("expected a path error, got {e:?}"),
    }

    // The interface itself down.
    ns.ip(&["link", "set", "blb-tx", "down"]);
    ns.run(|| assert!(!settles_to("blb-tx", false)));
    match sink.send(1, eth(&f)) {
        Err(SendError::Path(e)) => assert!(e.to_string().contains("blb-tx"), "{e}"),
        other => panic!("expected a path error, got {other:?}"),
    }

    // Back up: delivery resumes.
    ns.ip(&["link", "set", "blb-tx", "up"]);
    ns.ip(&["link", "set", "blb-rx", "up"]);
    ns.run(|| assert!(settles_to("blb-tx", true)));
    sink.send(1, eth(&f)).unwrap();
}

/// (e) libpcap with a BPF filter sees only the matching frames; a bad filter is named.
#[cfg(feature = "pcap")]
#[test]
fn pcap_filter_selects_frames() {
    use blb_live::capture::libpcap::{PcapSource, check_filter};

    let e = PcapSource::open("blbnosuch9", None, 65535, true, 1 << 20)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("blbnosuch9"), "{e}");

    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        let e = PcapSource::open("blb-rx", Some("udp prot 53"), 65535, true, 1 << 20)
            .err()
            .expect("a bad filter was accepted")
            .to_string();
        assert!(e.contains("\"udp prot 53\""), "{e}");
        assert!(settles_to("blb-tx", true));

        let mut src =
            PcapSource::open("blb-rx", Some("udp port 53"), 65535, true, 1 << 20).unwrap();
        assert_eq!(src.link_type(), 1);
        assert_eq!(src.name(), "blb-rx");
        check_filter("udp port 53", src.link_type()).unwrap();
        assert!(check_filter("udp port", src.link_type()).is_err());

        let mut sink = InterfaceSink::open("blb-tx").unwrap();
        let a = frame(&[], UDP, 53, 30, 1);
        let b = frame(&[], UDP, 53, 300, 2);
        let before = now_ns();
        for f in [
            &a,
            &frame(&[], UDP, 54, 30, 3),
            &frame(&[], TCP, 53, 30, 4),
            &b,
        ] {
            sink.send(1, eth(f)).unwrap();
        }
        let after = now_ns();
        let got = collect(&mut src, 2, Duration::from_secs(10));
        let bytes: Vec<Vec<u8>> = got.iter().map(|g| g.2.clone()).collect();
        assert_eq!(bytes, vec![a, b]);
        for (ts, wire_len, data) in &got {
            assert_eq!(*wire_len as usize, data.len());
            assert!(
                *ts + 1_000_000_000 >= before && *ts <= after + 5_000_000_000,
                "{ts}"
            );
        }
        let st = src.stats().unwrap();
        assert!(st.received >= 2, "{st:?}");
        assert_eq!(st.dropped, 0, "{st:?}");
    });
}

/// A capture whose interface goes down reports it once (instead of polling readable
/// forever) and resumes when the interface is back up.
#[test]
fn capture_reports_interface_down_and_resumes() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        assert!(settles_to("blb-tx", true));
        let mut src = AfPacketSource::open("blb-rx", &small_ring()).unwrap();
        let mut sink = InterfaceSink::open("blb-tx").unwrap();
        let a = frame(&[], UDP, 53, 20, 1);
        sink.send(1, eth(&a)).unwrap();
        assert_eq!(collect(&mut src, 1, Duration::from_secs(10)).len(), 1);

        ns.ip(&["link", "set", "blb-rx", "down"]);
        assert!(
            wait_readable(&[src.raw_fd()], 5000).unwrap(),
            "no wakeup on link down"
        );
        let mut n = 0;
        let e = src
            .drain(usize::MAX, &mut |_| n += 1)
            .expect_err("link down not reported");
        assert!(e.to_string().starts_with("capture on blb-rx:"), "{e}");
        assert_eq!(src.drain(usize::MAX, &mut |_| n += 1).unwrap(), 0);
        assert!(
            !wait_readable(&[src.raw_fd()], 100).unwrap(),
            "still readable"
        );

        ns.ip(&["link", "set", "blb-rx", "up"]);
        assert!(settles_to("blb-tx", true));
        let b = frame(&[], UDP, 53, 20, 2);
        sink.send(1, eth(&b)).unwrap();
        let got = collect(&mut src, 1, Duration::from_secs(10));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2, b);
    });
}

/// By default a tap on the delivery interface itself sees what the sink sends; with the
/// qdisc bypass it does not (only the far end does).
#[test]
fn a_tap_on_the_delivery_interface_sees_frames_unless_bypassed() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        assert!(settles_to("blb-tx", true));
        let tap_cfg = AfPacketConfig {
            ignore_outgoing: false,
            ..small_ring()
        };
        for (bypass, seen) in [(false, 3), (true, 0)] {
            let mut tap = AfPacketSource::open("blb-tx", &tap_cfg).unwrap();
            let mut sink = InterfaceSink::open_with("blb-tx", bypass).unwrap();
            for i in 0..3 {
                sink.send(1, eth(&frame(&[], UDP, 53, 30, i))).unwrap();
            }
            let got = collect(&mut tap, seen, Duration::from_secs(5));
            assert_eq!(got.len(), seen, "qdisc bypass {bypass}");
        }
    });
}
