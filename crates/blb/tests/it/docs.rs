//! The operator guides `docs/suricata.md` and `docs/zeek.md` hold: every fenced block has a
//! known kind; `toml` blocks and every file of `docs/examples/` pass
//! `blb balance --check-config` (and a broken one does not); `sh` blocks run and exit 0 —
//! offline ones anywhere, those opening with `# as root, on the blb host` as one session per
//! guide in a lab namespace (root, skipped elsewhere), where `blb balance --config …` is
//! started in the background and stopped with SIGINT at the end; every `blb_…` name in a
//! guide is a metric blb exposes.
//!
//! Commands and configurations run with `/etc/blb/`, `/tmp/blb-try/` and `docs/examples/`
//! moved into a scratch directory (the example files copied there with the same moves). The
//! session's output is printed (`--nocapture` shows it) so the guides' `text` blocks can be
//! copied from it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use blb::live::feeds::FeedStatus;
use blb::live::metrics::{CaptureSnap, Metrics, SensorSnap, Snapshot};

use crate::lab::{Lab, Proc};

/// Opens a session block: it runs in the lab as root.
const LIVE: &str = "# as root, on the blb host";

/// The kinds of fenced block a guide may hold; `sh` and `toml` are checked, the others are
/// output (`text`) or the sensors' own (`console`, `yaml`, `ini`, `zeek`).
const KINDS: [&str; 7] = ["sh", "toml", "text", "console", "yaml", "ini", "zeek"];

/// The guides.
const GUIDES: [&str; 2] = ["docs/suricata.md", "docs/zeek.md"];

/// One fenced block.
struct Block {
    kind: String,
    body: String,
    line: usize,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the repository")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The fenced blocks of `md` (``` fences, not nested).
fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in md.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(kind)) => {
                open = Some(Block {
                    kind: kind.trim().to_string(),
                    body: String::new(),
                    line: i + 1,
                })
            }
            (Some(_), Some(_)) => out.push(open.take().expect("open")),
            (Some(b), None) => {
                b.body += line;
                b.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fence is not closed");
    out
}

/// The scratch directory with the moves applied: `etc/blb/` (with a control token),
/// `try/`, and `examples/` holding the example files with the same moves.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for d in ["etc/blb", "try", "examples"] {
            std::fs::create_dir_all(s.dir.path().join(d)).expect("mkdir");
        }
        std::fs::write(
            s.path("etc/blb/control-token"),
            "docs-test-token-0123456789\n",
        )
        .expect("token");
        for (name, text) in examples() {
            std::fs::write(s.path(&format!("examples/{name}")), s.moved(&text)).expect("copy");
        }
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `text` with the guides' paths moved into the scratch directory.
    fn moved(&self, text: &str) -> String {
        let at = |rel: &str| format!("{}/", self.path(rel).display());
        text.replace("/etc/blb/", &at("etc/blb"))
            .replace("/tmp/blb-try/", &at("try"))
            .replace("/tmp/blb-try", &self.path("try").display().to_string())
            .replace("docs/examples/", &at("examples"))
    }
}

/// Every file of docs/examples: (name, text).
fn examples() -> Vec<(String, String)> {
    let dir = repo().join("docs/examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("docs/examples")
        .map(|e| {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("example"))
        })
        .collect();
    out.sort();
    out
}

