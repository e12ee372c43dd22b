//! blb-wire: turns captured frames into [`PacketMeta`] records (link layer, VLAN, MPLS,
//! tunnels, IP, ports).
//!
//! [`parse`] never fails and never panics: whatever it finds in a frame, it returns a record
//! whose [`PacketClass`] says how far it got. It allocates nothing and walks the headers itself
//! (with bounds-checked reads only), which keeps a typical TCP/IPv4 frame well under 100 ns.
//!
//! Layers: Ethernet II and 802.3 (length) frames, 802.1Q / 802.1ad / 0x9100 VLAN tags, MPLS
//! (with IPv4/IPv6 payloads and Ethernet pseudowires behind a control word), PPPoE sessions,
//! Linux cooked captures (SLL, SLL2), raw IP, BSD loopback (NULL, LOOP), IPv4 with options
//! and fragments, IPv6 with extension headers and fragments, and TCP/UDP/SCTP/DCCP/UDP-Lite
//! ports.
//!
//! Tunnels ([`Tunnels::Inner`], the default): GRE (with checksum, key, sequence number;
//! carrying IPv4, IPv6, MPLS or Ethernet), ERSPAN types I to III, VXLAN, Geneve, GTP-U, IPv4
//! and IPv6 in IPv4 or IPv6, Teredo and L2TPv2 are looked into, up to
//! [`blb_core::tunnel::MAX_TUNNEL_DEPTH`] levels, and the record's flow is the innermost
//! headers' (the modules `encap` and `tunnel` say what is read and how). With
//! [`Tunnels::Outer`] the outermost headers decide, as before tunnels were known. The parser
//! is generic over the choice, so the outer path carries no tunnel check at all.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod encap;
mod ip;
mod link;
mod transport;
mod tunnel;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tunnel_fault_tests;
#[cfg(test)]
mod tunnel_tests;

use blb_core::packet::{Addr, Nanos, PacketClass, PacketMeta};

/// Link-layer header types (`LINKTYPE_*` values as in pcap files).
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the writer's byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II / IEEE 802.3.
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4 or IPv6 (the version nibble decides).
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;
    /// `DLT_RAW` as some systems number it in files (raw IP).
    pub const DLT_RAW_12: u32 = 12;
    /// `DLT_RAW` as OpenBSD numbers it (raw IP).
    pub const DLT_RAW_14: u32 = 14;
}

/// True when [`parse`] understands frames of this link-layer type.
pub fn is_supported(link_type: u32) -> bool {
    use linktype::*;
    matches!(
        link_type,
        NULL | ETHERNET
            | RAW
            | LOOP
            | LINUX_SLL
            | IPV4
            | IPV6
            | LINUX_SLL2
            | DLT_RAW_12
            | DLT_RAW_14
    )
}

/// Which headers decide a tunnelled packet's flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tunnels {
    /// The innermost headers: tunnels are looked into (the default).
    #[default]
    Inner,
    /// The outermost headers: tunnels are not looked into.
    Outer,
}

impl Tunnels {
    /// The name as the command line and the configuration spell it.
    pub fn name(self) -> &'static str {
        match self {
            Tunnels::Inner => "inner",
            Tunnels::Outer => "outer",
        }
    }
}

impl std::str::FromStr for Tunnels {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "inner" => Ok(Tunnels::Inner),
            "outer" => Ok(Tunnels::Outer),
            other => Err(format!("must be inner or outer, not '{other}'")),
        }
    }
}

/// Parse one frame, balancing tunnelled packets on their inner headers
/// ([`parse_with`] with [`Tunnels::Inner`]).
#[inline]
pub fn parse(link_type: u32, ts: Nanos, wire_len: u32, data: &[u8]) -> PacketMeta {
    parse_with(Tunnels::Inner, link_type, ts, wire_len, data)
}

/// Parse one frame. Never fails: the result's `class` says what could be made of it.
///
/// `ts` and `wire_len` are copied into the record; `cap_len` is `data.len()` (saturated at
/// `u32::MAX`). Frames of an unsupported link type come back as [`PacketClass::Unparsable`]
/// with no addresses. `tunnels` says whether tunnels are looked into.
pub fn parse_with(
    tunnels: Tunnels,
    link_type: u32,
    ts: Nanos,
    wire_len: u32,
    data: &[u8],
) -> PacketMeta {
    let mut m = PacketMeta {
        ts,
        wire_len,
        cap_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
        class: PacketClass::Unparsable,
        src: Addr::NONE,
        dst: Addr::NONE,
        ..PacketMeta::default()
    };
    match tunnels {
        Tunnels::Inner => link_layer::<true>(&mut m, link_type, data),
        Tunnels::Outer => link_layer::<false>(&mut m, link_type, data),
    }
    m
}

/// Dispatch on the link type; `INNER` looks into tunnels.
#[inline(always)]
fn link_layer<const INNER: bool>(m: &mut PacketMeta, link_type: u32, data: &[u8]) {
    use linktype::*;
    match link_type {
        ETHERNET => link::ethernet::<INNER>(m, data, 0),
        RAW | IPV4 | IPV6 | DLT_RAW_12 | DLT_RAW_14 => ip::by_version::<INNER>(m, data),
        NULL | LOOP => link::loopback::<INNER>(m, data),
        LINUX_SLL => link::sll::<INNER>(m, data),
        LINUX_SLL2 => link::sll2::<INNER>(m, data),
        _ => {}
    }
}

/// Bounds-checked big-endian reads shared by the layer parsers.
pub(crate) mod bytes {
    /// `N` bytes at `off`, if present.
    #[inline(always)]
    pub fn arr<const N: usize>(d: &[u8], off: usize) -> Option<[u8; N]> {
        d.get(off..)?.first_chunk::<N>().copied()
    }

    /// A big-endian `u16` at `off`, if present.
    #[inline(always)]
    pub fn be16(d: &[u8], off: usize) -> Option<u16> {
        arr::<2>(d, off).map(u16::from_be_bytes)
    }

    /// A big-endian `u32` at `off`, if present.
    #[inline(always)]
    pub fn be32(d: &[u8], off: usize) -> Option<u32> {
        arr::<4>(d, off).map(u32::from_be_bytes)
    }
}
