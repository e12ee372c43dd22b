//! Every metric family blb exposes, encoded from one snapshot through `prometheus-client`'s
//! collector interface. Names are the ones the text endpoint always had: a counter is named
//! here with its `_total` sample suffix, which OpenMetrics' `# TYPE` line leaves out.

use std::fmt::Error;

use blb_live::deliver::queue::SensorCountersSnapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::{MetricType, TypedMetric};

use super::feeds::FeedStatus;
use super::metrics::{SensorSnap, Snapshot};

/// How a loss source's counter is read.
type Count = fn(&FeedStatus) -> u64;

/// One scrape: the loop's snapshot and the delivery queues' counters read now.
#[derive(Debug)]
pub struct Scrape {
    /// Sensor names.
    pub names: Vec<String>,
    /// Each sensor's delivery counters.
    pub queues: Vec<SensorCountersSnapshot>,
    /// The loop's snapshot.
    pub snap: Snapshot,
    /// The algorithm's name.
    pub algorithm: &'static str,
}

/// Writes families into the encoder.
struct Out<'a, 'b> {
    enc: &'a mut DescriptorEncoder<'b>,
}

impl Out<'_, '_> {
    /// One family: `rows` of (labels, metric); a counter's name loses its `_total` here.
    fn family<L: EncodeLabelSet, M: EncodeMetric + TypedMetric>(
        &mut self,
        name: &str,
        help: &str,
        rows: impl IntoIterator<Item = (L, M)>,
    ) -> Result<(), Error> {
        let mut family = self
            .enc
            .encode_descriptor(bare(name, M::TYPE), help, None, M::TYPE)?;
        for (labels, metric) in rows {
            metric.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// One metric without labels.
    fn single<M: EncodeMetric + TypedMetric>(
        &mut self,
        name: &str,
        help: &str,
        metric: M,
    ) -> Result<(), Error> {
        let family = self
            .enc
            .encode_descriptor(bare(name, M::TYPE), help, None, M::TYPE)?;
        metric.encode(family)
    }

    fn counter(&mut self, name: &str, help: &str, v: u64) -> Result<(), Error> {
        self.single(name, help, ConstCounter::new(v))
    }

    fn gauge(&mut self, name: &str, help: &str, v: f64) -> Result<(), Error> {
        self.single(name, help, ConstGauge::new(v))
    }

    /// A gauge that counts something (written without a fraction).
    fn count(&mut self, name: &str, help: &str, v: u64) -> Result<(), Error> {
        let v = i64::try_from(v).unwrap_or(i64::MAX);
        self.single(name, help, ConstGauge::new(v))
    }
}

/// The family's name as OpenMetrics wants it: a counter's without its `_total`.
fn bare(name: &str, kind: MetricType) -> &str {
    match kind {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

/// A label value escaped as the text format wants (prometheus-client writes values as they
/// are, and sensor and interface names come from the configuration).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: f64) -> ConstGauge<f64> {
    ConstGauge::new(v)
}

/// A gauge that is a whole number (a flag, a count), written without a fraction.
fn whole(v: i64) -> ConstGauge<i64> {
    ConstGauge::new(v)
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), Error> {
        let mut out = Out { enc: &mut enc };
        self.sensors(&mut out)?;
        self.loss(&mut out)?;
        self.health(&mut out)?;
        self.engine(&mut out)?;
        self.failover_and_limits(&mut out)?;
        self.tunnels(&mut out)?;
        out.family(
            "blb_info",
            "The balancing algorithm.",
            [(
                [
                    ("algorithm", self.algorithm.to_string()),
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                ],
                whole(1),
            )],
        )
    }
}

impl Scrape {
    fn sensor(&self, i: usize) -> SensorSnap {
        self.snap.sensors.get(i).cloned().unwrap_or_default()
    }

    fn label(&self, i: usize) -> [(&'static str, String); 1] {
        [("sensor", escape(&self.names[i]))]
    }

    /// A family with one row per sensor that has a value.
    fn per_sensor<M: EncodeMetric + TypedMetric>(
        &self,
        out: &mut Out,
        name: &str,
        help: &str,
        v: impl Fn(usize) -> Option<M>,
    ) -> Result<(), Error> {
        let rows = (0..self.names.len()).filter_map(|i| v(i).map(|m| (self.label(i), m)));
        out.family(name, help, rows)
    }

    fn sensors(&self, out: &mut Out) -> Result<(), Error> {
        let s = |i| self.sensor(i);
        let q = |i: usize| self.queues.get(i).copied();
        let c = |v: u64| Some(counter(v));
        let g = |v: f64| Some(gauge(v));
        self.per_sensor(
            out,
            "blb_sensor_packets_total",
            "Packets routed to the sensor.",
            |i| c(s(i).packets),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_bytes_total",
            "Bytes routed to the sensor.",
            |i| c(s(i).bytes),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_flows_total",
            "Flows placed on the sensor.",
            |i| c(s(i).flows),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_sent_packets_total",
            "Packets the sensor's delivery sent or wrote.",
            |i| q(i).map(|q| counter(q.sent_packets)),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_sent_bytes_total",
            "Bytes the sensor's delivery sent or wrote.",
            |i| q(i).map(|q| counter(q.sent_bytes)),
        )?;
        let drops = (0..self.names.len())
            .filter_map(|i| q(i).map(|q| (i, q)))
            .flat_map(|(i, q)| {
                [
                    ("sensor_queue_full", q.queue_full),
                    ("frame_rejected", q.frame_errors),
                    ("sensor_write_error", q.path_errors),
                ]
                .map(|(reason, v)| {
                    (
                        [self.label(i)[0].clone(), ("reason", reason.to_string())],
                        counter(v),
                    )
                })
            });
        out.family(
            "blb_sensor_drops_total",
            "Packets not delivered to the sensor, by reason.",
            drops,
        )?;
        self.per_sensor(
            out,
            "blb_sensor_load_estimated_percent",
            "blb's estimate of the sensor's load, percent of its capacity.",
            |i| g(s(i).estimated_load),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_load_reported_percent",
            "The sensor's last reported load (SNMP or push), percent.",
            |i| s(i).reported_load.map(|r| gauge(r.0)),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_load_report_age_seconds",
            "Age of the sensor's last load report.",
            |i| s(i).reported_load.map(|r| gauge(r.1)),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_load_percent",
            "The load the balancer uses: the estimate combined with a fresh report.",
            |i| g(s(i).load),
        )
    }

    fn loss(&self, out: &mut Out) -> Result<(), Error> {
        let loss = |i: usize| self.sensor(i).loss;
        let flag = |b: bool| whole(i64::from(b));
        self.per_sensor(out, "blb_sensor_loss_percent", "The last loss figure of the sensor's own loss source, percent: Suricata's drop ratio (the worst of the total and its capture workers) or Zeek's percent_lost.", |i| loss(i).and_then(|l| l.loss_percent).map(gauge))?;
        self.per_sensor(
            out,
            "blb_sensor_loss_worst_worker_percent",
            "The last drop ratio of the sensor's worst Suricata capture worker, percent.",
            |i| loss(i).and_then(|l| l.worst_worker_percent).map(gauge),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_loss_overloaded",
            "1 while the sensor's own loss figures hold its load at 100 % or more.",
            |i| loss(i).map(|l| flag(l.overloaded)),
        )?;
        self.per_sensor(
            out,
            "blb_sensor_loss_stale",
            "1 while the sensor's loss source is stale (its load is the estimate).",
            |i| loss(i).map(|l| flag(l.stale)),
        )?;
        let counts: [(&str, &str, Count); 6] = [
            (
                "blb_sensor_loss_samples_total",
                "Usable samples of the sensor's loss source.",
                |l| l.counts.samples,
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
        ];
        for (name, help, v) in counts {
            self.per_sensor(out, name, help, |i| loss(i).map(|l| counter(v(&l))))?;
        }
        let reports = (0..self.names.len())
            .filter_map(|i| loss(i).map(|l| (i, l)))
            .flat_map(|(i, l)| {
                [
                    ("accepted", l.reports_accepted),
                    ("refused", l.reports_refused),
                ]
                .map(|(result, v)| {
                    (
                        [self.label(i)[0].clone(), ("result", result.to_string())],
                        counter(v),
                    )
                })
            });
        out.family(
            "blb_sensor_loss_reports_total",
            "Load floors from the sensor's loss source, accepted or refused by the engine.",
            reports,
        )
    }

    fn health(&self, out: &mut Out) -> Result<(), Error> {
        self.per_sensor(
            out,
            "blb_sensor_up",
            "1 when the sensor is in service.",
            |i| Some(whole(i64::from(self.sensor(i).up))),
        )?;
        let reasons = (0..self.names.len()).flat_map(|i| {
            let on = self.sensor(i).reasons;
            crate::live::health::Reason::ALL.map(|r| {
                let set = on.contains(&r.name());
                (
                    [self.label(i)[0].clone(), ("reason", r.name().to_string())],
                    whole(i64::from(set)),
                )
            })
        });
        out.family(
            "blb_sensor_out_reason",
            "1 for each reason the sensor is out of service.",
            reasons,
        )?;
        let iface = |c: &super::metrics::CaptureSnap| [("interface", escape(&c.interface))];
        let cap = &self.snap.capture;
        out.family(
            "blb_capture_packets_total",
            "Packets the kernel passed to the capture.",
            cap.iter().map(|c| (iface(c), counter(c.received))),
        )?;
        out.family(
            "blb_capture_kernel_drops_total",
            "Packets the kernel dropped before blb saw them (capture ring full).",
            cap.iter().map(|c| (iface(c), counter(c.dropped))),
        )?;
        out.family(
            "blb_worker_packets_total",
            "Packets each balancing worker took from its capture rings (the kernel's fanout spreads connections over the workers).",
            self.snap
                .workers
                .iter()
                .enumerate()
                .map(|(w, n)| ([("worker", w.to_string())], counter(*n))),
        )
    }

    fn engine(&self, out: &mut Out) -> Result<(), Error> {
        let snap = &self.snap;
        out.counter(
            "blb_packets_total",
            "Packets captured and handled.",
            snap.packets_in,
        )?;
        out.counter(
            "blb_bytes_total",
            "Bytes captured and handled.",
            snap.bytes_in,
        )?;
        let drops = snap
            .drops
            .iter()
            .map(|&(reason, v)| ([("reason", reason.to_string())], counter(v)));
        out.family(
            "blb_drops_total",
            "Packets the engine could not route, by reason.",
            drops,
        )?;
        out.count(
            "blb_flow_table_flows",
            "Flows in the flow table.",
            snap.flows_live,
        )?;
        out.counter(
            "blb_flows_created_total",
            "Flows created.",
            snap.flows_created,
        )?;
        out.counter(
            "blb_flows_expired_total",
            "Flows expired.",
            snap.flows_expired,
        )?;
        out.counter(
            "blb_flow_table_evictions_total",
            "Flows evicted because the flow table was full.",
            snap.flows_evicted,
        )?;
        out.gauge(
            "blb_decisions_per_second",
            "New-flow decisions per second.",
            snap.decisions_per_second,
        )?;
        out.gauge(
            "blb_load_variance",
            "Variance of the loads of the sensors in service (percent squared).",
            snap.load_variance,
        )?;
        let bal = |k: &str| snap.balancer.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        if let Some(v) = bal("clusters_live") {
            out.count("blb_clusters", "BLB clusters live.", v)?;
            out.counter(
                "blb_clusters_created_total",
                "BLB clusters created.",
                bal("clusters_created").unwrap_or(0),
            )?;
            let deleted =
                bal("clusters_deleted").unwrap_or(0) + bal("clusters_evicted").unwrap_or(0);
            out.counter(
                "blb_clusters_deleted_total",
                "BLB clusters deleted (light, or evicted at the cap).",
                deleted,
            )?;
        }
        Ok(())
    }

    fn failover_and_limits(&self, out: &mut Out) -> Result<(), Error> {
        let f = self.snap.failover;
        out.counter(
            "blb_failover_sensors_left_total",
            "Times a sensor left service.",
            f.sensors_left,
        )?;
        out.counter(
            "blb_failover_sensors_returned_total",
            "Times a sensor returned to service.",
            f.sensors_returned,
        )?;
        out.counter(
            "blb_failover_flows_moved_total",
            "Live flows moved off sensors that left service.",
            f.flows_moved,
        )?;
        out.counter(
            "blb_failover_clusters_moved_total",
            "Clusters moved off sensors that left service.",
            f.clusters_moved,
        )?;
        out.counter(
            "blb_failover_datagrams_forgotten_total",
            "Fragmented datagrams forgotten because their sensor left service.",
            f.datagrams_forgotten,
        )?;
        out.counter(
            "blb_failover_flows_replaced_total",
            "Flows placed again after every sensor had been out of service.",
            f.flows_replaced,
        )?;
        let b = self.snap.bypass;
        let outcomes = [
            ("bypassed", b.requested),
            ("cancelled", b.cancelled),
            ("unknown_flow", b.unknown_flow),
            ("ended_with_flow", b.expired),
        ];
        let rows = outcomes.map(|(outcome, v)| ([("outcome", outcome.to_string())], counter(v)));
        out.family("blb_bypass_requests_total", "Bypass requests from the sensors, by outcome (the packets bypassed are the drop reason bypassed).", rows)?;
        out.counter(
            "blb_bypassed_bytes_total",
            "Captured bytes of the packets bypassed at a sensor's request.",
            b.bytes,
        )?;
        let c = self.snap.cutoff;
        out.counter(
            "blb_flow_cutoff_flows_total",
            "Flows that reached the per-flow cutoff.",
            c.flows,
        )?;
        out.counter("blb_flow_cutoff_bytes_total", "Captured bytes of the packets cut by the per-flow cutoff (the packets are the drop reason flow_cutoff).", c.bytes)
    }
    fn tunnels(&self, out: &mut Out) -> Result<(), Error> {
        let t = self.snap.tunnels;
        out.counter(
            "blb_tunnelled_packets_total",
            "Packets balanced on headers inside at least one tunnel.",
            t.packets,
        )?;
        let rows = t
            .by_name()
            .map(|(kind, v)| ([("kind", kind.to_string())], counter(v)));
        out.family("blb_tunnel_packets_total", "Packets balanced on headers inside a tunnel, by kind (a packet in two kinds of tunnel counts under both).", rows)?;
        out.counter(
            "blb_tunnel_depth_limited_total",
            "Packets with tunnels nested past the depth limit, balanced on the last headers read.",
            t.depth_limited,
        )?;
        out.counter(
            "blb_tunnel_malformed_total",
            "Packets with a truncated or invalid tunnel, balanced on the headers around it.",
            t.malformed,
        )?;
        out.counter(
            "blb_tunnel_fragmented_outer_total",
            "First fragments of fragmented outer datagrams balanced on their inner headers.",
            t.fragmented_outer,
        )
    }
}

#[cfg(test)]
#[path = "metrics_text_tests.rs"]
mod tests;
