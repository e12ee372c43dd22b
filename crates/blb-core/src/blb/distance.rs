//! Logical distance between flows (§VI): `D = α_ip·d_ip + α_port·d_port + α_protocol·d_protocol`.
//!
//! Each `d` is a distance in [0, 1]: 0 for the strongest correlation (identical), a configurable
//! middle value for weaker ones, 1 for none (NOTES.md, "Logical distance is a distance"). With
//! the α's summing to 1 (checked), D is in [0, 1] and the benefit `(1 − D)·W` in [0, W].
//!
//! * `d_ip`: 0 when the source addresses or the destination addresses are identical; `subnet`
//!   when the destination addresses share a subnet (prefix lengths per family); else 1.
//! * `d_port` (destination ports): 0 when identical; `functional` when both ports belong to one
//!   service family (FTP 20/21, HTTP 80/8000/8008/8080, ...); `configured` when both belong to a
//!   port group the administrator gave; else 1. Functional is the closer of the two.
//! * `d_protocol`: 0 when the IP protocols are identical, else 1.
//!
//! A distance is fully determined by a [`Match`] (which correlation each field reached), so the
//! indexed search can bound the benefit of clusters it has not looked at yet.

use crate::packet::{Addr, AddrFamily, PacketMeta};

/// The name of the α's sum in errors.
pub const ALPHA_SUM: &str = "alpha_ip + alpha_port + alpha_protocol";

/// Built-in service port families (functional correlation). A port is in at most one family;
/// families given in the configuration are added after these and win on overlap.
pub const BUILTIN_PORT_FAMILIES: &[(&str, &[u16])] = &[
    ("ftp", &[20, 21, 989, 990]),
    ("ssh-telnet", &[22, 23]),
    ("mail", &[25, 110, 143, 465, 587, 993, 995]),
    ("dns", &[53, 853, 5353]),
    ("kerberos", &[88, 464, 749]),
    ("http", &[80, 8000, 8008, 8080, 8888]),
    ("https", &[443, 8443]),
    ("ntp", &[123]),
    ("netbios-smb", &[137, 138, 139, 445]),
    ("snmp", &[161, 162]),
    ("ldap", &[389, 636, 3268, 3269]),
    ("remote-desktop", &[3389, 5900, 5901]),
    ("sip", &[5060, 5061]),
];

/// Settings of the logical distance. Defaults are DDoS-oriented (see [`DistanceConfig::ddos`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistanceConfig {
    /// Weight of the IP-address correlation.
    pub alpha_ip: f64,
    /// Weight of the destination-port correlation.
    pub alpha_port: f64,
    /// Weight of the protocol correlation (the smallest: flows share protocols all the time).
    pub alpha_protocol: f64,
    /// `d_ip` when only the destination subnets match.
    pub d_ip_subnet: f64,
    /// `d_port` for ports of one service family.
    pub d_port_functional: f64,
    /// `d_port` for ports of one administrator-given group.
    pub d_port_configured: f64,
    /// IPv4 subnet prefix length for the subnet correlation.
    pub ipv4_prefix: u8,
    /// IPv6 subnet prefix length for the subnet correlation.
    pub ipv6_prefix: u8,
    /// Extra service families (functional correlation), each a list of ports.
    pub port_families: Vec<Vec<u16>>,
    /// Administrator port groups (configuration correlation), each a list of ports.
    pub port_groups: Vec<Vec<u16>>,
}

impl Default for DistanceConfig {
    fn default() -> Self {
        Self::ddos()
    }
}

impl DistanceConfig {
    /// DDoS-oriented weights: α_ip = 0.6, α_port = 0.3, α_protocol = 0.1. Flows to one victim
    /// (identical destination, D ≤ 0.4) are always closer than flows that only share a port
    /// (D ≥ 0.6), so a flood from many sources gathers in one cluster.
    pub fn ddos() -> Self {
        DistanceConfig {
            alpha_ip: 0.6,
            alpha_port: 0.3,
            alpha_protocol: 0.1,
            d_ip_subnet: 0.5,
            d_port_functional: 0.25,
            d_port_configured: 0.5,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            port_families: Vec::new(),
            port_groups: Vec::new(),
        }
    }

