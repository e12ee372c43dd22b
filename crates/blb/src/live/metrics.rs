//! The Prometheus text endpoint: a snapshot the balancing loop publishes every second plus
//! the delivery queues' live counters, rendered in the text exposition format (0.0.4).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use blb_live::deliver::queue::SensorCounters;
use blb_live::http::{Handler, Request, Response};

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
    /// Per capture interface.
    pub capture: Vec<CaptureSnap>,
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
        Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: self.render(&snap).into_bytes(),
        }
    }
}

impl Metrics {
    /// The exposition text for `snap` and the queues' counters now.
    pub fn render(&self, snap: &Snapshot) -> String {
        let mut o = String::with_capacity(8192);
        let l = |i: usize| format!("sensor=\"{}\"", escape(&self.names[i]));
        let per_sensor = |o: &mut String,
                          name: &str,
                          kind: &str,
                          help: &str,
                          v: &dyn Fn(usize) -> Option<f64>| {
            header(o, name, kind, help);
            for i in 0..self.names.len() {
                if let Some(x) = v(i) {
                    let _ = writeln!(o, "{name}{{{}}} {}", l(i), num(x));
                }
            }
        };
        let s = |i: usize| snap.sensors.get(i).cloned().unwrap_or_default();
        let c = |i: usize| self.counters.get(i).map(|c| c.snapshot());
        per_sensor(
            &mut o,
            "blb_sensor_packets_total",
            "counter",
            "Packets routed to the sensor.",
            &|i| Some(s(i).packets as f64),
        );
        per_sensor(
            &mut o,
            "blb_sensor_bytes_total",
            "counter",
            "Bytes routed to the sensor.",
            &|i| Some(s(i).bytes as f64),
        );
        per_sensor(
            &mut o,
            "blb_sensor_flows_total",
            "counter",
            "Flows placed on the sensor.",
            &|i| Some(s(i).flows as f64),
        );
        per_sensor(
            &mut o,
            "blb_sensor_sent_packets_total",
            "counter",
            "Packets the sensor's delivery sent or wrote.",
            &|i| c(i).map(|c| c.sent_packets as f64),
        );
        per_sensor(
            &mut o,
            "blb_sensor_sent_bytes_total",
            "counter",
            "Bytes the sensor's delivery sent or wrote.",
            &|i| c(i).map(|c| c.sent_bytes as f64),
        );
        header(
            &mut o,
            "blb_sensor_drops_total",
            "counter",
            "Packets not delivered to the sensor, by reason.",
        );
        for i in 0..self.names.len() {
            if let Some(c) = c(i) {
                for (reason, v) in [
                    ("sensor_queue_full", c.queue_full),
                    ("frame_rejected", c.frame_errors),
                    ("sensor_write_error", c.path_errors),
                ] {
                    let _ = writeln!(
                        o,
                        "blb_sensor_drops_total{{{},reason=\"{reason}\"}} {v}",
                        l(i)
                    );
                }
            }
        }
        per_sensor(
            &mut o,
            "blb_sensor_load_estimated_percent",
            "gauge",
            "blb's estimate of the sensor's load, percent of its capacity.",
            &|i| Some(s(i).estimated_load),
        );
        per_sensor(
            &mut o,
            "blb_sensor_load_reported_percent",
            "gauge",
            "The sensor's last reported load (SNMP or push), percent.",
            &|i| s(i).reported_load.map(|r| r.0),
        );
        per_sensor(
            &mut o,
            "blb_sensor_load_report_age_seconds",
            "gauge",
            "Age of the sensor's last load report.",
            &|i| s(i).reported_load.map(|r| r.1),
        );
        per_sensor(
            &mut o,
            "blb_sensor_load_percent",
            "gauge",
            "The load the balancer uses: the estimate combined with a fresh report.",
            &|i| Some(s(i).load),
        );
        let loss = |i: usize| s(i).loss;
        per_sensor(
            &mut o,
            "blb_sensor_loss_percent",
            "gauge",
            "The last loss figure of the sensor's own loss source, percent: Suricata's drop ratio (the worst of the total and its capture workers) or Zeek's percent_lost.",
            &|i| loss(i).and_then(|l| l.loss_percent),
        );
        per_sensor(
            &mut o,
            "blb_sensor_loss_worst_worker_percent",
            "gauge",
            "The last drop ratio of the sensor's worst Suricata capture worker, percent.",
            &|i| loss(i).and_then(|l| l.worst_worker_percent),
        );
        per_sensor(
            &mut o,
            "blb_sensor_loss_overloaded",
            "gauge",
            "1 while the sensor's own loss figures hold its load at 100 % or more.",
            &|i| loss(i).map(|l| f64::from(u8::from(l.overloaded))),
        );
        per_sensor(
            &mut o,
            "blb_sensor_loss_stale",
            "gauge",
            "1 while the sensor's loss source is stale (its load is the estimate).",
            &|i| loss(i).map(|l| f64::from(u8::from(l.stale))),
        );
        for (name, help, v) in [
            (
                "blb_sensor_loss_samples_total",
                "Usable samples of the sensor's loss source.",
                (|l: &super::feeds::FeedStatus| l.counts.samples)
                    as fn(&super::feeds::FeedStatus) -> u64,
            ),
            (
                "blb_sensor_loss_overloads_total",
                "Times the sensor's own loss figures turned it overloaded.",
                |l| l.counts.entered,
            ),
            (
                "blb_sensor_loss_repeats_total",
                "Suricata records that repeated the previous counters (published every 3 s, written every 2 s).",
                |l| l.counts.repeats,
            ),
            (
                "blb_sensor_loss_garbled_total",
                "Records of the sensor's loss source that could not be used.",
                |l| l.counts.garbled,
            ),
            (
                "blb_sensor_loss_stale_total",
                "Times the sensor's loss source went stale.",
                |l| l.counts.stale,
            ),
            (
                "blb_sensor_loss_errors_total",
                "Reads of the sensor's loss source that failed (missing file, socket, Suricata's NOK).",
                |l| l.errors,
            ),
        ] {
            per_sensor(&mut o, name, "counter", help, &|i| {
                loss(i).map(|l| v(&l) as f64)
            });
        }
        header(
            &mut o,
            "blb_sensor_loss_reports_total",
            "counter",
            "Load floors from the sensor's loss source, accepted or refused by the engine.",
        );
        for i in 0..self.names.len() {
            if let Some(f) = loss(i) {
                for (result, v) in [
                    ("accepted", f.reports_accepted),
                    ("refused", f.reports_refused),
                ] {
                    let _ = writeln!(
                        o,
                        "blb_sensor_loss_reports_total{{{},result=\"{result}\"}} {v}",
                        l(i)
                    );
                }
            }
        }
        per_sensor(
            &mut o,
            "blb_sensor_up",
            "gauge",
            "1 when the sensor is in service.",
            &|i| Some(if s(i).up { 1.0 } else { 0.0 }),
        );
        header(
            &mut o,
            "blb_sensor_out_reason",
            "gauge",
            "1 for each reason the sensor is out of service.",
        );
        for i in 0..self.names.len() {
            for r in crate::live::health::Reason::ALL {
                let on = s(i).reasons.contains(&r.name());
                let _ = writeln!(
                    o,
                    "blb_sensor_out_reason{{{},reason=\"{}\"}} {}",
                    l(i),
                    r.name(),
                    u8::from(on)
                );
            }
        }
        header(
            &mut o,
            "blb_capture_packets_total",
            "counter",
            "Packets the kernel passed to the capture.",
        );
        for cap in &snap.capture {
            let _ = writeln!(
                o,
                "blb_capture_packets_total{{interface=\"{}\"}} {}",
                escape(&cap.interface),
                cap.received
            );
        }
        header(
            &mut o,
            "blb_capture_kernel_drops_total",
            "counter",
            "Packets the kernel dropped before blb saw them (capture ring full).",
        );
        for cap in &snap.capture {
            let _ = writeln!(
                o,
                "blb_capture_kernel_drops_total{{interface=\"{}\"}} {}",
                escape(&cap.interface),
                cap.dropped
            );
        }
        let scalar = |o: &mut String, name: &str, kind: &str, help: &str, v: f64| {
            header(o, name, kind, help);
            let _ = writeln!(o, "{name} {}", num(v));
        };
        scalar(
            &mut o,
            "blb_packets_total",
            "counter",
            "Packets captured and handled.",
            snap.packets_in as f64,
        );
        scalar(
            &mut o,
            "blb_bytes_total",
            "counter",
            "Bytes captured and handled.",
            snap.bytes_in as f64,
        );
        header(
            &mut o,
            "blb_drops_total",
            "counter",
            "Packets the engine could not route, by reason.",
        );
        for (reason, v) in &snap.drops {
            let _ = writeln!(o, "blb_drops_total{{reason=\"{reason}\"}} {v}");
        }
        scalar(
            &mut o,
            "blb_flow_table_flows",
            "gauge",
            "Flows in the flow table.",
            snap.flows_live as f64,
        );
        scalar(
            &mut o,
            "blb_flows_created_total",
            "counter",
            "Flows created.",
            snap.flows_created as f64,
        );
        scalar(
            &mut o,
            "blb_flows_expired_total",
            "counter",
            "Flows expired.",
            snap.flows_expired as f64,
        );
        scalar(
            &mut o,
            "blb_flow_table_evictions_total",
            "counter",
            "Flows evicted because the flow table was full.",
            snap.flows_evicted as f64,
        );
        scalar(
            &mut o,
            "blb_decisions_per_second",
            "gauge",
            "New-flow decisions per second.",
            snap.decisions_per_second,
        );
        scalar(
            &mut o,
            "blb_load_variance",
            "gauge",
            "Variance of the loads of the sensors in service (percent squared).",
            snap.load_variance,
        );
        let bal = |k: &str| {
            snap.balancer
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| *v as f64)
        };
        if let Some(v) = bal("clusters_live") {
            scalar(&mut o, "blb_clusters", "gauge", "BLB clusters live.", v);
            scalar(
                &mut o,
                "blb_clusters_created_total",
                "counter",
                "BLB clusters created.",
                bal("clusters_created").unwrap_or(0.0),
            );
            scalar(
                &mut o,
                "blb_clusters_deleted_total",
                "counter",
                "BLB clusters deleted (light, or evicted at the cap).",
                bal("clusters_deleted").unwrap_or(0.0) + bal("clusters_evicted").unwrap_or(0.0),
            );
        }
        let f = snap.failover;
        scalar(
            &mut o,
            "blb_failover_sensors_left_total",
            "counter",
            "Times a sensor left service.",
            f.sensors_left as f64,
        );
        scalar(
            &mut o,
            "blb_failover_sensors_returned_total",
            "counter",
            "Times a sensor returned to service.",
            f.sensors_returned as f64,
        );
        scalar(
            &mut o,
            "blb_failover_flows_moved_total",
            "counter",
            "Live flows moved off sensors that left service.",
            f.flows_moved as f64,
        );
        scalar(
            &mut o,
            "blb_failover_clusters_moved_total",
            "counter",
            "Clusters moved off sensors that left service.",
            f.clusters_moved as f64,
        );
        scalar(
            &mut o,
            "blb_failover_datagrams_forgotten_total",
            "counter",
            "Fragmented datagrams forgotten because their sensor left service.",
            f.datagrams_forgotten as f64,
        );
        scalar(
            &mut o,
            "blb_failover_flows_replaced_total",
            "counter",
            "Flows placed again after every sensor had been out of service.",
            f.flows_replaced as f64,
        );
        let b = snap.bypass;
        header(
            &mut o,
            "blb_bypass_requests_total",
            "counter",
            "Bypass requests from the sensors, by outcome (bypassed packets are in blb_drops_total{reason=\"bypassed\"}).",
        );
        for (outcome, v) in [
            ("bypassed", b.requested),
            ("cancelled", b.cancelled),
            ("unknown_flow", b.unknown_flow),
            ("ended_with_flow", b.expired),
        ] {
            let _ = writeln!(o, "blb_bypass_requests_total{{outcome=\"{outcome}\"}} {v}");
        }
        scalar(
            &mut o,
            "blb_bypassed_bytes_total",
            "counter",
            "Captured bytes of the packets bypassed at a sensor's request.",
            b.bytes as f64,
        );
        scalar(
            &mut o,
            "blb_flow_cutoff_flows_total",
            "counter",
            "Flows that reached the per-flow cutoff.",
            snap.cutoff.flows as f64,
        );
        scalar(
            &mut o,
            "blb_flow_cutoff_bytes_total",
            "counter",
            "Captured bytes of the packets cut by the per-flow cutoff (their count is blb_drops_total{reason=\"flow_cutoff\"}).",
            snap.cutoff.bytes as f64,
        );
        header(&mut o, "blb_info", "gauge", "The balancing algorithm.");
        let _ = writeln!(
            o,
            "blb_info{{algorithm=\"{}\",version=\"{}\"}} 1",
            self.algorithm,
            env!("CARGO_PKG_VERSION")
        );
        o
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// A label value escaped as the exposition format wants.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}
