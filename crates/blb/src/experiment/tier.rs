//! Scale-out past one machine, simulated (`blb experiment --nodes N`): a switch or packet broker
//! in front of N blb nodes hashes each packet on a coarse, symmetric key, and each node
//! balances over its own sensors. See docs/scale-out.md.
//!
//! The key is the prefix (`--node-prefix`, /24 and /64 by default) of the packet's *inside*
//! address: the one in the protected networks (`--home-net`, by default the private ranges of
//! Suricata's default HOME_NET and fc00::/7). A broker gets the same by hashing the destination
//! on the tap's inbound port and the source on its outbound port. Both directions of a
//! connection, and every flow to one inside host (a flood's victim), then meet on one node.
//! When both or neither address is inside, the lower of the two prefixes is the key, which is
//! still symmetric. `--node-key pair` hashes the ordered pair of both prefixes instead (the
//! symmetric IP-pair hash brokers offer by default), for comparison.
//!
//! The hash is the repository's own: keyed SipHash-2-4 with rendezvous choice
//! ([`HashBalancer`] in IP-pair mode over the masked addresses), so a node that leaves moves
//! only its own prefixes.

use blb_core::balancer::{HashBalancer, HashKey, HashMode};
use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::load::SecondSample;
use blb_core::packet::{Addr, AddrFamily, PacketMeta};

/// What the broker hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKey {
    /// The prefix of the inside address (the lower prefix when both or neither is inside).
    Inside,
    /// The ordered pair of both addresses' prefixes.
    Pair,
}

impl std::str::FromStr for NodeKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "inside" => Ok(NodeKey::Inside),
            "pair" => Ok(NodeKey::Pair),
            other => Err(format!(
                "unknown --node-key '{other}' (expected inside or pair)"
            )),
        }
    }
}

impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NodeKey::Inside => "inside",
            NodeKey::Pair => "pair",
        })
    }
}

/// An address prefix: an address with bits past `len` cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// The network address.
    pub addr: Addr,
    /// Prefix length in bits.
    pub len: u8,
}

impl Prefix {
    /// Whether `a` is inside this prefix (same family).
    pub fn contains(&self, a: &Addr) -> bool {
        a.family == self.addr.family && mask(a, self.len) == self.addr
    }
}

impl std::str::FromStr for Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not a prefix like 10.0.0.0/8 or fc00::/7"))?;
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| format!("'{s}' does not start with an IP address"))?;
        let (addr, max) = match ip {
            std::net::IpAddr::V4(v4) => (Addr::v4(v4.octets()), 32),
            std::net::IpAddr::V6(v6) => (
                Addr {
                    family: AddrFamily::V6,
                    bytes: v6.octets(),
                },
                128,
            ),
        };
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("'{s}' has a prefix length that is not 0 to {max}"))?;
        Ok(Prefix {
            addr: mask(&addr, len),
            len,
        })
    }
}

/// The default protected networks: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 and fc00::/7.
pub fn default_home() -> Vec<Prefix> {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The variance bound each node's BLB keeps over its own sensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeBound {
    /// The cluster's V, unchanged (every node configured as a lone blb would be).
    Same,
    /// V scaled so that one hot sensor a node allows is the one the whole cluster would
    /// allow: see [`TierSettings::node_bound_factor`].
    Scaled,
}

impl std::str::FromStr for NodeBound {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "same" => Ok(NodeBound::Same),
            "scaled" => Ok(NodeBound::Scaled),
            other => Err(format!(
                "unknown --node-bound '{other}' (expected same or scaled)"
            )),
        }
    }
}

/// The tier's settings.
#[derive(Clone, Debug)]
pub struct TierSettings {
    /// Nodes behind the broker (1: no tier).
    pub nodes: usize,
    /// The bound each node's BLB keeps.
    pub bound: NodeBound,
    /// What the broker hashes.
    pub key: NodeKey,
    /// IPv4 prefix length of the key.
    pub v4_prefix: u8,
    /// IPv6 prefix length of the key.
    pub v6_prefix: u8,
    /// The protected networks.
    pub home: Vec<Prefix>,
}

impl Default for TierSettings {
    fn default() -> Self {
        TierSettings {
            nodes: 1,
            bound: NodeBound::Same,
            key: NodeKey::Inside,
            v4_prefix: 24,
            v6_prefix: 64,
            home: default_home(),
        }
    }
}

