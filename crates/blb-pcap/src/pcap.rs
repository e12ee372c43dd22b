//! Classic libpcap format: global header and record parsing for the reader, and `PcapWriter`.

use std::io::{Read, Write};

use crate::buffer::{Input, rd_u16, rd_u32};
use crate::error::PcapError;
use crate::reader::{DEFAULT_SNAPLEN, MAX_RECORD, RawPacket, TsPrecision};

const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
const MAGIC_NANO: u32 = 0xa1b2_3c4d;
/// Alexey Kuznetzov's "modified" pcap: 24-byte record headers (ifindex, protocol, pkt_type).
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

const GLOBAL_HEADER_LEN: usize = 24;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// How to read the two length fields of a record header (libpcap's `lengths_swapped`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LengthOrder {
    /// Version 2.4 and later: caplen then wire length.
    Normal,
    /// Version 2.3: either order; swap when caplen > wire length.
    Maybe,
    /// Versions before 2.3: wire length then caplen.
    Swapped,
}

/// What the global header said, needed to read each record.
#[derive(Clone, Debug)]
pub(crate) struct PcapState {
    big: bool,
    nano: bool,
    record_header_len: usize,
    order: LengthOrder,
    /// Largest caplen accepted.
    limit: u32,
    pub(crate) snaplen: u32,
    pub(crate) link_type: u32,
}

impl PcapState {
    pub(crate) fn precision(&self) -> TsPrecision {
        if self.nano {
            TsPrecision::Nano
        } else {
            TsPrecision::Micro
        }
    }
}

/// Recognises a classic pcap magic (first four bytes, either byte order).
/// Returns `(big_endian, nanosecond, modified)`.
pub(crate) fn classify_magic(first4: &[u8]) -> Option<(bool, bool, bool)> {
    let le = rd_u32(first4, 0, false);
    let be = rd_u32(first4, 0, true);
    for (magic, nano, modified) in [
        (MAGIC_MICRO, false, false),
        (MAGIC_NANO, true, false),
        (MAGIC_MODIFIED, false, true),
    ] {
        if le == magic {
            return Some((false, nano, modified));
        }
        if be == magic {
            return Some((true, nano, modified));
        }
    }
    None
}

/// Parses the 24-byte global header and consumes it.
pub(crate) fn read_header<R: Read>(input: &mut Input<R>) -> Result<PcapState, PcapError> {
    let got = input.ensure(GLOBAL_HEADER_LEN)?;
    let h = input.available();
    let Some((big, nano, modified)) = classify_magic(h) else {
        return Err(PcapError::NotACapture {
            magic: rd_u32(h, 0, true),
        });
    };
    if got < GLOBAL_HEADER_LEN {
        return Err(PcapError::TruncatedHeader {
            needed: GLOBAL_HEADER_LEN as u64,
            got: got as u64,
        });
    }
    let major = rd_u16(h, 4, big);
    let minor = rd_u16(h, 6, big);
    if major != 2 {
        return Err(PcapError::UnsupportedVersion { major, minor });
    }
    let order = match minor {
        0..=2 => LengthOrder::Swapped,
        3 => LengthOrder::Maybe,
        _ => LengthOrder::Normal,
    };
    let raw_snaplen = rd_u32(h, 16, big);
    let snaplen = if raw_snaplen == 0 {
        DEFAULT_SNAPLEN
    } else {
        raw_snaplen
    };
    // The upper bits carry FCS information (libpcap's LT_LINKTYPE mask).
    let link_type = rd_u32(h, 20, big) & 0xffff;
    input.consume(GLOBAL_HEADER_LEN);
    Ok(PcapState {
        big,
        nano,
        record_header_len: if modified { 24 } else { 16 },
        order,
        limit: snaplen.clamp(DEFAULT_SNAPLEN, MAX_RECORD),
        snaplen,
        link_type,
    })
}

