//! Shared helpers: generate a scenario, parse its frames, split training from detection.

use blb_core::packet::{NANOS_PER_SEC, PacketMeta};
use blb_detect::{AddressDb, AddressDbConfig, Cusum, CusumConfig, ScanConfig, ScanDetector};
use blb_gen::{FnSink, GenOptions, GenReport, Scenario};

/// A generated scenario as parsed packet records.
pub struct Run {
    pub report: GenReport,
    pub packets: Vec<PacketMeta>,
    /// Unix ns at which the attack (the detection period) starts.
    pub attack_start: u64,
    /// Unix ns at which the capture ends.
    pub end: u64,
}

/// Generates `scenario` with `opts`, parsing every frame with `blb_wire::parse`.
pub fn run(scenario: Scenario, opts: &GenOptions) -> Run {
    let mut packets = Vec::new();
    let mut sink = FnSink(|ts: u64, frame: &[u8]| {
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        packets.push(blb_wire::parse(1, ts, len, frame));
        Ok(())
    });
    let report = blb_gen::generate(scenario, opts, &mut sink).expect("generate");
    let base = opts.start_time * NANOS_PER_SEC;
    let attack_start = base + (opts.training_secs * 1e9).round() as u64;
    let end = base + ((opts.training_secs + opts.duration_secs) * 1e9).round() as u64;
    Run {
        report,
        packets,
        attack_start,
        end,
    }
}

impl Run {
    /// The address database learned from the packets before the attack start.
    pub fn trained_db(&self) -> AddressDb {
        let mut db = AddressDb::new(AddressDbConfig::default()).unwrap();
        for p in self.packets.iter().filter(|p| p.ts < self.attack_start) {
            db.learn(p);
        }
        db.finish_training();
        db
    }

    /// The packets of the detection period.
    pub fn detection(&self) -> impl Iterator<Item = &PacketMeta> {
        self.packets.iter().filter(|p| p.ts >= self.attack_start)
    }

    /// One CUSUM detector over all detection traffic, origin at the attack start.
    pub fn cusum(&self) -> Cusum {
        let mut c = Cusum::new(
            CusumConfig::default(),
            self.trained_db(),
            Some(self.attack_start),
        )
        .unwrap();
        for p in self.detection() {
            c.observe(p);
        }
        c.finish(self.end);
        c
    }

    /// One scan detector over all detection traffic, origin at the attack start.
    pub fn scan(&self) -> ScanDetector {
        let mut d = ScanDetector::new(ScanConfig::default(), Some(self.attack_start)).unwrap();
        for p in self.detection() {
            d.observe(p);
        }
        d.finish(self.end);
        d
    }

    /// Seconds from the attack start to `ts`.
    pub fn secs_after_start(&self, ts: u64) -> f64 {
        (ts as f64 - self.attack_start as f64) / 1e9
    }
}
