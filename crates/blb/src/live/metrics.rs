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
        let t = snap.tunnels;
        scalar(
            &mut o,
            "blb_tunnelled_packets_total",
            "counter",
            "Packets balanced on headers inside at least one tunnel.",
            t.packets as f64,
        );
        header(
            &mut o,
            "blb_tunnel_packets_total",
            "counter",
            "Packets balanced on headers inside a tunnel, by kind (a packet in two kinds of tunnel counts under both).",
        );
        for (kind, v) in t.by_name() {
            let _ = writeln!(o, "blb_tunnel_packets_total{{kind=\"{kind}\"}} {v}");
        }
        scalar(
            &mut o,
            "blb_tunnel_depth_limited_total",
            "counter",
            "Packets with tunnels nested past the depth limit, balanced on the last headers read.",
            t.depth_limited as f64,
        );
        scalar(
            &mut o,
            "blb_tunnel_malformed_total",
            "counter",
            "Packets with a truncated or invalid tunnel, balanced on the headers around it.",
            t.malformed as f64,
        );
        scalar(
            &mut o,
            "blb_tunnel_fragmented_outer_total",
            "counter",
            "First fragments of fragmented outer datagrams balanced on their inner headers.",
            t.fragmented_outer as f64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use blb_core::tunnel::{TunnelKind, TunnelStats};

    #[test]
    fn tunnel_counters_are_exposed_per_kind() {
        let m = Metrics {
            names: vec!["s0".into()],
            counters: vec![Arc::new(SensorCounters::default())],
            snapshot: Arc::default(),
            algorithm: "hash",
        };
        let mut tunnels = TunnelStats {
            packets: 12,
            depth_limited: 1,
            malformed: 2,
            fragmented_outer: 3,
            ..TunnelStats::default()
        };
        tunnels.by_kind[TunnelKind::Vxlan.index()] = 9;
        let text = m.render(&Snapshot {
            tunnels,
            ..Snapshot::default()
        });
        for line in [
            "blb_tunnelled_packets_total 12",
            "blb_tunnel_packets_total{kind=\"vxlan\"} 9",
            "blb_tunnel_packets_total{kind=\"gtp_u\"} 0",
            "blb_tunnel_depth_limited_total 1",
            "blb_tunnel_malformed_total 2",
            "blb_tunnel_fragmented_outer_total 3",
            "# TYPE blb_tunnel_packets_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("blb_tunnel_packets_total{"))
                .count(),
            TunnelKind::COUNT
        );
    }
}
