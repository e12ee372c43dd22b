//! Following a log file by its path, as `tail -F` does, one complete line at a time.
//!
//! * A line is handed over only once its newline is there: a last line still being written
//!   waits for the next read.
//! * **Rotation** (the path now names another file: logrotate's rename, Suricata's reopen
//!   after SIGHUP, Zeek's hourly rotation): the old file is read to its end first, then the
//!   new one from its beginning.
//! * **Truncation** (logrotate's `copytruncate`: the file is shorter than what was read):
//!   reading starts again at its beginning.
//! * An unfinished last line left in a rotated or truncated file, and a line longer than
//!   the limit (skipped up to its newline), are said as such, for the caller to count.
//! * A file that is not there yet is not an error: it is opened once it appears (from its
//!   beginning, since all of it is new).
//!
//! [`Start::End`] skips what the file holds when it is first opened (a long `eve.json`), and
//! the rest of a line begun before; [`Start::Beginning`] reads it (a small log whose header
//! is at the top).

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::LiveError;

/// Where to start in a file that exists when first opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Read what it already holds.
    Beginning,
    /// Only what is written from now on.
    End,
}

/// Something the tail met.
#[derive(Debug, PartialEq, Eq)]
pub enum TailEvent<'a> {
    /// A complete line, without its newline.
    Line(&'a [u8]),
    /// The path names a new file (rotation), read from its beginning.
    Rotated,
    /// The file was truncated, read again from its beginning.
    Truncated,
    /// A last line without a newline was left in a rotated or truncated file: its bytes.
    Unfinished(usize),
    /// A line longer than the limit, skipped: its length so far.
    Overlong(usize),
}

/// What the tail did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailStats {
    /// Rotations followed.
    pub rotations: u64,
    /// Truncations followed.
    pub truncations: u64,
    /// Lines skipped for their length.
    pub overlong: u64,
}

/// A file followed by its path.
#[derive(Debug)]
pub struct LineTail {
    path: PathBuf,
    start: Start,
    max_line: usize,
    file: Option<File>,
    id: (u64, u64),
    pos: u64,
    buf: Vec<u8>,
    skipping: bool,
    tried: bool,
    /// What it did.
    pub stats: TailStats,
}

/// Bytes read at once.
const CHUNK: usize = 64 * 1024;

impl LineTail {
    /// Follow `path`; lines longer than `max_line` bytes are skipped.
    pub fn new(path: impl Into<PathBuf>, start: Start, max_line: usize) -> Self {
        LineTail {
            path: path.into(),
            start,
            max_line: max_line.max(1),
            file: None,
            id: (0, 0),
            pos: 0,
            buf: Vec::new(),
            skipping: false,
            tried: false,
            stats: TailStats::default(),
        }
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a file is open (false while the path names nothing).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Read what was written since the last call, at most about `budget` bytes (the rest
    /// waits for the next call), handing `f` each complete line and each event. Returns the
    /// bytes read.
    pub fn poll(
        &mut self,
        budget: usize,
        f: &mut dyn FnMut(TailEvent<'_>),
    ) -> Result<usize, LiveError> {
        if self.file.is_none() && !self.open()? {
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let len = self
                .file
                .as_ref()
                .map(|file| file.metadata())
                .transpose()
                .map_err(|e| self.io("reading the size of", e))?
                .map_or(0, |m| m.len());
            if len < self.pos {
                self.restart(f);
                self.stats.truncations += 1;
                f(TailEvent::Truncated);
                if let Some(file) = self.file.as_mut() {
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| io_error(&self.path, "rewinding", e))?;
                }
            }
            total += self.read(budget.saturating_sub(total), f)?;
            if total >= budget {
                return Ok(total);
            }
            // At the end of the file: does the path still name it?
            match std::fs::metadata(&self.path) {
                Ok(m) if (m.dev(), m.ino()) != self.id => {
                    self.restart(f);
                    self.file = None;
                    if !self.open()? {
                        return Ok(total);
                    }
                    self.stats.rotations += 1;
                    f(TailEvent::Rotated);
                }
                // The same file, or none yet after a rename: keep reading this one.
                _ => return Ok(total),
            }
        }
    }

    /// Forget the line in progress (said when it had bytes).
    fn restart(&mut self, f: &mut dyn FnMut(TailEvent<'_>)) {
        if !self.buf.is_empty() && !self.skipping {
            f(TailEvent::Unfinished(self.buf.len()));
        }
        self.buf.clear();
        self.skipping = false;
        self.pos = 0;
    }

    /// Open the path; false when it names nothing.
    fn open(&mut self) -> Result<bool, LiveError> {
        let first = !self.tried;
        self.tried = true;
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.io("opening", e)),
        };
        let m = file.metadata().map_err(|e| self.io("reading", e))?;
        if m.is_dir() {
            return Err(LiveError::Feed {
                source_name: self.path.display().to_string(),
                reason: "is a directory, not a log file".into(),
            });
        }
        self.id = (m.dev(), m.ino());
        self.pos = 0;
        if first && self.start == Start::End && m.len() > 0 {
            let mut last = [0u8; 1];
            file.read_exact_at(&mut last, m.len() - 1)
                .map_err(|e| self.io("reading", e))?;
            // The rest of a line begun before is not a line.
            self.skipping = last[0] != b'\n';
            self.pos = m.len();
            (&file)
                .seek(SeekFrom::Start(self.pos))
                .map_err(|e| self.io("seeking in", e))?;
        }
        self.file = Some(file);
        Ok(true)
    }

    /// Read up to `budget` bytes (whole chunks) from the current position.
    fn read(
        &mut self,
        budget: usize,
        f: &mut dyn FnMut(TailEvent<'_>),
    ) -> Result<usize, LiveError> {
        let mut chunk = vec![0u8; CHUNK];
        let mut total = 0;
        while total < budget {
            let Some(file) = self.file.as_mut() else {
                break;
            };
            let n = match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&self.path, "reading", e)),
            };
            total += n;
            self.pos += n as u64;
            self.split(&chunk[..n], f);
        }
        Ok(total)
    }

    fn split(&mut self, mut data: &[u8], f: &mut dyn FnMut(TailEvent<'_>)) {
        while !data.is_empty() {
            let nl = data.iter().position(|&b| b == b'\n');
            let (part, rest, ended) = match nl {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            if self.skipping {
                self.skipping = !ended;
                continue;
            }
            if self.buf.len() + part.len() > self.max_line {
                self.stats.overlong += 1;
                f(TailEvent::Overlong(self.buf.len() + part.len()));
                self.buf.clear();
                self.skipping = !ended;
                continue;
            }
            if !ended {
                self.buf.extend_from_slice(part);
            } else if self.buf.is_empty() {
                f(TailEvent::Line(part));
            } else {
                self.buf.extend_from_slice(part);
                f(TailEvent::Line(&self.buf));
                self.buf.clear();
            }
        }
    }

    fn io(&self, what: &str, e: std::io::Error) -> LiveError {
        io_error(&self.path, what, e)
    }
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> LiveError {
    LiveError::Io {
        what: format!("{what} {}", path.display()),
        os: e,
    }
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
