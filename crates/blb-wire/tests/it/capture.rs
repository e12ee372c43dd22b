//! Capture access for the file-based tests: the shared capture directory, and every frame of
//! a file read with blb-pcap into owned frames.

use std::path::{Path, PathBuf};

/// One captured frame.
pub struct Frame {
    /// 1-based frame number, as tshark counts.
    pub number: u64,
    pub link_type: u32,
    pub ts_nanos: u64,
    pub wire_len: u32,
    pub data: Vec<u8>,
}

/// The shared test captures, or `None` (the test skips) when they are not there.
pub fn pcap_dir() -> Option<PathBuf> {
    crate::skip::pcaps()
}

/// Every `.pcap` / `.pcapng` file under `dir` (the shared captures), sorted.
pub fn all_captures(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// Read every frame of a capture file with `blb_pcap::CaptureReader`, stopping quietly at
/// the first error (the corrupt captures end that way); empty for a file it rejects.
pub fn read(path: &Path) -> Vec<Frame> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let Ok(mut reader) = blb_pcap::CaptureReader::new(std::io::BufReader::new(file)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Ok(Some(p)) = reader.next_packet() {
        assert_eq!(p.cap_len as usize, p.data.len());
        out.push(Frame {
            number: p.number,
            link_type: p.link_type,
            ts_nanos: p.ts_nanos,
            wire_len: p.wire_len,
            data: p.data.to_vec(),
        });
    }
    out
}