impl TierSettings {
    /// What a node's variance bound is multiplied by, for `sensors` sensors in all. One sensor
    /// carrying `f` % more than the others gives a variance of `f² (1/n)(1 − 1/n)` over `n`
    /// sensors, so a node of `m` sensors allows the hot sensor the cluster of `S` allows when
    /// its bound is `V · N (1 − 1/m) / (1 − 1/S)`. This needs only the static sizes, nothing
    /// of the other nodes at run time. (A node of one sensor has no variance to bound.)
    pub fn node_bound_factor(&self, sensors: usize) -> f64 {
        let n = self.nodes.max(1);
        let m = (sensors / n).max(1);
        if self.bound == NodeBound::Same || n == 1 || m == 1 {
            return 1.0;
        }
        n as f64 * (1.0 - 1.0 / m as f64) / (1.0 - 1.0 / sensors as f64)
    }

    /// In words, for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} nodes{} behind a broker hashing the {} /{} (IPv6 /{})",
            self.nodes,
            match self.bound {
                NodeBound::Same => "",
                NodeBound::Scaled => " (each node's V scaled to the cluster's)",
            },
            match self.key {
                NodeKey::Inside => "inside address's",
                NodeKey::Pair => "pair of both addresses'",
            },
            self.v4_prefix,
            self.v6_prefix
        )
    }
}

/// An address with the bits past the family's prefix length cleared (other families as is).
pub fn mask(a: &Addr, len: u8) -> Addr {
    let bits = match a.family {
        AddrFamily::V4 => 32,
        AddrFamily::V6 => 128,
        _ => return *a,
    };
    let len = usize::from(len).min(bits);
    let mut out = *a;
    for (i, b) in out.bytes.iter_mut().enumerate() {
        let keep = len.saturating_sub(8 * i).min(8);
        *b &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
    }
    out
}

/// The broker: picks a node for each packet.
#[derive(Debug, Clone)]
pub struct Broker {
    settings: TierSettings,
    hash: HashBalancer,
}

impl Broker {
    /// A broker over `settings.nodes` nodes with the hash key `key`.
    pub fn new(settings: TierSettings, key: HashKey) -> Self {
        let hash = HashBalancer::new(settings.nodes, HashMode::IpPair, key);
        Broker { settings, hash }
    }

    fn prefix(&self, a: &Addr) -> Addr {
        match a.family {
            AddrFamily::V4 => mask(a, self.settings.v4_prefix),
            AddrFamily::V6 => mask(a, self.settings.v6_prefix),
            _ => *a,
        }
    }

    fn inside(&self, a: &Addr) -> bool {
        self.settings.home.iter().any(|h| h.contains(a))
    }

    /// The node of a packet: the same for both directions of a connection, every fragment of
    /// a datagram and (with the inside key) every packet to or from one inside prefix.
    pub fn node_of(&self, p: &PacketMeta) -> usize {
        if self.settings.nodes <= 1 {
            return 0;
        }
        let (s, d) = (self.prefix(&p.src), self.prefix(&p.dst));
        let (a, b) = match self.settings.key {
            NodeKey::Pair => (s, d),
            NodeKey::Inside => match (self.inside(&p.src), self.inside(&p.dst)) {
                (true, false) => (s, s),
                (false, true) => (d, d),
                _ => (s.min(d), s.min(d)),
            },
        };
        let mut q = *p;
        q.src = a;
        q.dst = b;
        q.has_ports = false;
        let (key, _) = FlowKey::from_packet(&q, KeyOptions::default(), false);
        usize::from(self.hash.sensor_of(&key))
    }
}

