//! Which of tshark's layers hold a packet's innermost flow, read from `frame.protocols` alone
//! (so that tests judge blb's tunnel parsing by tshark's dissection, not by blb's parser).
//! blb-wire's tests include this file by path.
//!
//! With `-T fields -E occurrence=a`, a field repeated in nested layers (`ip.src` of an outer
//! and an inner IPv4 header) lists one value per layer, outermost first, in the order of the
//! layers' names in `frame.protocols` (`eth:ethertype:ip:gre:ip:tcp`). The innermost flow is
//! the last IP layer, or an Ethernet layer after it (a tunnelled frame without IP: its MAC
//! pair), but never what an ICMP error quotes (`ip:icmp:ip:udp`): the walk stops at the
//! first ICMP layer. Its ports are those of a TCP or UDP layer right after it.

// Each test crate uses the part it needs.
#![allow(dead_code)]

/// A layer that carries a flow, and its index among the layers of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowLayer {
    /// The `index`-th `ip` layer.
    Ipv4(usize),
    /// The `index`-th `ipv6` layer.
    Ipv6(usize),
    /// The `index`-th `eth` layer.
    Eth(usize),
}

/// The innermost flow of a frame, as tshark dissected it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Innermost {
    /// The layer holding its addresses (None: tshark found neither IP nor Ethernet).
    pub layer: Option<FlowLayer>,
    /// The first protocol after that layer (`tcp`, `udp`, `icmp`, `data`, `arp`, ...), IPv6
    /// extension headers skipped; empty when none follows.
    pub next: String,
    /// `("tcp" | "udp", index)` when a TCP or UDP layer follows it at once.
    pub ports: Option<(&'static str, usize)>,
    /// IP layers (either version) before the innermost one: its tunnel depth, roughly.
    pub outer_ip_layers: usize,
}

/// Walk `frame.protocols` (colon-separated names).
pub fn innermost(protocols: &str) -> Innermost {
    let (mut n_ip, mut n_ip6, mut n_eth, mut n_tcp, mut n_udp) = (0, 0, 0, 0, 0);
    let mut out = Innermost {
        layer: None,
        next: String::new(),
        ports: None,
        outer_ip_layers: 0,
    };
    let mut ips_seen = 0;
    let mut expecting = false;
    for name in protocols.split(':') {
        let layer = match name {
            "ip" => {
                n_ip += 1;
                Some(FlowLayer::Ipv4(n_ip - 1))
            }
            "ipv6" => {
                n_ip6 += 1;
                Some(FlowLayer::Ipv6(n_ip6 - 1))
            }
            "eth" => {
                n_eth += 1;
                Some(FlowLayer::Eth(n_eth - 1))
            }
            _ => None,
        };
        if let Some(l) = layer {
            if matches!(l, FlowLayer::Ipv4(_) | FlowLayer::Ipv6(_)) {
                out.outer_ip_layers = ips_seen;
                ips_seen += 1;
            }
            out.layer = Some(l);
            out.next.clear();
            out.ports = None;
            expecting = true;
            continue;
        }
        if name == "ethertype" || name.starts_with("ipv6.") {
            continue;
        }
        if expecting {
            out.next = name.to_string();
            out.ports = match name {
                "tcp" => Some(("tcp", n_tcp)),
                "udp" => Some(("udp", n_udp)),
                _ => None,
            };
            expecting = false;
        }
        match name {
            "tcp" => n_tcp += 1,
            "udp" => n_udp += 1,
            "icmp" | "icmpv6" => break,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks() {
        let i = innermost("eth:ethertype:ip:gre:ip:icmp:ip:udp:dns");
        assert_eq!(i.layer, Some(FlowLayer::Ipv4(1)));
        assert_eq!((i.next.as_str(), i.ports), ("icmp", None));
        let i = innermost("eth:ethertype:vlan:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp:tls");
        assert_eq!(i.layer, Some(FlowLayer::Ipv4(1)));
        assert_eq!(i.ports, Some(("tcp", 0)));
        let i = innermost("sll:ethertype:ip:udp:gtp:ipv6:ipv6.hopopts:icmpv6");
        assert_eq!(
            (i.layer, i.next.as_str()),
            (Some(FlowLayer::Ipv6(0)), "icmpv6")
        );
        let i = innermost("eth:ethertype:ip:udp:teredo:ipv6:tcp");
        assert_eq!(
            (i.layer, i.ports),
            (Some(FlowLayer::Ipv6(0)), Some(("tcp", 0)))
        );
        let i = innermost("eth:ethertype:ip:gre:erspan:eth:llc:cdp");
        assert_eq!((i.layer, i.next.as_str()), (Some(FlowLayer::Eth(1)), "llc"));
        let i = innermost("eth:ethertype:ip:data");
        assert_eq!(
            (i.layer, i.next.as_str()),
            (Some(FlowLayer::Ipv4(0)), "data")
        );
        assert_eq!(i.outer_ip_layers, 0);
    }
}
