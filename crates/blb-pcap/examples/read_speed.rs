//! Measures reading (and writing) speed: `cargo run --release -p blb-pcap --example read_speed [FILE]`.
//!
//! Without a file, it writes 5 million 60-byte packets as pcap and as pcapng to temporary
//! files, then reads them back through a plain `File`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

use blb_pcap::{CaptureReader, PcapError, PcapNgWriter, PcapWriter, TsPrecision};

const PACKETS: u64 = 5_000_000;

fn read(path: &Path) -> Result<(), PcapError> {
    let start = Instant::now();
    let mut r = CaptureReader::new(File::open(path)?)?;
    let mut bytes = 0u64;
    let mut sum = 0u64;
    while let Some(p) = r.next_packet()? {
        bytes += u64::from(p.cap_len);
        sum = sum.wrapping_add(u64::from(p.data.first().copied().unwrap_or(0)));
    }
    let secs = start.elapsed().as_secs_f64();
    let n = r.records_read();
    println!(
        "read  {:?} {}: {n} packets, {bytes} bytes in {secs:.3} s = {:.1} M packets/s, {:.0} MB/s (checksum {sum})",
        r.format(),
        path.display(),
        n as f64 / secs / 1e6,
        r.bytes_consumed() as f64 / secs / 1e6,
    );
    Ok(())
}

fn main() -> Result<(), PcapError> {
    if let Some(path) = std::env::args_os().nth(1) {
        return read(Path::new(&path));
    }
    let dir = tempfile::tempdir()?;
    let data = [0x5au8; 60];

    let pcap = dir.path().join("speed.pcap");
    let start = Instant::now();
    let out = BufWriter::with_capacity(1 << 20, File::create(&pcap)?);
    let mut w = PcapWriter::new(out, 1, TsPrecision::Nano, 65_535)?;
    for i in 0..PACKETS {
        w.write_packet(1_700_000_000_000_000_000 + i * 100, 60, &data)?;
    }
    w.into_inner()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "write pcap:   {:.1} M packets/s",
        PACKETS as f64 / secs / 1e6
    );

    let ng = dir.path().join("speed.pcapng");
    let start = Instant::now();
    let out = BufWriter::with_capacity(1 << 20, File::create(&ng)?);
    let mut w = PcapNgWriter::new(out)?;
    let itf = w.add_interface(1, 65_535)?;
    for i in 0..PACKETS {
        w.write_packet(itf, 1_700_000_000_000_000_000 + i * 100, 60, &data)?;
    }
    w.into_inner()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "write pcapng: {:.1} M packets/s",
        PACKETS as f64 / secs / 1e6
    );

    // Writing into a buffered sink: the CPU cost of the writers alone.
    let start = Instant::now();
    let out = BufWriter::with_capacity(1 << 20, std::io::sink());
    let mut w = PcapWriter::new(out, 1, TsPrecision::Nano, 65_535)?;
    for i in 0..PACKETS {
        w.write_packet(1_700_000_000_000_000_000 + i * 100, 60, &data)?;
    }
    w.into_inner()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "write pcap to a sink:   {:.1} M packets/s",
        PACKETS as f64 / secs / 1e6
    );
    let start = Instant::now();
    let mut w = PcapNgWriter::new(BufWriter::with_capacity(1 << 20, std::io::sink()))?;
    let itf = w.add_interface(1, 65_535)?;
    for i in 0..PACKETS {
        w.write_packet(itf, 1_700_000_000_000_000_000 + i * 100, 60, &data)?;
    }
    w.into_inner()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "write pcapng to a sink: {:.1} M packets/s",
        PACKETS as f64 / secs / 1e6
    );

    for _ in 0..2 {
        read(&pcap)?;
        read(&ng)?;
    }
    Ok(())
}
