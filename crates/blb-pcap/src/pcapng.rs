//! pcapng reading: section headers, interface descriptions and the three packet block kinds.

use std::io::Read;

use crate::buffer::{Input, rd_u16, rd_u32, rd_u64};
use crate::error::PcapError;
use crate::reader::{DEFAULT_SNAPLEN, MAX_RECORD, RawPacket, TsPrecision};

/// Section Header Block type; it reads the same in both byte orders.
pub(crate) const BT_SHB: u32 = 0x0a0d_0d0a;
pub(crate) const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
pub(crate) const BT_EPB: u32 = 6;
pub(crate) const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// Smallest valid SHB: header, BOM, versions, section length, trailing length.
const SHB_MIN_LEN: usize = 28;
pub(crate) const OPT_END: u16 = 0;
pub(crate) const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
/// Default if_tsresol: 10^-6 seconds.
const DEFAULT_TSRESOL: u8 = 6;

/// One Interface Description Block of the current section.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: u32,
    /// 0 means unlimited.
    snaplen: u32,
    /// Raw if_tsresol byte.
    tsresol: u8,
    /// if_tsoffset, seconds added to every timestamp.
    tsoffset: i64,
}

/// Reading state across blocks.
#[derive(Debug, Default)]
pub(crate) struct NgState {
    big: bool,
    /// Interfaces of the current section, indexed by interface id.
    interfaces: Vec<Interface>,
    /// Link types of every interface seen so far, in order of appearance, without duplicates.
    pub(crate) link_types: Vec<u32>,
    /// Largest IDB snaplen seen (0 = unlimited counted as `DEFAULT_SNAPLEN`); 0 before any IDB.
    pub(crate) max_snaplen: u32,
    nano: bool,
}

/// Converts a timestamp in `tsresol` units plus an offset in seconds to nanoseconds since the epoch.
pub(crate) fn ts_to_nanos(ts: u64, tsresol: u8, tsoffset: i64) -> u64 {
    let ts = u128::from(ts);
    let ns: u128 = if tsresol & 0x80 == 0 {
        let v = u32::from(tsresol);
        if v <= 9 {
            ts * 10u128.pow(9 - v)
        } else if v - 9 <= 38 {
            ts / 10u128.pow(v - 9)
        } else {
            0
        }
    } else {
        // 2^-v seconds; ts * 1e9 < 2^94 and v < 128.
        (ts * 1_000_000_000) >> u32::from(tsresol & 0x7f)
    };
    let total = i128::try_from(ns).unwrap_or(i128::MAX) + i128::from(tsoffset) * 1_000_000_000;
    u64::try_from(total.clamp(0, i128::from(u64::MAX))).unwrap_or(u64::MAX)
}

/// True when a resolution is finer than a microsecond.
fn finer_than_micro(tsresol: u8) -> bool {
    if tsresol & 0x80 == 0 {
        tsresol > 6
    } else {
        // 2^-20 s is the first power of two below 1 µs.
        tsresol & 0x7f >= 20
    }
}

fn corrupt(packet: u64, what: impl Into<String>) -> PcapError {
    PcapError::Corrupt {
        packet,
        what: what.into(),
    }
}

/// A section header block that cannot be right, named as such rather than as a packet.
fn corrupt_section(before_packet: u64, what: impl Into<String>) -> PcapError {
    PcapError::CorruptSection {
        before_packet,
        what: what.into(),
    }
}

impl NgState {
    pub(crate) fn precision(&self) -> TsPrecision {
        if self.nano {
            TsPrecision::Nano
        } else {
            TsPrecision::Micro
        }
    }

