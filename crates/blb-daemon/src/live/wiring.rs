//! Opening what live balancing runs on: the capture sources, each sensor's delivery and
//! queue, the metrics and control endpoints, and the SNMP pollers. Every error names the
//! interface, sensor, file or address at fault.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use blb_live::capture::PacketSource;
use blb_live::capture::afpacket::AfPacketConfig;
use blb_live::deliver::FrameSink;
use blb_live::deliver::interface::InterfaceSink;
use blb_live::deliver::pcapfile::{PcapFileConfig, PcapFileSink};
use blb_live::deliver::queue::{QueueConfig, SensorCounters, SensorQueue};
use blb_live::deliver::vxlan::{VxlanConfig, VxlanSink};
use blb_live::feedback::snmp::{SnmpClient, SnmpConfig};
use blb_live::http::Server;

use super::control::{Command, Control, Envelope};
use super::metrics::{Metrics, Snapshot};
use super::settings::{Backend, Delivery, LiveSettings};

/// Open every capture interface, once per worker: `out[w][i]` is worker `w`'s ring of
/// interface `i`. With several workers, the rings of one interface form one fanout group and
/// share the configured ring's blocks (each gets `ring_blocks / workers`, at least 2).
pub fn open_sources(live: &LiveSettings) -> anyhow::Result<Vec<Vec<Box<dyn PacketSource>>>> {
    let workers = live.workers.max(1);
    let mut out: Vec<Vec<Box<dyn PacketSource>>> = (0..workers).map(|_| Vec::new()).collect();
    for name in &live.interfaces {
        match live.backend {
            Backend::AfPacket => {
                let cfg = AfPacketConfig {
                    block_size: live.ring_block_size,
                    block_count: (live.ring_blocks / workers).max(2),
                    block_timeout_ms: live.ring_block_timeout_ms,
                    promiscuous: live.promiscuous,
                    ignore_outgoing: true,
                };
                let rings = blb_live::capture::fanout::open_group(name, &cfg, workers)?;
                for (w, ring) in rings.into_iter().enumerate() {
                    out[w].push(Box::new(ring));
                }
            }
            Backend::Pcap => out[0].push(open_pcap(live, name)?),
        }
    }
    Ok(out)
}

#[cfg(feature = "pcap")]
fn open_pcap(live: &LiveSettings, name: &str) -> anyhow::Result<Box<dyn PacketSource>> {
    let buffer = live
        .ring_block_size
        .saturating_mul(live.ring_blocks)
        .min(i32::MAX as usize) as i32;
    Ok(Box::new(blb_live::capture::libpcap::PcapSource::open(
        name,
        live.filter.as_deref(),
        262_144,
        live.promiscuous,
        buffer,
    )?))
}

#[cfg(not(feature = "pcap"))]
fn open_pcap(_live: &LiveSettings, _name: &str) -> anyhow::Result<Box<dyn PacketSource>> {
    Err(crate::error::usage(
        "--backend pcap needs blb built with the `pcap` feature",
    ))
}

/// The queues, their counters and the deliveries' descriptions, one per sensor. Every
/// delivery must carry every capture link type.
#[allow(clippy::type_complexity)]
pub fn open_deliveries(
    live: &LiveSettings,
    link_types: &[u32],
) -> anyhow::Result<(Vec<SensorQueue>, Vec<Arc<SensorCounters>>, Vec<String>)> {
    let mut queues = Vec::new();
    let mut counters = Vec::new();
    let mut descriptions = Vec::new();
    make_pcap_dirs(live)?;
    for s in &live.sensors {
        let at = format!("sensor '{}'", s.name);
        let sink: Box<dyn FrameSink> = match &s.delivery {
            Delivery::Interface { name, qdisc_bypass } => {
                Box::new(InterfaceSink::open_with(name, *qdisc_bypass).with_context(|| at.clone())?)
            }
            Delivery::Pcap {
                path,
                rotate_bytes,
                rotate_seconds,
                keep,
            } => Box::new(
                PcapFileSink::open(&PcapFileConfig {
                    path: path.clone(),
                    rotate_bytes: *rotate_bytes,
                    rotate_seconds: *rotate_seconds,
                    keep: *keep,
                })
                .with_context(|| at.clone())?,
            ),
            Delivery::Vxlan {
                destination,
                vni,
                source,
            } => Box::new(
                VxlanSink::open(&VxlanConfig {
                    destination: *destination,
                    vni: *vni,
                    source: *source,
                })
                .with_context(|| at.clone())?,
            ),
        };
        if let Some(lt) = link_types.iter().find(|lt| !sink.accepts(**lt)) {
            return Err(crate::error::usage(format!(
                "{at}: {} cannot carry frames of link type {lt} captured here (VXLAN and interfaces carry Ethernet)",
                sink.describe()
            )));
        }
        descriptions.push(sink.describe());
        let c = Arc::new(SensorCounters::default());
        let cfg = QueueConfig {
            batch_frames: live.batch_frames,
            batch_bytes: live.batch_frames.saturating_mul(2048).max(256 * 1024),
            depth: live.queue_batches,
        };
        queues.push(
            SensorQueue::spawn(s.name.clone(), sink, cfg, Arc::clone(&c))
                .with_context(|| at.clone())?,
        );
        counters.push(c);
    }
    Ok((queues, counters, descriptions))
}

