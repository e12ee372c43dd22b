//! The indexed search for the cluster of greatest benefit: the same answer as the O(m) scan,
//! with the same tie-breaking, without looking at every cluster.
//!
//! Every cluster sits in one ordered set per correlation key of its centroid (source address,
//! destination address, destination subnet, destination port, port family, port group,
//! protocol), ordered by the decay-normalised weight key (highest first, then lowest id). A
//! cluster with a positive benefit for flow f shares at least one key with f, so it is in one of
//! f's sets. The search walks f's sets in parallel, always taking the heaviest next cluster, and
//! stops when no cluster not yet seen can beat (or tie) the best so far: a cluster not yet seen
//! that reaches correlation `m` is in every set `m` implies, behind the walk's position in each,
//! so its benefit is at most `(1 − D(m))·min(next weight in those sets)` (Fagin's threshold
//! algorithm, with the bound taken over the 23 possible matches).

use std::collections::{BTreeSet, HashMap, btree_set};

use super::cluster::{Cluster, ClusterSet, WeightRule, ordered_bits};
use super::distance::{Distance, FlowPoint, IpMatch, MAX_PORT_GROUPS, Match, PortMatch};
use super::solve_p::{Scoring, Search, beats};
use crate::packet::{Addr, AddrFamily};
use crate::sensor::SensorSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IndexKey {
    Src(Addr),
    Dst(Addr),
    Subnet(Addr),
    Port(u16),
    Family(u16),
    Group(u16),
    Protocol(u8),
}

impl std::hash::Hash for IndexKey {
    /// One contiguous write (SipHash over 19 bytes) rather than one per field.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 19];
        let (tag, addr, small) = match *self {
            IndexKey::Src(a) => (0u8, Some(a), 0u16),
            IndexKey::Dst(a) => (1, Some(a), 0),
            IndexKey::Subnet(a) => (2, Some(a), 0),
            IndexKey::Port(p) => (3, None, p),
            IndexKey::Family(f) => (4, None, f),
            IndexKey::Group(g) => (5, None, g),
            IndexKey::Protocol(p) => (6, None, u16::from(p)),
        };
        buf[0] = tag;
        match addr {
            Some(a) => {
                buf[1] = a.family as u8;
                buf[2..18].copy_from_slice(&a.bytes);
            }
            None => buf[1..3].copy_from_slice(&small.to_le_bytes()),
        }
        state.write(&buf);
    }
}

const SRC: usize = 0;
const DST: usize = 1;
const SUBNET: usize = 2;
const PORT: usize = 3;
const FAMILY: usize = 4;
const GROUP: usize = 5;
const PROTOCOL: usize = 6;
const KEYS: usize = 7;

fn keys(p: &FlowPoint) -> [Option<IndexKey>; KEYS] {
    [
        Some(IndexKey::Src(p.src)),
        Some(IndexKey::Dst(p.dst)),
        (p.dst_subnet.family != AddrFamily::None).then_some(IndexKey::Subnet(p.dst_subnet)),
        Some(IndexKey::Port(p.dst_port)),
        (p.family != 0).then_some(IndexKey::Family(p.family)),
        None, // groups: one key per bit, see `Indexed::groups_of`
        Some(IndexKey::Protocol(p.protocol)),
    ]
}

/// Entry of an ordered set: descending key, then ascending id.
fn entry(c: &Cluster, id: u32) -> (u64, u32) {
    (!ordered_bits(c.key), id)
}

const IP_LEVELS: [IpMatch; 3] = [IpMatch::Identical, IpMatch::Subnet, IpMatch::None];
const PORT_LEVELS: [PortMatch; 4] = [
    PortMatch::Identical,
    PortMatch::Functional,
    PortMatch::Configured,
    PortMatch::None,
];

/// Clusters by descending weight key, then ascending id.
type OrderedSet = BTreeSet<(u64, u32)>;

/// No set.
const NONE: u32 = u32::MAX;