/// The per-second load samples of the whole cluster from each node's samples: the nodes
/// have `per_node` sensors each, and a node without a sample in a second carried nothing.
/// The variance is over all sensors of all nodes (population variance, as in one engine).
pub fn combine_seconds(nodes: &[&[SecondSample]], per_node: usize) -> Vec<SecondSample> {
    let mut by_second: std::collections::BTreeMap<u64, (f64, f64, f64)> = Default::default();
    for samples in nodes {
        for x in *samples {
            // Per node: Σ loads and Σ loads² over its sensors, and its highest load.
            let m = per_node as f64;
            let sum = x.mean_load * m;
            let sq = (x.variance + x.mean_load * x.mean_load) * m;
            let e = by_second.entry(x.second).or_insert((0.0, 0.0, 0.0));
            e.0 += sum;
            e.1 += sq;
            e.2 = e.2.max(x.max_load);
        }
    }
    let n = (per_node * nodes.len()).max(1) as f64;
    by_second
        .into_iter()
        .map(|(second, (sum, sq, max_load))| {
            let mean = sum / n;
            SecondSample {
                second,
                variance: (sq / n - mean * mean).max(0.0),
                max_load,
                mean_load: mean,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> Addr {
        Addr::v4(a)
    }

    #[test]
    fn masks_and_parses_prefixes() {
        assert_eq!(mask(&v4([10, 10, 10, 77]), 24), v4([10, 10, 10, 0]));
        assert_eq!(mask(&v4([10, 10, 255, 77]), 20), v4([10, 10, 240, 0]));
        assert_eq!(mask(&v4([10, 10, 10, 77]), 0), v4([0, 0, 0, 0]));
        let p: Prefix = "172.16.0.0/12".parse().unwrap();
        assert!(p.contains(&v4([172, 31, 1, 1])));
        assert!(!p.contains(&v4([172, 32, 1, 1])));
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        assert!("fc00::/7".parse::<Prefix>().is_ok());
    }

    #[test]
    fn a_scaled_bound_allows_the_clusters_hot_sensor() {
        let t = TierSettings {
            nodes: 4,
            bound: NodeBound::Scaled,
            ..TierSettings::default()
        };
        // 16 sensors, one 10 % above the rest: over the cluster and over a node of 4.
        let mut cluster = vec![0.0; 16];
        cluster[0] = 10.0;
        let node = [10.0, 0.0, 0.0, 0.0];
        let (vc, vn) = (
            blb_core::load::variance(&cluster),
            blb_core::load::variance(&node),
        );
        assert!((vc * t.node_bound_factor(16) - vn).abs() < 1e-9);
    }

    /// Every packet of a generated flood (with its background of two-way connections), the
    /// broker's node for it and for the same packet the other way round.
    fn routed(key: NodeKey, scenario: blb_gen::Scenario) -> Vec<(PacketMeta, usize, usize)> {
        let mut s = super::super::ExperimentSettings {
            scenario,
            ..Default::default()
        };
        s.generator.training_secs = 5.0;
        s.generator.duration_secs = 10.0;
        let t = super::super::traffic(&s).expect("traffic");
        let broker = Broker::new(
            TierSettings {
                nodes: 4,
                key,
                ..TierSettings::default()
            },
            HashKey(*b"scale-out-tests!"),
        );
        t.packets
            .iter()
            .map(|p| {
                let mut back = *p;
                std::mem::swap(&mut back.src, &mut back.dst);
                std::mem::swap(&mut back.src_port, &mut back.dst_port);
                (*p, broker.node_of(p), broker.node_of(&back))
            })
            .collect()
    }

    #[test]
    fn both_directions_and_every_flow_to_the_victim_meet_on_one_node() {
        let victim = Addr::v4([10, 10, 10, 10]);
        for scenario in [blb_gen::Scenario::UdpFlood, blb_gen::Scenario::SynFlood] {
            let r = routed(NodeKey::Inside, scenario);
            assert!(r.len() > 1000);
            assert!(r.iter().all(|(_, a, b)| a == b), "a connection split");
            let nodes: std::collections::BTreeSet<usize> = r
                .iter()
                .filter(|(p, ..)| p.src == victim || p.dst == victim)
                .map(|(_, n, _)| *n)
                .collect();
            assert_eq!(
                nodes.len(),
                1,
                "{scenario:?}: the victim's flows on {nodes:?}"
            );
            // The background still spreads over the nodes.
            let all: std::collections::BTreeSet<usize> = r.iter().map(|(_, n, _)| *n).collect();
            assert!(all.len() > 1, "everything on {all:?}");
        }
        // The pair key is symmetric too, but spreads the victim's flows.
        let r = routed(NodeKey::Pair, blb_gen::Scenario::UdpFlood);
        assert!(r.iter().all(|(_, a, b)| a == b), "a connection split");
        let nodes: std::collections::BTreeSet<usize> = r
            .iter()
            .filter(|(p, ..)| p.dst == victim)
            .map(|(_, n, _)| *n)
            .collect();
        assert_eq!(nodes.len(), 4);
    }

    #[test]
    fn combined_variance_is_the_variance_over_all_sensors() {
        // Node 0: loads 10, 20; node 1: loads 0, 30; node 2 silent that second.
        let a = [SecondSample {
            second: 5,
            variance: 25.0,
            max_load: 20.0,
            mean_load: 15.0,
        }];
        let b = [SecondSample {
            second: 5,
            variance: 225.0,
            max_load: 30.0,
            mean_load: 15.0,
        }];
        let c = combine_seconds(&[&a, &b, &[]], 2);
        let want = blb_core::load::variance(&[10.0, 20.0, 0.0, 30.0, 0.0, 0.0]);
        assert_eq!(c.len(), 1);
        assert!((c[0].variance - want).abs() < 1e-9);
        assert_eq!(c[0].max_load, 30.0);
    }
}