/// Reads the next record header and makes sure its data is buffered.
///
/// Does not consume: the caller consumes `record_len` bytes and slices the data.
#[inline]
pub(crate) fn next_record<R: Read>(
    st: &PcapState,
    input: &mut Input<R>,
    number: u64,
) -> Result<Option<RawPacket>, PcapError> {
    let hl = st.record_header_len;
    let got = input.ensure(hl)?;
    if got == 0 {
        return Ok(None);
    }
    if got < hl {
        return Err(PcapError::Truncated {
            packet: number,
            needed: hl as u64,
            got: got as u64,
        });
    }
    let h = input.available();
    let big = st.big;
    let sec = rd_u32(h, 0, big);
    let frac = rd_u32(h, 4, big);
    let mut cap_len = rd_u32(h, 8, big);
    let mut wire_len = rd_u32(h, 12, big);
    match st.order {
        LengthOrder::Normal => {}
        LengthOrder::Maybe if cap_len <= wire_len => {}
        LengthOrder::Maybe | LengthOrder::Swapped => std::mem::swap(&mut cap_len, &mut wire_len),
    }
    if cap_len > st.limit {
        return Err(PcapError::ImpossibleLength {
            packet: number,
            len: u64::from(cap_len),
            limit: u64::from(st.limit),
        });
    }
    // cap_len <= MAX_RECORD, so this cannot overflow.
    let total = hl + cap_len as usize;
    let got = input.ensure(total)?;
    if got < total {
        return Err(PcapError::Truncated {
            packet: number,
            needed: total as u64,
            got: got as u64,
        });
    }
    let frac_nanos = if st.nano {
        u64::from(frac)
    } else {
        u64::from(frac) * 1000
    };
    let ts_nanos = u64::from(sec)
        .saturating_mul(NANOS_PER_SEC)
        .saturating_add(frac_nanos);
    Ok(Some(RawPacket {
        ts_nanos,
        cap_len,
        wire_len,
        link_type: st.link_type,
        interface: 0,
        data_offset: hl,
        record_len: total,
    }))
}

