//! `blb experiment` and `blb detect` end to end: the paper's result on a shortened run, and the
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
    let get = |name: &str| {
        r["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|x| x["algorithm"] == name)
            .cloned()
            .expect(name)
    };
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

#[test]
fn experiment_on_a_capture_and_bad_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = pcaps().join("ddos/amp.UDP.isakmp.pcap");
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
    assert_eq!(r["results"].as_array().map(Vec::len), Some(4));
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
    // Background alone never alarms.
    let o = blb(&[
        "detect",
        "--read",
        &p(&train),
        "--train",
        &p(&train),
        "--write",
        &p(&csv),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no alarm"));
}
