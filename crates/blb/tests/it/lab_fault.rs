//! Failures of the live tests' lab rather than of blb: the test's own tcpdump dropped frames,
//! the kernel dropped them before any capture saw them, tcpreplay could not send them all.
//! A live test returns a [`LabFault`] for these, and [`Lab::run`] runs it again in a fresh
//! lab.

use std::path::Path;

use crate::lab::{Captured, Lab, Proc, read_frames};
use crate::skip;

/// How many times [`Lab::run`] runs a live test whose lab failed it.
pub const ATTEMPTS: usize = 3;

/// A failure of the lab's own instruments, not of blb: the test runs again in a fresh lab.
#[derive(Debug)]
pub struct LabFault(pub String);

/// The outcome of a live test's attempt: `Err` when the lab failed it.
pub type Attempt<T = ()> = Result<T, LabFault>;

/// `Err(LabFault(why))` unless `ok`.
pub fn lab_check(ok: bool, why: impl FnOnce() -> String) -> Attempt {
    if ok { Ok(()) } else { Err(LabFault(why())) }
}

/// Frames the kernel dropped from its per-CPU input backlogs so far (all namespaces): the
/// second column of /proc/net/softnet_stat. A veth hands frames to its peer through this
/// backlog, so a frame lost there never reached any capture.
pub fn backlog_drops() -> u64 {
    let text = std::fs::read_to_string("/proc/net/softnet_stat").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|x| u64::from_str_radix(x, 16).ok())
        .sum()
}

/// The packets a finished tcpreplay sent; a fault when it failed or could not send some.
pub fn replayed(o: &std::process::Output) -> Attempt<u64> {
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    lab_check(o.status.success(), || {
        format!("tcpreplay failed ({}):\n{out}", o.status)
    })?;
    let failed = field(&out, "Failed packets:");
    lab_check(failed == Some(0), || {
        format!("tcpreplay could not send every frame (failed: {failed:?}):\n{out}")
    })?;
    Ok(field(&out, "Successful packets:").unwrap_or_else(|| panic!("no count in:\n{out}")))
}

/// The number after `label` in tcpreplay's report.
fn field(text: &str, label: &str) -> Option<u64> {
    let at = text.find(label)? + label.len();
    text[at..].split_whitespace().next()?.parse().ok()
}

impl Lab {
    /// Run a live test in a fresh lab, again in another (up to [`ATTEMPTS`] in all) while it
    /// ends in a [`LabFault`]; `None` when this machine cannot run live tests (and CI does not
    /// require them). `tools` are the extra commands the test needs. Panics when every
    /// attempt ended in a fault.
    pub fn run<T>(tools: &[&str], mut test: impl FnMut(&Lab) -> Attempt<T>) -> Option<T> {
        let mut faults = Vec::new();
        for attempt in 1..=ATTEMPTS {
            let lab = Lab::new(tools)?;
            match test(&lab) {
                Ok(v) => return Some(v),
                Err(LabFault(why)) => {
                    if attempt < ATTEMPTS {
                        skip::say(&format!(
                            "RETRY {}: attempt {attempt} of {ATTEMPTS} failed in the lab, not in \
                             blb: {}",
                            skip::test_name(),
                            why.lines().next().unwrap_or("")
                        ));
                    }
                    faults.push(format!("attempt {attempt}: {why}"));
                }
            }
        }
        panic!(
            "the lab's own instruments (tcpdump, tcpreplay, the kernel's backlog) failed in \
             every one of {ATTEMPTS} attempts, so blb could not be judged; is the machine very \
             busy?\n{}",
            faults.join("\n")
        );
    }

    /// Stop the test's tcpdumps (all of them, whatever each says); a fault when any lost
    /// frames, or when the kernel dropped frames from its input backlog since the lab began
    /// (then some capture, blb's or the test's, missed them).
    pub fn stop_sniffers<'a>(&self, sniffers: impl IntoIterator<Item = &'a mut Proc>) -> Attempt {
        let faults: Vec<String> = sniffers
            .into_iter()
            .filter_map(|s| s.stop_sniffer().err())
            .map(|LabFault(why)| why)
            .collect();
        lab_check(faults.is_empty(), || faults.join("\n"))?;
        let dropped = backlog_drops().saturating_sub(self.backlog_drops);
        lab_check(dropped == 0, || {
            format!("the kernel dropped {dropped} frames from its input backlogs (softnet_stat)")
        })
    }

    /// The frames the reference tcpdump recorded in `file`; a fault unless they are the
    /// `sent` frames tcpreplay sent.
    pub fn reference_frames(&self, file: &Path, sent: u64) -> Attempt<Vec<Captured>> {
        let arrived = read_frames(file);
        lab_check(arrived.len() as u64 == sent, || {
            format!(
                "the reference capture {} has {} of the {sent} frames tcpreplay sent",
                file.display(),
                arrived.len()
            )
        })?;
        Ok(arrived)
    }
}

impl Proc {
    /// Stop a tcpdump; a fault unless it says it lost nothing (the test's own capture must
    /// be whole): the kernel dropped none of the frames it received, and it wrote all the
    /// others (a tcpdump still behind when the signal came leaves some unwritten). On the
    /// loopback the kernel hands it each frame twice, going out and coming in, and libpcap
    /// keeps one.
    fn stop_sniffer(&mut self) -> Attempt {
        self.stop("INT");
        let text = self.stderr();
        let count = |what: &str| {
            text.lines()
                .find_map(|l| l.strip_suffix(what))
                .and_then(|n| n.trim().parse::<u64>().ok())
        };
        let captured = count(" packets captured");
        let received = count(" packets received by filter");
        let dropped = count(" packets dropped by kernel");
        let copies = if text.contains("listening on lo,") {
            2
        } else {
            1
        };
        let whole = captured.is_some_and(|c| Some(c * copies) == received);
        lab_check(dropped == Some(0) && whole, || {
            let said = text.lines().collect::<Vec<_>>().join(" | ");
            match (dropped, captured, received) {
                (Some(n), _, _) if n > 0 => {
                    format!("the test's own tcpdump dropped {n} frames: {said}")
                }
                (Some(_), Some(c), Some(r)) => format!(
                    "the test's own tcpdump wrote {c} of the {} frames it received: {said}",
                    r / copies
                ),
                _ => format!("the test's own tcpdump did not report its counts: {said}"),
            }
        })
    }
}