/// The correlation-key indexes. Keep them in step with the [`ClusterSet`] through
/// [`Indexed::insert`], [`Indexed::update`] and [`Indexed::remove`].
///
/// Matches beyond the join distance give no benefit, so only the kinds of key that some
/// joinable match needs are indexed at all: the smallest set of kinds such that every match
/// within the join distance shares at least one of them ([`covering_kinds`]). With the robust
/// defaults that is source, destination and subnet under the DDoS preset (port, family and
/// group under the port preset), so the big per-protocol and per-port sets are never built or
/// walked. A kind not indexed bounds nothing (its cap is +∞).
#[derive(Clone, Debug)]
pub struct Indexed {
    /// Key → set number.
    ids: HashMap<IndexKey, u32>,
    /// The ordered sets, and the key each serves (None: free).
    sets: Vec<(OrderedSet, Option<IndexKey>)>,
    free_sets: Vec<u32>,
    /// For each cluster id, the sets it is in but for its groups (so updates need no hashing).
    member_of: Vec<[u32; KEYS]>,
    /// Set of each administrator port group (its bit number), or [`NONE`].
    group_sets: [u32; MAX_PORT_GROUPS],
    /// `1 − D(m)` for every match, by (ip level, port level, same protocol); 0 beyond the
    /// join distance.
    closeness: [[[f64; 2]; 4]; 3],
    /// Which kinds of key are indexed.
    indexed: [bool; KEYS],
}

/// The kinds of key that can cover a match: a cluster reaching it shares one of them with the
/// flow (identical addresses: source or destination, so both sets; subnet; the port level's
/// kind; protocol).
fn covers(i: usize, j: usize, k: usize) -> Vec<&'static [usize]> {
    let mut out: Vec<&'static [usize]> = Vec::new();
    match i {
        0 => out.push(&[SRC, DST]),
        1 => out.push(&[SUBNET]),
        _ => {}
    }
    match j {
        0 => out.push(&[PORT]),
        1 => out.push(&[FAMILY]),
        2 => out.push(&[GROUP]),
        _ => {}
    }
    if k == 0 {
        out.push(&[PROTOCOL]);
    }
    out
}

/// The smallest set of kinds (source and destination count as one) that covers every match
/// with a positive closeness; ties go to the set listed first (addresses before ports before
/// protocol, the smaller sets).
fn covering_kinds(closeness: &[[[f64; 2]; 4]; 3]) -> [bool; KEYS] {
    const GROUPS: [&[usize]; 6] = [
        &[SRC, DST],
        &[SUBNET],
        &[PORT],
        &[FAMILY],
        &[GROUP],
        &[PROTOCOL],
    ];
    let mut best: Option<(u32, u32)> = None;
    for mask in 0u32..1 << GROUPS.len() {
        let chosen = |kinds: &[usize]| {
            GROUPS
                .iter()
                .enumerate()
                .any(|(g, set)| mask & (1 << g) != 0 && *set == kinds)
        };
        let covered = (0..3).all(|i| {
            (0..4).all(|j| {
                (0..2).all(|k| closeness[i][j][k] <= 0.0 || covers(i, j, k).into_iter().any(chosen))
            })
        });
        if covered && best.is_none_or(|(n, _)| mask.count_ones() < n) {
            best = Some((mask.count_ones(), mask));
        }
    }
    let mut out = [false; KEYS];
    let mask = best.map_or((1 << GROUPS.len()) - 1, |b| b.1);
    for (g, set) in GROUPS.iter().enumerate() {
        if mask & (1 << g) != 0 {
            for &kind in *set {
                out[kind] = true;
            }
        }
    }
    out
}

impl Indexed {
    /// Empty indexes for a distance and a join distance (1: every correlated cluster).
    pub fn new(distance: &Distance, join_distance: f64) -> Self {
        let mut closeness = [[[0.0; 2]; 4]; 3];
        for (i, &ip) in IP_LEVELS.iter().enumerate() {
            for (j, &port) in PORT_LEVELS.iter().enumerate() {
                for (k, protocol) in [true, false].into_iter().enumerate() {
                    let d = distance.of_match(Match { ip, port, protocol });
                    if d <= join_distance {
                        closeness[i][j][k] = (1.0 - d).max(0.0);
                    }
                }
            }
        }
        Indexed {
            ids: HashMap::new(),
            sets: Vec::new(),
            free_sets: Vec::new(),
            member_of: Vec::new(),
            group_sets: [NONE; MAX_PORT_GROUPS],
            indexed: covering_kinds(&closeness),
            closeness,
        }
    }

