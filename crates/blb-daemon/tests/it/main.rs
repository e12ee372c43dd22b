//! Integration tests of blb-daemon: what the crate links, and the per-packet path's
//! allocations.

mod alloc;
mod packet_path;

use std::collections::{BTreeMap, BTreeSet};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Every package `root` can reach in the workspace's Cargo.lock. The lock file lists each
/// package's dependencies for every feature, so this is a superset of what any build links.
fn reachable(root: &str) -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let text = std::fs::read_to_string(path).expect("Cargo.lock at the workspace root");
    let lock: toml::Table = toml::from_str(&text).expect("Cargo.lock is TOML");
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in lock["package"].as_array().expect("[[package]]") {
        let name = p["name"].as_str().expect("name").to_string();
        let list = p.get("dependencies").and_then(|d| d.as_array());
        let names = list.into_iter().flatten().filter_map(|d| d.as_str());
        // An entry is `name` or `name version` (when two versions are locked).
        let names = names.map(|d| d.split(' ').next().unwrap_or(d).to_string());
        deps.entry(name).or_default().extend(names);
    }
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(n) = todo.pop() {
        if seen.insert(n.clone()) {
            todo.extend(deps.get(&n).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn the_daemon_links_no_generator_plotter_or_detector() {
    let all = reachable("blb-daemon");
    assert!(
        all.contains("blb-core") && all.contains("blb-live"),
        "{all:?}"
    );
    for banned in [
        "blb-gen",
        "blb-plot",
        "blb-detect",
        "plotters",
        "image",
        "png",
    ] {
        assert!(!all.contains(banned), "blb-daemon reaches {banned}");
    }
    // The check itself can fail: the binary crate reaches the plotter.
    assert!(reachable("blb").contains("plotters"));
}
