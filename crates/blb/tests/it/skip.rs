//! Tests that cannot run on this machine: the one way every test crate of the workspace skips
//! them, loudly, or fails them in CI. (The other crates' tests include this file by path.)
//!
//! A test that needs what a machine may lack (the shared captures beside the repository, a
//! tool, root) asks here first. When it is missing and `BLB_REQUIRE_TOOLS=1` (`.ci/run` sets
//! it), the test fails. Otherwise one line goes straight to the process's standard error,
//! which libtest does not capture (it captures only the `print!` and `eprint!` macros), so
//! the skip shows without `--nocapture`, and the test returns early:
//!
//! ```text
//! SKIPPED truncation::pcap_cut_anywhere [skip 3 in blb-pcap's tests]: no shared captures at …
//! ```
//!
//! The number counts this test binary's skips so far: the last such line of a run is its
//! total.
//!
//! The shared captures are `pcaps` in the folder `shared` beside the repository, or in the
//! folder `BLB_SHARED` names; the recorded sensor output is `sensors` beside them.

// Each test crate uses the part it needs.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Skips so far in this test binary.
static SKIPS: AtomicUsize = AtomicUsize::new(0);

/// True when a test that cannot run must fail (`BLB_REQUIRE_TOOLS=1`, as in CI).
pub fn required() -> bool {
    std::env::var_os("BLB_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

/// `true` when `available`. Otherwise the test fails under `BLB_REQUIRE_TOOLS=1`; elsewhere
/// the skip is reported (`what`: what is missing, and how to get it) and the answer is
/// `false`, on which the test returns.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if required() {
        panic!(
            "!!! {} cannot run and BLB_REQUIRE_TOOLS=1: {what}",
            test_name()
        );
    }
    let n = SKIPS.fetch_add(1, Ordering::Relaxed) + 1;
    say(&format!(
        "SKIPPED {} [skip {n} in {}'s tests]: {what}; BLB_REQUIRE_TOOLS=1 makes this fail",
        test_name(),
        env!("CARGO_PKG_NAME")
    ));
    false
}

/// The running test's name (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}

/// Write `line` to the process's standard error, past libtest's capture (which takes only
/// the `print!` and `eprint!` macros), so that it shows without `--nocapture`.
pub fn say(line: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// The shared folder: `BLB_SHARED`, else `shared` beside the repository.
pub fn shared_root() -> PathBuf {
    match std::env::var_os("BLB_SHARED") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        // CARGO_MANIFEST_DIR is <repository>/crates/<crate>.
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(3)
            .expect("the repository has a parent")
            .join("shared"),
    }
}

/// The shared captures folder, or `None` (after [`require`]) when it is not there.
pub fn pcaps() -> Option<PathBuf> {
    let dir = shared_root().join("pcaps");
    let what = format!(
        "no shared captures at {} (the folder `shared` beside the repository, or \
         BLB_SHARED=DIR)",
        dir.display()
    );
    require(dir.is_dir(), &what).then_some(dir)
}

/// The recorded sensor output folder (`sensors` beside `pcaps`), or `None` (after
/// [`require`]) when it is not there.
pub fn sensors() -> Option<PathBuf> {
    let dir = shared_root().join("sensors");
    let what = format!(
        "no recorded sensor output at {} (the folder `shared` beside the repository, or \
         BLB_SHARED=DIR)",
        dir.display()
    );
    require(dir.is_dir(), &what).then_some(dir)
}

/// Whether `name` is a command on the `PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// `true` when the command `name` is installed; else [`require`]'s answer.
pub fn tool(name: &str) -> bool {
    require(
        on_path(name),
        &format!("{name} is not installed (.ci/run installs it)"),
    )
}

/// Whether this process runs as root (effective user id 0, from /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// `true` when this process runs as root; else [`require`]'s answer (`what` needs root).
pub fn root(what: &str) -> bool {
    require(is_root(), what)
}
