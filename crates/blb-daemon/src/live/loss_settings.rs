//! The `[[sensor]]` keys of a sensor's own loss source: `suricata_eve`, `suricata_socket` or
//! `zeek_capture_loss` (one of them, instead of `snmp` or `push`), `zeek_peer`, and the
//! `loss_*` settings, checked with one sentence per mistake naming the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use blb_core::overload::LossConfig;

use crate::config::SensorSection;
use crate::error::usage;

/// Longest path a unix socket address holds (`sun_path` less its terminating zero).
const MAX_SOCKET_PATH: usize = 107;

/// Where a sensor's loss figures come from.
#[derive(Clone, Debug, PartialEq)]
pub enum LossSource {
    /// Suricata's EVE log, tailed for its `stats` records.
    SuricataEve(PathBuf),
    /// Suricata's unix command socket, polled with `dump-counters`.
    SuricataSocket(PathBuf),
    /// Zeek's `capture_loss.log`, tailed; only the records of `peer` when given.
    ZeekCaptureLoss {
        /// The log.
        path: PathBuf,
        /// The Zeek peer whose records count.
        peer: Option<String>,
    },
}

impl LossSource {
    /// The configuration key that names it.
    pub fn key(&self) -> &'static str {
        match self {
            LossSource::SuricataEve(_) => "suricata_eve",
            LossSource::SuricataSocket(_) => "suricata_socket",
            LossSource::ZeekCaptureLoss { .. } => "zeek_capture_loss",
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        match self {
            LossSource::SuricataEve(p) | LossSource::SuricataSocket(p) => p,
            LossSource::ZeekCaptureLoss { path, .. } => path,
        }
    }

    /// `key path` (and the peer), for logs and the summary.
    pub fn describe(&self) -> String {
        match self {
            LossSource::ZeekCaptureLoss {
                path,
                peer: Some(p),
            } => format!("zeek_capture_loss {} (peer {p})", path.display()),
            other => format!("{} {}", other.key(), other.path().display()),
        }
    }
}

/// A sensor's loss source and how its figures become an overload state.
#[derive(Clone, Debug, PartialEq)]
pub struct LossSpec {
    /// The source.
    pub source: LossSource,
    /// Time between reads (and reports).
    pub interval: Duration,
    /// Levels, samples, window, staleness.
    pub config: LossConfig,
}

/// The loss source of the `[[sensor]]` table `s` (named `at` in errors), if it has one.
/// `report_stale_after` is the engine's, in seconds: reports must come more often.
pub fn loss(
    at: &str,
    s: &SensorSection,
    report_stale_after: f64,
) -> anyhow::Result<Option<LossSpec>> {
    let sources = [
        ("suricata_eve", &s.suricata_eve),
        ("suricata_socket", &s.suricata_socket),
        ("zeek_capture_loss", &s.zeek_capture_loss),
    ];
    let given: Vec<(&str, &PathBuf)> = sources
        .iter()
        .filter_map(|(k, p)| p.as_ref().map(|p| (*k, p)))
        .collect();
    if given.len() > 1 {
        return Err(usage(format!(
            "{at}: {} and {} are alternatives; keep one",
            given[0].0, given[1].0
        )));
    }
    let settings = [
        ("loss_interval", s.loss_interval.is_some()),
        ("loss_stale_after", s.loss_stale_after.is_some()),
        ("loss_enter_percent", s.loss_enter_percent.is_some()),
        ("loss_release_percent", s.loss_release_percent.is_some()),
        ("loss_samples", s.loss_samples.is_some()),
    ];
    let Some(&(key, path)) = given.first() else {
        if let Some((k, _)) = settings.iter().find(|(_, set)| *set) {
            return Err(usage(format!(
                "{at}: {k} needs a loss source: suricata_eve, suricata_socket or zeek_capture_loss"
            )));
        }
        if s.zeek_peer.is_some() {
            return Err(usage(format!("{at}: zeek_peer needs zeek_capture_loss")));
        }
        return Ok(None);
    };
    if s.snmp.is_some() || s.push == Some(true) {
        let other = if s.snmp.is_some() {
            "snmp"
        } else {
            "push = true"
        };
        return Err(usage(format!(
            "{at}: {key} and {other} both give the sensor's load; keep one"
        )));
    }
    if path.as_os_str().is_empty() {
        return Err(usage(format!("{at}: {key} is empty; give the path")));
    }
    if s.zeek_peer.is_some() && key != "zeek_capture_loss" {
        return Err(usage(format!("{at}: zeek_peer needs zeek_capture_loss")));
    }
    if s.zeek_peer.as_deref().is_some_and(str::is_empty) {
        return Err(usage(format!("{at}: zeek_peer is empty")));
    }
    let source = match key {
        "suricata_eve" => LossSource::SuricataEve(path.clone()),
        "suricata_socket" => {
            let len = path.as_os_str().len();
            if len > MAX_SOCKET_PATH {
                return Err(usage(format!(
                    "{at}: suricata_socket is {len} bytes long; a unix socket path holds at most {MAX_SOCKET_PATH}"
                )));
            }
            LossSource::SuricataSocket(path.clone())
        }
        _ => LossSource::ZeekCaptureLoss {
            path: path.clone(),
            peer: s.zeek_peer.clone(),
        },
    };
    let mut config = match source {
        LossSource::ZeekCaptureLoss { .. } => LossConfig::zeek(),
        _ => LossConfig::suricata(),
    };
    let interval = super::settings::duration(
        &format!("{at} loss_interval"),
        s.loss_interval.unwrap_or(2.0),
    )?;
    if interval.as_secs_f64() >= report_stale_after {
        return Err(usage(format!(
            "{at}: loss_interval ({} s) must be shorter than [live] report_stale_after ({} s), or its reports lapse between two reads",
            crate::names::num(interval.as_secs_f64()),
            crate::names::num(report_stale_after)
        )));
    }
    if let Some(v) = s.loss_stale_after {
        config.stale_after =
            super::settings::duration(&format!("{at} loss_stale_after"), v)?.as_nanos() as u64;
    }
    if config.stale_after <= interval.as_nanos() as u64 {
        return Err(usage(format!(
            "{at}: loss_stale_after ({} s) must be longer than loss_interval ({} s)",
            crate::names::num(config.stale_after as f64 / 1e9),
            crate::names::num(interval.as_secs_f64())
        )));
    }
    if let Some(v) = s.loss_enter_percent {
        config.enter_percent = v;
        // A release level left at its default must not exceed a lower enter level.
        if s.loss_release_percent.is_none() {
            config.release_percent = config.release_percent.min(v);
        }
    }
    if let Some(v) = s.loss_release_percent {
        config.release_percent = v;
    }
    if let Some(v) = s.loss_samples {
        config.samples = v;
    }
    config
        .validate()
        .map_err(|e| usage(format!("{at}: {} {}", e.setting(), e.reason())))?;
    Ok(Some(LossSpec {
        source,
        interval,
        config,
    }))
}
