//! Failures of the live tests' lab rather than of blb: the test's own tcpdump dropped frames,
//! the kernel dropped them before any capture saw them, tcpreplay could not send them all.
//! A live test returns a [`LabFault`] for these, and [`crate::lab::Lab::run`] runs it again
//! in a fresh lab.

/// How many times [`crate::lab::Lab::run`] runs a live test whose lab failed it.
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
