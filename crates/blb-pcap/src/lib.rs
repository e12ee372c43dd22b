//! Pure-Rust pcap and pcapng reading and writing for blb: streaming, allocation-free per packet.
//!
//! - [`CaptureReader`] reads classic pcap (micro/nanosecond, both byte orders, old 2.x
//!   versions, Kuznetzov's modified format) and pcapng (several sections, any interface
//!   resolution) from any `Read`, autodetecting the format.
//! - [`PcapWriter`] and [`PcapNgWriter`] write little-endian captures on a hot path.
//!
//! No input can make the reader panic; every problem is a [`PcapError`].
#![forbid(unsafe_code)]

mod buffer;
mod error;
mod pcap;
mod pcapng;
mod pcapng_writer;
mod reader;

pub use error::PcapError;
pub use pcap::PcapWriter;
pub use pcapng_writer::PcapNgWriter;
pub use reader::{CaptureReader, DEFAULT_SNAPLEN, Format, MAX_RECORD, Packet, TsPrecision};