/// Start the metrics and control endpoints that are configured.
/// Make the folders of the pcap outputs, as offline balancing does, and say (once) when the
/// default `sensor-K.pcap` folder holds older files of a run with more sensors.
fn make_pcap_dirs(live: &LiveSettings) -> anyhow::Result<()> {
    let mut dirs: Vec<&std::path::Path> = Vec::new();
    for s in &live.sensors {
        if let Delivery::Pcap { path, .. } = &s.delivery
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dirs.contains(&dir)
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create output directory {}", dir.display()))?;
            dirs.push(dir);
        }
    }
    let default_names = live.sensors.iter().enumerate().all(|(i, s)| {
        matches!(&s.delivery, Delivery::Pcap { path, .. }
            if path.file_name().and_then(|n| n.to_str()) == Some(&format!("sensor-{i}.pcap")))
    });
    if let (true, [dir]) = (default_names, dirs.as_slice()) {
        let stale = crate::pipeline::output::SensorFiles::stale(dir, live.sensors.len());
        if !stale.is_empty() {
            tracing::warn!(
                directory = %dir.display(),
                files = stale.len(),
                "the output directory holds sensor-K.pcap files of an earlier run with more sensors; they are left as they are"
            );
        }
    }
    Ok(())
}

pub fn start_endpoints(
    live: &LiveSettings,
    names: &[String],
    counters: &[Arc<SensorCounters>],
    snapshot: &Arc<Mutex<Snapshot>>,
    commands: &Sender<Envelope>,
    algorithm: &'static str,
) -> anyhow::Result<Vec<Server>> {
    let mut servers = Vec::new();
    if let Some(addr) = live.metrics {
        let m = Metrics {
            names: names.to_vec(),
            counters: counters.to_vec(),
            snapshot: Arc::clone(snapshot),
            algorithm,
        };
        let server = Server::bind(addr, "metrics endpoint", Arc::new(m))?;
        tracing::info!(address = %server.local_addr(), "metrics endpoint listening");
        servers.push(server);
    }
    if let Some(addr) = live.control {
        if live.control_token.is_none() {
            tracing::warn!("no control_token configured: the control endpoint is read-only");
        }
        let c = Control::new(
            names.to_vec(),
            live.control_token.clone(),
            commands.clone(),
            Arc::clone(snapshot),
        );
        let server = Server::bind(addr, "control endpoint", Arc::new(c))?;
        tracing::info!(address = %server.local_addr(), "control endpoint listening");
        servers.push(server);
    }
    Ok(servers)
}

/// One thread per SNMP-polled sensor; each sends its reports as commands until `stop`.
pub fn start_snmp(
    live: &LiveSettings,
    commands: &Sender<Envelope>,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let mut threads = Vec::new();
    for (i, s) in live.sensors.iter().enumerate() {
        let Some(spec) = s.snmp.clone() else { continue };
        let (tx, stop, name) = (commands.clone(), Arc::clone(stop), s.name.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("snmp-{name}"))
            .spawn(move || {
                let mut cfg = SnmpConfig::new(spec.agent);
                cfg.community = spec.community.clone();
                cfg.timeout = spec.timeout;
                let mut client = match SnmpClient::new(cfg) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(sensor = %name, error = %e, "SNMP polling cannot start");
                        return;
                    }
                };
                let mut last_error = String::new();
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    match client.processor_load() {
                        Ok(load) => {
                            if !last_error.is_empty() {
                                tracing::info!(sensor = %name, "SNMP polling works again");
                                last_error.clear();
                            }
                            if tx.send((Command::Report(i, load, "snmp"), None)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            if msg != last_error {
                                tracing::warn!(sensor = %name, error = %msg, "SNMP poll failed");
                                last_error = msg;
                            }
                        }
                    }
                    while began.elapsed() < spec.interval && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => tracing::error!(sensor = %s.name, error = %e, "cannot start the SNMP thread"),
        }
    }
    threads
}
