//! Delivery to pcap files rotated by size or time.
//!
//! The sink writes nanosecond pcap to `path`; the file's link type is that of the first frame.
//! On rotation the current file is closed and renamed to `<stem>-<YYYYmmddTHHMMSSZ>-<seq>.<ext>`
//! beside it, and a fresh `path` is started. The time in the name is the UTC capture time of
//! the **first frame in that file** (frame timestamps, not the wall clock, so that names and
//! rotation points are reproducible); `seq` counts rotations and continues past the highest
//! number already in the directory, so names never collide. Time rotation also goes by frame
//! timestamps: a frame at least `rotate_seconds` after the file's first frame starts a new file.
//! Size rotation keeps files at most `rotate_bytes` long (a single larger frame gets a file of
//! its own). With `keep`, the oldest rotated files (by time in the name, then `seq`) beyond
//! that many are deleted, including those left by an earlier run.
//!
//! A non-empty file already at `path` at open is not overwritten: it is rotated away first
//! (named after its first packet, or its modification time if it cannot be read as a capture).
//! The directory is never created: a missing directory is an error at open.
//!
//! Output is buffered (1 MiB) in whole records. When a write fails (`ENOSPC`, …) the file is
//! cut back to the end of the last record that reached the disk, so it stays readable, and the
//! buffered frames are lost; the error is a [`SendError::Path`] naming the file.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use blb_pcap::{CaptureReader, DEFAULT_SNAPLEN, PcapError, PcapWriter, TsPrecision};

use super::{FrameSink, SendError};
use crate::{Frame, LiveError};

/// Bytes buffered before they are written out.
const BUFFER: usize = 1 << 20;
/// Global header and record header of classic pcap.
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: u64 = 16;
const NANOS: u64 = 1_000_000_000;

/// Where and how a pcap file sink writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapFileConfig {
    /// The current file, e.g. `/var/lib/blb/sensor1.pcap`. Its directory must exist.
    pub path: PathBuf,
    /// Rotate before a file would grow beyond this many bytes.
    pub rotate_bytes: Option<u64>,
    /// Rotate when a frame is this many seconds (capture time) after the file's first frame.
    pub rotate_seconds: Option<u64>,
    /// Most rotated files kept; the oldest are deleted. `None`: all are kept.
    pub keep: Option<usize>,
}

impl PcapFileConfig {
    /// One file, never rotated.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            rotate_bytes: None,
            rotate_seconds: None,
            keep: None,
        }
    }
}

/// Buffers whole records and writes them at the end of what is known to be on disk.
#[derive(Debug)]
struct Spool {
    file: File,
    buf: Vec<u8>,
    /// File length up to the end of the last record written out.
    on_disk: u64,
    /// The global header, kept until it is on disk.
    header: Vec<u8>,
}

impl Write for Spool {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let res = self.file.write_all(&self.buf);
        let n = self.buf.len() as u64;
        if self.on_disk == 0 && self.header.is_empty() {
            self.header = self.buf[..(FILE_HEADER as usize).min(self.buf.len())].to_vec();
        }
        self.buf.clear();
        match res {
            Ok(()) => {
                self.on_disk += n;
                Ok(())
            }
            Err(e) => {
                // Cut off a partial write so that the file ends at a record boundary.
                let _ = self.file.set_len(self.on_disk);
                let _ = self.file.seek(SeekFrom::Start(self.on_disk));
                if self.on_disk == 0 {
                    // The global header never made it: keep it for the next attempt.
                    self.buf.extend_from_slice(&self.header);
                }
                Err(e)
            }
        }
    }
}

/// The file being written.
#[derive(Debug)]
struct Current {
    pcap: PcapWriter<Spool>,
    /// Capture time of its first frame.
    first_ts: u64,
    /// Bytes written to it, buffered ones included.
    bytes: u64,
    /// Bytes buffered since the last flush.
    pending: usize,
    /// Frames, and their bytes, buffered since the last write that reached the disk.
    unwritten: (u64, u64),
}

/// Writes one sensor's frames to rotated pcap files.
#[derive(Debug)]
pub struct PcapFileSink {
    cfg: PcapFileConfig,
    dir: PathBuf,
    stem: String,
    ext: Option<String>,
    link_type: Option<u32>,
    /// `path`, created and empty, waiting for its first frame.
    fresh: Option<File>,
    current: Option<Current>,
    next_seq: u64,
    /// Rotated files, oldest first.
    rotated: VecDeque<PathBuf>,
    /// Frames and bytes accepted earlier and lost to a failed write since the last
    /// [`FrameSink::take_lost`].
    lost: (u64, u64),
}

