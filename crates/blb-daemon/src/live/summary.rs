//! The live part of the run summary: capture counters per interface, what each sensor's
//! delivery did with the packets routed to it, the sensors' own loss sources, and the
//! failover counters.

use serde::Serialize;

use crate::summary::Summary;

/// One capture interface.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CaptureSummary {
    /// The interface.
    pub interface: String,
    /// Packets the kernel passed to the capture.
    pub received: u64,
    /// Packets the kernel dropped (ring full): lost before blb saw them.
    pub kernel_dropped: u64,
}

/// One sensor's delivery.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeliverySummary {
    /// The sensor's name.
    pub name: String,
    /// Where its frames went.
    pub delivery: String,
    /// Packets sent or written.
    pub sent_packets: u64,
    /// Bytes sent or written.
    pub sent_bytes: u64,
    /// Packets dropped because its queue was full.
    pub queue_full: u64,
    /// Packets its delivery refused (too large for the interface, wrong link type).
    pub frame_rejected: u64,
    /// Packets lost to failing sends or writes.
    pub send_errors: u64,
    /// In service at the end.
    pub in_service: bool,
}

/// One sensor's own loss source.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LossSummary {
    /// The sensor's name.
    pub name: String,
    /// What the source did.
    #[serde(flatten)]
    pub status: super::feeds::FeedStatus,
}

/// The live section of the summary.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LiveSummary {
    /// Per capture interface (summed over the workers' rings).
    pub capture: Vec<CaptureSummary>,
    /// Frames each balancing worker took from its rings.
    pub workers: Vec<u64>,
    /// Per sensor.
    pub delivery: Vec<DeliverySummary>,
    /// Failover counters.
    pub failover: blb_core::failover::FailoverStats,
    /// Per sensor with a loss source (Suricata's drops, Zeek's capture loss).
    pub loss: Vec<LossSummary>,
    /// Load reports accepted and refused.
    pub reports_accepted: u64,
    /// Load reports refused.
    pub reports_refused: u64,
    /// Why the run stopped.
    pub stopped_by: String,
}

impl Summary {
    /// Add the live section, and fold the deliveries' own losses into the drops: a packet
    /// the engine routed but whose send failed or was refused is not delivered (counted per
    /// copy, under `sensor_write_error`; queue-full drops are already counted by the engine).
    pub fn add_live(&mut self, live: LiveSummary) {
        let mut lost = 0;
        for (i, d) in live.delivery.iter().enumerate() {
            let n = d.send_errors + d.frame_rejected;
            if let Some(p) = self.per_sensor.get_mut(i) {
                p.packets = p.packets.saturating_sub(n);
            }
            lost += n;
        }
        *self.drops.entry("sensor_write_error".into()).or_default() += lost;
        self.drops_total += lost;
        self.packets_out = self.packets_out.saturating_sub(lost);
        self.live = Some(live);
    }

    /// The live lines of the text summary.
    pub fn live_text(&self) -> String {
        let Some(live) = &self.live else {
            return String::new();
        };
        let mut s = String::new();
        for c in &live.capture {
            s += &format!(
                "capture {}: {} packets, {} dropped by the kernel\n",
                c.interface, c.received, c.kernel_dropped
            );
        }
        if live.workers.len() > 1 {
            let each: Vec<String> = live.workers.iter().map(u64::to_string).collect();
            s += &format!(
                "{} workers took {} packets\n",
                live.workers.len(),
                each.join(" / ")
            );
        }
        for d in &live.delivery {
            s += &format!(
                "  {} ({}): sent {} packets, queue full {}, rejected {}, send errors {}{}\n",
                d.name,
                d.delivery,
                d.sent_packets,
                d.queue_full,
                d.frame_rejected,
                d.send_errors,
                if d.in_service { "" } else { ", out of service" }
            );
        }
        for l in &live.loss {
            let st = &l.status;
            let c = &st.counts;
            s += &format!(
                "  {} loss source ({}): {} samples, last loss {}, overloaded {} time(s){}, {} garbled, stale {} time(s){}, {} read errors, reports {} accepted, {} refused\n",
                l.name,
                st.source,
                c.samples,
                st.loss_percent
                    .map_or("none".to_string(), |p| format!("{p:.2} %")),
                c.entered,
                if st.overloaded { " (still)" } else { "" },
                c.garbled,
                c.stale,
                if st.stale { " (stale at the end)" } else { "" },
                st.errors,
                st.reports_accepted,
                st.reports_refused
            );
        }
        let f = &live.failover;
        s += &format!(
            "failover: {} left, {} returned, {} flows and {} clusters moved; stopped by {}\n",
            f.sensors_left, f.sensors_returned, f.flows_moved, f.clusters_moved, live.stopped_by
        );
        s
    }
}