    /// Reads a Section Header Block at the current position (the block type is known to be SHB).
    ///
    /// `first` selects the header-level errors used for the very first block of the file.
    pub(crate) fn read_shb<R: Read>(
        &mut self,
        input: &mut Input<R>,
        number: u64,
        first: bool,
    ) -> Result<(), PcapError> {
        let truncated = |needed: usize, got: usize| {
            if first {
                PcapError::TruncatedHeader {
                    needed: needed as u64,
                    got: got as u64,
                }
            } else {
                PcapError::Truncated {
                    packet: number,
                    needed: needed as u64,
                    got: got as u64,
                }
            }
        };
        let got = input.ensure(12)?;
        if got < 12 {
            return Err(truncated(SHB_MIN_LEN, got));
        }
        let h = input.available();
        let big = if rd_u32(h, 8, false) == BYTE_ORDER_MAGIC {
            false
        } else if rd_u32(h, 8, true) == BYTE_ORDER_MAGIC {
            true
        } else if first {
            return Err(PcapError::UnsupportedFormat {
                what: "pcapng section header with an invalid byte-order magic",
            });
        } else {
            return Err(corrupt_section(number, "invalid byte-order magic"));
        };
        let len = rd_u32(h, 4, big);
        let ulen = len as usize;
        if ulen < SHB_MIN_LEN || len > MAX_RECORD {
            return Err(corrupt_section(
                number,
                format!(
                    "block length {len} is impossible (at least {SHB_MIN_LEN}, at most {MAX_RECORD})"
                ),
            ));
        }
        let got = input.ensure(ulen)?;
        if got < ulen {
            return Err(truncated(ulen, got));
        }
        let b = input.slice(0, ulen);
        let major = rd_u16(b, 12, big);
        let minor = rd_u16(b, 14, big);
        if major != 1 {
            return Err(PcapError::UnsupportedPcapNgVersion { major, minor });
        }
        if rd_u32(b, ulen - 4, big) != len {
            return Err(corrupt_section(
                number,
                "the trailing length does not match",
            ));
        }
        self.big = big;
        self.interfaces.clear();
        input.consume(ulen);
        Ok(())
    }

    /// Parses an Interface Description Block (`b` is the whole block, length checked).
    fn read_idb(&mut self, b: &[u8], number: u64) -> Result<(), PcapError> {
        let big = self.big;
        if b.len() < 20 {
            return Err(corrupt(number, "interface description block is too short"));
        }
        let link_type = u32::from(rd_u16(b, 8, big));
        let snaplen = rd_u32(b, 12, big);
        let mut tsresol = DEFAULT_TSRESOL;
        let mut tsoffset = 0i64;
        let end = b.len() - 4;
        let mut off = 16usize;
        while off + 4 <= end {
            let code = rd_u16(b, off, big);
            let olen = usize::from(rd_u16(b, off + 2, big));
            let value = off + 4;
            if value + olen > end || code == OPT_END {
                break;
            }
            match code {
                OPT_IF_TSRESOL if olen >= 1 => {
                    tsresol = b.get(value).copied().unwrap_or(DEFAULT_TSRESOL);
                }
                OPT_IF_TSOFFSET if olen >= 8 => tsoffset = rd_u64(b, value, big) as i64,
                _ => {}
            }
            off = value + ((olen + 3) & !3);
        }
        self.interfaces.push(Interface {
            link_type,
            snaplen,
            tsresol,
            tsoffset,
        });
        if !self.link_types.contains(&link_type) {
            self.link_types.push(link_type);
        }
        let snap = if snaplen == 0 {
            DEFAULT_SNAPLEN
        } else {
            snaplen
        };
        self.max_snaplen = self.max_snaplen.max(snap);
        self.nano |= finer_than_micro(tsresol);
        Ok(())
    }