/// `blb balance --check-config --config FILE`: (exit code, stdout and stderr).
fn check_config(file: &Path) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_blb"))
        .args(["balance", "--check-config", "--config"])
        .arg(file)
        .output()
        .expect("blb runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// PATH with blb's directory first, so the guides' `blb` is the one under test.
fn path_with_blb() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_blb"))
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// A shell script from a block: strict, with the moves applied.
fn script(scratch: &Scratch, body: &str) -> String {
    format!("set -euo pipefail\n{}", scratch.moved(body))
}

#[test]
fn blocks_are_of_known_kinds() {
    for guide in GUIDES {
        let bs = blocks(&read(guide));
        assert!(bs.iter().any(|b| b.kind == "sh"), "{guide} runs nothing");
        for b in &bs {
            assert!(
                KINDS.contains(&b.kind.as_str()),
                "{guide}:{}: a ```{} block: give it one of {KINDS:?}",
                b.line,
                b.kind
            );
        }
    }
}

#[test]
fn configurations_pass_the_check() {
    let scratch = Scratch::new();
    let mut checked = 0;
    for (name, _) in examples() {
        assert!(name.ends_with(".toml"), "docs/examples/{name} is not TOML");
        let (code, out) = check_config(&scratch.path(&format!("examples/{name}")));
        assert_eq!(code, 0, "docs/examples/{name}: {out}");
        assert!(out.starts_with("configuration ok: live"), "{name}: {out}");
        checked += 1;
    }
    for guide in GUIDES {
        for (i, b) in blocks(&read(guide)).iter().enumerate() {
            if b.kind != "toml" {
                continue;
            }
            // A [[sensor]] table alone gets the [live] table of the examples.
            let mut text = scratch.moved(&b.body);
            if !text.contains("[live]") {
                text = format!(
                    "[balance]\nalgorithm = \"blb\"\n[live]\ninterfaces = [\"enp3s0f0\"]\n{text}"
                );
            }
            let file = scratch.path(&format!("block-{i}.toml"));
            std::fs::write(&file, text).expect("block");
            let (code, out) = check_config(&file);
            assert_eq!(code, 0, "{guide}:{}: {out}", b.line);
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} configurations");
    // The check checks: a loss source and SNMP on one sensor are refused, naming the key.
    let (_, suricata) = examples()
        .into_iter()
        .find(|(n, _)| n == "suricata-4-sensors.toml")
        .expect("the Suricata example");
    let broken = scratch.moved(&suricata).replacen(
        "suricata_eve = ",
        "snmp = \"127.0.0.1:161\"\nsuricata_eve = ",
        1,
    );
    let file = scratch.path("broken.toml");
    std::fs::write(&file, broken).expect("broken");
    let (code, out) = check_config(&file);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("suricata_eve and snmp"), "{out}");
}

#[test]
fn offline_commands_run() {
    let scratch = Scratch::new();
    for guide in GUIDES {
        for b in blocks(&read(guide)) {
            if b.kind != "sh" || b.body.starts_with(LIVE) {
                continue;
            }
            let o = Command::new("bash")
                .args(["-c", &script(&scratch, &b.body)])
                .env("PATH", path_with_blb())
                .current_dir(repo())
                .output()
                .expect("bash runs");
            assert!(
                o.status.success(),
                "{guide}:{}: {}\n{}{}",
                b.line,
                b.body,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// Every sample and family name blb's metrics endpoint writes, from a snapshot in which
/// every optional family has a row.
fn metric_names() -> Vec<String> {
    let sensor = SensorSnap {
        reported_load: Some((10.0, 1.0)),
        loss: Some(FeedStatus {
            loss_percent: Some(1.0),
            worst_worker_percent: Some(2.0),
            ..Default::default()
        }),
        ..Default::default()
    };
    let snap = Snapshot {
        sensors: vec![sensor],
        capture: vec![CaptureSnap {
            interface: "enp3s0f0".into(),
            ..Default::default()
        }],
        drops: vec![("bypassed", 1)],
        balancer: vec![("clusters_live", 1)],
        ..Default::default()
    };
    let m = Metrics {
        names: vec!["s".into()],
        counters: vec![Arc::new(Default::default())],
        snapshot: Arc::new(Mutex::new(Snapshot::default())),
        algorithm: "blb",
    };
    let text = m.render(&snap).expect("renders");
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| match l.strip_prefix("# TYPE ") {
            Some(t) => t.split(' ').next(),
            None if l.starts_with('#') => None,
            None => l.split(['{', ' ']).next(),
        })
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn metric_names_exist() {
    let known = metric_names();
    assert!(known.len() > 40, "{known:?}");
    for guide in GUIDES {
        let text = read(guide);
        let mut named = 0;
        for (at, _) in text.match_indices("blb_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // A grep pattern `blb_sensor_(up|load_percent)` names each alternative.
            let rest = &text[at + name.len()..];
            let names: Vec<String> = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
                Some((alts, _)) => alts.split('|').map(|a| format!("{name}{a}")).collect(),
                None => vec![name],
            };
            for name in names {
                assert!(
                    known.contains(&name),
                    "{guide} names {name}, which blb does not expose; it has {known:?}"
                );
                named += 1;
            }
        }
        assert!(named >= 10, "{guide} names only {named} metrics");
    }
}

/// One guide's session: its root blocks, in order, in a lab with the tap interface.
fn session(guide: &str) {
    let Some(lab) = Lab::new(&["curl", "jq", "openssl", "bash"]) else {
        return;
    };
    lab.veth("enp3s0f0", "tapfeed");
    let scratch = Scratch::new();
    let mut blb: Option<Proc> = None;
    for b in blocks(&read(guide)) {
        if b.kind != "sh" || !b.body.starts_with(LIVE) {
            continue;
        }
        let lines: Vec<&str> = b.body.lines().skip(1).collect();
        if let [only] = lines.as_slice()
            && let Some(args) = only.strip_prefix("blb balance ")
            && !args.contains("--check-config")
        {
            let moved = scratch.moved(args);
            let args: Vec<&str> = moved.split_whitespace().collect();
            assert!(blb.is_none(), "{guide}:{}: blb started twice", b.line);
            blb = Some(lab.blb(&args));
            println!("$ blb balance {}\n(started)", args.join(" "));
            continue;
        }
        let o = lab
            .cmd(&["bash", "-c", &script(&scratch, &b.body)])
            .env("PATH", path_with_blb())
            .current_dir(repo())
            .output()
            .expect("bash runs");
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        println!("{}{out}{err}", b.body);
        assert!(
            o.status.success(),
            "{guide}:{}: failed\n{}{out}{err}\nblb said:\n{}",
            b.line,
            b.body,
            blb.as_ref().map(|p| p.stderr()).unwrap_or_default()
        );
    }
    let mut blb = blb.unwrap_or_else(|| panic!("{guide} never starts blb"));
    let status = blb.stop("INT");
    assert!(status.success(), "blb exited {status}:\n{}", blb.stderr());
}

#[test]
fn suricata_session() {
    session("docs/suricata.md");
}

#[test]
fn zeek_session() {
    session("docs/zeek.md");
}
