//! Tests of afpacket: AF_PACKET capture, delivery to an interface, interface facts and the
//! libpcap backend, each test in its own network namespace with veth pairs.
//!
//! The namespace gets IPv6 disabled before any link exists, so the kernel sends nothing of
//! its own and every captured frame is one the test sent. A guard deletes the namespace
//! even when the test fails.

use std::time::Duration;

use blb_live::capture::afpacket::{AfPacketConfig, AfPacketSource};
use blb_live::capture::{PacketSource, wait_readable};
use blb_live::deliver::interface::InterfaceSink;
use blb_live::deliver::{FrameSink, SendError};
use blb_live::{LiveError, iface};

use crate::netns::*;

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

/// Frames the host sends on the captured interface are skipped (by the kernel where it has
/// PACKET_IGNORE_OUTGOING, else here and counted), unless asked.
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
        assert!(!keep.kernel_ignores_outgoing());
        if skip.kernel_ignores_outgoing() {
            // PACKET_IGNORE_OUTGOING: the kernel never hands them over, nor counts them.
            assert_eq!(skip.outgoing_ignored(), 0);
            assert_eq!(skip.stats().unwrap().received, 0);
        } else {
            eprintln!("note: the kernel refused PACKET_IGNORE_OUTGOING; skipped in user space");
            assert_eq!(skip.outgoing_ignored(), frames.len() as u64);
        }
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
