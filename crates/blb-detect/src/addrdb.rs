//! The IP address database (IAD) of legitimate source addresses, learned from training traffic.
//!
//! # Which sources are legitimate
//!
//! Peng et al. keep "IP addresses that appeared in normal traffic" and suggest conditions that
//! keep spoofed addresses out, e.g. that the address completed a TCP connection. This database
//! applies a rule of that kind that works for every protocol:
//!
//! > During training, an IP source address `A` is legitimate when it sent at least
//! > `min_packets` IP packets **and**, if `require_bidirectional` (the default), it took part in
//! > a two-way exchange: `A` sent a packet to some `B` and `B` sent a packet to `A`.
//!
//! A completed TCP handshake, a DNS query with its answer, a refused connection (SYN answered by
//! RST) all qualify both ends; a spoofed flood source, which never receives anything back, does
//! not, even if the training capture holds an attack. Direction inside or outside the protected
//! network is not considered: every IP source counts (a defender who wants only external
//! sources can filter the packets before they reach the database). Only packets the parser
//! classified as IP with IP addresses on both sides are learned; link-layer-only frames and
//! unparsable ones are ignored (and counted).
//!
//! # Bounded memory
//!
//! Training tracks at most `cap` source addresses and `pair_cap` directed (source, destination)
//! pairs; beyond that new ones are not tracked (counted in [`AddressDbStats`]). The finished
//! database holds at most `cap` addresses. After [`AddressDb::finish_training`] the addresses sit
//! behind an [`Arc`], so cloning the database for each sensor's detector is cheap.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use blb_core::packet::{Addr, PacketClass, PacketMeta};

use crate::{DetectError, cap_option};

/// How the address database is learned (a `[detect.address_db]` table in TOML).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddressDbConfig {
    /// Require a two-way exchange with some peer during training. Default true.
    pub require_bidirectional: bool,
    /// Packets a source must have sent during training. Default 1.
    pub min_packets: u64,
    /// Most source addresses tracked in training and kept in the database. Default 2^20.
    pub cap: usize,
    /// Most directed (source, destination) pairs tracked in training. Default 2^21.
    pub pair_cap: usize,
}

impl Default for AddressDbConfig {
    fn default() -> Self {
        AddressDbConfig {
            require_bidirectional: true,
            min_packets: 1,
            cap: 1 << 20,
            pair_cap: 1 << 21,
        }
    }
}

impl AddressDbConfig {
    /// Checks the options; the error names the bad one.
    pub fn validate(&self) -> Result<(), DetectError> {
        cap_option("cap", self.cap)?;
        cap_option("pair_cap", self.pair_cap)
    }
}

/// Counters of what the database learned and what its caps refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AddressDbStats {
    /// Packets handed to [`AddressDb::learn`].
    pub packets: u64,
    /// Of those, packets ignored because they were not IP with IP addresses on both sides.
    pub ignored: u64,
    /// New source addresses not tracked because `cap` sources were already tracked.
    pub sources_refused: u64,
    /// New directed pairs not tracked because `pair_cap` pairs were already tracked.
    pub pairs_refused: u64,
    /// Sources seen in training that did not qualify as legitimate (at the last finish).
    pub rejected: u64,
    /// Qualifying sources left out of the database because it already held `cap` addresses.
    pub overflow: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct SourceState {
    packets: u64,
    two_way: bool,
}

#[derive(Clone, Debug, Default)]
struct Training {
    sources: HashMap<Addr, SourceState>,
    pairs: HashSet<(Addr, Addr)>,
}

/// The database of legitimate source addresses (see the module docs for the rule).
///
/// Call [`learn`](Self::learn) for every training packet, then
/// [`finish_training`](Self::finish_training); only finished addresses are
/// [`contains`](Self::contains)-ed. Learning can resume after a finish: the next finish adds the
/// newly qualifying addresses.
#[derive(Clone, Debug, Default)]
pub struct AddressDb {
    cfg: AddressDbConfig,
    legit: Arc<HashSet<Addr>>,
    training: Option<Box<Training>>,
    stats: AddressDbStats,
}

impl AddressDb {
    /// An empty database learning by `cfg`.
    pub fn new(cfg: AddressDbConfig) -> Result<Self, DetectError> {
        cfg.validate()?;
        Ok(AddressDb {
            cfg,
            ..AddressDb::default()
        })
    }

    /// A finished database holding exactly `addrs` (at most `cap` of them, in order), for tests
    /// and for databases kept elsewhere.
    pub fn from_addrs(
        cfg: AddressDbConfig,
        addrs: impl IntoIterator<Item = Addr>,
    ) -> Result<Self, DetectError> {
        let mut db = AddressDb::new(cfg)?;
        let mut set = HashSet::new();
        for a in addrs {
            if set.len() < db.cfg.cap || set.contains(&a) {
                set.insert(a);
            } else {
                db.stats.overflow += 1;
            }
        }
        db.legit = Arc::new(set);
        Ok(db)
    }