    /// Which kinds of key are indexed (source, destination, subnet, port, family, group,
    /// protocol).
    pub fn indexed_kinds(&self) -> [bool; 7] {
        self.indexed
    }

    /// The set serving key `k`, made if there is none.
    fn set_for(&mut self, k: IndexKey) -> u32 {
        if let Some(&sid) = self.ids.get(&k) {
            return sid;
        }
        let sid = match self.free_sets.pop() {
            Some(sid) => {
                self.sets[sid as usize].1 = Some(k);
                sid
            }
            None => {
                self.sets.push((BTreeSet::new(), Some(k)));
                (self.sets.len() - 1) as u32
            }
        };
        self.ids.insert(k, sid);
        sid
    }

    /// Take entry `e` out of set `sid`, freeing the set when it empties.
    fn take_out(&mut self, sid: u32, e: &(u64, u32)) {
        let Some((set, key)) = self.sets.get_mut(sid as usize) else {
            return;
        };
        set.remove(e);
        if set.is_empty() {
            if let Some(k) = key.take() {
                self.ids.remove(&k);
                if let IndexKey::Group(g) = k {
                    self.group_sets[usize::from(g)] = NONE;
                }
            }
            self.free_sets.push(sid);
        }
    }

    /// The sets of a point's port groups that exist (none when groups are not indexed).
    fn groups_of(&self, p: &FlowPoint) -> impl Iterator<Item = u32> + use<> {
        let groups = if self.indexed[GROUP] { p.groups } else { 0 };
        let sets = self.group_sets;
        (0..MAX_PORT_GROUPS)
            .filter(move |g| groups & (1 << g) != 0)
            .map(move |g| sets[g])
            .filter(|&sid| sid != NONE)
    }

    /// Index a new cluster.
    pub fn insert(&mut self, id: u32, c: &Cluster) {
        let idx = id as usize;
        if self.member_of.len() <= idx {
            self.member_of.resize(idx + 1, [NONE; KEYS]);
        }
        let e = entry(c, id);
        for (slot, k) in keys(&c.centroid).into_iter().enumerate() {
            self.member_of[idx][slot] = match k.filter(|_| self.indexed[slot]) {
                Some(k) => {
                    let sid = self.set_for(k);
                    self.sets[sid as usize].0.insert(e);
                    sid
                }
                None => NONE,
            };
        }
        if self.indexed[GROUP] {
            for g in 0..MAX_PORT_GROUPS {
                if c.centroid.groups & (1 << g) != 0 {
                    let sid = self.set_for(IndexKey::Group(g as u16));
                    self.group_sets[g] = sid;
                    self.sets[sid as usize].0.insert(e);
                }
            }
        }
    }

    /// A cluster's key changed (its centroid never does).
    pub fn update(&mut self, id: u32, old: &Cluster, new: &Cluster) {
        let (before, after) = (entry(old, id), entry(new, id));
        if before == after {
            return;
        }
        let Some(member) = self.member_of.get(id as usize).copied() else {
            return;
        };
        let groups = self.groups_of(&old.centroid);
        for sid in member.into_iter().chain(groups).filter(|&s| s != NONE) {
            if let Some((set, _)) = self.sets.get_mut(sid as usize) {
                set.remove(&before);
                set.insert(after);
            }
        }
    }

    /// Forget a cluster (as it is indexed now).
    pub fn remove(&mut self, id: u32, c: &Cluster) {
        let Some(member) = self.member_of.get_mut(id as usize) else {
            return;
        };
        let member = std::mem::replace(member, [NONE; KEYS]);
        let e = entry(c, id);
        for sid in member.into_iter().chain(self.groups_of(&c.centroid)) {
            if sid == NONE {
                continue;
            }
            self.take_out(sid, &e);
        }
    }

