//! The per-packet path allocates nothing in the steady state: a counting allocator counts
//! the allocations made on the test's own thread while frames of known flows go through
//! parse, engine and enqueue (the queues' delivery threads are not counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crate::packet_path::{Path, frames};

/// The system allocator, counting allocations per thread while counting is on.
pub struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: a thread being torn down has no locals left; it is not counting then.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations on this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(|n| n.get())
}

/// Frames of 2 000 known flows, both directions, a microsecond apart: a warm-up pass that
/// creates the flows, then passes that only meet them again.
fn steady_state(algorithm: &str) -> (u64, u64) {
    let frames = frames(2_000, 64);
    let mut path = Path::new(algorithm);
    let mut ts = 1_000_000_000u64;
    let mut pass = |path: &mut Path| {
        for f in &frames {
            path.step(ts, f);
            ts += 1_000;
        }
    };
    for _ in 0..3 {
        pass(&mut path);
    }
    let before = path.sent;
    let n = allocations(|| {
        for _ in 0..20 {
            pass(&mut path);
        }
    });
    (n, path.sent - before)
}

#[test]
fn counting_sees_an_allocation() {
    // The counter itself works: a Vec on this thread is counted.
    let n = allocations(|| drop(std::hint::black_box(vec![1u8; 100])));
    assert_eq!(n, 1);
}

#[test]
fn hash_path_allocates_nothing_in_the_steady_state() {
    let (n, sent) = steady_state("hash");
    assert_eq!(sent, 80_000, "every frame was queued once");
    assert_eq!(n, 0, "{n} allocations for {sent} frames");
}

#[test]
fn blb_path_allocates_nothing_in_the_steady_state() {
    let (n, sent) = steady_state("blb");
    assert!(
        sent >= 80_000,
        "every frame was queued at least once ({sent})"
    );
    assert_eq!(n, 0, "{n} allocations for {sent} frames");
}