impl PcapFileSink {
    /// Checks the directory, moves a non-empty file at `path` aside, applies `keep`, and
    /// creates `path` (empty until the first frame, which writes the header).
    pub fn open(cfg: &PcapFileConfig) -> Result<Self, LiveError> {
        let invalid =
            |why: &str| LiveError::Invalid(format!("pcap file {}: {why}", cfg.path.display()));
        if cfg.rotate_bytes == Some(0) || cfg.rotate_seconds == Some(0) {
            return Err(invalid("rotation size and interval must be positive"));
        }
        let name = cfg
            .path
            .file_name()
            .ok_or_else(|| invalid("the path names no file"))?
            .to_str()
            .ok_or_else(|| invalid("the file name is not UTF-8"))?;
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), Some(e.to_string())),
            _ => (name.to_string(), None),
        };
        let dir = match cfg.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let meta = std::fs::metadata(&dir).map_err(|source| LiveError::Io {
            what: format!("pcap directory {}", dir.display()),
            os: source,
        })?;
        if !meta.is_dir() {
            return Err(LiveError::Invalid(format!(
                "pcap directory {} is not a directory",
                dir.display()
            )));
        }
        let mut sink = Self {
            cfg: cfg.clone(),
            dir,
            stem,
            ext,
            link_type: None,
            fresh: None,
            current: None,
            next_seq: 0,
            rotated: VecDeque::new(),
            lost: (0, 0),
        };
        sink.scan_rotated()?;
        match std::fs::metadata(&cfg.path) {
            Ok(m) if m.is_dir() => return Err(invalid("is a directory")),
            Ok(m) if m.len() > 0 => {
                let ts = first_timestamp(&cfg.path)
                    .or_else(|| {
                        let t = m.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
                        u64::try_from(t.as_nanos()).ok()
                    })
                    .unwrap_or_else(wall_clock);
                sink.rename_current(ts).map_err(inner)?;
            }
            _ => {}
        }
        sink.fresh = Some(sink.create().map_err(inner)?);
        Ok(sink)
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.cfg.path
    }

    /// The rotated files still on disk that this sink knows of, oldest first.
    pub fn rotated_files(&self) -> impl Iterator<Item = &Path> {
        self.rotated.iter().map(PathBuf::as_path)
    }

    /// The link type of the files, once the first frame has fixed it.
    pub fn link_type(&self) -> Option<u32> {
        self.link_type
    }

    /// The name a file whose first frame was at `ts_nanos` gets on rotation number `seq`.
    pub fn rotated_name(&self, ts_nanos: u64, seq: u64) -> PathBuf {
        let mut name = format!("{}-{}-{seq}", self.stem, utc_stamp(ts_nanos / NANOS));
        if let Some(ext) = &self.ext {
            name.push('.');
            name.push_str(ext);
        }
        self.dir.join(name)
    }

    /// Finds the rotated files of earlier runs: `<stem>-<stamp>-<seq>[.<ext>]`.
    fn scan_rotated(&mut self) -> Result<(), LiveError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| LiveError::Io {
            what: format!("listing pcap directory {}", self.dir.display()),
            os: source,
        })?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some((stamp, seq)) = self.parse_rotated(name) {
                found.push((stamp.to_string(), seq, entry.path()));
                self.next_seq = self.next_seq.max(seq + 1);
            }
        }
        found.sort();
        self.rotated = found.into_iter().map(|(_, _, p)| p).collect();
        Ok(())
    }

    fn parse_rotated<'n>(&self, name: &'n str) -> Option<(&'n str, u64)> {
        let rest = name.strip_prefix(self.stem.as_str())?.strip_prefix('-')?;
        let rest = match &self.ext {
            Some(ext) => rest.strip_suffix(ext.as_str())?.strip_suffix('.')?,
            None => rest,
        };
        let (stamp, seq) = rest.split_once('-')?;
        let b = stamp.as_bytes();
        let stamp_ok = b.len() == 16
            && b[8] == b'T'
            && b[15] == b'Z'
            && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
        if !stamp_ok || seq.is_empty() || !seq.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some((stamp, seq.parse().ok()?))
    }

    fn io_error(&self, what: &str, path: &Path, source: io::Error) -> SendError {
        SendError::Path(LiveError::Io {
            what: format!("{what} {}", path.display()),
            os: source,
        })
    }

    fn pcap_error(&self, source: PcapError) -> LiveError {
        LiveError::Pcap {
            what: format!("writing {}", self.cfg.path.display()),
            error: source,
        }
    }

    /// Creates (truncates) `path`.
    fn create(&self) -> Result<File, SendError> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.cfg.path)
            .map_err(|e| self.io_error("creating", &self.cfg.path, e))
    }

    /// Renames `path` to its rotated name and applies `keep`.
    fn rename_current(&mut self, first_ts: u64) -> Result<(), SendError> {
        let to = self.rotated_name(first_ts, self.next_seq);
        std::fs::rename(&self.cfg.path, &to).map_err(|e| {
            SendError::Path(LiveError::Io {
                what: format!("renaming {} to {}", self.cfg.path.display(), to.display()),
                os: e,
            })
        })?;
        self.next_seq += 1;
        self.rotated.push_back(to);
        if let Some(keep) = self.cfg.keep {
            // Deletion failures other than "already gone" leave the file listed, to retry at
            // the next rotation; they never cost a frame.
            let mut i = 0;
            while self.rotated.len() - i > keep {
                match std::fs::remove_file(&self.rotated[i]) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => i += 1,
                    _ => {
                        self.rotated.remove(i);
                    }
                }
            }
        }
        Ok(())
    }

    /// Flushes and closes the current file, renames it, and leaves `fresh` empty: the next
    /// frame creates `path`.
    /// Write out the current file's buffer; on failure the buffered frames are lost, and
    /// counted for [`FrameSink::take_lost`].
    fn flush_current(&mut self) -> Result<(), blb_pcap::PcapError> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        cur.pending = 0;
        let res = cur.pcap.flush();
        if res.is_err() {
            self.lost.0 += cur.unwritten.0;
            self.lost.1 += cur.unwritten.1;
        }
        cur.unwritten = (0, 0);
        res
    }

    fn rotate(&mut self) -> Result<(), SendError> {
        let Some(cur) = self.current.as_ref() else {
            return Ok(());
        };
        let first_ts = cur.first_ts;
        if let Err(e) = self.flush_current() {
            return Err(SendError::Path(self.pcap_error(e)));
        }
        self.rename_current(first_ts)?;
        self.current = None;
        Ok(())
    }

    /// Starts the current file, whose first frame is at `ts`.
    fn start(&mut self, link_type: u32, ts: u64) -> Result<&mut Current, SendError> {
        let file = match self.fresh.take() {
            Some(f) => f,
            None => self.create()?,
        };
        let spool = Spool {
            file,
            buf: Vec::with_capacity(BUFFER + 64 * 1024),
            on_disk: 0,
            header: Vec::new(),
        };
        // Writing the header into the spool cannot fail.
        let pcap = PcapWriter::new(spool, link_type, TsPrecision::Nano, DEFAULT_SNAPLEN)
            .map_err(|e| SendError::Path(self.pcap_error(e)))?;
        Ok(self.current.insert(Current {
            pcap,
            first_ts: ts,
            bytes: FILE_HEADER,
            pending: FILE_HEADER as usize,
            unwritten: (0, 0),
        }))
    }
}

