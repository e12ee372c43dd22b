//! `blb generate`: write a deterministic traffic scenario as a pcap file (Ethernet,
//! microsecond timestamps).

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context;
use blb_gen::{FrameSink, GenOptions, Scenario};
use blb_pcap::{PcapWriter, TsPrecision};

use crate::cli::GenerateArgs;
use crate::config::ConfigFile;
use crate::error::usage;

/// Adapts a pcap writer to the generator's frame sink.
struct PcapSink<W: Write>(PcapWriter<W>);

impl<W: Write> FrameSink for PcapSink<W> {
    fn frame(&mut self, ts_nanos: u64, frame: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        self.0
            .write_packet(ts_nanos, len, frame)
            .map_err(std::io::Error::other)
    }
}

/// Only the `[generate]` table of a configuration file, as the generator's options.
#[derive(serde::Deserialize)]
struct GenerateTable {
    #[serde(default)]
    generate: Option<GenOptions>,
}

/// The `[generate]` options of a configuration file (the defaults without the table). The
/// whole file is checked first, as every subcommand checks it; the table is then read again
/// from the text so that an error in it keeps its line and caret.
fn file_options(path: &std::path::Path) -> anyhow::Result<GenOptions> {
    ConfigFile::load(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage(format!(
            "cannot read configuration file {}: {e}",
            path.display()
        ))
    })?;
    let table: GenerateTable = toml::from_str(&text).map_err(|e| {
        usage(format!(
            "configuration file {}: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })?;
    Ok(table.generate.unwrap_or_default())
}

/// The generator options: defaults, then the configuration's `[generate]`, then flags.
pub fn options(args: &GenerateArgs) -> anyhow::Result<GenOptions> {
    let mut o = match &args.config {
        Some(path) => file_options(path)?,
        None => GenOptions::default(),
    };
    if let Some(v) = args.seed {
        o.seed = v;
    }
    if let Some(v) = args.duration {
        o.duration_secs = v;
    }
    if let Some(v) = args.training {
        o.training_secs = v;
    }
    if let Some(v) = args.attackers {
        o.attackers = v;
    }
    if let Some(v) = args.join_rate {
        o.attacker_join_rate = v;
    }
    if let Some(v) = args.attack_rate {
        o.attack_rate_bytes = v;
    }
    if let Some(v) = args.packet_size {
        o.packet_size = v as usize;
    }
    if args.ports_per_packet {
        o.random_ports_per_packet = true;
    }
    if let Some(v) = args.background_rate {
        o.background_rate = v;
    }
    if let Some(v) = args.syn_rate {
        o.syn_rate = v;
    }
    if let Some(v) = args.elephant_rate {
        o.elephant_rate_bytes = v;
    }
    if let Some(v) = args.sweep_rate {
        o.sweep_rate = v;
    }
    Ok(o)
}

/// A generator error naming the flag or `[generate]` key the user wrote.
pub fn gen_error(e: &blb_gen::GenError, args: &GenerateArgs) -> anyhow::Error {
    match e {
        blb_gen::GenError::BadOption { name, reason } => usage(format!(
            "{} {reason}",
            crate::names::generate_setting(name, args)
        )),
        other => usage(other.to_string()),
    }
}

/// Run the subcommand.
pub fn run(args: &GenerateArgs) -> anyhow::Result<()> {
    let scenario: Scenario = args.scenario.parse().map_err(|e: String| usage(e))?;
    let opts = options(args)?;
    opts.validate(scenario).map_err(|e| gen_error(&e, args))?;
    let path = &args.write;
    let to_stdout = path.as_os_str() == "-";
    let out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
    };
    let writer = PcapWriter::new(
        BufWriter::with_capacity(1 << 20, out),
        1,
        TsPrecision::Micro,
        65_535,
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    let mut sink = PcapSink(writer);
    let report = blb_gen::generate(scenario, &opts, &mut sink)
        .with_context(|| format!("cannot write {}", path.display()))?;
    sink.0
        .flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    if !to_stdout {
        eprintln!(
            "{}: {} packets, {} bytes, {:.1} s of {} (seed {})",
            path.display(),
            report.packets,
            report.bytes,
            report.duration_secs,
            scenario.name(),
            opts.seed
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_configuration_gives_the_default_options() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../blb.example.toml");
        let o = file_options(std::path::Path::new(path)).expect("the example parses");
        assert_eq!(o, GenOptions::default());
    }

    #[test]
    fn a_wrong_generate_key_is_named_with_its_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[generate]\nseed = 1\nsyn_rate = \"fast\"\n").expect("write");
        let e = file_options(&path).unwrap_err().to_string();
        assert!(
            e.contains("syn_rate") && e.contains('^') && e.contains("g.toml"),
            "{e}"
        );
    }
}
