//! The bounded per-sensor queue: a sink on its own thread, batches, counted drops.
