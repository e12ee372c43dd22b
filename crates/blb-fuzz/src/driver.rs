//! The driver: runs a target over its seeds, then over mutations of them, catching panics
//! (the input is kept in the crashes folder) and hangs (a watchdog keeps the input and
//! aborts the process), and counts executions.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mutate::Mutator;
use crate::targets::Target;

/// Inputs kept (and said) per distinct failure message.
const KEPT_PER_FAILURE: usize = 3;

/// How long one execution may take before it counts as a hang.
pub const HANG: Duration = Duration::from_secs(10);

/// What one target's run found.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Executions.
    pub execs: u64,
    /// Seeds it started from.
    pub seeds: usize,
    /// Inputs that broke an invariant or panicked (kept in the crashes folder: the first
    /// few of each distinct failure).
    pub crashes: Vec<PathBuf>,
    /// Failing executions in all, and how many distinct failures they showed.
    pub failures: (u64, usize),
    /// Wall time, seconds.
    pub secs: f64,
}

/// Limits of one target's run.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Stop after this many executions.
    pub execs: u64,
    /// Or after this long.
    pub time: Duration,
}

/// The input running now, for the watchdog to keep if it hangs.
struct Current {
    target: Mutex<&'static str>,
    input: Mutex<Vec<u8>>,
    started: AtomicU64,
    running: AtomicBool,
}

/// Run `target` within `budget`, mutations seeded with `seed`; crashes go to `crashes`.
pub fn run(
    target: &Target,
    shared: Option<&Path>,
    budget: &Budget,
    seed: u64,
    crashes: &Path,
) -> Outcome {
    // Failures are reported once per input, by us; the default hook would print each.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = run_quietly(target, shared, budget, seed, crashes);
    std::panic::set_hook(previous);
    outcome
}

fn run_quietly(
    target: &Target,
    shared: Option<&Path>,
    budget: &Budget,
    seed: u64,
    crashes: &Path,
) -> Outcome {
    let start = Instant::now();
    let mut seeds = (target.seeds)(shared);
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    let current = Arc::new(Current {
        target: Mutex::new(target.name),
        input: Mutex::new(Vec::new()),
        started: AtomicU64::new(0),
        running: AtomicBool::new(true),
    });
    let watchdog = spawn_watchdog(Arc::clone(&current), crashes.to_path_buf(), start);
    let mut out = Outcome {
        seeds: seeds.len(),
        ..Outcome::default()
    };
    let mut m = Mutator::new(seed ^ name_hash(target.name), target.max_len);
    let mut input = Vec::with_capacity(target.max_len);
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut exec = |input: &[u8], out: &mut Outcome| {
        if let Ok(mut c) = current.input.lock() {
            c.clear();
            c.extend_from_slice(input);
        }
        current
            .started
            .store(start.elapsed().as_millis() as u64 + 1, Ordering::Release);
        let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
        current.started.store(0, Ordering::Release);
        out.execs += 1;
        if let Err(panic) = result {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            out.failures.0 += 1;
            let n = {
                let n = seen.entry(why.clone()).or_insert(0);
                *n += 1;
                *n
            };
            out.failures.1 = seen.len();
            if n <= KEPT_PER_FAILURE
                && let Some(path) = keep(crashes, target.name, input)
            {
                let hex: String = input.iter().take(512).map(|b| format!("{b:02x}")).collect();
                eprintln!(
                    "CRASH {}: {why} (input kept in {}; its first bytes: {hex})",
                    target.name,
                    path.display()
                );
                out.crashes.push(path);
            }
        }
    };
    for s in seeds.iter() {
        exec(s, &mut out);
    }
    while out.execs < budget.execs && start.elapsed() < budget.time {
        let a = &seeds[m.rng.below(seeds.len())];
        let b = &seeds[m.rng.below(seeds.len())];
        m.mutate(a, b, &mut input);
        exec(&input, &mut out);
    }
    current.running.store(false, Ordering::Release);
    let _ = watchdog.join();
    out.secs = start.elapsed().as_secs_f64();
    out
}

/// Watches the execution in progress; past [`HANG`], keeps its input and aborts.
fn spawn_watchdog(
    current: Arc<Current>,
    crashes: PathBuf,
    start: Instant,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while current.running.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(200));
            let began = current.started.load(Ordering::Acquire);
            if began == 0 {
                continue;
            }
            let now = start.elapsed().as_millis() as u64 + 1;
            if now.saturating_sub(began) > HANG.as_millis() as u64 {
                let name = current.target.lock().map(|n| *n).unwrap_or("?");
                let input = current.input.lock().map(|i| i.clone()).unwrap_or_default();
                let kept = keep(&crashes, &format!("{name}-hang"), &input);
                eprintln!(
                    "HANG {name}: one execution ran for more than {} s (input kept in {})",
                    HANG.as_secs(),
                    kept.map_or("nowhere".into(), |p| p.display().to_string())
                );
                std::process::exit(3);
            }
        }
    })
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Keep a failing input as `DIR/NAME-HASH`; its path (None if it cannot be written).
fn keep(dir: &Path, name: &str, input: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{name}-{hash:016x}"));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Run one kept input through its target (to reproduce a crash); the panic propagates.
pub fn replay(target: &Target, input: &[u8]) {
    (target.run)(input);
}
