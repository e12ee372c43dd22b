//! The offline pipeline of `blb balance`: read a capture, parse each frame, let the engine
//! decide, write each packet to its sensors' captures.

pub mod held;
pub mod output;
mod writer_thread;

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use blb_core::Engine;
use std::collections::HashSet;

use blb_core::balancer::Balancer;
use blb_core::blb::{BlbBalancer, FlowPoint};
use blb_core::flow_key::{FlowKey, KeyOptions};
use blb_core::hold::{Decision, HoldHandle};
use blb_core::sensor::SensorSet;
use blb_core::stats::DropReason;
use blb_pcap::CaptureReader;
use blb_wire::Tunnels;

use crate::settings::{Algorithm, BalanceSettings, KeySource};
use crate::summary::Summary;
use held::HeldFrames;
use output::{SensorFiles, Written};

/// Packets between progress-bar updates.
const PROGRESS_EVERY: u64 = 1 << 16;

/// The outcome of a run: the summary, and the input error that cut it short, if any.
pub struct Outcome {
    /// What happened.
    pub summary: Summary,
    /// The error that stopped reading (the packets before it were written).
    pub input_error: Option<anyhow::Error>,
}

/// Open the input: a file, or standard input for `-`.
pub fn open_input(path: &Path) -> anyhow::Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    if path.is_dir() {
        return Err(crate::error::usage(format!(
            "{} is a directory, not a capture file",
            path.display()
        )));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), len))
}

/// Run `blb balance` with checked settings. Errors before the first packet (unreadable input,
/// bad capture header, unwritable output) are returned as errors; an error while reading
/// packets stops the run, and the outcome carries it after every packet before it was written.
pub fn balance(settings: &BalanceSettings) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let name = settings.read.display().to_string();
    let (input, len) = open_input(&settings.read)?;
    let mut reader =
        CaptureReader::new(input).with_context(|| format!("{name}: cannot read the capture"))?;
    let balancer = build_balancer(settings)?;
    let mut engine = Engine::new(engine_config(settings), balancer)?;
    let n = settings.engine.sensors;

    let progress = progress_bar(settings.progress, len);
    let mut input_error = None;
    let stopped = |e: blb_pcap::PcapError| {
        anyhow::Error::new(e).context(format!("{name}: input stopped early"))
    };
    // Outputs are opened at the first packet, when the pcapng interfaces before it are known.
    let first = match reader.next_packet() {
        Ok(Some(p)) => Some((p.link_type, p.ts_nanos, p.wire_len, p.data.to_vec())),
        Ok(None) => None,
        Err(e) => {
            input_error = Some(stopped(e));
            None
        }
    };
    let mut types = reader.link_types();
    types.extend(first.as_ref().map(|f| f.0));
    let mut files = SensorFiles::create(
        &settings.write_dir,
        n,
        &types,
        reader.precision(),
        reader.snaplen(),
    )?;
    let mut router = Router::new(&mut engine, &mut files, settings.tunnels);
    if let Some((link_type, ts, wire_len, data)) = first {
        router.packet(link_type, ts, wire_len, &data)?;
        loop {
            let packet = match reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    input_error = Some(stopped(e));
                    break;
                }
            };
            router.packet(
                packet.link_type,
                packet.ts_nanos,
                packet.wire_len,
                packet.data,
            )?;
            if let Some(pb) = &progress
                && packet.number % PROGRESS_EVERY == 0
            {
                pb.set_position(reader.bytes_consumed());
            }
        }
    }
    // The engine releases the fragments it still holds; they are written before the end.
    router.finish()?;
    files.finish()?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }

    let paths: Vec<String> = files
        .paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut summary = Summary::from_engine(&engine, settings.tunnels, name, &paths);
    if settings.algorithm == Algorithm::Hash {
        summary.hash_mode = Some(settings.hash_mode.to_string());
        summary.hash_key = Some(
            match settings.key_source {
                KeySource::Configured => "configured",
                KeySource::Random => "random",
            }
            .to_string(),
        );
    }
    summary.input_error = input_error.as_ref().map(|e| format!("{e:#}"));
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(Outcome {
        summary,
        input_error,
    })
}

/// Most distinct flows read from a training capture before sampling.
const TRAIN_READ_CAP: usize = 200_000;

/// The balancer of the settings; for `blb`, with its k-medoids start from the training capture
/// when one is given.
pub fn build_balancer(settings: &BalanceSettings) -> anyhow::Result<Box<dyn Balancer>> {
    if let Some(b) = settings.simple_balancer() {
        return Ok(b);
    }
    let mut blb = BlbBalancer::new(settings.engine.capacities.clone(), settings.blb.clone())
        .map_err(|e| crate::error::usage(e.to_string()))?;
    if let Some(path) = &settings.train {
        let points = training_points(
            path,
            &blb,
            settings.engine.key,
            settings.tunnels,
            settings.blb.train_flows.max(1),
        )?;
        blb.train(&points);
    }
    Ok(Box::new(blb))
}

