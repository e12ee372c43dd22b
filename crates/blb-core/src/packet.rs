//! The compact packet record that parsers hand to the engine, and the flow key derived from it.
//!
//! The core never sees bytes: a parser outside it (crate `blb-wire`) turns a frame into a
//! [`PacketMeta`], and everything the engine decides is decided from this record.

/// A timestamp in nanoseconds since the Unix epoch. Time in the core is always an argument.
pub type Nanos = u64;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// IP protocol numbers the engine treats specially.
pub mod proto {
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// DCCP.
    pub const DCCP: u8 = 33;
    /// SCTP.
    pub const SCTP: u8 = 132;
    /// UDP-Lite.
    pub const UDPLITE: u8 = 136;

    /// Whether packets of `protocol` carry ports (as the parser reads them).
    pub fn has_ports(protocol: u8) -> bool {
        matches!(protocol, TCP | UDP | DCCP | SCTP | UDPLITE)
    }
}

/// TCP flag bits as they appear in the TCP header's flags byte.
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgement field significant.
    pub const ACK: u8 = 0x10;
}

/// What the parser could make of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PacketClass {
    /// An IPv4 or IPv6 packet whose addresses were read (ports may still be missing, e.g. in a
    /// non-first fragment or a truncated header).
    #[default]
    Ip,
    /// A well-formed link-layer frame that does not carry IP (ARP, STP, LLDP, ...). Its
    /// addresses are the link-layer (MAC) addresses and `ethertype` says what it carries.
    NonIp,
    /// A frame that could not be parsed far enough to find IP addresses, although it looked
    /// like IP, or whose link layer was unknown or truncated. Its addresses are whatever the
    /// parser could recover (MACs, or nothing).
    Unparsable,
}

/// The family of an [`Addr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum AddrFamily {
    /// No address known.
    #[default]
    None,
    /// A 48-bit link-layer address, in the first six bytes.
    Mac,
    /// An IPv4 address, in the first four bytes.
    V4,
    /// An IPv6 address, all sixteen bytes.
    V6,
}

/// A network address of any family in a fixed 16-byte array (no allocation, `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr {
    /// The family, which says how many of `bytes` are meaningful; the rest are zero.
    pub family: AddrFamily,
    /// The address bytes, left-aligned and zero-padded.
    pub bytes: [u8; 16],
}

impl Addr {
    /// The absent address.
    pub const NONE: Addr = Addr {
        family: AddrFamily::None,
        bytes: [0; 16],
    };

    /// An IPv4 address.
    pub fn v4(octets: [u8; 4]) -> Self {
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&octets);
        Addr {
            family: AddrFamily::V4,
            bytes,
        }
    }

    /// An IPv6 address.
    pub fn v6(octets: [u8; 16]) -> Self {
        Addr {
            family: AddrFamily::V6,
            bytes: octets,
        }
    }

    /// A MAC address.
    pub fn mac(octets: [u8; 6]) -> Self {
        let mut bytes = [0; 16];
        bytes[..6].copy_from_slice(&octets);
        Addr {
            family: AddrFamily::Mac,
            bytes,
        }
    }

    /// The meaningful bytes of the address.
    pub fn as_slice(&self) -> &[u8] {
        match self.family {
            AddrFamily::None => &[],
            AddrFamily::Mac => &self.bytes[..6],
            AddrFamily::V4 => &self.bytes[..4],
            AddrFamily::V6 => &self.bytes[..],
        }
    }

    /// The address as a standard IP address, if it is one.
    pub fn to_ip(&self) -> Option<std::net::IpAddr> {
        match self.family {
            AddrFamily::V4 => {
                let o: [u8; 4] = self.bytes[..4].try_into().ok()?;
                Some(std::net::IpAddr::from(o))
            }
            AddrFamily::V6 => Some(std::net::IpAddr::from(self.bytes)),
            _ => None,
        }
    }

    /// True for an IPv4 or IPv6 address.
    pub fn is_ip(&self) -> bool {
        matches!(self.family, AddrFamily::V4 | AddrFamily::V6)
    }
}

impl From<std::net::IpAddr> for Addr {
    fn from(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(a) => Addr::v4(a.octets()),
            std::net::IpAddr::V6(a) => Addr::v6(a.octets()),
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.family {
            AddrFamily::None => f.write_str("-"),
            AddrFamily::Mac => {
                let b = &self.bytes;
                write!(
                    f,
                    "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    b[0], b[1], b[2], b[3], b[4], b[5]
                )
            }
            AddrFamily::V4 | AddrFamily::V6 => match self.to_ip() {
                Some(ip) => write!(f, "{ip}"),
                None => f.write_str("-"),
            },
        }
    }
}

/// Where a packet sits in a fragmented IP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FragmentInfo {
    /// The identification field (16 bits for IPv4, 32 bits for the IPv6 Fragment header).
    pub id: u32,
    /// Fragment offset in bytes.
    pub offset: u32,
    /// The "more fragments" flag.
    pub more: bool,
}

impl FragmentInfo {
    /// True for the fragment at offset zero, the one that carries the transport header.
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }
}

/// The most VLAN tags a record keeps (outermost first).
pub const MAX_VLANS: usize = 3;

/// The parsed metadata of one captured frame: all the engine needs, nothing it does not.
///
/// For a packet the parser found in a tunnel, the flow's fields (class, addresses, ports,
/// protocol, ethertype, TCP flags, VLANs) are those of the innermost headers it reached, and
/// `tunnel` records the tunnels around them ([`crate::tunnel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PacketMeta {
    /// Capture timestamp.
    pub ts: Nanos,
    /// Length of the frame on the wire.
    pub wire_len: u32,
    /// Number of bytes captured (≤ `wire_len` unless the capture file lies).
    pub cap_len: u32,
    /// What the parser made of the frame.
    pub class: PacketClass,
    /// Source address (IP for [`PacketClass::Ip`], otherwise MAC or none).
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Transport source port (ICMP: type and code as `type << 8 | code` is *not* used; 0).
    pub src_port: u16,
    /// Transport destination port.
    pub dst_port: u16,
    /// True when the transport ports were read (false for non-first fragments, truncated
    /// headers and protocols without ports).
    pub has_ports: bool,
    /// IP protocol number (the last header's: the transport protocol); 0 for non-IP.
    pub protocol: u8,
    /// The EtherType of the payload the link layer carried (0x0800, 0x86dd, 0x0806, ...).
    pub ethertype: u16,
    /// TCP flags byte (0 for other protocols).
    pub tcp_flags: u8,
    /// Fragment information when the packet is an IP fragment. When a fragmented outer
    /// datagram was parsed inside, this is the outer header's, and `tunnel.datagram` names
    /// that header.
    pub fragment: Option<FragmentInfo>,
    /// VLAN ids, outermost first; `vlan_count` of them are meaningful.
    pub vlans: [u16; MAX_VLANS],
    /// Number of VLAN tags found (capped at [`MAX_VLANS`]).
    pub vlan_count: u8,
    /// The tunnels the parser entered to reach the flow's headers (none by default).
    pub tunnel: crate::tunnel::Tunnel,
}

impl PacketMeta {
    /// The VLAN ids present, outermost first.
    pub fn vlan_ids(&self) -> &[u16] {
        &self.vlans[..usize::from(self.vlan_count).min(MAX_VLANS)]
    }

    /// True when the transport header is TCP and carries ports.
    pub fn is_tcp(&self) -> bool {
        self.class == PacketClass::Ip && self.protocol == proto::TCP
    }
}
