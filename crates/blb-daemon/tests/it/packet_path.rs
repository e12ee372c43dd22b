//! The per-packet path of the live loop (parse, engine, enqueue), shared by the allocation
//! test and the criterion benchmark: synthetic Ethernet/IPv4/UDP frames of a fixed set of
//! flows, both directions, and one step that takes a frame through all three stages.

use std::sync::Arc;

use blb_core::Engine;
use blb_core::hold::{Decision, HoldHandle};
use blb_core::sensor::SensorSet;
use blb_daemon::args::BalanceArgs;
use blb_daemon::config::ConfigFile;
use blb_daemon::pipeline;
use blb_daemon::settings::BalanceSettings;
use blb_live::deliver::queue::{QueueConfig, SensorCounters, SensorQueue};
use blb_live::deliver::{FrameSink, SendError};
use blb_live::{Frame, LiveError};

/// A sink that accepts every frame and keeps nothing.
pub struct Discard;

impl FrameSink for Discard {
    fn describe(&self) -> String {
        "discard".into()
    }
    fn accepts(&self, _: u32) -> bool {
        true
    }
    fn send(&mut self, _: u32, _: Frame<'_>) -> Result<(), SendError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
}

/// An Ethernet/IPv4/UDP frame of `len` bytes from `src:sport` to `dst:dport`.
pub fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let len = len.max(42);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

/// Parse a captured Ethernet frame as the live workers do (outside the engine's lock).
pub fn parse(ts: u64, data: &[u8]) -> blb_core::packet::PacketMeta {
    blb_wire::parse_with(
        blb_wire::Tunnels::Inner,
        blb_wire::linktype::ETHERNET,
        ts,
        data.len() as u32,
        data,
    )
}

/// `flows` UDP flows from distinct clients to a few servers, each flow's request and reply.
pub fn frames(flows: usize, len: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(2 * flows);
    for i in 0..flows {
        let client = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let server = [192, 0, 2, (i % 7) as u8 + 1];
        let port = 1024 + (i % 50_000) as u16;
        out.push(udp_frame(client, server, port, 53, len));
        out.push(udp_frame(server, client, 53, port, len));
    }
    out
}

/// The engine, its balancer and 4 sensor queues into [`Discard`], as `blb balance` builds
/// them for `algorithm`.
pub struct Path {
    pub engine: Engine,
    pub queues: Vec<SensorQueue>,
    released: Vec<(HoldHandle, SensorSet)>,
    pub sent: u64,
}

impl Path {
    pub fn new(algorithm: &str) -> Path {
        let args = BalanceArgs {
            read: Some("-".into()),
            sensors: Some(4),
            algorithm: Some(algorithm.into()),
            write_dir: Some("unused".into()),
            hash_key: Some("000102030405060708090a0b0c0d0e0f".into()),
            ..Default::default()
        };
        let settings = BalanceSettings::merge(&args, &ConfigFile::default()).expect("settings");
        let balancer = pipeline::build_balancer(&settings).expect("balancer");
        let engine = Engine::new(pipeline::engine_config(&settings), balancer).expect("engine");
        let queues = (0..4)
            .map(|i| {
                let counters = Arc::new(SensorCounters::default());
                SensorQueue::spawn(
                    format!("s{i}"),
                    Box::new(Discard),
                    QueueConfig::default(),
                    counters,
                )
                .expect("queue")
            })
            .collect();
        Path {
            engine,
            queues,
            released: Vec::with_capacity(64),
            sent: 0,
        }
    }

    /// One frame through parse, engine and enqueue, as the live loop's drain does.
    pub fn step(&mut self, ts: u64, data: &[u8]) {
        let meta = parse(ts, data);
        self.decide(ts, data, &meta);
    }

    /// Engine and enqueue for a frame parsed into `meta` (what a worker does under the lock
    /// of the engine the workers share).
    pub fn decide(&mut self, ts: u64, data: &[u8], meta: &blb_core::packet::PacketMeta) {
        let wire_len = data.len() as u32;
        let decision = self.engine.handle_or_hold(meta, 0);
        self.engine.released(&mut self.released);
        self.released.clear();
        if let Decision::Send(sensors) = decision {
            let frame = Frame { ts, wire_len, data };
            for s in sensors.iter() {
                if let Some(q) = self.queues.get_mut(usize::from(s)) {
                    q.push(blb_wire::linktype::ETHERNET, frame, 0, &mut |_, _| {});
                    self.sent += 1;
                }
            }
        }
    }
}
