//! The metrics endpoint: a snapshot the balancing loop publishes every second plus the
//! delivery queues' live counters, served in the OpenMetrics text format by the
//! `prometheus-client` crate (the families themselves are in [`super::metrics_text`]).

use std::sync::{Arc, Mutex};

use blb_live::deliver::queue::SensorCounters;
use blb_live::http::{Handler, Request, Response};
use prometheus_client::registry::Registry;

use super::metrics_text::Scrape;

/// The OpenMetrics content type (Prometheus asks for it and parses it natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One sensor in a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensorSnap {
    /// Packets routed to it (delivered or not; only grows).
    pub packets: u64,
    /// Bytes routed to it (only grows).
    pub bytes: u64,
    /// Flows placed on it.
    pub flows: u64,
    /// blb's estimate of its load, percent of capacity.
    pub estimated_load: f64,
    /// Its last report, percent, and the report's age in seconds.
    pub reported_load: Option<(f64, f64)>,
    /// The load the balancer uses (estimate combined with a fresh report).
    pub load: f64,
    /// Its own loss source, if it has one.
    pub loss: Option<super::feeds::FeedStatus>,
    /// In service.
    pub up: bool,
    /// Why it is out of service.
    pub reasons: Vec<&'static str>,
}

/// One capture interface in a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaptureSnap {
    /// Interface.
    pub interface: String,
    /// Packets the kernel passed to the capture.
    pub received: u64,
    /// Packets the kernel dropped (ring full).
    pub dropped: u64,
}

/// What the balancing loop publishes.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Per sensor.
    pub sensors: Vec<SensorSnap>,
    /// Per capture interface (summed over the workers' rings).
    pub capture: Vec<CaptureSnap>,
    /// Frames each balancing worker took.
    pub workers: Vec<u64>,
    /// Packets handled.
    pub packets_in: u64,
    /// Bytes handled.
    pub bytes_in: u64,
    /// Drops by reason (engine side).
    pub drops: Vec<(&'static str, u64)>,
    /// Flows in the table now.
    pub flows_live: u64,
    /// Flows created.
    pub flows_created: u64,
    /// Flows expired.
    pub flows_expired: u64,
    /// Flows evicted (table full).
    pub flows_evicted: u64,
    /// The balancer's counters (BLB: clusters live, created, deleted, ...).
    pub balancer: Vec<(&'static str, u64)>,
    /// New-flow decisions per second over the last interval.
    pub decisions_per_second: f64,
    /// Variance of the loads of the sensors in service (%²).
    pub load_variance: f64,
    /// Failover counters.
    pub failover: blb_core::failover::FailoverStats,
    /// Bypass requests from the sensors.
    pub bypass: blb_core::stats::BypassStats,
    /// The per-flow cutoff.
    pub cutoff: blb_core::stats::CutoffStats,
    /// Tunnel counters.
    pub tunnels: blb_core::tunnel::TunnelStats,
}

/// Renders metrics on request.
pub struct Metrics {
    /// Sensor names.
    pub names: Vec<String>,
    /// The delivery queues' counters.
    pub counters: Vec<Arc<SensorCounters>>,
    /// The latest snapshot.
    pub snapshot: Arc<Mutex<Snapshot>>,
    /// The algorithm's name.
    pub algorithm: &'static str,
}

impl Handler for Metrics {
    fn handle(&self, req: &Request) -> Response {
        if req.method != "GET" && req.method != "HEAD" {
            return Response::text(405, "use GET\n");
        }
        if req.path != "/metrics" && req.path != "/" {
            return Response::text(404, "metrics are at /metrics\n");
        }
        let snap = match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        };
        match self.render(&snap) {
            Ok(text) => Response {
                status: 200,
                content_type: CONTENT_TYPE,
                body: text.into_bytes(),
            },
            Err(_) => Response::text(500, "the metrics could not be encoded\n"),
        }
    }
}

impl Metrics {
    /// The exposition text for `snap` and the queues' counters now.
    pub fn render(&self, snap: &Snapshot) -> Result<String, std::fmt::Error> {
        let scrape = Scrape {
            names: self.names.clone(),
            queues: self.counters.iter().map(|c| c.snapshot()).collect(),
            snap: snap.clone(),
            algorithm: self.algorithm,
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(scrape));
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(text)
    }
}
