//! The interval clock shared by the detectors, and their capped interval history.

/// Maps timestamps to interval indices. Time never goes backwards: a timestamp older than the
/// latest one seen is treated as the latest one.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    width: u64,
    origin: Option<u64>,
    cur: u64,
    now: u64,
}

impl Clock {
    /// A clock with intervals of `width` ns (at least 1) starting at `origin`, or at the first
    /// timestamp admitted.
    pub(crate) fn new(width: u64, origin: Option<u64>) -> Self {
        Clock {
            width: width.max(1),
            origin,
            cur: 0,
            now: origin.unwrap_or(0),
        }
    }

    /// Admits a timestamp: fixes the origin if there is none yet and returns the effective
    /// timestamp, `max(ts, latest seen)`.
    pub(crate) fn admit(&mut self, ts: u64) -> u64 {
        if self.origin.is_none() {
            self.origin = Some(ts);
            self.now = ts;
        }
        self.now = self.now.max(ts);
        self.now
    }

    /// The origin (start of interval 0), once known.
    pub(crate) fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// The latest timestamp admitted (or the origin).
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// The index of the current (open) interval.
    pub(crate) fn cur(&self) -> u64 {
        self.cur
    }

    /// Makes `idx` the current interval (callers only move forward).
    pub(crate) fn set_cur(&mut self, idx: u64) {
        self.cur = self.cur.max(idx);
    }

    /// The index of the interval holding `ts` (0 before the origin or without one).
    pub(crate) fn index_of(&self, ts: u64) -> u64 {
        let o = self.origin.unwrap_or(ts);
        ts.saturating_sub(o) / self.width
    }

    /// The number of intervals that start before `ts`: `ceil((ts − origin) / width)`.
    pub(crate) fn intervals_before(&self, ts: u64) -> u64 {
        let o = self.origin.unwrap_or(ts);
        let d = ts.saturating_sub(o);
        d / self.width + u64::from(!d.is_multiple_of(self.width))
    }

    /// Start timestamp of interval `idx` (saturating).
    pub(crate) fn start_of(&self, idx: u64) -> u64 {
        self.origin
            .unwrap_or(0)
            .saturating_add(idx.saturating_mul(self.width))
    }

    /// End timestamp (exclusive) of interval `idx` (saturating).
    pub(crate) fn end_of(&self, idx: u64) -> u64 {
        self.start_of(idx).saturating_add(self.width)
    }
}

/// A list of closed intervals holding at most `cap` records: when full, the oldest half is
/// dropped (and counted), so pushing stays amortised O(1) and the list stays one slice.
#[derive(Clone, Debug)]
pub(crate) struct History<T> {
    items: Vec<T>,
    cap: usize,
    dropped: u64,
}

impl<T> History<T> {
    /// An empty history of at most `cap` records (at least 1).
    pub(crate) fn new(cap: usize) -> Self {
        History {
            items: Vec::new(),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    /// Appends a record, dropping the oldest half first when full.
    pub(crate) fn push(&mut self, item: T) {
        if self.items.len() >= self.cap {
            let n = (self.items.len() / 2).max(1);
            self.items.drain(..n);
            self.dropped += n as u64;
        }
        self.items.push(item);
    }

    /// The records kept, oldest first.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// Records dropped to respect the cap.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_bounds() {
        let mut c = Clock::new(10, None);
        assert_eq!(c.admit(105), 105);
        assert_eq!(c.origin(), Some(105));
        assert_eq!(c.admit(100), 105, "older timestamps are treated as now");
        assert_eq!(c.index_of(114), 0);
        assert_eq!(c.index_of(115), 1);
        assert_eq!(c.intervals_before(105), 0);
        assert_eq!(c.intervals_before(106), 1);
        assert_eq!(c.intervals_before(115), 1);
        assert_eq!(c.start_of(2), 125);
        assert_eq!(c.end_of(2), 135);
        assert_eq!(c.start_of(u64::MAX), u64::MAX);
        assert_eq!(c.intervals_before(u64::MAX), (u64::MAX - 105).div_ceil(10));
    }

    #[test]
    fn history_drops_oldest_half() {
        let mut h = History::new(4);
        for i in 0..5 {
            h.push(i);
        }
        assert_eq!(h.as_slice(), &[2, 3, 4]);
        assert_eq!(h.dropped(), 2);
    }
}
