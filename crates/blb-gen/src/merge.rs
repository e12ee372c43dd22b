//! Time-ordered merge of event streams into a [`FrameSink`], and a small timed queue that
//! streams use internally for their own pending events.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::FrameSink;
use crate::frame::FrameBuf;

/// A source of frames in non-decreasing time order (nanoseconds from the capture start).
pub trait EventStream {
    /// Time of the next frame, or `None` when the stream is exhausted.
    fn peek(&self) -> Option<u64>;
    /// Builds the frame due at [`EventStream::peek`] into `fb` and advances.
    fn emit(&mut self, fb: &mut FrameBuf);
}

/// Frame and byte counts for one stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
}

impl Counts {
    fn add(&mut self, t: u64, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
        self.first_ns.get_or_insert(t);
        self.last_ns = Some(t);
    }
}

/// Merges `streams` in time order (ties go to the lower index) into `sink`, with absolute
/// timestamps `base_ns + t`; the first `attack_streams` streams are the attack's
/// ([`FrameSink::tagged_frame`]). Returns the counts per stream.
pub fn run(
    streams: &mut [&mut dyn EventStream],
    attack_streams: usize,
    fb: &mut FrameBuf,
    sink: &mut dyn FrameSink,
    base_ns: u64,
) -> std::io::Result<Vec<Counts>> {
    let mut counts = vec![Counts::default(); streams.len()];
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::with_capacity(streams.len());
    for (i, s) in streams.iter().enumerate() {
        if let Some(t) = s.peek() {
            heap.push(Reverse((t, i)));
        }
    }
    let mut last = 0u64;
    while let Some(Reverse((t, i))) = heap.pop() {
        debug_assert!(t >= last, "stream {i} went back in time");
        last = t;
        let s = &mut *streams[i];
        s.emit(fb);
        let frame = fb.frame();
        counts[i].add(t, frame.len());
        sink.tagged_frame(base_ns + t, frame, i < attack_streams)?;
        if let Some(next) = s.peek() {
            debug_assert!(next >= t, "stream {i} went back in time");
            heap.push(Reverse((next, i)));
        }
    }
    Ok(counts)
}

/// Two streams as one, in time order (ties to the first).
pub struct Pair<'a> {
    first: &'a mut dyn EventStream,
    second: &'a mut dyn EventStream,
}

impl<'a> Pair<'a> {
    /// Both streams, merged.
    pub fn new(first: &'a mut dyn EventStream, second: &'a mut dyn EventStream) -> Self {
        Pair { first, second }
    }
}

impl EventStream for Pair<'_> {
    fn peek(&self) -> Option<u64> {
        match (self.first.peek(), self.second.peek()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn emit(&mut self, fb: &mut FrameBuf) {
        match (self.first.peek(), self.second.peek()) {
            (Some(a), Some(b)) if b < a => self.second.emit(fb),
            (None, Some(_)) => self.second.emit(fb),
            _ => self.first.emit(fb),
        }
    }
}

struct Entry<T> {
    t: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: the earliest (then first pushed) entry is the heap's maximum.
        (o.t, o.seq).cmp(&(self.t, self.seq))
    }
}

/// A min-queue of timed items; equal times come out in push order (deterministic).
pub struct TimedQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

impl<T> Default for TimedQueue<T> {
    fn default() -> Self {
        TimedQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> TimedQueue<T> {
    /// Queues `item` at time `t`.
    pub fn push(&mut self, t: u64, item: T) {
        self.seq += 1;
        self.heap.push(Entry {
            t,
            seq: self.seq,
            item,
        });
    }

    /// Time of the earliest item.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.t)
    }

    /// Removes the earliest item.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        self.heap.pop().map(|e| (e.t, e.item))
    }

    /// Number of queued items.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is queued.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ticks {
        next: u64,
        step: u64,
        end: u64,
        src: u32,
    }

    impl EventStream for Ticks {
        fn peek(&self) -> Option<u64> {
            (self.next < self.end).then_some(self.next)
        }
        fn emit(&mut self, fb: &mut FrameBuf) {
            fb.udp(self.src, 1, 1, 1, 0);
            self.next += self.step;
        }
    }

    #[test]
    fn merges_in_time_order_with_stable_ties() {
        let mut a = Ticks {
            next: 0,
            step: 3,
            end: 30,
            src: 0x0101_0101,
        };
        let mut b = Ticks {
            next: 0,
            step: 5,
            end: 30,
            src: 0x0202_0202,
        };
        let mut fb = FrameBuf::new();
        let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
        let counts = run(&mut [&mut a, &mut b], 1, &mut fb, &mut out, 1000).unwrap();
        assert_eq!(counts[0].packets, 10);
        assert_eq!(counts[1].packets, 6);
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(out[0].0, 1000);
        // Tie at t=0: stream 0 first.
        assert_eq!(&out[0].1[26..30], &[1, 1, 1, 1]);
        assert_eq!(&out[1].1[26..30], &[2, 2, 2, 2]);
    }

    #[test]
    fn timed_queue_orders_by_time_then_push() {
        let mut q = TimedQueue::default();
        q.push(5, 'a');
        q.push(1, 'b');
        q.push(5, 'c');
        q.push(0, 'd');
        assert_eq!(q.len(), 4);
        let v: Vec<char> = std::iter::from_fn(|| q.pop().map(|x| x.1)).collect();
        assert_eq!(v, vec!['d', 'b', 'a', 'c']);
        assert!(q.is_empty());
    }
}
