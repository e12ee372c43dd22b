//! Sensor identifiers and the small fixed-size set of sensors a decision names.

/// Index of a sensor, `0..n`.
pub type SensorId = u16;

/// The most sensors one engine balances over (the width of [`SensorSet`]).
pub const MAX_SENSORS: usize = 64;

/// A set of sensors as a bit mask: the outcome of a balancing decision (one sensor, or several
/// when a flow is duplicated). `Copy`, allocation-free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SensorSet(u64);

impl SensorSet {
    /// The empty set.
    pub const EMPTY: SensorSet = SensorSet(0);

    /// The set of sensors `0..n` (all of them when `n` ≥ [`MAX_SENSORS`]).
    pub fn all(n: usize) -> Self {
        if n >= MAX_SENSORS {
            SensorSet(u64::MAX)
        } else {
            SensorSet((1u64 << n) - 1)
        }
    }

    /// The sensors in both sets.
    pub fn intersect(self, other: SensorSet) -> Self {
        SensorSet(self.0 & other.0)
    }

    /// The sensors of `self` not in `other`.
    pub fn without(self, other: SensorSet) -> Self {
        SensorSet(self.0 & !other.0)
    }

    /// The set holding one sensor. Ids at or above [`MAX_SENSORS`] are ignored (empty set).
    pub fn one(id: SensorId) -> Self {
        let mut s = SensorSet::EMPTY;
        s.insert(id);
        s
    }

    /// Add a sensor; ids at or above [`MAX_SENSORS`] are ignored.
    pub fn insert(&mut self, id: SensorId) {
        if usize::from(id) < MAX_SENSORS {
            self.0 |= 1u64 << id;
        }
    }

    /// Remove a sensor.
    pub fn remove(&mut self, id: SensorId) {
        if usize::from(id) < MAX_SENSORS {
            self.0 &= !(1u64 << id);
        }
    }

    /// True when `id` is in the set.
    pub fn contains(&self, id: SensorId) -> bool {
        usize::from(id) < MAX_SENSORS && self.0 & (1u64 << id) != 0
    }

    /// Number of sensors in the set.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The lowest sensor id in the set, if any.
    pub fn first(&self) -> Option<SensorId> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as SensorId)
        }
    }

    /// The set of a raw bit mask (bit i set = sensor i), as [`SensorSet::bits`] gives it.
    pub fn from_bits(bits: u64) -> Self {
        SensorSet(bits)
    }

    /// The raw bit mask (bit i set = sensor i).
    pub fn bits(&self) -> u64 {
        self.0
    }

    /// Iterate over the sensor ids in increasing order.
    pub fn iter(&self) -> SensorIter {
        SensorIter(self.0)
    }
}

impl IntoIterator for SensorSet {
    type Item = SensorId;
    type IntoIter = SensorIter;
    fn into_iter(self) -> SensorIter {
        SensorIter(self.0)
    }
}

/// Iterator over the ids of a [`SensorSet`].
#[derive(Clone, Debug)]
pub struct SensorIter(u64);

impl Iterator for SensorIter {
    type Item = SensorId;
    fn next(&mut self) -> Option<SensorId> {
        if self.0 == 0 {
            return None;
        }
        let id = self.0.trailing_zeros() as SensorId;
        self.0 &= self.0 - 1;
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut s = SensorSet::EMPTY;
        assert!(s.is_empty());
        s.insert(3);
        s.insert(0);
        s.insert(63);
        s.insert(64); // ignored
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 3, 63]);
        assert_eq!(s.first(), Some(0));
        s.remove(0);
        assert!(!s.contains(0));
        assert!(s.contains(63));
        assert!(!s.contains(200));
        assert_eq!(SensorSet::one(5).bits(), 1 << 5);
        assert_eq!(SensorSet::all(3).bits(), 0b111);
        assert_eq!(SensorSet::all(64).len(), 64);
        assert_eq!(SensorSet::all(0), SensorSet::EMPTY);
        assert_eq!(SensorSet::all(3).without(SensorSet::one(1)).bits(), 0b101);
        assert_eq!(SensorSet::all(3).intersect(SensorSet::one(2)).bits(), 0b100);
    }
}
