//! The test lab of the live tests: a network namespace per test with veth pairs, tcpdump on
//! the sensors' ends, tcpreplay into the capture interface, and blb running inside. The lab
//! removes its namespace and kills its processes when dropped, even when the test fails.
//!
//! The lab's own instruments can fail on a busy machine: its tcpdump drops frames, the kernel
//! drops them before any capture sees them, tcpreplay cannot send them all. That says nothing
//! about blb, so a live test runs in [`Lab::run`], which runs it again in a fresh lab (up to
//! [`crate::lab_fault::ATTEMPTS`] times) when the test returns a
//! [`crate::lab_fault::LabFault`]; blb's own losses, splits and miscounts fail the test at
//! once.
//!
//! The namespace has IPv6 disabled before any link exists, so the kernel sends nothing of its
//! own: every frame on a wire is one the test or blb sent. Addresses exist only on the
//! namespace's loopback.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blb_pcap::CaptureReader;

use crate::lab_fault::backlog_drops;

/// The balancing workers of the live tests' blb: `BLB_TEST_WORKERS`, else 2.
pub fn workers() -> usize {
    std::env::var("BLB_TEST_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|k| *k >= 1)
        .unwrap_or(2)
}
pub use crate::lab_fault::{Attempt, lab_check, replayed};
use crate::skip;

/// tcpdump's snap length. With `--immediate-mode` libpcap uses a TPACKET_V2 ring of fixed
/// slots sized by the snap length: 64 KiB each with `-s 0`, so 1 023 frames in 64 MiB, which
/// a stall of a tenth of a second at 10 000 frames per second fills. 8 110 bytes is the most an
/// 8 KiB slot holds, and more than the largest frame of these tests (6 197 bytes, 6 247 in
/// VXLAN); [`read_frames`] fails on a cut frame.
const SNAPLEN: &str = "8110";

/// tcpdump's buffer, KiB (`-B`): 16 384 slots, 1.6 s of frames at 10 000 per second.
const SNIFF_BUFFER_KIB: &str = "131072";

static COUNTER: AtomicUsize = AtomicUsize::new(0);
/// One lab at a time: live tests measure real-time delivery on two cores, and several labs
/// at once would make the test's own captures drop frames.
static SERIAL: Mutex<()> = Mutex::new(());

/// A process whose standard error lines are collected.
pub struct Proc {
    /// The child.
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    news: mpsc::Receiver<String>,
    /// The thread collecting the lines; it ends when the pipe does.
    reader: std::thread::JoinHandle<()>,
}

impl Proc {
    fn spawn(mut cmd: Command, what: &str) -> Proc {
        cmd.stdin(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, news) = mpsc::channel();
        let keep = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().expect("lines").push(line.clone());
                let _ = tx.send(line);
            }
        });
        Proc {
            child,
            lines,
            news,
            reader,
        }
    }

    /// Wait until a stderr line contains `text`; panics after `timeout` with what was said.
    pub fn wait_for(&self, text: &str, timeout: Duration) {
        let end = Instant::now() + timeout;
        if self.said(text) {
            return;
        }
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.news.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("'{text}' did not appear; stderr was:\n{}", self.stderr());
    }

    fn said(&self, text: &str) -> bool {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains(text))
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Send a signal and wait for the exit (killed after 20 s).
    pub fn stop(&mut self, signal: &str) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // The reader thread takes the last lines before the pipe ends, however long
                // a busy machine makes it wait (but a child the process left holding the
                // pipe does not hold the test up).
                let end = Instant::now() + Duration::from_secs(20);
                while !self.reader.is_finished() && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!(
                    "the process did not stop on SIG{signal}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A network namespace with veth pairs, deleted on drop.
pub struct Lab {
    /// The namespace's name.
    pub ns: String,
    /// Scratch directory.
    pub dir: tempfile::TempDir,
    /// [`backlog_drops`] when the lab was made.
    pub(crate) backlog_drops: u64,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Lab {
    /// A fresh lab, or `None` when this machine cannot run live tests (and CI does not
    /// require them). `tools` are the extra commands the test needs.
    pub(crate) fn new(tools: &[&str]) -> Option<Lab> {
        if !skip::root("live tests need root (network namespaces, AF_PACKET)") {
            return None;
        }
        if !["ip", "tcpdump", "tcpreplay"]
            .iter()
            .chain(tools)
            .all(|t| skip::tool(t))
        {
            return None;
        }
        let ns = format!(
            "blbt-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let ok = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .is_ok_and(|s| s.success());
        if !skip::require(ok, &format!("cannot create network namespace {ns}")) {
            return None;
        }
        let lab = Lab {
            ns,
            dir: tempfile::tempdir().expect("tempdir"),
            backlog_drops: backlog_drops(),
            _serial: serial,
        };
        lab.sh(&[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        lab.sh(&["ip", "link", "set", "lo", "up"]);
        Some(lab)
    }

    /// A command run inside the namespace.
    pub fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(argv);
        c
    }

    /// Run a command inside the namespace; panics when it fails.
    pub fn sh(&self, argv: &[&str]) -> String {
        let o = self.cmd(argv).output().expect("ip netns exec runs");
        assert!(
            o.status.success(),
            "{argv:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A veth pair `a`–`b`, both up and ready, MTU 9000.
    pub fn veth(&self, a: &str, b: &str) {
        self.sh(&["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
        for x in [a, b] {
            self.sh(&["ip", "link", "set", x, "mtu", "9000", "up"]);
        }
        self.settle(a);
        self.settle(b);
    }

    /// Wait until `iface` is ready to carry frames. The kernel turns a link's carrier on,
    /// and gives it a working queueing discipline, asynchronously (linkwatch, which a busy
    /// machine delays); until then the `noop` discipline drops what is sent on it, and the
    /// sender is told it went out.
    pub fn settle(&self, iface: &str) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let shown = self.sh(&["ip", "link", "show", iface]);
            if shown.contains("state UP") && !shown.contains("qdisc noop") {
                return;
            }
            assert!(
                Instant::now() < end,
                "{iface} is not ready after 30 s:\n{shown}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// tcpdump on `iface` writing `file`, started and listening.
    pub fn sniff(&self, iface: &str, file: &Path, filter: &[&str]) -> Proc {
        let mut argv = vec![
            "tcpdump",
            "-i",
            iface,
            "-n",
            "-U",
            "--immediate-mode",
            "-B",
            SNIFF_BUFFER_KIB,
            "-s",
            SNAPLEN,
            "-w",
            file.to_str().expect("utf-8"),
        ];
        argv.extend_from_slice(filter);
        let p = Proc::spawn(self.cmd(&argv), "tcpdump");
        p.wait_for("listening on", Duration::from_secs(10));
        p
    }

    /// `blb balance` inside the namespace with `args`, started (its capture is open). Unless
    /// `args` choose them, it runs [`workers`] balancing workers (libpcap: always one).
    pub fn blb(&self, args: &[&str]) -> Proc {
        let mut argv = vec![env!("CARGO_BIN_EXE_blb"), "balance"];
        argv.extend_from_slice(args);
        let k = workers().to_string();
        if !args.contains(&"--workers") && !args.windows(2).any(|w| w == ["--backend", "pcap"]) {
            argv.extend_from_slice(&["--workers", &k]);
        }
        let mut cmd = self.cmd(&argv);
        cmd.env("RUST_LOG", "info").stdout(Stdio::null());
        let p = Proc::spawn(cmd, "blb");
        p.wait_for("live balancing started", Duration::from_secs(20));
        p
    }

    /// tcpreplay `files` into `iface` (`pps`: a fixed rate, else the captures' own timing).
    /// Returns the packets it sent; a fault when it failed or could not send some.
    pub fn replay(&self, iface: &str, files: &[&Path], pps: Option<u32>) -> Attempt<u64> {
        let rate = pps.map(|p| format!("--pps={p}"));
        let mut argv = vec!["tcpreplay", "-i", iface];
        if let Some(r) = &rate {
            argv.push(r);
        }
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        argv.extend(names.iter().map(String::as_str));
        replayed(&self.cmd(&argv).output().expect("tcpreplay runs"))
    }

    /// `curl` inside the namespace: (HTTP status, body).
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        let mut argv = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}"];
        argv.extend_from_slice(args);
        let o = self.cmd(&argv).output().expect("curl runs");
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Processes still running in the namespace would keep interfaces alive.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// One frame of a capture.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Captured {
    /// Timestamp, nanoseconds.
    pub ts: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Every frame of a capture file (empty when the file does not exist); panics on a frame cut
/// short (a snap length too small for it).
pub fn read_frames(path: &Path) -> Vec<Captured> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut r = CaptureReader::new(std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(p) = r
        .next_packet()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        assert_eq!(
            p.data.len() as u64,
            u64::from(p.wire_len),
            "{}: frame {} was cut (tcpdump's snap length {SNAPLEN} is too small for it?)",
            path.display(),
            out.len() + 1
        );
        out.push(Captured {
            ts: p.ts_nanos,
            data: p.data.to_vec(),
        });
    }
    out
}

/// How many times each frame occurs.
pub fn multiset<'a>(frames: impl IntoIterator<Item = &'a Captured>) -> HashMap<&'a [u8], u64> {
    let mut m = HashMap::new();
    for f in frames {
        *m.entry(f.data.as_slice()).or_default() += 1;
    }
    m
}

/// The value of a Prometheus sample `name{labels}` in `text` (labels as written).
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(sample)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

// --- helpers of the live tests --------------------------------------------------------

/// Write a configuration file in the lab.
pub fn write_config(lab: &Lab, text: &str) -> PathBuf {
    let cfg = lab.path("blb.toml");
    std::fs::write(&cfg, text).expect("config");
    cfg
}

pub fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// GET `url` inside the namespace; panics unless it answers 200.
pub fn get(lab: &Lab, url: &str) -> String {
    let (code, body) = lab.curl(&[url]);
    assert_eq!(code, 200, "GET {url}: {body}");
    body
}

/// POST to `url` inside the namespace with an optional bearer token and body.
pub fn post(lab: &Lab, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut args = vec!["-X", "POST"];
    if let Some(a) = &auth {
        args.extend(["-H", a.as_str()]);
    }
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: text/plain", "--data-binary", b]);
    }
    args.push(url);
    lab.curl(&args)
}

/// The parsed `/status` document.
pub fn status(lab: &Lab, port: u16) -> serde_json::Value {
    let body = get(lab, &format!("http://127.0.0.1:{port}/status"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
}

/// Poll `fetch` until `ok` holds for what it returns; panics after `within` with the last
/// value.
pub fn poll<T: std::fmt::Debug>(
    what: &str,
    within: Duration,
    mut fetch: impl FnMut() -> T,
    ok: impl Fn(&T) -> bool,
) -> T {
    let end = Instant::now() + within;
    loop {
        let v = fetch();
        if ok(&v) {
            return v;
        }
        if Instant::now() > end {
            panic!("{what} did not happen within {within:?}; last seen:\n{v:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Poll the metrics endpoint until `ok` holds for its text; returns that text.
pub fn wait_metrics(lab: &Lab, port: u16, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = poll(
        what,
        Duration::from_secs(10),
        || lab.curl(&[&url]),
        |(code, body)| *code == 200 && ok(body),
    );
    text.1
}

/// A sensor's sample of metric `name`.
pub fn sensor_metric(text: &str, name: &str, sensor: &str) -> Option<f64> {
    metric(text, &format!("{name}{{sensor=\"{sensor}\"}}"))
}

/// Assert that the frames of `outputs` together are exactly `arrived` (as multisets).
pub fn assert_same_frames(outputs: &[&[Captured]], arrived: &[Captured], what: &str) {
    let got = multiset(outputs.iter().flat_map(|o| o.iter()));
    let want = multiset(arrived);
    let missing = want.iter().filter(|(f, n)| got.get(*f) != Some(n)).count();
    let extra = got.keys().filter(|f| !want.contains_key(*f)).count();
    assert!(
        got == want,
        "{what}: {missing} distinct arrived frames came out a different number of times, \
         {extra} distinct frames came out that never arrived (out {} frames, arrived {})",
        outputs.iter().map(|o| o.len()).sum::<usize>(),
        arrived.len()
    );
}

impl Lab {
    /// `n` sensor veth pairs `sN`–`sNp`; returns their `[[sensor]]` tables.
    pub fn interface_sensors(&self, n: usize) -> String {
        let mut config = String::new();
        for i in 0..n {
            self.veth(&format!("s{i}"), &format!("s{i}p"));
            config += &format!("[[sensor]]\ninterface = \"s{i}\"\n");
        }
        config
    }

    /// tcpdump on each sensor's far end `sNp`, writing `sN.pcap`.
    pub fn sniff_sensors(&self, n: usize) -> Vec<Proc> {
        (0..n)
            .map(|i| self.sniff(&format!("s{i}p"), &self.path(&format!("s{i}.pcap")), &[]))
            .collect()
    }

    /// The frames each sensor's far end recorded.
    pub fn sensor_frames(&self, n: usize) -> Vec<Vec<Captured>> {
        (0..n)
            .map(|i| read_frames(&self.path(&format!("s{i}.pcap"))))
            .collect()
    }

    /// `blb balance -i in0 -a ALGORITHM` with `config` and `extra` flags, started; returns
    /// blb and where its summary will be.
    pub fn balance(&self, algorithm: &str, config: &str, extra: &[&str]) -> (Proc, PathBuf) {
        let cfg = write_config(self, config);
        let summary = self.path("summary.json");
        let mut args = vec![
            "-i",
            "in0",
            "-a",
            algorithm,
            "--config",
            utf8(&cfg),
            "--summary",
            utf8(&summary),
        ];
        args.extend_from_slice(extra);
        (self.blb(&args), summary)
    }
}
