//! Tunnels: the record a parser keeps of the tunnels it looked into to find a packet's flow
//! (GRE, ERSPAN, VXLAN, Geneve, GTP-U, IP in IP, Teredo, L2TP), and the engine's counters of
//! them.
//!
//! A parser that balances on inner headers (crate `blb-wire`, `--tunnels inner`) fills the
//! packet record's addresses, ports and protocol from the innermost headers it reached, so
//! the flow key ([`crate::flow_key`]) is built from the inner connection alone: both of its
//! directions meet on one sensor whatever the tunnels around them (a VXLAN source port, a GTP
//! TEID or a Geneve VNI that differs by direction, swapped outer addresses). The tunnels' own
//! identifiers (VNI, GRE key, TEID) are not in the key.
//!
//! The record ([`Tunnel`]) says which tunnels were entered, outermost first, whether nesting
//! went past [`MAX_TUNNEL_DEPTH`] (the flow is then the last headers read), whether a tunnel
//! header or what it carried was truncated or invalid (the flow is then the headers around
//! it), and, for a fragmented outer datagram whose first fragment was balanced on what it
//! carries, that datagram's own header, which identifies the datagram ([`crate::fragments`])
//! so its later fragments (which hold no tunnel header) find it.

use crate::packet::Addr;

/// Most tunnel levels a parser enters; a tunnel found inside the last one is not entered
/// (the flow goes by the headers read so far) and is counted ([`Tunnel::depth_limited`]).
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// The kinds of tunnel a parser looks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    /// GRE (IP protocol 47) carrying IPv4, IPv6, MPLS or Ethernet (transparent Ethernet
    /// bridging), with or without checksum, key and sequence number; also PPTP's enhanced GRE
    /// carrying PPP.
    Gre,
    /// ERSPAN types I, II and III (inside GRE): mirrored Ethernet frames.
    Erspan,
    /// VXLAN (UDP 4789, and 8472, the Linux kernel's default port): Ethernet frames.
    Vxlan,
    /// Geneve (UDP 6081), with options: Ethernet frames or IP packets.
    Geneve,
    /// GTP-U (UDP 2152) G-PDUs, with optional extension headers: IP packets.
    GtpU,
    /// IPv4 in IPv4 or IPv6 (IP protocol 4).
    Ipv4InIp,
    /// IPv6 in IPv4 (6in4) or IPv6 (IP protocol 41).
    Ipv6InIp,
    /// Teredo (UDP 3544, or IPv6 with a Teredo address in UDP on another port, as relays
    /// send it), with origin and authentication indicators: IPv6 packets.
    Teredo,
    /// L2TPv2 data messages (UDP 1701): PPP carrying IPv4 or IPv6.
    L2tp,
}

impl TunnelKind {
    /// Number of kinds.
    pub const COUNT: usize = 9;

    /// Every kind, in reporting order.
    pub const ALL: [TunnelKind; TunnelKind::COUNT] = [
        TunnelKind::Gre,
        TunnelKind::Erspan,
        TunnelKind::Vxlan,
        TunnelKind::Geneve,
        TunnelKind::GtpU,
        TunnelKind::Ipv4InIp,
        TunnelKind::Ipv6InIp,
        TunnelKind::Teredo,
        TunnelKind::L2tp,
    ];

    /// The kind's name in summaries and metrics.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::GtpU => "gtp_u",
            TunnelKind::Ipv4InIp => "ipv4_in_ip",
            TunnelKind::Ipv6InIp => "ipv6_in_ip",
            TunnelKind::Teredo => "teredo",
            TunnelKind::L2tp => "l2tp",
        }
    }

    /// The kind's index in [`TunnelKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The IP header that identifies a fragmented datagram when the flow was read from headers
/// inside it (a tunnelled packet whose outer datagram was fragmented: its first fragment holds
/// the tunnel and the inner headers, its later fragments only the outer header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DatagramHeader {
    /// The datagram's source address.
    pub src: Addr,
    /// The datagram's destination address.
    pub dst: Addr,
    /// The protocol its header names (47 for GRE, 17 for UDP, ...).
    pub protocol: u8,
}

/// What a parser did with tunnels on its way to a packet's flow. All zero for a packet it
/// did not find in a tunnel (and for every packet when it does not look into tunnels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tunnel {
    /// The tunnels entered, outermost first; the first `depth` are `Some`.
    pub kinds: [Option<TunnelKind>; MAX_TUNNEL_DEPTH],
    /// Tunnel levels entered (0 to [`MAX_TUNNEL_DEPTH`]): the flow's headers are this deep.
    pub depth: u8,
    /// Another tunnel was found inside the last level allowed: not entered.
    pub depth_limited: bool,
    /// A tunnel of this kind was found, but its header or the headers it carried were
    /// truncated or invalid: not entered (the flow is the headers around it).
    pub malformed: Option<TunnelKind>,
    /// When the packet's `fragment` belongs to a header outside the flow's headers (a
    /// fragmented outer datagram whose first fragment was parsed inside), that header.
    pub datagram: Option<DatagramHeader>,
}