    /// Port-sweep-oriented weights: α_port = 0.6, α_ip = 0.3, α_protocol = 0.1. Probes of one
    /// port across many addresses (D ≤ 0.4 with a sweeping source or subnet) are closer than
    /// flows that only share a destination.
    pub fn port() -> Self {
        DistanceConfig {
            alpha_ip: 0.3,
            alpha_port: 0.6,
            ..Self::ddos()
        }
    }

    /// Check the settings; the error names the setting.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad =
            |setting: &'static str, reason: String| Err(crate::Error::Setting { setting, reason });
        for (name, v) in [
            ("alpha_ip", self.alpha_ip),
            ("alpha_port", self.alpha_port),
            ("alpha_protocol", self.alpha_protocol),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("must be a non-negative number, not {v}"));
            }
        }
        let sum = self.alpha_ip + self.alpha_port + self.alpha_protocol;
        if (sum - 1.0).abs() > 1e-9 {
            // Rounded to 9 digits, so that 0.9 + 0.9 + 0.1 reads 1.9.
            let shown = (sum * 1e9).round() / 1e9;
            return bad(
                ALPHA_SUM,
                format!("must sum to 1 (so that D is in [0, 1]), not {shown}"),
            );
        }
        for (name, v) in [
            ("d_ip_subnet", self.d_ip_subnet),
            ("d_port_functional", self.d_port_functional),
            ("d_port_configured", self.d_port_configured),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(name, format!("must be between 0 and 1, not {v}"));
            }
        }
        if self.d_port_functional >= self.d_port_configured {
            return bad(
                "d_port_functional",
                format!(
                    "must be below d_port_configured ({}): functional correlation (ports of one service) is the closer, not {}",
                    self.d_port_configured, self.d_port_functional
                ),
            );
        }
        if self.port_groups.len() > MAX_PORT_GROUPS {
            return bad(
                "port_groups",
                format!(
                    "must list at most {MAX_PORT_GROUPS} groups, not {}",
                    self.port_groups.len()
                ),
            );
        }
        if self.ipv4_prefix > 32 {
            return bad(
                "ipv4_prefix",
                format!("must be at most 32, not {}", self.ipv4_prefix),
            );
        }
        if self.ipv6_prefix > 128 {
            return bad(
                "ipv6_prefix",
                format!("must be at most 128, not {}", self.ipv6_prefix),
            );
        }
        Ok(())
    }
}

/// How close two flows' IP addresses are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpMatch {
    /// Same source or same destination address.
    Identical,
    /// Destinations in one subnet.
    Subnet,
    /// Nothing in common.
    None,
}

/// How close two flows' destination ports are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortMatch {
    /// Same destination port.
    Identical,
    /// Ports of one service family.
    Functional,
    /// Ports of one administrator group.
    Configured,
    /// Nothing in common.
    None,
}

/// Which correlation each field reached: determines the distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Match {
    /// IP correlation.
    pub ip: IpMatch,
    /// Port correlation.
    pub port: PortMatch,
    /// Same protocol.
    pub protocol: bool,
}

/// The fields of a flow that the distance reads: a flow, or a cluster's centroid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowPoint {
    /// Source address of the flow's first packet.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Destination address masked to its subnet (absent for non-IP addresses).
    pub dst_subnet: Addr,
    /// Destination port (0 when the flow has none).
    pub dst_port: u16,
    /// Service family of the destination port (0: none).
    pub family: u16,
    /// Administrator groups of the destination port, one bit per group (bit g: the g-th
    /// entry of `port_groups`; 0: none). A port may belong to several groups.
    pub groups: u64,
    /// IP protocol.
    pub protocol: u8,
}

