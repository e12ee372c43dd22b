//! blb-daemon: the balancing runtime around the sans-IO core, in the way quinn keeps its
//! runtime apart from `quinn-proto`. Stages: `args` (raw flags of `blb balance`), `config` and
//! `settings` (the TOML file and validated settings), `pipeline` (offline: read, parse,
//! balance, write), `live` (the daemon: capture, the balancing loop, delivery, health,
//! feedback, endpoints, shutdown) and `summary`. It does not link the generator, plotter or
//! detector: `cargo tree -p blb-daemon` shows none of them.

pub mod args;
pub mod config;
pub mod error;
pub mod live;
pub mod names;
pub mod pipeline;
pub mod settings;
pub mod summary;
