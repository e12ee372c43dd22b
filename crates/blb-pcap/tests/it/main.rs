//! Integration tests of blb-pcap: shared capture files, round trips, truncation, crafted pcapng, fuzzing.

mod chunked;
mod fuzz;
mod pcapng_blocks;
mod roundtrip;
mod shared_files;
#[path = "../../../blb/tests/it/skip.rs"]
mod skip;
mod truncation;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use blb_pcap::{CaptureReader, PcapError};

/// A packet copied out of the reader's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub number: u64,
    pub ts_nanos: u64,
    pub cap_len: u32,
    pub wire_len: u32,
    pub link_type: u32,
    pub interface: u32,
    pub data: Vec<u8>,
}

/// Outcome of reading a whole input: the packets, then the error that stopped it (if any).
#[derive(Debug)]
pub struct ReadAll {
    pub packets: Vec<Owned>,
    pub error: Option<PcapError>,
    /// `bytes_consumed()` after each packet.
    pub ends: Vec<u64>,
    /// `bytes_consumed()` at the end.
    pub consumed: u64,
}

/// Reads everything; a header error gives no packets and that error.
pub fn read_all<R: Read>(r: R) -> ReadAll {
    let mut out = ReadAll {
        packets: Vec::new(),
        error: None,
        ends: Vec::new(),
        consumed: 0,
    };
    let mut reader = match CaptureReader::new(r) {
        Ok(reader) => reader,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.cap_len as usize, p.data.len());
                out.packets.push(Owned {
                    number: p.number,
                    ts_nanos: p.ts_nanos,
                    cap_len: p.cap_len,
                    wire_len: p.wire_len,
                    link_type: p.link_type,
                    interface: p.interface,
                    data: p.data.to_vec(),
                });
                out.ends.push(reader.bytes_consumed());
            }
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    assert_eq!(reader.records_read(), out.packets.len() as u64);
    out.consumed = reader.bytes_consumed();
    // A finished reader stays finished.
    assert!(matches!(reader.next_packet(), Ok(None)));
    out
}

/// The shared captures folder, or `None` (the test skips) when it is not there.
pub fn shared_dir() -> Option<PathBuf> {
    skip::pcaps()
}

/// Reads the shared capture `rel` of the folder `dir` into memory.
pub fn shared_file(dir: &Path, rel: &str) -> Vec<u8> {
    let path = dir.join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `Read` returning 1 to 7 bytes per call (deterministic pseudo-random sizes).
pub struct Chunky<'a> {
    pub data: &'a [u8],
    pub state: u32,
}

impl Read for Chunky<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let want = 1 + (self.state >> 16) as usize % 7;
        let n = want.min(out.len()).min(self.data.len());
        let (a, b) = self.data.split_at(n);
        out[..n].copy_from_slice(a);
        self.data = b;
        Ok(n)
    }
}