/// Most administrator port groups (one bit each in [`FlowPoint::groups`]).
pub const MAX_PORT_GROUPS: usize = 64;

/// Port → value (a family number, or a set of groups as bits), small and cache-friendly: an
/// 8 KB bitmap says which ports have one, a map gives it.
#[derive(Clone, Debug, Default)]
struct PortTable {
    present: Vec<u64>,
    value: std::collections::HashMap<u16, u64>,
}

impl PortTable {
    fn new() -> Self {
        PortTable {
            present: vec![0; 1024],
            value: std::collections::HashMap::new(),
        }
    }

    /// Give `port` the value `f(old value)` (0 when it had none).
    fn update(&mut self, port: u16, f: impl FnOnce(u64) -> u64) {
        self.present[usize::from(port >> 6)] |= 1 << (port & 63);
        let v = self.value.entry(port).or_insert(0);
        *v = f(*v);
    }

    fn get(&self, port: u16) -> u64 {
        if self.present[usize::from(port >> 6)] & (1 << (port & 63)) == 0 {
            return 0;
        }
        self.value.get(&port).copied().unwrap_or(0)
    }
}

/// The logical distance, ready to use: weights plus port tables.
#[derive(Clone, Debug)]
pub struct Distance {
    cfg: DistanceConfig,
    family_of: PortTable,
    group_of: PortTable,
}

impl Distance {
    /// Build the port tables.
    pub fn new(cfg: DistanceConfig) -> Result<Self, crate::Error> {
        cfg.validate()?;
        let mut family_of = PortTable::new();
        let mut next = 1u64;
        for (_, ports) in BUILTIN_PORT_FAMILIES {
            for &p in *ports {
                family_of.update(p, |_| next);
            }
            next += 1;
        }
        for ports in &cfg.port_families {
            for &p in ports {
                family_of.update(p, |_| next);
            }
            next += 1;
        }
        // Every group a port is listed in counts (validated: at most 64 groups).
        let mut group_of = PortTable::new();
        for (g, ports) in cfg.port_groups.iter().enumerate().take(MAX_PORT_GROUPS) {
            for &p in ports {
                group_of.update(p, |set| set | (1 << g));
            }
        }
        Ok(Distance {
            cfg,
            family_of,
            group_of,
        })
    }

    /// The settings.
    pub fn config(&self) -> &DistanceConfig {
        &self.cfg
    }

    /// The point of a flow, from its first packet.
    pub fn point(&self, p: &PacketMeta) -> FlowPoint {
        let port = if p.has_ports { p.dst_port } else { 0 };
        let (family, groups) = if p.has_ports {
            let family = u16::try_from(self.family_of.get(port)).unwrap_or(u16::MAX);
            (family, self.group_of.get(port))
        } else {
            (0, 0)
        };
        FlowPoint {
            src: p.src,
            dst: p.dst,
            dst_subnet: self.subnet(&p.dst),
            dst_port: port,
            family,
            groups,
            protocol: p.protocol,
        }
    }

    fn subnet(&self, a: &Addr) -> Addr {
        let bits = match a.family {
            AddrFamily::V4 => self.cfg.ipv4_prefix,
            AddrFamily::V6 => self.cfg.ipv6_prefix,
            _ => return Addr::NONE,
        };
        let mut out = *a;
        for (i, b) in out.bytes.iter_mut().enumerate() {
            let keep = usize::from(bits).saturating_sub(i * 8).min(8);
            *b &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        }
        out
    }

