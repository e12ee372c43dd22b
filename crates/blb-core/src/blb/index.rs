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

use super::cluster::{Cluster, ClusterSet, ordered_bits};
use super::distance::{Distance, FlowPoint, IpMatch, Match, PortMatch};
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
        (p.group != 0).then_some(IndexKey::Group(p.group)),
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
#[derive(Clone, Debug)]
pub struct Indexed {
    /// Key → set number.
    ids: HashMap<IndexKey, u32>,
    /// The ordered sets, and the key each serves (None: free).
    sets: Vec<(OrderedSet, Option<IndexKey>)>,
    free_sets: Vec<u32>,
    /// For each cluster id, the sets it is in (so updates need no hashing).
    member_of: Vec<[u32; KEYS]>,
    /// `ln(1 − D(m))` for every match, by (ip level, port level, same protocol).
    ln_closeness: [[[f64; 2]; 4]; 3],
}

impl Indexed {
    /// Empty indexes for a distance.
    pub fn new(distance: &Distance) -> Self {
        let mut ln_closeness = [[[0.0; 2]; 4]; 3];
        for (i, &ip) in IP_LEVELS.iter().enumerate() {
            for (j, &port) in PORT_LEVELS.iter().enumerate() {
                for (k, protocol) in [true, false].into_iter().enumerate() {
                    let close = 1.0 - distance.of_match(Match { ip, port, protocol });
                    ln_closeness[i][j][k] = if close > 0.0 {
                        close.ln()
                    } else {
                        f64::NEG_INFINITY
                    };
                }
            }
        }
        Indexed {
            ids: HashMap::new(),
            sets: Vec::new(),
            free_sets: Vec::new(),
            member_of: Vec::new(),
            ln_closeness,
        }
    }

    /// Index a new cluster.
    pub fn insert(&mut self, id: u32, c: &Cluster) {
        let idx = id as usize;
        if self.member_of.len() <= idx {
            self.member_of.resize(idx + 1, [NONE; KEYS]);
        }
        let e = entry(c, id);
        for (slot, k) in keys(&c.centroid).into_iter().enumerate() {
            let Some(k) = k else {
                self.member_of[idx][slot] = NONE;
                continue;
            };
            let sid = match self.ids.get(&k) {
                Some(&sid) => sid,
                None => {
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
            };
            self.sets[sid as usize].0.insert(e);
            self.member_of[idx][slot] = sid;
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
        for sid in member.into_iter().filter(|&s| s != NONE) {
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
        for sid in member.into_iter().filter(|&s| s != NONE) {
            let Some((set, key)) = self.sets.get_mut(sid as usize) else {
                continue;
            };
            set.remove(&e);
            if set.is_empty() {
                if let Some(k) = key.take() {
                    self.ids.remove(&k);
                }
                self.free_sets.push(sid);
            }
        }
    }

    /// Number of index entries (for tests and memory accounting).
    pub fn entries(&self) -> usize {
        self.sets.iter().map(|(s, _)| s.len()).sum()
    }

    /// `ln` of the bound on the benefit of any cluster not yet seen at decay `t·ln λ`, given each set's next weight key (−∞ when exhausted or absent); and the
    /// set to advance: the one that holds the bound up (the smallest cap of the match that
    /// attains it), so that each step lowers the bound as fast as possible.
    fn ln_bound(&self, next: &[f64; KEYS], decay: f64) -> (f64, Option<usize>) {
        const INF: f64 = f64::INFINITY;
        let src_or_dst = if next[DST] > next[SRC] { DST } else { SRC };
        let ip_cap = [
            (next[src_or_dst], src_or_dst),
            (next[SUBNET], SUBNET),
            (INF, KEYS),
        ];
        let port_cap = [
            (next[PORT], PORT),
            (next[FAMILY], FAMILY),
            (next[GROUP], GROUP),
            (INF, KEYS),
        ];
        let proto_cap = [(next[PROTOCOL], PROTOCOL), (INF, KEYS)];
        let min = |a: (f64, usize), b: (f64, usize)| if b.0 < a.0 { b } else { a };
        let mut bound = (f64::NEG_INFINITY, None);
        for (i, &ic) in ip_cap.iter().enumerate() {
            for (j, &pc) in port_cap.iter().enumerate() {
                let ipc = min(ic, pc);
                for (k, &kc) in proto_cap.iter().enumerate() {
                    if i == 2 && j == 3 && k == 1 {
                        continue; // no correlation: benefit 0
                    }
                    let (cap, set) = min(ipc, kc);
                    // Decay first, as `Cluster::weight` does: `key − t·ln λ` rounds the same way
                    // here and there, whatever the size of the key.
                    let v = self.ln_closeness[i][j][k] + (cap - decay);
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

impl Cursor<'_> {
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
                .and_then(|k| this.ids.get(&k))
                .and_then(|&sid| this.sets.get(sid as usize))
                .map(|(set, _)| set.iter()),
            head: None,
        });
        for c in cursors.iter_mut() {
            c.advance(clusters, allowed);
        }
        let decay = s.t * s.ln_lambda;
        let mut best: Option<(u32, f64)> = None;
        loop {
            let mut next = [f64::NEG_INFINITY; KEYS];
            for (i, c) in cursors.iter().enumerate() {
                if let Some((_, k)) = c.head {
                    next[i] = k;
                }
            }
            let (ln_bound, pick) = this.ln_bound(&next, decay);
            let Some(i) = pick else { break };
            let bound = ln_bound.exp() * (1.0 + MARGIN);
            match best {
                Some((_, bb)) if bound < bb => break,
                None if bound <= 0.0 => break,
                _ => {}
            }
            let Some((id, _)) = cursors[i].head else {
                break;
            };
            cursors[i].advance(clusters, allowed);
            let Some(c) = clusters.get(id) else { continue };
            let b = s.benefit(f, c);
            if beats(b, id, best) {
                best = Some((id, b));
            }
        }
        best
    }
}
