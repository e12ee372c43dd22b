//! Tests of deliver: VXLAN to a local UDP socket and rotated pcap files read back (the
//! sensor queue's tests are in queue_tests.rs).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blb_live::deliver::pcapfile::{PcapFileConfig, PcapFileSink};
use blb_live::deliver::vxlan::{VxlanConfig, VxlanSink};
use blb_live::deliver::{FrameSink, SendError};
use blb_live::{Frame, LiveError};
use blb_pcap::CaptureReader;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const T0: u64 = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z

/// An Ethernet-looking frame of `len` bytes whose first 8 bytes are `n`.
pub(crate) fn frame_bytes(n: u64, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i as u64 * 31 + n) as u8).collect();
    v[..8].copy_from_slice(&n.to_be_bytes());
    v
}

/// A frame captured whole at `ts`.
pub(crate) fn fr(ts: u64, data: &[u8]) -> Frame<'_> {
    Frame {
        ts,
        wire_len: data.len() as u32,
        data,
    }
}

pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------- VXLAN

#[test]
fn vxlan_datagrams_carry_header_and_frame() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(TIMEOUT)).unwrap();
    let dest = rx.local_addr().unwrap();
    let mut sink = VxlanSink::open(&VxlanConfig::new(dest, 0xab_cdef)).unwrap();
    assert_eq!(sink.describe(), format!("vxlan {dest} vni 11259375"));
    assert!(sink.accepts(1));
    assert!(!sink.accepts(101));
    let frames: Vec<Vec<u8>> = [60usize, 1514, 9000, 42]
        .iter()
        .enumerate()
        .map(|(i, &len)| frame_bytes(i as u64, len))
        .collect();
    for (i, f) in frames.iter().enumerate() {
        let frame = fr(T0 + i as u64, f);
        sink.send(1, frame).unwrap();
    }
    sink.flush().unwrap();
    let mut buf = vec![0u8; 70_000];
    let from = sink.local_addr().unwrap();
    for f in &frames {
        let (n, src) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(src.port(), from.port());
        assert_eq!(&buf[..8], &[0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
        assert_eq!(&buf[8..n], &f[..]);
    }
}

#[test]
fn vxlan_rejects_what_cannot_go() {
    let dest: SocketAddr = "127.0.0.1:4789".parse().unwrap();
    let e = VxlanSink::open(&VxlanConfig::new(dest, 1 << 24)).unwrap_err();
    assert!(matches!(e, LiveError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("VNI"), "{e}");
    assert!(VxlanSink::open(&VxlanConfig::new(dest, (1 << 24) - 1)).is_ok());

    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sink = VxlanSink::open(&VxlanConfig::new(rx.local_addr().unwrap(), 7)).unwrap();
    let big = vec![0u8; 65_507 - 8 + 1];
    let frame = fr(T0, &big);
    assert!(matches!(sink.send(1, frame), Err(SendError::Frame(_))));
    let fits = &big[..65_507 - 8];
    let frame = fr(T0, fits);
    sink.send(1, frame).unwrap();
    let small = frame_bytes(1, 60);
    let frame = fr(T0, &small);
    assert!(matches!(sink.send(101, frame), Err(SendError::Frame(_))));
}

#[test]
fn vxlan_ignores_port_unreachable() {
    // Nobody listens: the ICMP port-unreachable must not turn into errors on later sends.
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = closed.local_addr().unwrap();
    drop(closed);
    let mut sink = VxlanSink::open(&VxlanConfig::new(dest, 3)).unwrap();
    let f = frame_bytes(9, 100);
    for i in 0..50 {
        let frame = fr(T0 + i, &f);
        sink.send(1, frame).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------- pcap files

/// (ts, wire_len, data) of every packet in `files`, in order.
fn read_all<P: AsRef<Path>>(files: &[P]) -> Vec<(u64, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for p in files {
        let p = p.as_ref();
        let mut r = CaptureReader::new(std::fs::File::open(p).unwrap()).unwrap();
        assert_eq!(r.link_type(), Some(1), "{}", p.display());
        assert_eq!(r.precision(), blb_pcap::TsPrecision::Nano);
        let mut n = 0;
        while let Some(pkt) = r.next_packet().unwrap() {
            out.push((pkt.ts_nanos, pkt.wire_len, pkt.data.to_vec()));
            n += 1;
        }
        assert!(n > 0, "{} is empty", p.display());
    }
    out
}

/// The rotated files in the directory (sorted by name: time, then sequence within a
/// second in these tests) followed by the current file.
fn files_in_order(dir: &Path, current: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != current)
        .collect();
    v.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let seq: u64 = name
            .rsplit('-')
            .next()
            .unwrap()
            .trim_end_matches(".pcap")
            .parse()
            .unwrap();
        (name[..name.rfind('-').unwrap()].to_string(), seq)
    });
    v.push(current.to_path_buf());
    v
}

fn input(n: u64, step_ns: u64) -> Vec<(u64, u32, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let len = 60 + (i as usize * 97) % 1400;
            (T0 + i * step_ns, len as u32 + 4, frame_bytes(i, len))
        })
        .collect()
}