fn inner(e: SendError) -> LiveError {
    match e {
        SendError::Frame(e) | SendError::Path(e) => e,
    }
}

impl FrameSink for PcapFileSink {
    fn describe(&self) -> String {
        format!("pcap file {}", self.cfg.path.display())
    }

    fn accepts(&self, link_type: u32) -> bool {
        self.link_type.is_none_or(|l| l == link_type)
    }

    fn send(&mut self, link_type: u32, frame: Frame<'_>) -> Result<(), SendError> {
        match self.link_type {
            Some(l) if l != link_type => {
                return Err(SendError::Frame(LiveError::Invalid(format!(
                    "{}: frame of link type {link_type} in a file of link type {l}",
                    self.describe()
                ))));
            }
            _ => {}
        }
        let len = frame.data.len();
        if len > DEFAULT_SNAPLEN as usize {
            return Err(SendError::Frame(LiveError::Invalid(format!(
                "{}: frame of {len} bytes exceeds the snap length {DEFAULT_SNAPLEN}",
                self.describe()
            ))));
        }
        let record = RECORD_HEADER + len as u64;
        if let Some(cur) = &self.current {
            let by_size = self
                .cfg
                .rotate_bytes
                .is_some_and(|max| cur.bytes + record > max);
            let by_time = self
                .cfg
                .rotate_seconds
                .is_some_and(|s| frame.ts >= cur.first_ts.saturating_add(s.saturating_mul(NANOS)));
            // A file always holds at least one frame: `current` exists only once it has one.
            if by_size || by_time {
                self.rotate()?;
            }
        }
        let cur = match self.current.take() {
            Some(c) => self.current.insert(c),
            None => self.start(link_type, frame.ts)?,
        };
        let wire_len = frame.wire_len.max(len as u32);
        // Writes into the spool cannot fail; only `flush` touches the disk.
        let res = cur.pcap.write_packet(frame.ts, wire_len, frame.data);
        cur.bytes += record;
        cur.pending += record as usize;
        if res.is_ok() {
            cur.unwritten.0 += 1;
            cur.unwritten.1 += len as u64;
        }
        let full = cur.pending >= BUFFER;
        let res = match res {
            Ok(()) if full => {
                let r = self.flush_current();
                if r.is_err() {
                    // This frame is reported by the error itself, not as lost.
                    self.lost.0 = self.lost.0.saturating_sub(1);
                    self.lost.1 = self.lost.1.saturating_sub(len as u64);
                }
                r
            }
            other => other,
        };
        self.link_type = Some(link_type);
        // After a failed flush `bytes` overestimates the file (the lost records are counted),
        // which at worst rotates a little early.
        res.map_err(|e| SendError::Path(self.pcap_error(e)))
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        self.flush_current().map_err(|e| self.pcap_error(e))
    }