    /// Which correlations a flow and a centroid reach.
    pub fn matches(&self, f: &FlowPoint, c: &FlowPoint) -> Match {
        let ip = if f.src == c.src || f.dst == c.dst {
            IpMatch::Identical
        } else if f.dst_subnet.family != AddrFamily::None && f.dst_subnet == c.dst_subnet {
            IpMatch::Subnet
        } else {
            IpMatch::None
        };
        let port = if f.dst_port == c.dst_port {
            PortMatch::Identical
        } else if f.family != 0 && f.family == c.family {
            PortMatch::Functional
        } else if f.groups & c.groups != 0 {
            PortMatch::Configured
        } else {
            PortMatch::None
        };
        Match {
            ip,
            port,
            protocol: f.protocol == c.protocol,
        }
    }

    /// The distance of a match. No correlation at all is exactly 1 (not the rounded sum of
    /// the α's), so that such a cluster's benefit is exactly 0.
    pub fn of_match(&self, m: Match) -> f64 {
        if m.ip == IpMatch::None && m.port == PortMatch::None && !m.protocol {
            return 1.0;
        }
        let d_ip = match m.ip {
            IpMatch::Identical => 0.0,
            IpMatch::Subnet => self.cfg.d_ip_subnet,
            IpMatch::None => 1.0,
        };
        let d_port = match m.port {
            PortMatch::Identical => 0.0,
            PortMatch::Functional => self.cfg.d_port_functional,
            PortMatch::Configured => self.cfg.d_port_configured,
            PortMatch::None => 1.0,
        };
        let d_protocol = if m.protocol { 0.0 } else { 1.0 };
        self.cfg.alpha_ip * d_ip
            + self.cfg.alpha_port * d_port
            + self.cfg.alpha_protocol * d_protocol
    }