    fn interface(&self, id: u32, number: u64) -> Result<Interface, PcapError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .copied()
            .ok_or_else(|| corrupt(number, format!("packet refers to undefined interface {id}")))
    }

    /// Reads blocks until a packet block; skips everything else. Does not consume the packet block.
    pub(crate) fn next_record<R: Read>(
        &mut self,
        input: &mut Input<R>,
        number: u64,
    ) -> Result<Option<RawPacket>, PcapError> {
        loop {
            let got = input.ensure(8)?;
            if got == 0 {
                return Ok(None);
            }
            if got < 8 {
                return Err(PcapError::Truncated {
                    packet: number,
                    needed: 8,
                    got: got as u64,
                });
            }
            let h = input.available();
            let btype = rd_u32(h, 0, self.big);
            if btype == BT_SHB {
                self.read_shb(input, number, false)?;
                continue;
            }
            let len = rd_u32(h, 4, self.big);
            let ulen = len as usize;
            if ulen < 12 || len > MAX_RECORD {
                return Err(PcapError::ImpossibleLength {
                    packet: number,
                    len: u64::from(len),
                    limit: u64::from(MAX_RECORD),
                });
            }
            let got = input.ensure(ulen)?;
            if got < ulen {
                return Err(PcapError::Truncated {
                    packet: number,
                    needed: len.into(),
                    got: got as u64,
                });
            }
            let b = input.slice(0, ulen);
            if rd_u32(b, ulen - 4, self.big) != len {
                return Err(corrupt(
                    number,
                    format!(
                        "block of type {btype} has a trailing length that does not match {len}"
                    ),
                ));
            }
            let raw = match btype {
                BT_EPB | BT_PB => self.packet_block(b, btype, number)?,
                BT_SPB => self.simple_packet_block(b, number)?,
                BT_IDB => {
                    self.read_idb(b, number)?;
                    input.consume(ulen);
                    continue;
                }
                _ => {
                    input.consume(ulen);
                    continue;
                }
            };
            return Ok(Some(raw));
        }
    }

    /// Enhanced Packet Block or obsolete Packet Block.
    fn packet_block(&self, b: &[u8], btype: u32, number: u64) -> Result<RawPacket, PcapError> {
        let big = self.big;
        // 28-byte header plus trailing length.
        let Some(room) = b.len().checked_sub(32) else {
            return Err(corrupt(number, "packet block is too short"));
        };
        let id = if btype == BT_EPB {
            rd_u32(b, 8, big)
        } else {
            u32::from(rd_u16(b, 8, big))
        };
        let ts = (u64::from(rd_u32(b, 12, big)) << 32) | u64::from(rd_u32(b, 16, big));
        let cap_len = rd_u32(b, 20, big);
        let wire_len = rd_u32(b, 24, big);
        if cap_len as usize > room {
            return Err(corrupt(
                number,
                format!("captured length {cap_len} exceeds the block ({room} bytes of data room)"),
            ));
        }
        let itf = self.interface(id, number)?;
        Ok(RawPacket {
            ts_nanos: ts_to_nanos(ts, itf.tsresol, itf.tsoffset),
            cap_len,
            wire_len,
            link_type: itf.link_type,
            interface: id,
            data_offset: 28,
            record_len: b.len(),
        })
    }

    /// Simple Packet Block: interface 0, no timestamp, captured length inferred.
    fn simple_packet_block(&self, b: &[u8], number: u64) -> Result<RawPacket, PcapError> {
        let Some(room) = b.len().checked_sub(16) else {
            return Err(corrupt(number, "simple packet block is too short"));
        };
        let itf = self.interface(0, number)?;
        let wire_len = rd_u32(b, 8, self.big);
        let mut cap_len = wire_len.min(u32::try_from(room).unwrap_or(u32::MAX));
        if itf.snaplen != 0 {
            cap_len = cap_len.min(itf.snaplen);
        }
        Ok(RawPacket {
            ts_nanos: 0,
            cap_len,
            wire_len,
            link_type: itf.link_type,
            interface: 0,
            data_offset: 12,
            record_len: b.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions() {
        assert_eq!(ts_to_nanos(1_500_000, 6, 0), 1_500_000_000);
        assert_eq!(ts_to_nanos(7, 9, 0), 7);
        assert_eq!(ts_to_nanos(7_000, 12, 0), 7);
        assert_eq!(ts_to_nanos(u64::MAX, 127, 0), 0);
        assert_eq!(ts_to_nanos(1, 0, 0), 1_000_000_000);
        assert_eq!(ts_to_nanos(3, 0x81, 0), 1_500_000_000);
        assert_eq!(ts_to_nanos(1 << 20, 0x80 | 20, 0), 1_000_000_000);
        assert_eq!(ts_to_nanos(u64::MAX, 0xff, 0), 0);
        assert_eq!(ts_to_nanos(u64::MAX, 0, 0), u64::MAX);
        assert_eq!(ts_to_nanos(5, 9, 2), 2_000_000_005);
        assert_eq!(ts_to_nanos(5, 9, -2), 0);
        assert_eq!(ts_to_nanos(u64::MAX, 9, i64::MAX), u64::MAX);
        assert!(finer_than_micro(9) && !finer_than_micro(6));
        assert!(finer_than_micro(0x80 | 20) && !finer_than_micro(0x80 | 19));
    }
}
