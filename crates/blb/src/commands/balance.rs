//! `blb balance`: split a capture across sensors.

use crate::cli::BalanceArgs;
use crate::pipeline;
use crate::settings::BalanceSettings;

/// Run the subcommand: summary to where `--summary` says (and a short text on stderr), error
/// if the input stopped early.
pub fn run(args: &BalanceArgs) -> anyhow::Result<()> {
    let settings = BalanceSettings::from_args(args)?;
    if args.check_config {
        print!("{}", checked(&settings));
        return Ok(());
    }
    if let Some(to) = settings.summary.as_deref().filter(|p| p.as_os_str() != "-") {
        check_summary(to, &settings.write_dir)?;
    }
    let outcome = match &settings.live {
        Some(live) => {
            init_logging(live.log_format);
            crate::live::run(&settings)?
        }
        None => pipeline::balance(&settings)?,
    };
    if let Some(to) = &settings.summary {
        outcome.summary.write_json(to)?;
    }
    let to_stdout = settings
        .summary
        .as_deref()
        .is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        eprint!("{}", outcome.summary.text());
    }
    match outcome.input_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What `--check-config` prints: the run the settings describe, one line per sensor.
fn checked(s: &BalanceSettings) -> String {
    use crate::live::settings::Delivery;
    let Some(live) = &s.live else {
        return format!(
            "configuration ok: {} over {} sensors, reading {}, writing {}\n",
            s.algorithm.name(),
            s.engine.sensors,
            s.read.display(),
            s.write_dir.display()
        );
    };
    let shown = |a: Option<std::net::SocketAddr>| a.map_or("off".to_string(), |a| a.to_string());
    let mut out = format!(
        "configuration ok: live, {} over {} sensors, capturing on {}; metrics {}, control {} ({})\n",
        s.algorithm.name(),
        live.sensors.len(),
        live.interfaces.join(", "),
        shown(live.metrics),
        shown(live.control),
        if live.control_token.is_some() {
            "token set"
        } else {
            "no token: read only"
        }
    );
    for (i, sensor) in live.sensors.iter().enumerate() {
        let to = match &sensor.delivery {
            Delivery::Interface { name, .. } => format!("interface {name}"),
            Delivery::Pcap { path, .. } => format!("pcap {}", path.display()),
            Delivery::Vxlan {
                destination, vni, ..
            } => format!("vxlan {destination} vni {vni}"),
        };
        let load = match (&sensor.snmp, sensor.push, &sensor.loss) {
            (Some(snmp), _, _) => format!("snmp {}", snmp.agent),
            (_, true, _) => "push".to_string(),
            (_, _, Some(loss)) => loss.source.describe(),
            _ => "estimate only".to_string(),
        };
        let capacity = s.engine.capacities.get(i).copied().unwrap_or(0.0);
        out += &format!(
            "  sensor {i} {}: {to}; capacity {} B/s; load from {load}\n",
            sensor.name,
            crate::names::num(capacity)
        );
    }
    out
}

/// An unwritable summary is found now rather than after the whole run (it is written at the
/// end). A summary inside the write directory may wait for the run to make that directory;
/// a file made only to check is removed.
fn check_summary(to: &std::path::Path, write_dir: &std::path::Path) -> anyhow::Result<()> {
    let dir = to.parent().filter(|d| !d.as_os_str().is_empty());
    let made_later = |d: &std::path::Path| {
        !d.exists() && !write_dir.as_os_str().is_empty() && d.starts_with(write_dir)
    };
    if dir.is_some_and(made_later) {
        return Ok(());
    }
    let existed = to.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(to)
        .map_err(|e| crate::error::usage(format!("cannot write summary {}: {e}", to.display())))?;
    if !existed {
        let _ = std::fs::remove_file(to);
    }
    Ok(())
}

/// Structured logs on standard error; `RUST_LOG` sets the level (default `info`).
fn init_logging(format: crate::live::settings::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: a journal or a file gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        crate::live::settings::LogFormat::Json => builder.json().try_init(),
        crate::live::settings::LogFormat::Text => builder.try_init(),
    };
}
