//! `blb experiment --nodes N` (docs/scale-out.md): one node is the experiment as it was, byte
//! for byte; two nodes keep a flood's victim on one node; a bad `--nodes` is refused naming it.

use crate::util::*;

/// Run a shortened paper experiment with `extra` flags into `out`; panics with stderr.
fn experiment(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "experiment",
        "--duration",
        "20",
        "--training",
        "10",
        "--no-progress",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let o = blb(&args);
    assert!(
        o.status.success(),
        "blb {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn one_node_is_the_experiment_without_the_flag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("plain"), tmp.path().join("one"));
    let plain = experiment(&a, &[]);
    let one = experiment(&b, &["--nodes", "1"]);
    for f in ["report.md", "report.json", "series.csv", "figure.svg"] {
        let x = std::fs::read(a.join(f)).expect(f);
        let y = std::fs::read(b.join(f)).expect(f);
        assert!(x == y, "{f} differs with --nodes 1");
    }
    let strip = |o: &std::process::Output, dir: &std::path::Path| {
        String::from_utf8_lossy(&o.stdout).replace(dir.to_str().expect("utf-8"), "OUT")
    };
    assert_eq!(strip(&plain, &a), strip(&one, &b));
}

#[test]
fn two_nodes_keep_the_flood_on_the_victims_node() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("two");
    let o = experiment(&out, &["--nodes", "2"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("2 nodes behind a broker"), "{table}");
    let r = read_summary(&out.join("report.json"));
    let get = |name: &str| algorithm_result(&r, name);
    // `single` sends everything a node gets to that node's first sensor: every attack packet
    // and every attacker on one sensor means the broker sent the whole flood to one node.
    let single = get("single");
    assert_eq!(
        single["largest_packet_share"].as_f64(),
        Some(1.0),
        "{single}"
    );
    assert_eq!(
        single["largest_source_share"].as_f64(),
        Some(1.0),
        "{single}"
    );
    // Round robin spreads the flood only over the victim's node: 5 of the 10 sensors.
    let rr = get("round-robin")["largest_packet_share"]
        .as_f64()
        .expect("share");
    assert!((0.15..=0.25).contains(&rr), "round robin's share {rr}");
    // The pair key (both addresses' prefixes) spreads it over both nodes.
    let pair = tmp.path().join("pair");
    experiment(&pair, &["--nodes", "2", "--node-key", "pair"]);
    let r = read_summary(&pair.join("report.json"));
    let single = r["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|x| x["algorithm"] == "single")
        .cloned()
        .expect("single");
    let share = single["largest_packet_share"].as_f64().expect("share");
    assert!(
        share < 0.7,
        "the pair key left {share} of the flood on one node"
    );
}

#[test]
fn a_bad_node_count_is_refused_naming_the_flag() {
    for (args, want) in [
        (vec!["--nodes", "3"], "--nodes"),
        (vec!["--nodes", "0"], "--nodes"),
        (vec!["--nodes", "20"], "--nodes"),
        (vec!["--node-prefix", "16"], "--node-prefix needs --nodes"),
        (vec!["--nodes", "2", "--node-prefix", "33"], "--node-prefix"),
        (vec!["--nodes", "2", "--node-key", "dst"], "--node-key"),
        (vec!["--nodes", "2", "--node-bound", "x"], "--node-bound"),
        (vec!["--nodes", "2", "--home-net", "10.0.0.0"], "--home-net"),
        (vec!["--suite", "--nodes", "4"], "--nodes"),
    ] {
        let mut full = vec!["experiment", "--no-progress", "--out", "/nonexistent/x"];
        full.extend_from_slice(&args);
        let o = blb(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