    /// The logical distance `D(f, c)`.
    pub fn distance(&self, f: &FlowPoint, c: &FlowPoint) -> f64 {
        self.of_match(self.matches(f, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::proto;

    fn pkt(src: [u8; 4], dst: [u8; 4], dport: u16, protocol: u8) -> PacketMeta {
        PacketMeta {
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            dst_port: dport,
            src_port: 40000,
            has_ports: true,
            protocol,
            ..Default::default()
        }
    }

    #[test]
    fn hand_computed_distances() {
        let d = Distance::new(DistanceConfig::ddos()).unwrap();
        let victim = d.point(&pkt([1, 1, 1, 1], [10, 10, 10, 10], 80, proto::UDP));
        // Same destination, other port, same protocol: 0.6·0 + 0.3·1 + 0.1·0 = 0.3.
        let a = d.point(&pkt([2, 2, 2, 2], [10, 10, 10, 10], 1234, proto::UDP));
        assert!((d.distance(&a, &victim) - 0.3).abs() < 1e-12);
        // Same /24, port 8080 (HTTP family with 80), same protocol: 0.6·0.5 + 0.3·0.25 = 0.375.
        let b = d.point(&pkt([2, 2, 2, 2], [10, 10, 10, 99], 8080, proto::UDP));
        assert!((d.distance(&b, &victim) - 0.375).abs() < 1e-12);
        // Nothing in common: 1.
        let c = d.point(&pkt([3, 3, 3, 3], [9, 9, 9, 9], 5555, proto::TCP));
        assert!((d.distance(&c, &victim) - 1.0).abs() < 1e-12);
        // Same source only, other protocol: 0.3 + 0.1 = 0.4.
        let e = d.point(&pkt([1, 1, 1, 1], [9, 9, 9, 9], 5555, proto::TCP));
        assert!((d.distance(&e, &victim) - 0.4).abs() < 1e-12);
        assert_eq!(d.distance(&victim, &victim), 0.0);
    }

    #[test]
    fn port_groups_and_families() {
        let cfg = DistanceConfig {
            port_groups: vec![vec![23, 80]],
            port_families: vec![vec![7000, 7001]],
            ..DistanceConfig::port()
        };
        let d = Distance::new(cfg).unwrap();
        let web = d.point(&pkt([1, 1, 1, 1], [2, 2, 2, 2], 80, proto::TCP));
        let telnet = d.point(&pkt([3, 3, 3, 3], [4, 4, 4, 4], 23, proto::TCP));
        // Configured correlation, nothing else but protocol: 0.3·1 + 0.6·0.5 + 0 = 0.6.
        assert!((d.distance(&web, &telnet) - 0.6).abs() < 1e-12);
        let x = d.point(&pkt([1, 1, 1, 1], [2, 2, 2, 2], 7000, proto::TCP));
        let y = d.point(&pkt([3, 3, 3, 3], [4, 4, 4, 4], 7001, proto::TCP));
        assert_eq!(d.matches(&x, &y).port, PortMatch::Functional);
    }

    #[test]
    fn a_port_keeps_every_group_it_is_listed_in() {
        // 80 is in both groups: it correlates with telnet (group 1) and with 3306 (group 2);
        // telnet and 3306 share no group.
        let cfg = DistanceConfig {
            port_groups: vec![vec![23, 80], vec![80, 3306]],
            ..DistanceConfig::port()
        };
        let d = Distance::new(cfg).unwrap();
        let at = |port| d.point(&pkt([1, 1, 1, 1], [2, 2, 2, 2], port, proto::TCP));
        let (web, telnet, mysql) = (at(80), at(23), at(3306));
        assert_eq!(web.groups, 0b11);
        assert_eq!(d.matches(&web, &telnet).port, PortMatch::Configured);
        assert_eq!(d.matches(&web, &mysql).port, PortMatch::Configured);
        assert_eq!(d.matches(&telnet, &mysql).port, PortMatch::None);
    }

    #[test]
    fn subnets_per_family() {
        let d = Distance::new(DistanceConfig {
            ipv4_prefix: 16,
            ..DistanceConfig::ddos()
        })
        .unwrap();
        let a = d.point(&pkt([1, 1, 1, 1], [10, 20, 1, 1], 1, proto::TCP));
        let b = d.point(&pkt([2, 2, 2, 2], [10, 20, 200, 7], 2, proto::TCP));
        let c = d.point(&pkt([2, 2, 2, 2], [10, 21, 0, 1], 2, proto::TCP));
        assert_eq!(d.matches(&a, &b).ip, IpMatch::Subnet);
        assert_eq!(d.matches(&a, &c).ip, IpMatch::None);
        let mut v6 = PacketMeta {
            protocol: proto::UDP,
            ..Default::default()
        };
        v6.dst = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9]);
        let mut w6 = v6;
        w6.dst = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 7, 7, 7, 7, 7, 7, 7, 7]);
        w6.src = Addr::v6([1; 16]);
        assert_eq!(d.matches(&d.point(&v6), &d.point(&w6)).ip, IpMatch::Subnet);
    }

    #[test]
    fn settings_are_checked() {
        assert!(
            Distance::new(DistanceConfig {
                alpha_ip: 0.7,
                ..DistanceConfig::ddos()
            })
            .is_err()
        );
        assert!(
            Distance::new(DistanceConfig {
                d_ip_subnet: 1.5,
                ..DistanceConfig::ddos()
            })
            .is_err()
        );
        assert!(
            Distance::new(DistanceConfig {
                ipv4_prefix: 33,
                ..DistanceConfig::ddos()
            })
            .is_err()
        );
        assert!(Distance::new(DistanceConfig::port()).is_ok());
        // Functional correlation must stay the closer.
        let e = Distance::new(DistanceConfig {
            d_port_functional: 0.5,
            d_port_configured: 0.4,
            ..DistanceConfig::ddos()
        })
        .unwrap_err();
        assert!(e.to_string().contains("d_port_functional"), "{e}");
        assert!(
            e.to_string().contains("below d_port_configured (0.4)"),
            "{e}"
        );
        let e = Distance::new(DistanceConfig {
            port_groups: vec![vec![1]; 65],
            ..DistanceConfig::ddos()
        })
        .unwrap_err();
        assert!(e.to_string().contains("port_groups"), "{e}");
    }
}
