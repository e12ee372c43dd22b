//! Every error names what the user typed (the flag, or the configuration key), says it once,
//! and comes before any work; flags that do not apply are refused rather than ignored.

use crate::util::blb;

/// Run blb; expect exit 2 and return standard error.
fn usage_error(args: &[&str]) -> String {
    let o = blb(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    err
}

fn config(dir: &std::path::Path, text: &str) -> String {
    let p = dir.join("blb.toml");
    std::fs::write(&p, text).expect("write config");
    p.to_str().expect("utf-8").to_string()
}

#[test]
fn a_configuration_key_is_named_as_the_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = config(tmp.path(), "[balance]\nalgorithm = \"nope\"\nsensors = 3\n");
    let err = usage_error(&["balance", "--config", &c, "-r", "x", "--write-dir", "o"]);
    assert!(err.contains("[balance] algorithm"), "{err}");
    assert!(!err.contains("--algorithm"), "{err}");
    let c = config(tmp.path(), "[balance]\nalgorithm = \"hash\"\nsensors = 0\n");
    let err = usage_error(&["balance", "--config", &c, "-r", "x", "--write-dir", "o"]);
    assert!(err.contains("[balance] sensors"), "{err}");
    let c = config(
        tmp.path(),
        "[balance]\nalgorithm = \"hash\"\nsensors = 2\nload_time_constant = 1e300\n",
    );
    let err = usage_error(&["balance", "--config", &c, "-r", "x", "--write-dir", "o"]);
    assert!(err.contains("[balance] load_time_constant"), "{err}");
    assert!(err.contains("not 1e300"), "{err}");
    // The flag, when it is the flag.
    let err = usage_error(&[
        "balance",
        "-r",
        "x",
        "--write-dir",
        "o",
        "--sensors",
        "2",
        "--algorithm",
        "nope",
    ]);
    assert!(err.contains("--algorithm"), "{err}");
    let c = config(tmp.path(), "[blb]\nlambda = 0.5\n");
    let err = usage_error(&[
        "balance",
        "--config",
        &c,
        "-r",
        "x",
        "--write-dir",
        "o",
        "--sensors",
        "2",
        "--algorithm",
        "blb",
    ]);
    assert!(err.contains("[blb] lambda"), "{err}");
    let err = usage_error(&[
        "balance",
        "-r",
        "x",
        "--write-dir",
        "o",
        "--sensors",
        "2",
        "--algorithm",
        "blb",
        "--lambda",
        "0.5",
    ]);
    assert!(err.contains("--lambda"), "{err}");
}

#[test]
fn no_internal_field_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("g.pcap");
    let out = out.to_str().expect("utf-8");
    for (args, named) in [
        (
            vec!["generate", "udp-flood", "-w", out, "--duration", "0"],
            "--duration",
        ),
        (
            vec!["generate", "udp-flood", "-w", out, "--packet-size", "10"],
            "--packet-size",
        ),
        (
            vec!["generate", "syn-flood", "-w", out, "--syn-rate", "0"],
            "--syn-rate",
        ),
        (vec!["detect", "-r", out, "--interval", "0"], "--interval"),
        (vec!["detect", "-r", out, "--c", "0"], "--c "),
        (vec!["experiment", "--duration", "0"], "--duration"),
    ] {
        let err = usage_error(&args);
        assert!(err.contains(named), "{args:?}: {err}");
        for internal in [
            "duration_secs",
            "interval_secs",
            "packet_size",
            "syn_rate",
            "`c`",
        ] {
            assert!(!err.contains(internal), "{args:?}: {err}");
        }
    }
    let c = config(tmp.path(), "[generate]\nduration_secs = 0\n");
    let err = usage_error(&["generate", "udp-flood", "-w", out, "--config", &c]);
    assert!(err.contains("[generate] duration_secs"), "{err}");
}

#[test]
fn negative_numbers_reach_validation() {
    let err = usage_error(&["experiment", "--capacity", "-5"]);
    assert!(
        err.contains("--capacity") && err.contains("not -5"),
        "{err}"
    );
    let err = usage_error(&[
        "balance",
        "-r",
        "x",
        "--write-dir",
        "o",
        "--sensors",
        "-5",
        "--algorithm",
        "hash",
    ]);
    assert!(err.contains("--sensors"), "{err}");
    assert!(!err.contains("unexpected argument"), "{err}");
}

#[test]
fn the_alpha_sum_is_said_once_and_rounded() {
    let err = usage_error(&[
        "balance",
        "-r",
        "x",
        "--write-dir",
        "o",
        "--sensors",
        "2",
        "--algorithm",
        "blb",
        "--alpha-ip",
        "0.9",
        "--alpha-port",
        "0.9",
    ]);
    assert!(
        err.contains("--alpha-ip 0.9 + --alpha-port 0.9 + alpha_protocol"),
        "{err}"
    );
    assert!(
        err.contains("must sum to 1") && err.contains("not 1.9"),
        "{err}"
    );
    assert!(
        !err.contains("1.900000") && !err.contains("setting '"),
        "{err}"
    );
}

