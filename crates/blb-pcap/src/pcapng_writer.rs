//! `PcapNgWriter`: one section, one IDB per registered interface (nanosecond if_tsresol), EPB per packet.

use std::io::Write;

use crate::error::PcapError;
use crate::pcapng::{BT_EPB, BT_IDB, BT_SHB, BYTE_ORDER_MAGIC, OPT_END, OPT_IF_TSRESOL};

/// Writes little-endian pcapng: a Section Header Block, then Interface Description Blocks as
/// interfaces are added, and one Enhanced Packet Block per packet.
///
/// Does not buffer: pass a `BufWriter`. Each packet costs three small `write_all` calls (28-byte
/// header from a stack array, data, padding plus trailing length) and no allocation.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    w: W,
    interfaces: u32,
    packets: u64,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the Section Header Block immediately (version 1.0, section length unknown).
    pub fn new(mut w: W) -> Result<Self, PcapError> {
        let mut b = [0u8; 28];
        b[0..4].copy_from_slice(&BT_SHB.to_le_bytes());
        b[4..8].copy_from_slice(&28u32.to_le_bytes());
        b[8..12].copy_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        b[12..14].copy_from_slice(&1u16.to_le_bytes());
        b[14..16].copy_from_slice(&0u16.to_le_bytes());
        b[16..24].copy_from_slice(&(-1i64).to_le_bytes());
        b[24..28].copy_from_slice(&28u32.to_le_bytes());
        w.write_all(&b)?;
        Ok(Self {
            w,
            interfaces: 0,
            packets: 0,
        })
    }

    /// Writes an Interface Description Block with `if_tsresol = 9` and returns its interface id
    /// (0, 1, 2... in call order). Every call adds a new interface. `link_type` must fit 16 bits.
    pub fn add_interface(&mut self, link_type: u32, snaplen: u32) -> Result<u32, PcapError> {
        let Ok(lt) = u16::try_from(link_type) else {
            return Err(PcapError::InvalidWrite {
                what: format!("link type {link_type} does not fit a pcapng interface"),
            });
        };
        let mut b = [0u8; 32];
        b[0..4].copy_from_slice(&BT_IDB.to_le_bytes());
        b[4..8].copy_from_slice(&32u32.to_le_bytes());
        b[8..10].copy_from_slice(&lt.to_le_bytes());
        // reserved 10..12 stays 0
        b[12..16].copy_from_slice(&snaplen.to_le_bytes());
        b[16..18].copy_from_slice(&OPT_IF_TSRESOL.to_le_bytes());
        b[18..20].copy_from_slice(&1u16.to_le_bytes());
        b[20] = 9; // 10^-9 seconds; 21..24 is padding
        b[24..26].copy_from_slice(&OPT_END.to_le_bytes());
        // option length 26..28 stays 0
        b[28..32].copy_from_slice(&32u32.to_le_bytes());
        self.w.write_all(&b)?;
        let id = self.interfaces;
        self.interfaces += 1;
        Ok(id)
    }

    /// Appends one Enhanced Packet Block on `interface` (an id returned by `add_interface`).
    #[inline]
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts_nanos: u64,
        wire_len: u32,
        data: &[u8],
    ) -> Result<(), PcapError> {
        if interface >= self.interfaces {
            return Err(PcapError::InvalidWrite {
                what: format!("interface {interface} was never added"),
            });
        }
        let pad = (4 - data.len() % 4) % 4;
        let total = data
            .len()
            .checked_add(32 + pad)
            .and_then(|t| u32::try_from(t).ok());
        let (Some(total), Ok(cap_len)) = (total, u32::try_from(data.len())) else {
            return Err(PcapError::InvalidWrite {
                what: format!("packet of {} bytes is too large for pcapng", data.len()),
            });
        };
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&BT_EPB.to_le_bytes());
        h[4..8].copy_from_slice(&total.to_le_bytes());
        h[8..12].copy_from_slice(&interface.to_le_bytes());
        h[12..16].copy_from_slice(&((ts_nanos >> 32) as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(ts_nanos as u32).to_le_bytes());
        h[20..24].copy_from_slice(&cap_len.to_le_bytes());
        h[24..28].copy_from_slice(&wire_len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)?;
        let mut tail = [0u8; 8];
        tail[4..8].copy_from_slice(&total.to_le_bytes());
        self.w.write_all(tail.get(4 - pad..).unwrap_or(&tail))?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written so far.
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
    use crate::{CaptureReader, Format, TsPrecision};

    #[test]
    fn round_trip_with_padding_and_interfaces() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        assert_eq!(w.add_interface(1, 0).unwrap(), 0);
        assert_eq!(w.add_interface(101, 1500).unwrap(), 1);
        for n in 0..9u32 {
            let data: Vec<u8> = (0..n as u8).collect();
            let ts = 1_700_000_000_123_456_789 + u64::from(n);
            w.write_packet(n % 2, ts, n + 100, &data).unwrap();
        }
        assert!(w.write_packet(2, 0, 0, &[]).is_err());
        assert!(w.add_interface(70_000, 0).is_err());
        assert_eq!(w.packets_written(), 9);
        let v = w.into_inner().unwrap();
        assert!(v.len().is_multiple_of(4));
        let mut r = CaptureReader::new(&v[..]).unwrap();
        assert_eq!(r.format(), Format::PcapNg);
        let mut n = 0u32;
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!(p.number, u64::from(n) + 1);
            assert_eq!(p.data, &(0..n as u8).collect::<Vec<_>>()[..]);
            assert_eq!(p.ts_nanos, 1_700_000_000_123_456_789 + u64::from(n));
            assert_eq!(p.wire_len, n + 100);
            assert_eq!(p.interface, n % 2);
            assert_eq!(p.link_type, if n.is_multiple_of(2) { 1 } else { 101 });
            n += 1;
        }
        assert_eq!(n, 9);
        assert_eq!(r.link_types(), vec![1, 101]);
        assert_eq!(r.link_type(), Some(1));
        assert_eq!(r.precision(), TsPrecision::Nano);
        assert_eq!(r.snaplen(), 262_144);
        assert_eq!(r.bytes_consumed(), v.len() as u64);
    }
}
