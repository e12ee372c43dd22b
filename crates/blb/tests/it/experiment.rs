//! `blb experiment` and `blb detect` end to end: the paper's result on a shortened run, the
//! paper's BLB reproducing the README's table, the detection suite over several seeds, and the
//! report's files.

use crate::util::*;

#[test]
fn shortened_paper_experiment_reproduces_the_result() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let o = blb(&[
        "experiment",
        "--duration",
        "40",
        "--training",
        "30",
        "--no-progress",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("| blb |"), "{table}");
    let r = read_summary(&out.join("report.json"));
    let get = |name: &str| algorithm_result(&r, name);
    let single = get("single");
    let t = single["detection_secs"].as_f64().expect("single detects");
    assert!(
        (18.0..=22.0).contains(&t),
        "single detects at {t} s, the paper's 20 ± 2"
    );
    for name in ["round-robin", "hash"] {
        assert!(
            get(name)["detection_secs"].is_null(),
            "{name} must not detect: {}",
            get(name)
        );
    }
    let blb_r = get("blb");
    let t = blb_r["detection_secs"].as_f64().expect("blb detects");
    assert!(
        t <= 25.0,
        "blb detects at {t} s, the paper's 25 s at the latest"
    );
    let over = blb_r["seconds_over_v"].as_u64().expect("seconds_over_v") as f64;
    let seconds = blb_r["seconds"].as_u64().expect("seconds") as f64;
    assert!(
        seconds >= 39.0 && over <= 0.05 * seconds,
        "blb over V in {over} of {seconds} seconds"
    );
    for f in [
        "report.md",
        "report.json",
        "series.csv",
        "figure.png",
        "figure.svg",
    ] {
        let meta = std::fs::metadata(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 100, "{f} is empty");
    }
    let png = std::fs::read(out.join("figure.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let csv = std::fs::read_to_string(out.join("series.csv")).expect("csv");
    assert!(csv.starts_with("second,algorithm,max_y,load_variance"));
    assert!(csv.lines().filter(|l| l.contains(",blb,")).count() >= 40);
}

/// `--blb-variant paper` gives the README's table row for BLB on seed 1, figure for figure.
#[test]
fn the_papers_blb_reproduces_the_readme_table() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("paper");
    let o = blb(&[
        "experiment",
        "--blb-variant",
        "paper",
        "--no-progress",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    let row = "| blb | 20 s | none | 64.3 | 2 | 6.31 / 9.02 | 1 of 100 | 10.0 | 62 % |";
    assert!(table.contains(row), "{table}");
    let single = "| single | 19 s | none | 100.0 | 1 | 9.39 / 11.39 | 98 of 100 | 11.3 | 100 % |";
    assert!(table.contains(single), "{table}");
}

/// The figures of one algorithm on one scenario from a suite report.
fn aggregate(r: &serde_json::Value, scenario: &str, algorithm: &str) -> serde_json::Value {
    r["aggregates"]
        .as_array()
        .expect("aggregates")
        .iter()
        .find(|a| a["scenario"] == scenario && a["algorithm"] == algorithm)
        .cloned()
        .unwrap_or_else(|| panic!("{scenario} / {algorithm}"))
}

/// Robust BLB over five seeds, with and without training, where the bound binds and where it
/// never does: it detects in every run, at most 3 s after a single sensor in nearly all of them,
/// keeps the per-second variance under V, and keeps at least 90 % of the attack's sources on one
/// sensor in every run; the paper's flood stays invisible to round robin and hash. No single
/// seed decides: the assertions are over all runs.
#[test]
fn robust_blb_detects_over_many_seeds() {
    robust_over_seeds(&[]);
}

/// The same with the engine fed in the order three live workers' fanout rings would hand it
/// the packets (`--workers 3`): interleaving the rings costs no detection.
#[test]
fn robust_blb_detects_over_many_seeds_behind_three_workers() {
    robust_over_seeds(&["--workers", "3"]);
}

fn robust_over_seeds(extra: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("suite");
    let mut args = extra.to_vec();
    args.extend_from_slice(&[
        "experiment",
        "--suite",
        "--seeds",
        "5",
        "--only",
        "flood",
        "--only",
        "flood-no-training",
        "--only",
        "flood-125MBps",
        "--no-progress",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    args.rotate_left(extra.len());
    let o = blb(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = read_summary(&out.join("suite.json"));
    let mut within = 0;
    let mut runs = 0;
    for scenario in ["flood", "flood-no-training", "flood-125MBps"] {
        let a = aggregate(&r, scenario, "blb");
        let n = a["runs"].as_u64().expect("runs");
        assert_eq!(n, 5, "{a}");
        assert_eq!(a["detected"].as_u64(), Some(n), "{scenario}: {a}");
        assert_eq!(a["misses"].as_u64(), Some(0), "{scenario}: {a}");
        assert!(
            a["delay_median"].as_f64().expect("delay") <= 3.0,
            "{scenario}: {a}"
        );
        within += a["within_slack"].as_u64().expect("within");
        runs += a["single_detected"].as_u64().expect("single");
        let seconds = a["seconds"].as_u64().expect("seconds") as f64;
        let over = a["seconds_over_v"].as_u64().expect("over") as f64;
        assert!(
            over <= 0.02 * seconds,
            "{scenario}: over V in {over} of {seconds} s"
        );
        let share = a["source_share_worst"].as_f64().expect("share");
        assert!(share >= 0.9, "{scenario}: worst share {share}");
        for other in ["round-robin", "hash"] {
            let a = aggregate(&r, scenario, other);
            assert_eq!(a["detected"].as_u64(), Some(0), "{scenario} / {other}: {a}");
        }
    }
    assert_eq!(runs, 15);
    assert!(
        within >= 14,
        "within single + 3 s in {within} of {runs} runs"
    );
    for f in [
        "suite.md",
        "suite.json",
        "runs.csv",
        "suite.png",
        "suite.svg",
    ] {
        let meta = std::fs::metadata(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 100, "{f} is empty");
    }
    let csv = std::fs::read_to_string(out.join("runs.csv")).expect("csv");
    assert_eq!(
        csv.lines().count(),
        1 + 3 * 5 * 5,
        "a line per run and algorithm"
    );
}

#[test]
fn suite_flags_are_checked() {
    for (args, named) in [
        (&["experiment", "--suite", "--seed", "3"][..], "--seed"),
        (
            &["experiment", "--suite", "--capacity", "3"][..],
            "--capacity",
        ),
        (&["experiment", "--suite", "--seeds", "0"][..], "--seeds"),
        (&["experiment", "--suite", "--only", "nope"][..], "'nope'"),
        (&["experiment", "--seeds", "3"][..], "--seeds needs --suite"),
        (&["experiment", "--blb-variant", "odd"][..], "--blb-variant"),
    ] {
        let o = blb(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn experiment_on_a_capture_and_bad_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(pcaps) = pcaps() else { return };
    let input = pcaps.join("ddos/amp.UDP.isakmp.pcap");
    let out = tmp.path().join("r");
    let o = blb(&[
        "experiment",
        "--read",
        input.to_str().expect("utf-8"),
        "--no-progress",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = read_summary(&out.join("report.json"));
    let rows = r["results"].as_array().expect("results");
    assert_eq!(rows.len(), 4);
    let get = |name: &str| rows.iter().find(|x| x["algorithm"] == name).expect(name);
    // 2 767 reflectors within half a second, no training: a single sensor sees them all as
    // new and alarms in the first interval; round robin and hash give each sensor about a
    // tenth (Y stays under th_y); BLB keeps as much of the victim's flood together as V
    // allows on 10 MB/s sensors (the burst is a tenth of one in under half a second) and
    // alarms too.
    assert_eq!(get("single")["detection_secs"].as_f64(), Some(0.0));
    assert_eq!(get("single")["largest_source_share"].as_f64(), Some(1.0));
    assert_eq!(get("blb")["detection_secs"].as_f64(), Some(0.0));
    let share = get("blb")["largest_source_share"].as_f64().unwrap();
    assert!(share > 0.4, "blb: share {share}");
    for name in ["round-robin", "hash"] {
        assert!(
            get(name)["detection_secs"].is_null(),
            "{name}: {}",
            get(name)
        );
        let share = get(name)["largest_source_share"].as_f64().unwrap();
        assert!((0.05..0.2).contains(&share), "{name}: share {share}");
    }
    let o = blb(&[
        "experiment",
        "--scenario",
        "background",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = blb(&[
        "experiment",
        "--sensors",
        "0",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sensors"));
}

#[test]
fn detect_finds_the_flood_and_writes_csv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let train = tmp.path().join("train.pcap");
    let flood = tmp.path().join("flood.pcap");
    let csv = tmp.path().join("y.csv");
    let p = |x: &std::path::Path| x.to_str().expect("utf-8").to_string();
    assert!(
        blb(&[
            "generate",
            "background",
            "--write",
            &p(&train),
            "--duration",
            "60",
            "--seed",
            "3"
        ])
        .status
        .success()
    );
    assert!(
        blb(&[
            "generate",
            "udp-flood",
            "--write",
            &p(&flood),
            "--duration",
            "30",
            "--seed",
            "3"
        ])
        .status
        .success()
    );
    let o = blb(&[
        "detect",
        "--read",
        &p(&flood),
        "--train",
        &p(&train),
        "--write",
        &p(&csv),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("first alarm at"), "{err}");
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with("interval,start_secs,new_sources,x,y,alarm"));
    let first_alarm = text
        .lines()
        .skip(1)
        .find(|l| l.ends_with(",1"))
        .expect("an alarm row");
    let n: u64 = first_alarm
        .split(',')
        .next()
        .and_then(|x| x.parse().ok())
        .expect("interval");
    assert!((18..=22).contains(&n), "alarm in interval {n}");
    // Background the detector was not trained on (other hosts, other flows: another seed)
    // never alarms: its 70 unknown hosts come a few at a time.
    let other = tmp.path().join("other.pcap");
    assert!(
        blb(&[
            "generate",
            "background",
            "--write",
            &p(&other),
            "--duration",
            "60",
            "--seed",
            "4"
        ])
        .status
        .success()
    );
    let o = blb(&[
        "detect",
        "--read",
        &p(&other),
        "--train",
        &p(&train),
        "--write",
        &p(&csv),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no alarm"));
    let text = std::fs::read_to_string(&csv).expect("csv");
    let new: u64 = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2).and_then(|x| x.parse::<u64>().ok()))
        .sum();
    assert!(
        new > 20,
        "the unseen background brings new sources ({new}), and still no alarm"
    );
}

/// A pcap of two TCP SYNs `gap` seconds apart (classic pcap, microseconds, Ethernet).
fn two_packets(path: &std::path::Path, first: u32, gap: u32) {
    let frame: Vec<u8> = [
        &[0xff; 6][..],
        &[0, 0, 0, 0, 0, 1],
        &[
            0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ],
        &[
            0x04, 0xd2, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
        ],
    ]
    .concat();
    let mut out = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    for ts in [first, first.saturating_add(gap)] {
        for w in [ts, 0, frame.len() as u32, frame.len() as u32] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// Packets 136 years apart: the experiment refuses in one sentence (it once tried to allocate
/// 103 GB); with --max-span it runs, keeping a point per second of traffic, not per second of
/// silence; detect stays bounded either way.
#[test]
fn absurd_time_spans_are_refused_or_cheap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let far = tmp.path().join("far.pcap");
    two_packets(&far, 1, u32::MAX - 1);
    let f = far.to_str().expect("utf-8");
    let out = tmp.path().join("r");
    let o = blb(&[
        "experiment",
        "--read",
        f,
        "--no-progress",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("more than --max-span 86400"), "{err}");
    let csv = tmp.path().join("d.csv");
    let o = blb(&["detect", "--read", f, "--write", csv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let size = std::fs::metadata(&csv).expect("csv").len();
    assert!(size < 1_000_000, "detect wrote {size} bytes");
    // A year apart, allowed by --max-span: a small report.
    let year = tmp.path().join("year.pcap");
    two_packets(&year, 1_700_000_000, 365 * 86_400);
    let o = blb(&[
        "experiment",
        "--read",
        year.to_str().unwrap(),
        "--max-span",
        "1e8",
        "--no-progress",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let size = std::fs::metadata(out.join("series.csv"))
        .expect("series")
        .len();
    assert!(size < 2_000_000, "series.csv is {size} bytes");
    let o = blb(&["experiment", "--max-span", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--max-span"));
}
