//! Error type of the pcap/pcapng layer: one variant per way a capture can fail to read or write.

use std::io;

/// Everything that can go wrong while reading or writing a capture file.
///
/// `Display` gives one clear sentence without the file name (the caller adds it).
/// `packet` fields are the 1-based number of the record at fault, counted like
/// tcpdump/Wireshark count frames (for pcapng, the number the next packet would have had).
#[derive(thiserror::Error, Debug)]
pub enum PcapError {
    /// The underlying reader or writer failed. The OS error is in the message only (not a
    /// source), so a chain of causes does not print it twice.
    #[error("I/O error: {0}")]
    Io(io::Error),

    /// The input holds no byte at all.
    #[error("the file is empty (no capture file header)")]
    Empty,

    /// The first bytes are not a known pcap or pcapng magic number.
    #[error("not a pcap or pcapng file (magic number 0x{magic:08x})")]
    NotACapture {
        /// The first four bytes, read big-endian.
        magic: u32,
    },

    /// A classic pcap file whose major version is not 2.
    #[error("unsupported pcap version {major}.{minor} (only 2.x is supported)")]
    UnsupportedVersion {
        /// Major version from the file header.
        major: u16,
        /// Minor version from the file header.
        minor: u16,
    },

    /// A pcapng section whose major version is not 1.
    #[error("unsupported pcapng version {major}.{minor} (only 1.x is supported)")]
    UnsupportedPcapNgVersion {
        /// Major version from the section header block.
        major: u16,
        /// Minor version from the section header block.
        minor: u16,
    },

    /// A capture variant that is recognised but not supported.
    #[error("unsupported capture format: {what}")]
    UnsupportedFormat {
        /// What was found.
        what: &'static str,
    },

    /// The file ends inside the file header (pcap global header or pcapng SHB).
    #[error("the file ends inside its capture file header (needed {needed} bytes, got {got})")]
    TruncatedHeader {
        /// Bytes the header needs.
        needed: u64,
        /// Bytes that were there.
        got: u64,
    },

    /// A record (or pcapng block) length that cannot be right.
    #[error("packet {packet}: record length {len} is impossible (limit {limit})")]
    ImpossibleLength {
        /// 1-based number of the record at fault.
        packet: u64,
        /// The length the file claims.
        len: u64,
        /// The largest length accepted (for pcapng blocks shorter than 12 bytes, the maximum too).
        limit: u64,
    },

    /// The file ends in the middle of a record header or record data.
    #[error(
        "packet {packet}: the file ends in the middle of a record (needed {needed} bytes, got {got})"
    )]
    Truncated {
        /// 1-based number of the record cut short.
        packet: u64,
        /// Bytes the record needs (header included).
        needed: u64,
        /// Bytes that were left in the file.
        got: u64,
    },

    /// A structural inconsistency inside a record.
    #[error("packet {packet}: corrupt capture file: {what}")]
    Corrupt {
        /// 1-based number of the record at fault.
        packet: u64,
        /// What is wrong.
        what: String,
    },

    /// A pcapng section header block that cannot be right (`before_packet` 1: the file's own
    /// first header).
    #[error("corrupt pcapng section header block {}: {what}", if *.before_packet <= 1 { "at the start of the file".to_string() } else { format!("before packet {}", .before_packet) })]
    CorruptSection {
        /// The number the next packet would have had.
        before_packet: u64,
        /// What is wrong.
        what: String,
    },

    /// A writer was asked something it cannot do (bad interface id, oversized packet).
    #[error("invalid write: {what}")]
    InvalidWrite {
        /// What is wrong.
        what: String,
    },
}

impl From<io::Error> for PcapError {
    fn from(e: io::Error) -> Self {
        PcapError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_sentence() {
        let e = PcapError::ImpossibleLength {
            packet: 2,
            len: 524_501,
            limit: 262_144,
        };
        assert_eq!(
            e.to_string(),
            "packet 2: record length 524501 is impossible (limit 262144)"
        );
        let e = PcapError::UnsupportedVersion { major: 1, minor: 0 };
        assert_eq!(
            e.to_string(),
            "unsupported pcap version 1.0 (only 2.x is supported)"
        );
        let e = PcapError::CorruptSection {
            before_packet: 1,
            what: "block length 8 is impossible".into(),
        };
        assert_eq!(
            e.to_string(),
            "corrupt pcapng section header block at the start of the file: block length 8 is impossible"
        );
        let e = PcapError::NotACapture { magic: 0xdead_beef };
        assert_eq!(
            e.to_string(),
            "not a pcap or pcapng file (magic number 0xdeadbeef)"
        );
    }
}