fn write(sink: &mut PcapFileSink, frames: &[(u64, u32, Vec<u8>)]) {
    for (ts, wire_len, data) in frames {
        let frame = Frame {
            ts: *ts,
            wire_len: *wire_len,
            data,
        };
        sink.send(1, frame).unwrap();
    }
    sink.flush().unwrap();
}

#[test]
fn pcap_rotation_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sensor1.pcap");
    let cfg = PcapFileConfig {
        rotate_bytes: Some(10_000),
        ..PcapFileConfig::new(&path)
    };
    let mut sink = PcapFileSink::open(&cfg).unwrap();
    assert_eq!(sink.describe(), format!("pcap file {}", path.display()));
    let frames = input(100, 1_000);
    write(&mut sink, &frames);
    let files = files_in_order(dir.path(), &path);
    assert!(files.len() >= 5, "{files:?}");
    let known: Vec<&Path> = sink.rotated_files().collect();
    assert_eq!(
        known,
        files[..files.len() - 1]
            .iter()
            .map(PathBuf::as_path)
            .collect::<Vec<_>>()
    );
    for f in &files {
        assert!(
            std::fs::metadata(f).unwrap().len() <= 10_000,
            "{}",
            f.display()
        );
    }
    assert_eq!(read_all(&files), frames);
    let first = files[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(first, "sensor1-20231114T221320Z-0.pcap");
    drop(sink);
    assert_eq!(read_all(&files), frames);
}

#[test]
fn pcap_rotation_by_time_and_keep() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pcap");
    let cfg = PcapFileConfig {
        rotate_seconds: Some(10),
        ..PcapFileConfig::new(&path)
    };
    // One frame every 1.5 s for 45 s: files start at 0, 10.5, 21, 31.5 and 42 s.
    let frames = input(30, 1_500_000_000);
    let mut sink = PcapFileSink::open(&cfg).unwrap();
    write(&mut sink, &frames);
    drop(sink);
    let files = files_in_order(dir.path(), &path);
    let names: Vec<&str> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "s-20231114T221320Z-0.pcap",
            "s-20231114T221330Z-1.pcap",
            "s-20231114T221341Z-2.pcap",
            "s-20231114T221351Z-3.pcap",
            "s.pcap"
        ]
    );
    assert_eq!(read_all(&files), frames);

    // keep = 2 in a fresh directory: only the newest two rotated files stay.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pcap");
    let cfg = PcapFileConfig {
        rotate_seconds: Some(10),
        keep: Some(2),
        ..PcapFileConfig::new(&path)
    };
    let mut sink = PcapFileSink::open(&cfg).unwrap();
    write(&mut sink, &frames);
    let files = files_in_order(dir.path(), &path);
    assert_eq!(files.len(), 3, "{files:?}");
    let got = read_all(&files);
    // The files kept start at 21 s: frame 14.
    assert_eq!(got, frames[14..]);
}

