//! Sensor outputs of the offline pipeline: one capture file per sensor, `sensor-N.pcap`, with
//! the input's link type and timestamp precision.
//!
//! Classic pcap holds one link type. When a pcapng input declares interfaces of several link
//! types before its first packet, the outputs are written as pcapng instead (same names; every
//! reader of pcap also reads pcapng by its magic), each interface kept. A packet whose link type
//! shows up only later, when the outputs are already classic pcap, cannot be written faithfully
//! and is counted as a `link_type_mismatch` drop.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use blb_pcap::{PcapNgWriter, PcapWriter, TsPrecision};

use super::writer_thread::{BatchSink, WriterThread};

/// What happened to one packet written to one sensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Written.
    Ok,
    /// Not written: its link type cannot go in this output.
    LinkTypeMismatch,
}

enum Writer {
    Pcap {
        w: PcapWriter<BatchSink>,
        link_type: u32,
    },
    PcapNg {
        w: PcapNgWriter<BatchSink>,
        ifaces: Vec<(u32, u32)>,
    },
}

/// One capture file per sensor in a directory.
pub struct SensorFiles {
    paths: Vec<PathBuf>,
    writers: Vec<Writer>,
    thread: WriterThread,
}

impl SensorFiles {
    /// The path of sensor `i`'s output in `dir`.
    pub fn path(dir: &Path, i: usize) -> PathBuf {
        dir.join(format!("sensor-{i}.pcap"))
    }

    /// `sensor-K.pcap` files in `dir` with K ≥ `n`: outputs of an earlier run with more
    /// sensors, which this run leaves as they are (and says so).
    pub fn stale(dir: &Path, n: usize) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out: Vec<(usize, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let k = name
                    .to_str()?
                    .strip_prefix("sensor-")?
                    .strip_suffix(".pcap")?
                    .parse::<usize>()
                    .ok()?;
                (k >= n).then(|| (k, e.path()))
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// Create (truncate) `sensor-0.pcap` .. `sensor-{n-1}.pcap` in `dir`. With one link type
    /// the files are classic pcap; with several, pcapng.
    pub fn create(
        dir: &Path,
        n: usize,
        link_types: &[u32],
        precision: TsPrecision,
        snaplen: u32,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        let stale = Self::stale(dir, n);
        if let Some(last) = stale.last() {
            eprintln!(
                "warning: {} holds {} older output file(s) of a run with more sensors ({} .. {}), left as they are",
                dir.display(),
                stale.len(),
                stale[0].display(),
                last.display()
            );
        }
        let mut distinct: Vec<u32> = Vec::new();
        for &lt in link_types {
            if !distinct.contains(&lt) {
                distinct.push(lt);
            }
        }
        let mut paths = Vec::with_capacity(n);
        let mut files = Vec::with_capacity(n);
        for i in 0..n {
            let path = Self::path(dir, i);
            let file =
                File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            files.push((path.clone(), file));
            paths.push(path);
        }
        let thread = WriterThread::start(files);
        let mut writers = Vec::with_capacity(n);
        for (i, path) in paths.iter().enumerate() {
            let out = thread.sink(i);
            let writer = if distinct.len() > 1 {
                let mut w = PcapNgWriter::new(out)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                let mut ifaces = Vec::new();
                for &lt in &distinct {
                    let id = w
                        .add_interface(lt, snaplen)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    ifaces.push((lt, id));
                }
                Writer::PcapNg { w, ifaces }
            } else {
                let lt = distinct.first().copied().unwrap_or(1);
                let w = PcapWriter::new(out, lt, precision, snaplen)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Writer::Pcap { w, link_type: lt }
            };
            writers.push(writer);
        }
        Ok(SensorFiles {
            paths,
            writers,
            thread,
        })
    }

    /// Write one packet to sensor `i`.
    pub fn write(
        &mut self,
        i: usize,
        link_type: u32,
        ts: u64,
        wire_len: u32,
        data: &[u8],
    ) -> anyhow::Result<Written> {
        let Some(writer) = self.writers.get_mut(i) else {
            anyhow::bail!("sensor {i} has no output");
        };
        let result = match writer {
            Writer::Pcap { w, link_type: lt } => {
                if *lt != link_type {
                    return Ok(Written::LinkTypeMismatch);
                }
                w.write_packet(ts, wire_len, data)
            }
            Writer::PcapNg { w, ifaces } => {
                let id = match ifaces.iter().find(|(lt, _)| *lt == link_type) {
                    Some(&(_, id)) => id,
                    None => {
                        let Ok(id) = w.add_interface(link_type, 262_144) else {
                            return Err(self.failure(i));
                        };
                        ifaces.push((link_type, id));
                        id
                    }
                };
                w.write_packet(id, ts, wire_len, data)
            }
        };
        if result.is_err() {
            return Err(self.failure(i));
        }
        Ok(Written::Ok)
    }

    /// The real cause once the writer thread failed: the file and the system's error.
    fn failure(&mut self, i: usize) -> anyhow::Error {
        self.writers.clear();
        match self.thread.finish() {
            Err((path, e)) => anyhow::anyhow!("cannot write {}: {e}", path.display()),
            Ok(()) => anyhow::anyhow!("cannot write {}", self.paths[i].display()),
        }
    }

    /// Hand over the last batches, close the outputs and wait until everything is written.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        for i in 0..self.writers.len() {
            let flushed = match &mut self.writers[i] {
                Writer::Pcap { w, .. } => w.flush(),
                Writer::PcapNg { w, .. } => w.flush(),
            };
            if flushed.is_err() {
                return Err(self.failure(i));
            }
        }
        self.writers.clear();
        self.thread
            .finish()
            .map_err(|(path, e)| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }

    /// The output paths, sensor by sensor.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}