    /// Learns from one training packet.
    pub fn learn(&mut self, p: &PacketMeta) {
        self.stats.packets += 1;
        if p.class != PacketClass::Ip || !p.src.is_ip() || !p.dst.is_ip() {
            self.stats.ignored += 1;
            return;
        }
        let cap = self.cfg.cap;
        let pair_cap = self.cfg.pair_cap;
        let t = self.training.get_or_insert_with(Box::default);
        let full = t.sources.len() >= cap;
        let tracked = match t.sources.get_mut(&p.src) {
            Some(s) => {
                s.packets = s.packets.saturating_add(1);
                true
            }
            None if !full => {
                t.sources.insert(
                    p.src,
                    SourceState {
                        packets: 1,
                        two_way: false,
                    },
                );
                true
            }
            None => {
                self.stats.sources_refused += 1;
                false
            }
        };
        if !tracked || p.src == p.dst {
            return;
        }
        if t.pairs.contains(&(p.dst, p.src)) {
            // The peer already sent to this source: both ends exchanged traffic.
            for a in [p.src, p.dst] {
                if let Some(s) = t.sources.get_mut(&a) {
                    s.two_way = true;
                }
            }
        }
        if !t.pairs.contains(&(p.src, p.dst)) {
            if t.pairs.len() < pair_cap {
                t.pairs.insert((p.src, p.dst));
            } else {
                self.stats.pairs_refused += 1;
            }
        }
    }

    /// Moves the qualifying training sources into the database and frees the training tables.
    pub fn finish_training(&mut self) {
        let Some(t) = self.training.take() else {
            return;
        };
        let mut qualifying: Vec<Addr> = t
            .sources
            .iter()
            .filter(|(_, s)| {
                s.packets >= self.cfg.min_packets && (s.two_way || !self.cfg.require_bidirectional)
            })
            .map(|(a, _)| *a)
            .collect();
        self.stats.rejected = (t.sources.len() - qualifying.len()) as u64;
        // Sorted, so that which addresses an overflowing cap leaves out is deterministic.
        qualifying.sort_unstable();
        let legit = Arc::make_mut(&mut self.legit);
        for a in qualifying {
            if legit.len() < self.cfg.cap || legit.contains(&a) {
                legit.insert(a);
            } else {
                self.stats.overflow += 1;
            }
        }
    }

    /// True when training still has unfinished state.
    pub fn is_training(&self) -> bool {
        self.training.is_some()
    }

    /// True when `a` is a legitimate (finished) address.
    pub fn contains(&self, a: &Addr) -> bool {
        self.legit.contains(a)
    }

    /// Number of legitimate addresses.
    pub fn len(&self) -> usize {
        self.legit.len()
    }

    /// True when the database holds no address.
    pub fn is_empty(&self) -> bool {
        self.legit.is_empty()
    }

    /// The configuration.
    pub fn config(&self) -> &AddressDbConfig {
        &self.cfg
    }

    /// What was learned and refused.
    pub fn stats(&self) -> AddressDbStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blb_core::packet::proto;

    fn pkt(src: [u8; 4], dst: [u8; 4]) -> PacketMeta {
        PacketMeta {
            class: PacketClass::Ip,
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            protocol: proto::UDP,
            has_ports: true,
            ..PacketMeta::default()
        }
    }

    #[test]
    fn two_way_exchange_qualifies_both_ends_one_way_does_not() {
        let mut db = AddressDb::new(AddressDbConfig::default()).unwrap();
        db.learn(&pkt([1, 1, 1, 1], [10, 0, 0, 1]));
        db.learn(&pkt([10, 0, 0, 1], [1, 1, 1, 1]));
        db.learn(&pkt([6, 6, 6, 6], [10, 0, 0, 1])); // spoofed: never answered
        assert!(db.is_empty(), "nothing before finish");
        db.finish_training();
        assert!(!db.is_training());
        assert_eq!(db.len(), 2);
        assert!(db.contains(&Addr::v4([1, 1, 1, 1])));
        assert!(db.contains(&Addr::v4([10, 0, 0, 1])));
        assert!(!db.contains(&Addr::v4([6, 6, 6, 6])));
        assert_eq!(db.stats().rejected, 1);
    }

    #[test]
    fn one_way_rule_and_min_packets() {
        let cfg = AddressDbConfig {
            require_bidirectional: false,
            min_packets: 2,
            ..AddressDbConfig::default()
        };
        let mut db = AddressDb::new(cfg).unwrap();
        db.learn(&pkt([1, 1, 1, 1], [2, 2, 2, 2]));
        db.learn(&pkt([1, 1, 1, 1], [3, 3, 3, 3]));
        db.learn(&pkt([4, 4, 4, 4], [2, 2, 2, 2]));
        db.finish_training();
        assert!(db.contains(&Addr::v4([1, 1, 1, 1])));
        assert!(!db.contains(&Addr::v4([4, 4, 4, 4])));
    }

    #[test]
    fn caps_refuse_and_count() {
        let cfg = AddressDbConfig {
            require_bidirectional: false,
            cap: 2,
            pair_cap: 1,
            ..AddressDbConfig::default()
        };
        let mut db = AddressDb::new(cfg).unwrap();
        for i in 0..5u8 {
            db.learn(&pkt([1, 1, 1, i], [2, 2, 2, 2]));
        }
        db.learn(&PacketMeta::default());
        db.finish_training();
        let s = db.stats();
        assert_eq!(db.len(), 2);
        assert_eq!(s.sources_refused, 3);
        assert_eq!(s.pairs_refused, 1);
        assert_eq!(s.ignored, 1);
        assert_eq!(s.packets, 6);
    }

    #[test]
    fn clones_share_and_bad_config_is_an_error() {
        let db =
            AddressDb::from_addrs(AddressDbConfig::default(), [Addr::v4([9, 9, 9, 9])]).unwrap();
        let c = db.clone();
        assert!(Arc::ptr_eq(&db.legit, &c.legit));
        let bad = AddressDbConfig {
            cap: 0,
            ..AddressDbConfig::default()
        };
        assert!(AddressDb::new(bad).is_err());
    }
}