impl Tunnel {
    /// The tunnels entered, outermost first.
    pub fn kinds(&self) -> impl Iterator<Item = TunnelKind> + '_ {
        self.kinds
            .iter()
            .take(usize::from(self.depth))
            .flatten()
            .copied()
    }

    /// The outermost tunnel entered, if any.
    pub fn outermost(&self) -> Option<TunnelKind> {
        self.kinds[0]
    }

    /// Record one more level entered (ignored past [`MAX_TUNNEL_DEPTH`]).
    pub fn push(&mut self, kind: TunnelKind) {
        if let Some(slot) = self.kinds.get_mut(usize::from(self.depth)) {
            *slot = Some(kind);
            self.depth += 1;
        }
    }

    /// True when nothing about tunnels was recorded.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.depth == 0 && !self.depth_limited && self.malformed.is_none()
    }
}

/// The engine's tunnel counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// Packets balanced on headers inside at least one tunnel.
    pub packets: u64,
    /// Per kind ([`TunnelKind::index`]): packets that went through at least one tunnel of
    /// that kind (a packet in two kinds of tunnel counts under both).
    pub by_kind: [u64; TunnelKind::COUNT],
    /// Packets with a tunnel nested past [`MAX_TUNNEL_DEPTH`], balanced on the last headers
    /// read.
    pub depth_limited: u64,
    /// Packets whose tunnel header, or the headers it carried, were truncated or invalid,
    /// balanced on the headers around it.
    pub malformed: u64,
    /// First fragments of fragmented outer datagrams balanced on what they carry (their
    /// datagram's later fragments follow them).
    pub fragmented_outer: u64,
}

impl TunnelStats {
    /// Count one packet's record.
    #[inline]
    pub fn count(&mut self, t: &Tunnel) {
        if t.is_empty() {
            return;
        }
        self.count_slow(t);
    }

    fn count_slow(&mut self, t: &Tunnel) {
        if t.depth > 0 {
            self.packets += 1;
            let mut seen = [false; TunnelKind::COUNT];
            for k in t.kinds() {
                if !std::mem::replace(&mut seen[k.index()], true) {
                    self.by_kind[k.index()] += 1;
                }
            }
            if t.datagram.is_some() {
                self.fragmented_outer += 1;
            }
        }
        self.depth_limited += u64::from(t.depth_limited);
        self.malformed += u64::from(t.malformed.is_some());
    }

    /// `(name, count)` for every kind, zero or not.
    pub fn by_name(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        TunnelKind::ALL
            .iter()
            .map(|&k| (k.name(), self.by_kind[k.index()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indices_follow_all() {
        for (i, k) in TunnelKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        let mut names: Vec<_> = TunnelKind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TunnelKind::COUNT);
    }

    #[test]
    fn push_stops_at_the_limit() {
        let mut t = Tunnel::default();
        for _ in 0..MAX_TUNNEL_DEPTH + 2 {
            t.push(TunnelKind::Gre);
        }
        assert_eq!(usize::from(t.depth), MAX_TUNNEL_DEPTH);
        assert_eq!(t.kinds().count(), MAX_TUNNEL_DEPTH);
        assert_eq!(t.outermost(), Some(TunnelKind::Gre));
    }

    #[test]
    fn counts_each_kind_once_per_packet() {
        let mut s = TunnelStats::default();
        s.count(&Tunnel::default());
        assert_eq!(s, TunnelStats::default());
        let mut t = Tunnel::default();
        t.push(TunnelKind::Gre);
        t.push(TunnelKind::Vxlan);
        t.push(TunnelKind::Gre);
        t.datagram = Some(DatagramHeader::default());
        s.count(&t);
        let malformed = Tunnel {
            malformed: Some(TunnelKind::GtpU),
            ..Tunnel::default()
        };
        s.count(&malformed);
        let limited = Tunnel {
            depth_limited: true,
            ..t
        };
        s.count(&limited);
        assert_eq!(s.packets, 2);
        assert_eq!(s.by_kind[TunnelKind::Gre.index()], 2);
        assert_eq!(s.by_kind[TunnelKind::Vxlan.index()], 2);
        assert_eq!(s.by_kind[TunnelKind::GtpU.index()], 0);
        assert_eq!(
            (s.malformed, s.depth_limited, s.fragmented_outer),
            (1, 1, 2)
        );
    }
}