#[test]
fn pcap_existing_file_is_moved_aside_and_kept_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pcap");
    let cfg = PcapFileConfig::new(&path);
    let first = input(3, 1_000);
    let mut sink = PcapFileSink::open(&cfg).unwrap();
    write(&mut sink, &first);
    drop(sink);
    // A second run: the earlier file is rotated away under its first packet's time.
    let second: Vec<_> = input(5, 1_000).into_iter().skip(3).collect();
    let mut sink = PcapFileSink::open(&cfg).unwrap();
    let moved = dir.path().join("s-20231114T221320Z-0.pcap");
    assert_eq!(sink.rotated_files().collect::<Vec<_>>(), [moved.as_path()]);
    write(&mut sink, &second);
    drop(sink);
    assert_eq!(read_all(&[&moved]), first);
    assert_eq!(read_all(&[&path]), second);
    // A third run with keep = 1: the sequence continues and the oldest goes.
    let cfg = PcapFileConfig {
        keep: Some(1),
        ..cfg
    };
    let sink = PcapFileSink::open(&cfg).unwrap();
    assert!(!moved.exists());
    let next = dir.path().join("s-20231114T221320Z-1.pcap");
    assert_eq!(sink.rotated_files().collect::<Vec<_>>(), [next.as_path()]);
    assert_eq!(read_all(&[next]), second);
}

#[test]
fn pcap_missing_directory_and_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = PcapFileSink::open(&PcapFileConfig::new(missing.join("s.pcap"))).unwrap_err();
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    assert!(!missing.exists());

    let path = dir.path().join("s.pcap");
    let mut sink = PcapFileSink::open(&PcapFileConfig::new(&path)).unwrap();
    assert!(sink.accepts(1) && sink.accepts(101));
    let f = frame_bytes(1, 60);
    let frame = fr(T0, &f);
    sink.send(101, frame).unwrap();
    assert!(!sink.accepts(1));
    assert!(matches!(sink.send(1, frame), Err(SendError::Frame(_))));
    sink.flush().unwrap();
    let mut r = CaptureReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(r.link_type(), Some(101));
    assert_eq!(r.next_packet().unwrap().unwrap().data, &f[..]);
    assert!(r.next_packet().unwrap().is_none());
}

/// A sensor that got no frame still has a valid capture: the 24-byte pcap header, as offline
/// balancing writes (it was an empty file).
#[test]
fn pcap_without_frames_is_a_valid_empty_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pcap");
    drop(PcapFileSink::open(&PcapFileConfig::new(&path)).unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 24, "{bytes:?}");
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(r.link_type(), Some(1));
    assert!(r.next_packet().unwrap().is_none());
}

/// A pcap sink whose file is `/dev/full` (every write fails with ENOSPC), in a temporary
/// directory kept alive by the first element; `None` (skipped) without `/dev/full`.
pub(crate) fn full_disk_sink() -> Option<(tempfile::TempDir, PathBuf, PcapFileSink)> {
    if !crate::skip::require(Path::new("/dev/full").exists(), "there is no /dev/full") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.pcap");
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    let sink = PcapFileSink::open(&PcapFileConfig::new(&path)).unwrap();
    Some((dir, path, sink))
}

#[test]
fn pcap_disk_full_is_a_path_error_naming_the_file() {
    let Some((_dir, path, mut sink)) = full_disk_sink() else {
        return;
    };
    let f = frame_bytes(1, 1500);
    let frame = fr(T0, &f);
    sink.send(1, frame).unwrap();
    let e = sink.flush().unwrap_err();
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    // Enough frames to fill the 1 MiB buffer: the write inside `send` fails.
    let failed = (0..1000).find_map(|_| sink.send(1, frame).err());
    match failed {
        Some(SendError::Path(e)) => assert!(e.to_string().contains("full.pcap"), "{e}"),
        other => panic!("expected a path error, got {other:?}"),
    }
}
