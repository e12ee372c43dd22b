//! `blb detect`: the source-address CUSUM over one capture, as CSV (interval, new sources, X,
//! Y, alarm), and the first alarm's time.

use std::io::Write;

use anyhow::Context;
use blb_detect::{AddressDb, AddressDbConfig, Cusum, CusumConfig};

use crate::cli::DetectArgs;
use crate::error::usage;
use crate::pipeline::for_each_packet;

/// Run the subcommand.
pub fn run(a: &DetectArgs) -> anyhow::Result<()> {
    let mut cfg = CusumConfig::default();
    if let Some(v) = a.interval {
        cfg.interval_secs = v;
    }
    if let Some(v) = a.c {
        cfg.c = v;
    }
    if let Some(v) = a.beta {
        cfg.beta = v;
    }
    if let Some(v) = a.threshold {
        cfg.threshold = v;
    }
    cfg.validate().map_err(|e| {
        let blb_detect::DetectError::BadOption { name, reason } = e;
        usage(format!(
            "{} {reason}",
            crate::names::detect_setting(name, a)
        ))
    })?;
    let mut db = AddressDb::new(AddressDbConfig::default()).map_err(|e| usage(e.to_string()))?;
    if let Some(train) = &a.train {
        for_each_packet(train, |p| db.learn(p))?;
    }
    db.finish_training();
    let learned = db.len();
    let mut cusum = Cusum::new(cfg, db, None).map_err(|e| usage(e.to_string()))?;
    let mut last = 0;
    for_each_packet(&a.read, |p| {
        last = last.max(p.ts);
        cusum.observe(p);
    })?;
    cusum.finish(last);
    let mut csv = String::from("interval,start_secs,new_sources,x,y,alarm\n");
    let origin = cusum.origin().unwrap_or(0);
    for iv in cusum.intervals() {
        csv += &format!(
            "{},{:.3},{},{:.4},{:.4},{}\n",
            iv.index,
            iv.start_ts.saturating_sub(origin) as f64 / 1e9,
            iv.new_sources,
            iv.x,
            iv.y,
            u8::from(iv.alarm)
        );
    }
    match &a.write {
        Some(path) => {
            std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(csv.as_bytes())
            .context("cannot write to standard output")?,
    }
    match cusum.first_alarm_secs() {
        Some(t) => eprintln!(
            "first alarm at {t:.0} s (interval {}); {learned} legitimate sources learned",
            (t / cusum.config().interval_secs) as u64
        ),
        None => eprintln!(
            "no alarm (max Y_n {:.2}); {learned} legitimate sources learned",
            cusum.max_y()
        ),
    }
    Ok(())
}