    /// Number of index entries (for tests and memory accounting).
    pub fn entries(&self) -> usize {
        self.sets.iter().map(|(s, _)| s.len()).sum()
    }

    /// The bound on the benefit of any cluster not yet seen at decay `t·ln λ`, given each
    /// set's next weight key (−∞ when exhausted or absent, +∞ for a kind not indexed); and
    /// the set to advance: the one that holds the bound up (the smallest cap of the match
    /// that attains it), so that each step lowers the bound as fast as possible. The weight
    /// is monotone in the key under either rule, so the weight of a cap bounds the weights
    /// behind it; closeness and weight multiply as in [`Scoring::benefit`].
    fn bound(&self, next: &[f64; KEYS], decay: f64, rule: WeightRule) -> (f64, Option<usize>) {
        const INF: f64 = f64::INFINITY;
        // Decay first, as `Weights::of` does: `key − t·ln λ` rounds the same way here and
        // there, whatever the size of the key.
        let w: [f64; KEYS] = std::array::from_fn(|k| rule.weight(next[k] - decay));
        let src_or_dst = if next[DST] > next[SRC] { DST } else { SRC };
        let ip_cap = [
            (w[src_or_dst], src_or_dst),
            (w[SUBNET], SUBNET),
            (INF, KEYS),
        ];
        let port_cap = [
            (w[PORT], PORT),
            (w[FAMILY], FAMILY),
            (w[GROUP], GROUP),
            (INF, KEYS),
        ];
        let proto_cap = [(w[PROTOCOL], PROTOCOL), (INF, KEYS)];
        let min = |a: (f64, usize), b: (f64, usize)| if b.0 < a.0 { b } else { a };
        let mut bound = (0.0, None);
        for (i, &ic) in ip_cap.iter().enumerate() {
            for (j, &pc) in port_cap.iter().enumerate() {
                let ipc = min(ic, pc);
                for (k, &kc) in proto_cap.iter().enumerate() {
                    let close = self.closeness[i][j][k];
                    if close <= 0.0 {
                        continue; // beyond the join distance, or no correlation at all
                    }
                    let (cap, set) = min(ipc, kc);
                    let v = close * cap;
                    if v > bound.0 {
                        bound = (v, (set < KEYS).then_some(set));
                    }
                }
            }
        }
        bound
    }
}

struct Cursor<'a> {
    iter: Option<btree_set::Iter<'a, (u64, u32)>>,
    /// The next allowed cluster and its weight key.
    head: Option<(u32, f64)>,
}

/// Group cursors kept inline (more go on the heap).
const INLINE_GROUPS: usize = 8;

impl Cursor<'_> {
    const EMPTY: Self = Cursor {
        iter: None,
        head: None,
    };

    fn advance(&mut self, clusters: &ClusterSet, allowed: SensorSet) {
        self.head = None;
        let Some(iter) = self.iter.as_mut() else {
            return;
        };
        for &(_, id) in iter.by_ref() {
            if let Some(c) = clusters.get(id)
                && allowed.contains(c.sensor)
            {
                self.head = Some((id, c.key));
                return;
            }
        }
    }
}

/// Relative margin on the bound, far above the rounding of `exp`/`ln` (about 1e-16), so that
/// the bound never falls below the benefit of a cluster it must cover.
const MARGIN: f64 = 1e-12;

