//! The fuzz targets: each takes arbitrary bytes and panics when an invariant breaks, with
//! its seeds and the longest input worth making.

mod capture;
mod engine;
mod protocol;

use std::path::{Path, PathBuf};

/// One target.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it exercises and checks.
    pub about: &'static str,
    /// Run one input; panics on a broken invariant.
    pub run: fn(&[u8]),
    /// Its seeds, from where the shared captures are (if anywhere).
    pub seeds: fn(Option<&Path>) -> Vec<Vec<u8>>,
    /// The longest input made from the seeds.
    pub max_len: usize,
}

/// Every target, in the order the driver runs them.
pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "capture-reader",
            about: "pcap and pcapng readers: every record read back lies inside the input",
            run: capture::reader,
            seeds: capture::capture_seeds,
            max_len: 64 * 1024,
        },
        Target {
            name: "frame-parser",
            about: "the frame parser over every link type, tunnels looked into and not: lengths, ports and the tunnel record consistent, an unentered tunnel leaves the outer flow",
            run: capture::frame,
            seeds: capture::frame_seeds,
            max_len: 2048,
        },
        Target {
            name: "snmp-ber",
            about: "the SNMP BER decoder: what decodes encodes back to the same message",
            run: protocol::ber,
            seeds: protocol::ber_seeds,
            max_len: 1024,
        },
        Target {
            name: "endpoints",
            about: "the control and metrics endpoints' request handling: a status, never a panic",
            run: protocol::endpoints,
            seeds: protocol::request_seeds,
            max_len: 2048,
        },
        Target {
            name: "settings",
            about: "TOML settings through validation, offline and live: an error or settings",
            run: protocol::settings,
            seeds: protocol::settings_seeds,
            max_len: 8 * 1024,
        },
        Target {
            name: "engine",
            about: "a whole engine run on packet records: packets in = out + drops, every held \
                    packet released once, no flow or datagram split",
            run: engine::run,
            seeds: engine::seeds,
            max_len: 4096,
        },
    ]
}

/// The capture files under the shared captures folder, sorted (none without it).
pub(crate) fn capture_files(shared: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(root) = shared else { return out };
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
