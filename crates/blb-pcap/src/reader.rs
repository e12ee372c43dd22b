//! `CaptureReader`: format autodetection and the lending packet iterator over pcap and pcapng.

use std::io::Read;

use crate::buffer::{Input, rd_u32};
use crate::error::PcapError;
use crate::pcap::{self, PcapState};
use crate::pcapng::{BT_SHB, NgState};

/// Snaplen reported when a file says 0 (unlimited); also the smallest caplen limit.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Largest record or block accepted (16 MiB).
pub const MAX_RECORD: u32 = 16 * 1024 * 1024;

/// Container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Timestamp precision of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TsPrecision {
    /// Microseconds.
    Micro,
    /// Nanoseconds.
    Nano,
}

/// One packet, borrowing the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based packet number in the file (as tcpdump/Wireshark count frames).
    pub number: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts_nanos: u64,
    /// Captured length (`data.len()`).
    pub cap_len: u32,
    /// Original length on the wire.
    pub wire_len: u32,
    /// Link type of the packet's interface (pcapng) or of the file (pcap).
    pub link_type: u32,
    /// pcapng interface id (0 for pcap).
    pub interface: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

/// A packet located in the input buffer, before it is consumed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawPacket {
    pub(crate) ts_nanos: u64,
    pub(crate) cap_len: u32,
    pub(crate) wire_len: u32,
    pub(crate) link_type: u32,
    pub(crate) interface: u32,
    /// Offset of the data from the start of the record.
    pub(crate) data_offset: usize,
    /// Bytes of the whole record (header, data, padding, trailer).
    pub(crate) record_len: usize,
}

#[derive(Debug)]
enum Kind {
    Pcap(PcapState),
    PcapNg(NgState),
}

/// Streaming reader of pcap and pcapng files from any `Read` (stdin included).
///
/// It keeps one growable buffer (1 MiB to start, more only for larger records) and hands out
/// packets that borrow it, so reading allocates nothing per packet.
/// After an error or the end of the file, `next_packet` returns `Ok(None)`.
pub struct CaptureReader<R: Read> {
    input: Input<R>,
    kind: Kind,
    records: u64,
    done: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap global header or pcapng SHB), autodetecting the format from the magic.
    pub fn new(reader: R) -> Result<Self, PcapError> {
        let mut input = Input::new(reader);
        let got = input.ensure(4)?;
        if got == 0 {
            return Err(PcapError::Empty);
        }
        let head = input.available();
        let kind = if got >= 4 && rd_u32(head, 0, false) == BT_SHB {
            let mut st = NgState::default();
            st.read_shb(&mut input, 1, true)?;
            Kind::PcapNg(st)
        } else if got < 4 {
            return Err(PcapError::TruncatedHeader {
                needed: 24,
                got: got as u64,
            });
        } else {
            Kind::Pcap(pcap::read_header(&mut input)?)
        };
        Ok(Self {
            input,
            kind,
            records: 0,
            done: false,
        })
    }

    /// Next packet, or `Ok(None)` at a clean end of file. Borrows the internal buffer.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, PcapError> {
        if self.done {
            return Ok(None);
        }
        let number = self.records + 1;
        let res = match &mut self.kind {
            Kind::Pcap(st) => pcap::next_record(st, &mut self.input, number),
            Kind::PcapNg(st) => st.next_record(&mut self.input, number),
        };
        let raw = match res {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        let from = self.input.start().saturating_add(raw.data_offset);
        let to = from.saturating_add(raw.cap_len as usize);
        self.input.consume(raw.record_len);
        self.records = number;
        let data = self.input.raw().get(from..to).unwrap_or(&[]);
        Ok(Some(Packet {
            number,
            ts_nanos: raw.ts_nanos,
            cap_len: raw.cap_len,
            wire_len: raw.wire_len,
            link_type: raw.link_type,
            interface: raw.interface,
            data,
        }))
    }

    /// Container format detected from the magic.
    pub fn format(&self) -> Format {
        match self.kind {
            Kind::Pcap(_) => Format::Pcap,
            Kind::PcapNg(_) => Format::PcapNg,
        }
    }

    /// Link type of the classic pcap file, or of the first pcapng interface seen so far
    /// (`None` if no IDB yet).
    pub fn link_type(&self) -> Option<u32> {
        match &self.kind {
            Kind::Pcap(st) => Some(st.link_type),
            Kind::PcapNg(st) => st.link_types.first().copied(),
        }
    }

    /// Link types of all interfaces seen so far, in order of appearance, without duplicates
    /// (pcap: one).
    pub fn link_types(&self) -> Vec<u32> {
        match &self.kind {
            Kind::Pcap(st) => vec![st.link_type],
            Kind::PcapNg(st) => st.link_types.clone(),
        }
    }

    /// Finest timestamp precision seen: `Micro` for microsecond pcap and pcapng interfaces with
    /// if_tsresol of 10^-6 or coarser, `Nano` otherwise.
    pub fn precision(&self) -> TsPrecision {
        match &self.kind {
            Kind::Pcap(st) => st.precision(),
            Kind::PcapNg(st) => st.precision(),
        }
    }

    /// pcap header snaplen, or the largest pcapng IDB snaplen seen; 0 (unlimited) is reported
    /// as 262144, as is a pcapng file with no IDB yet.
    pub fn snaplen(&self) -> u32 {
        match &self.kind {
            Kind::Pcap(st) => st.snaplen,
            Kind::PcapNg(st) if st.max_snaplen == 0 => DEFAULT_SNAPLEN,
            Kind::PcapNg(st) => st.max_snaplen,
        }
    }

    /// Packets returned so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// File bytes consumed so far (headers included), for a progress bar.
    pub fn bytes_consumed(&self) -> u64 {
        self.input.consumed()
    }
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format())
            .field("records_read", &self.records)
            .field("bytes_consumed", &self.input.consumed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unknown_inputs() {
        assert!(matches!(CaptureReader::new(&[][..]), Err(PcapError::Empty)));
        assert!(matches!(
            CaptureReader::new(&[1u8, 2][..]),
            Err(PcapError::TruncatedHeader { got: 2, .. })
        ));
        let e = CaptureReader::new(&b"GET / HTTP/1.1\r\n"[..]).unwrap_err();
        assert!(matches!(e, PcapError::NotACapture { magic: 0x4745_5420 }));
        assert!(e.to_string().contains("0x47455420"));
    }
}
