//! A set with a capacity that evicts its oldest member (first in, first out) when full.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// A set of at most `cap` members; inserting into a full set evicts the oldest member.
#[derive(Clone, Debug)]
pub(crate) struct FifoSet<T> {
    members: HashSet<T>,
    order: VecDeque<T>,
    cap: usize,
    evictions: u64,
}

impl<T: Copy + Eq + Hash> FifoSet<T> {
    /// An empty set holding at most `cap` members (at least one).
    pub(crate) fn new(cap: usize) -> Self {
        FifoSet {
            members: HashSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
            evictions: 0,
        }
    }

    /// True when `v` is a member.
    pub(crate) fn contains(&self, v: &T) -> bool {
        self.members.contains(v)
    }

    /// Inserts `v`; returns false if it was already a member. Evicts the oldest member first
    /// when the set is full.
    pub(crate) fn insert(&mut self, v: T) -> bool {
        if self.members.contains(&v) {
            return false;
        }
        while self.members.len() >= self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.members.remove(&old);
                    self.evictions += 1;
                }
                None => break,
            }
        }
        self.members.insert(v);
        self.order.push_back(v);
        true
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// Members evicted to make room so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_counts() {
        let mut s = FifoSet::new(2);
        assert!(s.insert(1));
        assert!(!s.insert(1));
        assert!(s.insert(2));
        assert!(s.insert(3));
        assert_eq!(s.len(), 2);
        assert_eq!(s.evictions(), 1);
        assert!(!s.contains(&1));
        assert!(s.contains(&2) && s.contains(&3));
    }
}
