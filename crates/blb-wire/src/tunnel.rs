//! Balancing on inner headers: when what follows an IP header may be a tunnel, look at it
//! ([`crate::encap`]) and parse the packet it carries in place of the headers around it, so
//! the record's flow fields end up those of the innermost headers and its `tunnel` says how
//! they were reached. The carried packet's own IP layer comes back here, so tunnels nest, up
//! to [`MAX_TUNNEL_DEPTH`] levels (a recursion that deep at most).
//!
//! A level is kept only when what it carries gives a flow: an IP packet whose addresses were
//! read, or an Ethernet frame (its MAC pair). Otherwise the record goes back to the headers
//! around the tunnel, exactly as they were read:
//!
//! * a tunnel header, or the headers it carries, truncated or invalid: recorded as
//!   `tunnel.malformed` (counted by the engine);
//! * a valid tunnel carrying no flow of its own (GRE of an unknown protocol, PPP control or
//!   encrypted frames): nothing is recorded;
//! * a tunnel inside the last level allowed: not entered, recorded as `tunnel.depth_limited`.
//!
//! Fragments: a later fragment holds no tunnel header and is never looked into. A first
//! fragment is: its flow comes from the headers it carries, while its `fragment` stays the
//! outer header's and `tunnel.datagram` names that header, which identifies the datagram for
//! the engine (its later fragments carry that header alone). With several fragmented levels,
//! the outermost one's fragment is kept.

use blb_core::packet::{AddrFamily, PacketClass, PacketMeta, proto};
use blb_core::tunnel::{DatagramHeader, MAX_TUNNEL_DEPTH};

use crate::encap::{self, Carried, Found};
use crate::{ip, link};

/// IP protocols that may start a tunnel, as a bit set.
const CANDIDATES: u64 =
    1 << encap::IPPROTO_IPIP | 1 << proto::UDP | 1 << encap::IPPROTO_IPV6 | 1 << encap::IPPROTO_GRE;

/// Quick test of what follows an IP header (`protocol`, its bytes `d`, the ports already in
/// `m`): may it be a tunnel? Most packets are told apart here, in a few instructions.
#[inline(always)]
pub(crate) fn may_be_tunnel(m: &PacketMeta, protocol: u8, d: &[u8]) -> bool {
    if protocol >= 64 || (CANDIDATES >> protocol) & 1 == 0 {
        return false;
    }
    protocol != proto::UDP
        || (m.has_ports
            && (encap::tunnel_port(m.dst_port)
                || encap::tunnel_port(m.src_port)
                // Teredo off its port: an IPv6 header right after the UDP header.
                || d.get(8).is_some_and(|v| v >> 4 == 6)))
}

/// Enter the tunnel that `protocol` and `d` (what follows the record's last IP header) may
/// be. See the module documentation.
#[inline(never)]
pub(crate) fn descend(m: &mut PacketMeta, protocol: u8, d: &[u8]) {
    let (kind, carried) = match encap::find(m, protocol, d) {
        Found::None => return,
        _ if usize::from(m.tunnel.depth) >= MAX_TUNNEL_DEPTH => {
            m.tunnel.depth_limited = true;
            return;
        }
        Found::Malformed(kind) => {
            m.tunnel.malformed = Some(kind);
            return;
        }
        Found::Tunnel(kind, carried) => (kind, carried),
    };
    let outer = *m;
    *m = PacketMeta {
        ts: outer.ts,
        wire_len: outer.wire_len,
        cap_len: outer.cap_len,
        class: PacketClass::Unparsable,
        tunnel: outer.tunnel,
        ..PacketMeta::default()
    };
    // Recorded before the carried packet is parsed, so deeper levels come after this one.
    m.tunnel.push(kind);
    match carried {
        Carried::Ethernet(f) => link::ethernet::<true>(m, f, 0),
        Carried::Ip(p) => ip::by_version::<true>(m, p),
        Carried::Ipv4(p) => ip::ipv4::<true>(m, p),
        Carried::Ipv6(p) => ip::ipv6::<true>(m, p),
        Carried::EtherType(et, p) => link::ethertype::<true>(m, et, p, 0),
        Carried::Ppp(f) => link::ppp(m, f),
    }
    let flow = match m.class {
        PacketClass::Ip => true,
        PacketClass::NonIp => m.src.family == AddrFamily::Mac,
        PacketClass::Unparsable => false,
    };
    if !flow {
        let malformed = m.class == PacketClass::Unparsable;
        *m = outer;
        if malformed {
            m.tunnel.malformed = Some(kind);
        }
        return;
    }
    if let Some(frag) = outer.fragment {
        // This level is outside every deeper one: its fragmented header identifies the
        // datagram.
        m.fragment = Some(frag);
        m.tunnel.datagram = Some(DatagramHeader {
            src: outer.src,
            dst: outer.dst,
            protocol: outer.protocol,
        });
    }
}