/// Writes classic pcap files: little-endian, version 2.4, microsecond or nanosecond magic.
///
/// Does not buffer: pass a `BufWriter`. Each packet costs two `write_all` calls (16-byte
/// header from a stack array, then the data) and no allocation.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    precision: TsPrecision,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header immediately.
    pub fn new(
        mut w: W,
        link_type: u32,
        precision: TsPrecision,
        snaplen: u32,
    ) -> Result<Self, PcapError> {
        let magic = match precision {
            TsPrecision::Micro => MAGIC_MICRO,
            TsPrecision::Nano => MAGIC_NANO,
        };
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&link_type.to_le_bytes());
        w.write_all(&h)?;
        Ok(Self {
            w,
            precision,
            packets: 0,
        })
    }

    /// Appends one record. `ts_nanos` is rounded down to microseconds for `Micro` files;
    /// seconds beyond `u32::MAX` (year 2106) saturate.
    #[inline]
    pub fn write_packet(
        &mut self,
        ts_nanos: u64,
        wire_len: u32,
        data: &[u8],
    ) -> Result<(), PcapError> {
        let Ok(cap_len) = u32::try_from(data.len()) else {
            return Err(PcapError::InvalidWrite {
                what: format!("packet of {} bytes is too large for pcap", data.len()),
            });
        };
        let sec = u32::try_from(ts_nanos / NANOS_PER_SEC).unwrap_or(u32::MAX);
        let sub = ts_nanos % NANOS_PER_SEC;
        let frac = match self.precision {
            TsPrecision::Micro => sub / 1000,
            TsPrecision::Nano => sub,
        } as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&cap_len.to_le_bytes());
        h[12..16].copy_from_slice(&wire_len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)?;
        self.packets += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<(), PcapError> {
        self.w.flush()?;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W, PcapError> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureReader, Format};

    fn header(magic: u32, big: bool, major: u16, minor: u16, snaplen: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let put32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        put32(&mut v, magic);
        let (a, b) = if big {
            (major.to_be_bytes(), minor.to_be_bytes())
        } else {
            (major.to_le_bytes(), minor.to_le_bytes())
        };
        v.extend_from_slice(&a);
        v.extend_from_slice(&b);
        put32(&mut v, 0);
        put32(&mut v, 0);
        put32(&mut v, snaplen);
        put32(&mut v, 1);
        v
    }

    #[test]
    fn writer_header_layout() {
        let w = PcapWriter::new(Vec::new(), 1, TsPrecision::Nano, 65535).unwrap();
        let v = w.into_inner().unwrap();
        assert_eq!(
            v,
            [
                0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0
            ]
        );
    }

    #[test]
    fn micro_rounds_down() {
        let mut w = PcapWriter::new(Vec::new(), 1, TsPrecision::Micro, 0).unwrap();
        w.write_packet(1_500_000_999, 60, &[1, 2, 3]).unwrap();
        assert_eq!(w.packets_written(), 1);
        let v = w.into_inner().unwrap();
        let mut r = CaptureReader::new(&v[..]).unwrap();
        assert_eq!(r.format(), Format::Pcap);
        assert_eq!(r.snaplen(), DEFAULT_SNAPLEN);
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.ts_nanos, 1_500_000_000);
        assert_eq!((p.cap_len, p.wire_len, p.data), (3, 60, &[1u8, 2, 3][..]));
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn old_versions_swap_lengths() {
        // Version 2.2: wire length comes first.
        let mut v = header(MAGIC_MICRO, true, 2, 2, 100);
        for x in [1u32, 2, 100, 3] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(&[9, 9, 9]);
        let mut r = CaptureReader::new(&v[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.cap_len, p.wire_len, p.ts_nanos), (3, 100, 1_000_002_000));
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn modified_pcap_has_long_record_headers() {
        let mut v = header(MAGIC_MODIFIED, false, 2, 4, 100);
        for x in [1u32, 2, 2, 2, 7, 0] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&[5, 6]);
        let mut r = CaptureReader::new(&v[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.data, &[5, 6]);
        assert!(r.next_packet().unwrap().is_none());
        assert_eq!(r.bytes_consumed(), v.len() as u64);
    }

    #[test]
    fn rejects_bad_version_and_lengths() {
        let v = header(MAGIC_MICRO, false, 1, 0, 100);
        assert!(matches!(
            CaptureReader::new(&v[..]),
            Err(PcapError::UnsupportedVersion { major: 1, minor: 0 })
        ));
        let mut v = header(MAGIC_MICRO, false, 2, 4, 100);
        for x in [1u32, 2, 300_000, 300_000] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        let mut r = CaptureReader::new(&v[..]).unwrap();
        assert!(matches!(
            r.next_packet(),
            Err(PcapError::ImpossibleLength {
                packet: 1,
                len: 300_000,
                limit: 262_144
            })
        ));
        // After an error the reader is finished.
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn truncated_header_and_data() {
        let v = header(MAGIC_MICRO, false, 2, 4, 100);
        assert!(matches!(
            CaptureReader::new(&v[..10]),
            Err(PcapError::TruncatedHeader {
                needed: 24,
                got: 10
            })
        ));
        let mut w = PcapWriter::new(Vec::new(), 1, TsPrecision::Micro, 100).unwrap();
        w.write_packet(0, 10, &[0; 10]).unwrap();
        w.write_packet(0, 10, &[0; 10]).unwrap();
        let v = w.into_inner().unwrap();
        let mut r = CaptureReader::new(&v[..v.len() - 3]).unwrap();
        assert!(r.next_packet().unwrap().is_some());
        assert!(matches!(
            r.next_packet(),
            Err(PcapError::Truncated {
                packet: 2,
                needed: 26,
                got: 23
            })
        ));
    }
}