    fn take_lost(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.lost)
    }
}

impl Drop for PcapFileSink {
    fn drop(&mut self) {
        if let Some(cur) = self.current.as_mut() {
            let _ = cur.pcap.flush();
        }
        // No frame ever came: still a valid (empty) capture, as offline balancing writes,
        // with the link type of the last frame sent, or Ethernet.
        if let Some(file) = self.fresh.take() {
            let link = self.link_type.unwrap_or(1);
            if let Ok(mut w) = PcapWriter::new(file, link, TsPrecision::Nano, DEFAULT_SNAPLEN) {
                let _ = w.flush();
            }
        }
    }
}

/// The first packet's capture time of the pcap or pcapng file at `path`.
fn first_timestamp(path: &Path) -> Option<u64> {
    let f = File::open(path).ok()?;
    let mut r = CaptureReader::new(f).ok()?;
    r.next_packet().ok()?.map(|p| p.ts_nanos)
}

fn wall_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Year, month (1–12) and day (1–31) of day `days` since 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYYmmddTHHMMSSZ` of `secs` seconds since the epoch.
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(10_957), (2000, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(47_482), (2100, 1, 1));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1)); // 2100 is not a leap year
    }

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_700_000_000), "20231114T221320Z");
        assert_eq!(utc_stamp(951_868_799), "20000229T235959Z");
        assert_eq!(utc_stamp(4_294_967_295), "21060207T062815Z");
    }

    #[test]
    fn failed_write_keeps_the_header_and_drops_the_records() {
        let Ok(file) = OpenOptions::new().write(true).open("/dev/full") else {
            eprintln!("no /dev/full: skipped");
            return;
        };
        let spool = Spool {
            file,
            buf: Vec::new(),
            on_disk: 0,
            header: Vec::new(),
        };
        let mut spool = spool;
        spool.write_all(&[0xaa; 24]).unwrap();
        spool.write_all(&[0xbb; 40]).unwrap();
        assert!(spool.flush().is_err());
        assert_eq!(spool.buf, [0xaa; 24]);
        spool.write_all(&[0xcc; 16]).unwrap();
        assert!(spool.flush().is_err());
        assert_eq!(spool.buf, [0xaa; 24]);
        assert_eq!(spool.on_disk, 0);
    }

    #[test]
    fn rotated_names_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let sink = PcapFileSink::open(&PcapFileConfig::new(dir.path().join("s1.pcap"))).unwrap();
        let p = sink.rotated_name(1_700_000_000 * NANOS + 5, 12);
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "s1-20231114T221320Z-12.pcap");
        assert_eq!(sink.parse_rotated(name), Some(("20231114T221320Z", 12)));
        assert_eq!(sink.parse_rotated("s1-20231114T221320Z-.pcap"), None);
        assert_eq!(sink.parse_rotated("s1-2023111XT221320Z-1.pcap"), None);
        assert_eq!(sink.parse_rotated("s1.pcap"), None);
        assert_eq!(sink.parse_rotated("s10-20231114T221320Z-1.pcap"), None);
    }
}
