//! `blb-fuzz`: run the fuzz targets within a budget of executions or time, print executions
//! per target, and exit 1 if any input broke an invariant (3 on a hang).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use blb_fuzz::driver::{self, Budget};
use blb_fuzz::targets;
use clap::Parser;

/// Fuzz blb's parsers and engine in process.
#[derive(Debug, Parser)]
#[command(name = "blb-fuzz", version)]
struct Args {
    /// Targets to run (repeat; default: all). `--list` names them.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
    /// Executions in all, shared evenly among the targets run.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    total_execs: u64,
    /// Seconds in all, shared evenly (a target stops at its share of either budget).
    #[arg(long, value_name = "SECS", default_value_t = 600.0)]
    seconds: f64,
    /// Seed of the mutations (a run is reproducible).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The shared captures folder, for seeds (default ../shared/pcaps when it exists).
    #[arg(long, value_name = "DIR")]
    captures: Option<PathBuf>,
    /// Where failing inputs are kept.
    #[arg(long, value_name = "DIR", default_value = "fuzz-crashes")]
    crashes: PathBuf,
    /// Run one kept input through a target (needs one --target) and show what it does.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let all = targets::all();
    if a.list {
        for t in &all {
            println!("{:<16} {}", t.name, t.about);
        }
        return Ok(());
    }
    let chosen: Vec<_> = if a.targets.is_empty() {
        all.clone()
    } else {
        let mut v = Vec::new();
        for name in &a.targets {
            match all.iter().find(|t| t.name == name) {
                Some(t) => v.push(*t),
                None => bail!("unknown --target '{name}' (--list names them)"),
            }
        }
        v
    };
    if let Some(file) = &a.replay {
        let [t] = chosen.as_slice() else {
            bail!("--replay needs exactly one --target");
        };
        let input =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        driver::replay(t, &input);
        println!("{}: {} passes", t.name, file.display());
        return Ok(());
    }
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        bail!("--seconds must be a positive number, not {}", a.seconds);
    }
    let captures = a
        .captures
        .clone()
        .or_else(|| Some(PathBuf::from("../shared/pcaps")).filter(|p| p.is_dir()));
    if captures.is_none() {
        eprintln!("no shared captures: the capture targets start from built-in seeds only");
    }
    println!(
        "seed {} (run again with --seed {} to repeat this run)",
        a.seed, a.seed
    );
    let share = chosen.len() as u64;
    let budget = Budget {
        execs: a.total_execs.div_ceil(share),
        time: Duration::from_secs_f64(a.seconds / share as f64),
    };
    println!(
        "{:<16} {:>12} {:>8} {:>10} {:>9} {:>9}",
        "target", "execs", "seeds", "execs/s", "failing", "distinct"
    );
    let (mut execs, mut crashes) = (0, 0);
    for t in &chosen {
        let o = driver::run(t, captures.as_deref(), &budget, a.seed, &a.crashes);
        println!(
            "{:<16} {:>12} {:>8} {:>10.0} {:>9} {:>9}",
            t.name,
            o.execs,
            o.seeds,
            o.execs as f64 / o.secs.max(1e-9),
            o.failures.0,
            o.failures.1
        );
        execs += o.execs;
        crashes += o.failures.0;
    }
    println!("{execs} executions in all, {crashes} failing inputs");
    if crashes > 0 {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target runs its seeds and some mutations without a failure (the real runs are
    /// `blb-fuzz` in CI and bench/fuzz.sh).
    #[test]
    fn every_target_survives_a_short_run() {
        let crashes = std::env::temp_dir().join("blb-fuzz-test-crashes");
        let budget = Budget {
            execs: 1500,
            time: Duration::from_secs(60),
        };
        for t in targets::all() {
            let o = driver::run(&t, None, &budget, 7, &crashes);
            assert!(o.execs >= 1500 || o.secs >= 59.0, "{}: {o:?}", t.name);
            assert!(o.crashes.is_empty(), "{}: {:?}", t.name, o.crashes);
        }
    }
}
