//! Streaming input buffer: one growable `Vec<u8>` filled in large chunks from any `Read`.

use std::io::{self, Read};

/// Initial buffer size; it only grows when one record is larger than this.
pub(crate) const INITIAL_BUFFER: usize = 1 << 20;

/// A window `buf[start..end]` of unread bytes over a reader.
///
/// Bytes before `start` have been consumed; bytes at `end..` are free room for the next read.
pub(crate) struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    consumed: u64,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
        }
    }

    /// Unread bytes currently buffered.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Makes at least `n` unread bytes available, reading more as needed.
    ///
    /// Returns how many unread bytes are available: `>= n` unless the input ended first.
    #[inline]
    pub(crate) fn ensure(&mut self, n: usize) -> io::Result<usize> {
        let have = self.end - self.start;
        if have >= n || self.eof {
            return Ok(have);
        }
        self.fill(n)
    }

    #[cold]
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.buf.len() - self.start < n {
            // Not enough room after `start`: move the unread tail to the front.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n {
            if self.end == self.buf.len() {
                // Full: grow by doubling, only as far as needed, and only once the bytes
                // already read fill the buffer (a short file claiming a huge record costs nothing).
                let new_len = n.min(self.buf.len().saturating_mul(2)).max(self.end + 1);
                self.buf.resize(new_len, 0);
            }
            let Some(room) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.reader.read(room) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                // A misbehaving reader could claim more than the room it was given.
                Ok(got) => self.end = self.end.saturating_add(got).min(self.buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Marks `n` bytes as consumed (clamped to what is available).
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed = self.consumed.saturating_add(n as u64);
    }

    /// File bytes consumed so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The buffered slice at absolute positions `from..from + len` relative to the unread start.
    #[inline]
    pub(crate) fn slice(&self, from: usize, len: usize) -> &[u8] {
        let a = self.start.saturating_add(from);
        let b = a.saturating_add(len).min(self.end);
        self.buf.get(a..b).unwrap_or(&[])
    }

    /// Position of the unread start inside the buffer (for building packets after `consume`).
    #[inline]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// Raw access to the whole buffer (packets are sliced from it by absolute position).
    #[inline]
    pub(crate) fn raw(&self) -> &[u8] {
        &self.buf
    }
}

/// Reads a `u16` at `off` in the given byte order; 0 if out of range (callers check lengths first).
#[inline]
pub(crate) fn rd_u16(b: &[u8], off: usize, big: bool) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = off.checked_add(2).and_then(|e| b.get(off..e)) {
        a.copy_from_slice(s);
    }
    if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

/// Reads a `u32` at `off` in the given byte order; 0 if out of range (callers check lengths first).
#[inline]
pub(crate) fn rd_u32(b: &[u8], off: usize, big: bool) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = off.checked_add(4).and_then(|e| b.get(off..e)) {
        a.copy_from_slice(s);
    }
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// Reads a `u64` at `off` in the given byte order; 0 if out of range (callers check lengths first).
#[inline]
pub(crate) fn rd_u64(b: &[u8], off: usize, big: bool) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = off.checked_add(8).and_then(|e| b.get(off..e)) {
        a.copy_from_slice(s);
    }
    if big {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reader returning at most 3 bytes per call.
    struct Tiny<'a>(&'a [u8]);
    impl Read for Tiny<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(3);
            let (a, b) = self.0.split_at(n);
            out[..n].copy_from_slice(a);
            self.0 = b;
            Ok(n)
        }
    }

    #[test]
    fn ensure_grows_and_compacts() {
        let data: Vec<u8> = (0..3 * INITIAL_BUFFER).map(|i| i as u8).collect();
        let mut input = Input::new(&data[..]);
        assert!(input.ensure(10).unwrap() >= 10);
        input.consume(INITIAL_BUFFER - 5);
        let need = 2 * INITIAL_BUFFER;
        assert!(input.ensure(need).unwrap() >= need);
        assert_eq!(input.available()[0], ((INITIAL_BUFFER - 5) % 256) as u8);
        assert_eq!(input.consumed(), (INITIAL_BUFFER - 5) as u64);
        while input.ensure(1).unwrap() > 0 {
            input.consume(usize::MAX);
        }
        assert_eq!(input.consumed(), data.len() as u64);
    }

    #[test]
    fn short_input_does_not_grow_the_buffer() {
        let data = [7u8; 10];
        let mut input = Input::new(&data[..]);
        assert_eq!(input.ensure(16 << 20).unwrap(), 10);
        assert_eq!(input.buf.len(), INITIAL_BUFFER);
    }

    #[test]
    fn tiny_reads_accumulate() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut input = Input::new(Tiny(&data));
        assert_eq!(input.ensure(50).unwrap(), 51);
        assert_eq!(input.slice(10, 3), &[10, 11, 12]);
        input.consume(90); // clamped to the 51 available
        assert_eq!(input.consumed(), 51);
        assert_eq!(input.ensure(60).unwrap(), 49);
        assert_eq!(input.ensure(60).unwrap(), 49);
        assert_eq!(input.available()[0], 51);
    }
}
