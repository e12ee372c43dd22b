//! Tests of batched delivery (`FrameSink::send_batch`, one `sendmmsg` per 1 024 frames):
//! batches longer than one system call, with frames that cannot go in the middle, get
//! exactly one outcome per frame, in order, and every frame that went arrives byte for byte.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

use blb_live::Frame;
use blb_live::capture::PacketSource;
use blb_live::capture::afpacket::{AfPacketConfig, AfPacketSource};
use blb_live::deliver::interface::InterfaceSink;
use blb_live::deliver::vxlan::{VxlanConfig, VxlanSink};
use blb_live::deliver::{FrameSink, SendError};

use crate::netns::{Netns, UDP, collect, frame, settles_to};

/// Frames in each batch: more than two `sendmmsg` calls' worth.
const N: usize = 2_100;

/// `(link_type, bytes)` of `N` frames; frame 700 is not Ethernet and frame 1_500 is too
/// large to go (`big` bytes); all others are distinct Ethernet frames of 60 to 260 bytes.
fn frames(big: usize) -> Vec<(u32, Vec<u8>)> {
    (0..N)
        .map(|i| match i {
            700 => (101, frame(&[], UDP, 53, 40, 7)),
            1_500 => (1, vec![0x02; big]),
            _ => {
                let mut f = frame(&[], UDP, 53, 18 + i % 200, i as u8);
                f[6..10].copy_from_slice(&(i as u32).to_be_bytes());
                (1, f)
            }
        })
        .collect()
}

/// Sends `frames` as one batch; returns the outcomes in the order they were reported.
fn send_all(sink: &mut dyn FrameSink, frames: &[(u32, Vec<u8>)]) -> Vec<(usize, bool)> {
    let batch: Vec<(u32, Frame<'_>)> = frames
        .iter()
        .map(|(lt, f)| {
            let frame = Frame {
                ts: 0,
                wire_len: f.len() as u32,
                data: f,
            };
            (*lt, frame)
        })
        .collect();
    let mut got = Vec::new();
    sink.send_batch(&batch, &mut |i, r| {
        if let Err(e) = &r {
            assert!(matches!(e, SendError::Frame(_)), "frame {i}: {e:?}");
        }
        got.push((i, r.is_ok()));
    });
    got
}

/// Each frame once, in order, and only the two bad frames refused.
fn check_outcomes(got: &[(usize, bool)]) {
    assert_eq!(got.len(), N);
    for (k, &(i, ok)) in got.iter().enumerate() {
        assert_eq!(i, k, "outcomes out of order");
        assert_eq!(ok, i != 700 && i != 1_500, "frame {i}");
    }
}

#[test]
fn vxlan_batch_has_one_outcome_per_frame_and_keeps_order() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Room for the whole batch even if this thread is not scheduled while it is sent.
    let size: libc::c_int = 64 << 20;
    // SAFETY: `size` is a valid int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            rx.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        eprintln!("skipped: cannot enlarge the receive buffer (SO_RCVBUFFORCE needs root)");
        return;
    }
    rx.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut sink = VxlanSink::open(&VxlanConfig::new(rx.local_addr().unwrap(), 5)).unwrap();
    let frames = frames(65_507 - 8 + 1);
    check_outcomes(&send_all(&mut sink, &frames));
    let mut buf = vec![0u8; 70_000];
    for (i, (_, f)) in frames.iter().enumerate() {
        if i == 700 || i == 1_500 {
            continue;
        }
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..8], &[0x08, 0, 0, 0, 0, 0, 5, 0]);
        assert_eq!(&buf[8..n], &f[..], "datagram of frame {i}");
    }
}

#[test]
fn interface_batch_has_one_outcome_per_frame_and_keeps_order() {
    let Some(ns) = Netns::new() else { return };
    ns.veth("blb-tx", "blb-rx");
    ns.run(|| {
        assert!(settles_to("blb-rx", true));
        assert!(settles_to("blb-tx", true));
        let mut src = AfPacketSource::open("blb-rx", &AfPacketConfig::default()).unwrap();
        let mut sink = InterfaceSink::open("blb-tx").unwrap();
        let frames = frames(1_600);
        check_outcomes(&send_all(&mut sink, &frames));
        let want: Vec<&[u8]> = frames
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 700 && *i != 1_500)
            .map(|(_, (_, f))| f.as_slice())
            .collect();
        let got = collect(&mut src, want.len(), Duration::from_secs(20));
        let got: Vec<&[u8]> = got.iter().map(|g| g.2.as_slice()).collect();
        assert_eq!(got.len(), want.len(), "{:?}", src.stats());
        assert!(got == want, "captured frames differ from those sent");
        assert_eq!(src.stats().unwrap().dropped, 0);
    });
}