/// The flow points of a training capture: the first packet of each distinct flow (the first
/// [`TRAIN_READ_CAP`] flows), then `want` of them evenly spaced over the capture.
fn training_points(
    path: &Path,
    blb: &BlbBalancer,
    key: KeyOptions,
    tunnels: Tunnels,
    want: usize,
) -> anyhow::Result<Vec<FlowPoint>> {
    let mut seen = HashSet::new();
    let mut points = Vec::new();
    for_each_packet_with(path, tunnels, |meta| {
        if points.len() >= TRAIN_READ_CAP || meta.fragment.is_some_and(|f| !f.is_first()) {
            return;
        }
        if seen.insert(FlowKey::from_packet(meta, key, true).0) {
            points.push(blb.point(meta));
        }
    })
    .with_context(|| "training capture".to_string())?;
    if points.len() <= want {
        return Ok(points);
    }
    let step = points.len() as f64 / want as f64;
    Ok((0..want)
        .map(|i| points[(i as f64 * step) as usize])
        .collect())
}

/// Read a whole capture (a file, or standard input for `-`), parsing each packet (tunnelled
/// ones by their inner headers); errors name the file and the packet.
pub fn for_each_packet(
    path: &Path,
    f: impl FnMut(&blb_core::packet::PacketMeta),
) -> anyhow::Result<()> {
    for_each_packet_with(path, Tunnels::Inner, f)
}

/// [`for_each_packet`], with `tunnels` saying which headers of tunnelled packets count.
pub fn for_each_packet_with(
    path: &Path,
    tunnels: Tunnels,
    mut f: impl FnMut(&blb_core::packet::PacketMeta),
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let (input, _) = open_input(path)?;
    let mut r =
        CaptureReader::new(input).with_context(|| format!("{name}: cannot read the capture"))?;
    while let Some(p) = r
        .next_packet()
        .with_context(|| format!("{name}: input stopped early"))?
    {
        f(&blb_wire::parse_with(
            tunnels,
            p.link_type,
            p.ts_nanos,
            p.wire_len,
            p.data,
        ));
    }
    Ok(())
}

/// The engine's settings for a run: the settings', with the variance bound its whole-run load
/// aggregates count seconds over set to the balancer's V (as the summary reports it).
pub fn engine_config(settings: &BalanceSettings) -> blb_core::EngineConfig {
    let mut cfg = settings.engine.clone();
    cfg.variance_bound = settings.variance_bound();
    cfg
}

/// The engine and the outputs of a run, with the frames the engine holds (fragments waiting
/// for their first fragment, `blb_core::hold`).
struct Router<'a> {
    engine: &'a mut Engine,
    files: &'a mut SensorFiles,
    tunnels: Tunnels,
    held: HeldFrames,
    released: Vec<(HoldHandle, SensorSet)>,
}

impl<'a> Router<'a> {
    fn new(engine: &'a mut Engine, files: &'a mut SensorFiles, tunnels: Tunnels) -> Self {
        let budget = engine.config().fragment_hold_bytes;
        Router {
            engine,
            files,
            tunnels,
            held: HeldFrames::new(budget),
            released: Vec::new(),
        }
    }

    /// Parse one frame, let the engine decide, write it to its sensors (or keep it while the
    /// engine holds it). Frames the engine released meanwhile arrived earlier: they are
    /// written first, so each output keeps the order of arrival of each datagram's fragments.
    /// The frame written is the one read, outer headers and all: the parse only decides.
    fn packet(
        &mut self,
        link_type: u32,
        ts: u64,
        wire_len: u32,
        data: &[u8],
    ) -> anyhow::Result<()> {
        let meta = blb_wire::parse_with(self.tunnels, link_type, ts, wire_len, data);
        let decision = self.engine.handle_or_hold(&meta, self.held.next_handle());
        if decision == Decision::Held {
            self.held.hold(link_type, ts, wire_len, data);
        }
        self.write_released()?;
        if let Decision::Send(sensors) = decision {
            write(
                self.engine,
                self.files,
                sensors,
                link_type,
                ts,
                wire_len,
                data,
            )?;
        }
        Ok(())
    }

    /// Write the frames the engine released.
    fn write_released(&mut self) -> anyhow::Result<()> {
        self.engine.released(&mut self.released);
        let (engine, files) = (&mut *self.engine, &mut *self.files);
        for (handle, sensors) in self.released.drain(..) {
            let written = self.held.release(handle, |link_type, ts, wire_len, data| {
                write(engine, files, sensors, link_type, ts, wire_len, data)
            });
            match written {
                Some(result) => result?,
                None => anyhow::bail!("the engine released a frame it did not hold ({handle})"),
            }
        }
        Ok(())
    }

    /// End of input: the engine releases what it still holds; write it.
    fn finish(&mut self) -> anyhow::Result<()> {
        self.engine.finish();
        self.write_released()
    }
}

/// Write one frame to `sensors`; a sensor whose output cannot take its link type counts it
/// as a drop.
fn write(
    engine: &mut Engine,
    files: &mut SensorFiles,
    sensors: SensorSet,
    link_type: u32,
    ts: u64,
    wire_len: u32,
    data: &[u8],
) -> anyhow::Result<()> {
    let mut mismatched = SensorSet::EMPTY;
    for s in sensors {
        if files.write(usize::from(s), link_type, ts, wire_len, data)? == Written::LinkTypeMismatch
        {
            mismatched.insert(s);
        }
    }
    if !mismatched.is_empty() {
        let cap_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        engine.undelivered(sensors, mismatched, cap_len, DropReason::LinkTypeMismatch);
    }
    Ok(())
}

fn progress_bar(enabled: bool, len: Option<u64>) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = match len {
        Some(l) => indicatif::ProgressBar::new(l).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    Some(pb)
}