impl Search for Indexed {
    fn best(
        &mut self,
        clusters: &ClusterSet,
        s: &Scoring<'_>,
        f: &FlowPoint,
        allowed: SensorSet,
    ) -> Option<(u32, f64)> {
        let this = &*self;
        let fk = keys(f);
        let mut cursors: [Cursor<'_>; KEYS] = std::array::from_fn(|i| Cursor {
            iter: fk[i]
                .filter(|_| this.indexed[i])
                .and_then(|k| this.ids.get(&k))
                .and_then(|&sid| this.sets.get(sid as usize))
                .map(|(set, _)| set.iter()),
            head: None,
        });
        // The flow's group sets, walked together: inline for the usual few, on the heap for
        // a port in more than `INLINE_GROUPS` groups.
        let mut inline: [Cursor<'_>; INLINE_GROUPS] = std::array::from_fn(|_| Cursor::EMPTY);
        let mut extra: Vec<Cursor<'_>> = Vec::new();
        let mut n_groups = 0;
        for sid in this.groups_of(f) {
            let c = Cursor {
                iter: this.sets.get(sid as usize).map(|(set, _)| set.iter()),
                head: None,
            };
            match inline.get_mut(n_groups) {
                Some(slot) => *slot = c,
                None => extra.push(c),
            }
            n_groups += 1;
        }
        let n_inline = n_groups.min(INLINE_GROUPS);
        for c in cursors
            .iter_mut()
            .chain(&mut inline[..n_inline])
            .chain(extra.iter_mut())
        {
            c.advance(clusters, allowed);
        }
        let decay = s.t * s.weights.ln_lambda;
        let mut best: Option<(u32, f64)> = None;
        loop {
            let mut next = [f64::NEG_INFINITY; KEYS];
            for (i, c) in cursors.iter().enumerate() {
                if !this.indexed[i] {
                    next[i] = f64::INFINITY;
                } else if let Some((_, k)) = c.head {
                    next[i] = k;
                }
            }
            // Groups: the heaviest next cluster of any of the flow's groups.
            let mut group_pick = None;
            for (g, c) in inline[..n_inline].iter().chain(&extra).enumerate() {
                if let Some((_, k)) = c.head
                    && (group_pick.is_none() || k > next[GROUP])
                {
                    next[GROUP] = k;
                    group_pick = Some(g);
                }
            }
            let (bound, pick) = this.bound(&next, decay, s.weights.rule);
            let Some(i) = pick else { break };
            let bound = bound * (1.0 + MARGIN);
            // No cluster not yet seen can beat the best, or count at all (`beats` ignores
            // benefits below `f64::MIN_POSITIVE`).
            if bound < best.map_or(f64::MIN_POSITIVE, |(_, bb)| bb) {
                break;
            }
            let cursor = match (i, group_pick) {
                (GROUP, Some(g)) if g < n_inline => &mut inline[g],
                (GROUP, Some(g)) => &mut extra[g - n_inline],
                _ => &mut cursors[i],
            };
            let Some((id, _)) = cursor.head else {
                break;
            };
            cursor.advance(clusters, allowed);
            let Some(c) = clusters.get(id) else { continue };
            let b = s.benefit(f, c);
            if beats(b, id, best) {
                best = Some((id, b));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blb::DistanceConfig;

    fn kinds(cfg: DistanceConfig, join: f64) -> [bool; KEYS] {
        Indexed::new(&Distance::new(cfg).unwrap(), join).indexed_kinds()
    }

    #[test]
    fn only_the_kinds_a_join_needs_are_indexed() {
        // (source, destination, subnet, port, family, group, protocol)
        let all = [true; KEYS];
        assert_eq!(kinds(DistanceConfig::ddos(), 1.0), all);
        assert_eq!(kinds(DistanceConfig::port(), 1.0), all);
        // DDoS preset within 0.5: every joinable match shares an address or the subnet.
        let ip = [true, true, true, false, false, false, false];
        assert_eq!(kinds(DistanceConfig::ddos(), 0.5), ip);
        // Port preset within 0.5: every joinable match shares the port, its family or group.
        let port = [false, false, false, true, true, true, false];
        assert_eq!(kinds(DistanceConfig::port(), 0.5), port);
        // Within 0.3 under the DDoS preset, only identical addresses (D ≤ 0.3 needs them, or
        // the subnet with the same port and protocol).
        let near = kinds(DistanceConfig::ddos(), 0.3);
        assert!(near[SRC] && near[DST] && !near[PROTOCOL]);
    }
}
