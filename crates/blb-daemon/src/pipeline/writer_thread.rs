//! A writer thread for the sensor outputs: the pipeline fills one batch buffer per sensor and
//! hands full batches to a thread that writes them to the files, so reading, parsing and
//! balancing on one core overlap with the kernel's copying of the outputs on the other.
//!
//! Batches are written in the order they are sent, so each file's bytes are exactly what a
//! direct writer would produce. The queue is bounded (backpressure, bounded memory) and batch
//! buffers are recycled (no allocation per batch in the steady state): at most one buffer of
//! [`BATCH`] bytes per sensor being filled, [`QUEUE`] queued and one being written, so
//! `(sensors + QUEUE + 1) × BATCH` bytes at most, whatever the input's length.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Bytes gathered per sensor before a batch is handed over.
pub const BATCH: usize = 1 << 20;
/// Batches in flight at most.
pub const QUEUE: usize = 32;

/// The thread and the channels to it.
pub struct WriterThread {
    tx: Option<SyncSender<(usize, Vec<u8>)>>,
    pool: Rc<Receiver<Vec<u8>>>,
    handle: Option<JoinHandle<Result<(), (PathBuf, std::io::Error)>>>,
}

impl WriterThread {
    /// Start a thread writing to these files (index = sensor).
    pub fn start(files: Vec<(PathBuf, File)>) -> Self {
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(QUEUE);
        let (back, pool) = mpsc::channel::<Vec<u8>>();
        let handle = std::thread::Builder::new()
            .name("blb-writer".into())
            .spawn(move || run(files, rx, back))
            .expect("the operating system starts a thread");
        WriterThread {
            tx: Some(tx),
            pool: Rc::new(pool),
            handle: Some(handle),
        }
    }

    /// A `Write` for sensor `i` that batches into this thread.
    pub fn sink(&self, i: usize) -> BatchSink {
        BatchSink {
            sensor: i,
            buf: Vec::new(),
            tx: self.tx.clone(),
            pool: Rc::clone(&self.pool),
        }
    }

    /// Stop taking batches (the sinks must be flushed and dropped first) and wait for every
    /// batch to be written and the files flushed. The error names the file.
    pub fn finish(&mut self) -> Result<(), (PathBuf, std::io::Error)> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err((
                    PathBuf::from("<outputs>"),
                    std::io::Error::other("the writer thread stopped"),
                ))
            }),
            None => Ok(()),
        }
    }
}

fn run(
    mut files: Vec<(PathBuf, File)>,
    rx: Receiver<(usize, Vec<u8>)>,
    back: Sender<Vec<u8>>,
) -> Result<(), (PathBuf, std::io::Error)> {
    for (i, mut batch) in rx {
        let Some((path, file)) = files.get_mut(i) else {
            continue;
        };
        file.write_all(&batch).map_err(|e| (path.clone(), e))?;
        batch.clear();
        let _ = back.send(batch);
    }
    for (path, file) in &mut files {
        file.flush().map_err(|e| (path.clone(), e))?;
    }
    Ok(())
}

/// The per-sensor `Write` end: gathers bytes, hands full batches to the thread.
pub struct BatchSink {
    sensor: usize,
    buf: Vec<u8>,
    tx: Option<SyncSender<(usize, Vec<u8>)>>,
    pool: Rc<Receiver<Vec<u8>>>,
}

impl BatchSink {
    fn hand_over(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .pool
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let full = std::mem::replace(&mut self.buf, next);
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| std::io::Error::other("outputs closed"))?;
        tx.send((self.sensor, full))
            .map_err(|_| std::io::Error::other("the writer thread stopped"))
    }
}

impl Write for BatchSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // Hand the batch over before it would outgrow its capacity: a batch that grew past
        // BATCH would double its buffer, and every buffer in flight with it.
        if !self.buf.is_empty() && self.buf.len() + data.len() > BATCH {
            self.hand_over()?;
        }
        if self.buf.capacity() == 0 {
            self.buf = self
                .pool
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BATCH {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.hand_over()
    }
}