#[test]
fn a_toml_error_keeps_its_caret() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = config(tmp.path(), "[balance\nalgorithm = \"hash\"\n");
    let err = usage_error(&["balance", "--config", &c, "-r", "x", "--write-dir", "o"]);
    assert!(err.contains("line 1, column 9"), "{err}");
    assert!(err.lines().any(|l| l.trim_end().ends_with('^')), "{err}");
}

#[test]
fn a_directory_as_input_is_said_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_str().expect("utf-8");
    let o = blb(&[
        "balance",
        "-r",
        dir,
        "--write-dir",
        "o",
        "--sensors",
        "2",
        "--algorithm",
        "hash",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is a directory, not a capture file"), "{err}");
    assert_eq!(err.matches("directory").count(), 1, "{err}");
}

#[test]
fn a_missing_algorithm_lists_blb() {
    let err = usage_error(&["balance", "-r", "x", "--write-dir", "o", "--sensors", "2"]);
    assert!(err.contains("single|round-robin|hash|blb"), "{err}");
}

#[test]
fn an_unwritable_summary_is_found_before_the_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in.pcap");
    let o = blb(&[
        "generate",
        "background",
        "-w",
        input.to_str().expect("utf-8"),
        "--duration",
        "2",
    ]);
    assert!(o.status.success());
    let out = tmp.path().join("out");
    let err = usage_error(&[
        "balance",
        "-r",
        input.to_str().expect("utf-8"),
        "--write-dir",
        out.to_str().expect("utf-8"),
        "--sensors",
        "2",
        "--algorithm",
        "hash",
        "--summary",
        "/nonexistent/folder/summary.json",
    ]);
    assert!(
        err.contains("cannot write summary /nonexistent/folder/summary.json"),
        "{err}"
    );
    assert!(!out.exists(), "nothing was balanced");
}

#[test]
fn flags_that_do_not_apply_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in.pcap");
    let i = input.to_str().expect("utf-8");
    assert!(
        blb(&["generate", "background", "-w", i, "--duration", "3"])
            .status
            .success()
    );
    for (args, named) in [
        (
            vec!["experiment", "--read", i, "--scenario", "syn-flood"],
            "--scenario",
        ),
        (
            vec!["experiment", "--read", i, "--duration", "5"],
            "--duration",
        ),
        (vec!["experiment", "--read", i, "--seed", "5"], "--seed"),
        (
            vec![
                "balance",
                "-r",
                i,
                "--write-dir",
                "o",
                "--sensors",
                "2",
                "--algorithm",
                "hash",
                "--metrics",
                "9100",
            ],
            "--metrics",
        ),
        (
            vec![
                "balance",
                "-r",
                i,
                "--write-dir",
                "o",
                "--sensors",
                "2",
                "--algorithm",
                "hash",
                "--control",
                "9101",
            ],
            "--control",
        ),
    ] {
        let err = usage_error(&args);
        assert!(err.contains(named), "{args:?}: {err}");
    }
    // A capture no longer than its training leaves nothing to judge: refused, not "none".
    let err = usage_error(&["experiment", "--read", i, "--training", "1000"]);
    assert!(err.contains("no longer than --training 1000"), "{err}");
}

#[test]
fn a_generator_rate_that_never_ends_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("g.pcap");
    let err = usage_error(&[
        "generate",
        "syn-flood",
        "-w",
        out.to_str().expect("utf-8"),
        "--syn-rate",
        "1e9",
    ]);
    assert!(
        err.contains("--syn-rate") && err.contains("more than 1e9"),
        "{err}"
    );
    assert!(!out.exists() || std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) == 0);
}

/// Output files of an earlier run with more sensors are not left without a word.
#[test]
fn reusing_a_write_dir_with_fewer_sensors_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in.pcap");
    let i = input.to_str().expect("utf-8");
    assert!(
        blb(&["generate", "background", "-w", i, "--duration", "2"])
            .status
            .success()
    );
    let out = tmp.path().join("out");
    let o = out.to_str().expect("utf-8");
    let run = |n: &str| {
        blb(&[
            "balance",
            "-r",
            i,
            "--write-dir",
            o,
            "--sensors",
            n,
            "--algorithm",
            "hash",
            "--no-progress",
        ])
    };
    assert!(run("4").status.success());
    let quiet = run("4");
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("warning"));
    let fewer = run("2");
    assert!(fewer.status.success());
    let err = String::from_utf8_lossy(&fewer.stderr);
    assert!(err.contains("2 older output file(s)"), "{err}");
    assert!(
        err.contains("sensor-2.pcap") && err.contains("sensor-3.pcap"),
        "{err}"
    );
}
