//! Tests of the exposition: names, labels, escaping and the OpenMetrics framing.

use std::sync::{Arc, Mutex};

use super::super::metrics::{CaptureSnap, Metrics, SensorSnap, Snapshot};

fn render(names: &[&str], snap: Snapshot) -> String {
    let m = Metrics {
        names: names.iter().map(|n| n.to_string()).collect(),
        counters: Vec::new(),
        snapshot: Arc::new(Mutex::new(Snapshot::default())),
        algorithm: "blb",
    };
    m.render(&snap).expect("encodes")
}

#[test]
fn names_and_values_are_the_text_endpoints() {
    let snap = Snapshot {
        sensors: vec![
            SensorSnap {
                packets: 7,
                up: true,
                load: 12.5,
                ..Default::default()
            },
            SensorSnap {
                reasons: vec!["drained"],
                ..Default::default()
            },
        ],
        capture: vec![CaptureSnap {
            interface: "eth0".into(),
            received: 9,
            dropped: 1,
        }],
        workers: vec![30, 12],
        packets_in: 42,
        drops: vec![("flow_cutoff", 3)],
        flows_live: 5,
        load_variance: 2.25,
        ..Default::default()
    };
    let text = render(&["s0", "s1"], snap);
    for line in [
        "# TYPE blb_packets counter",
        "blb_packets_total 42",
        "blb_worker_packets_total{worker=\"0\"} 30",
        "blb_worker_packets_total{worker=\"1\"} 12",
        "blb_sensor_packets_total{sensor=\"s0\"} 7",
        "blb_sensor_load_percent{sensor=\"s0\"} 12.5",
        "blb_sensor_up{sensor=\"s0\"} 1",
        "blb_sensor_up{sensor=\"s1\"} 0",
        "blb_sensor_out_reason{sensor=\"s1\",reason=\"drained\"} 1",
        "blb_capture_kernel_drops_total{interface=\"eth0\"} 1",
        "blb_drops_total{reason=\"flow_cutoff\"} 3",
        "blb_flow_table_flows 5",
        "blb_load_variance 2.25",
        "blb_bypass_requests_total{outcome=\"unknown_flow\"} 0",
        "blb_info{algorithm=\"blb\",version=\"",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(!text.contains("_total_total"), "{text}");
    assert!(!text.contains("{}"), "{text}");
}

#[test]
fn label_values_are_escaped() {
    let text = render(&["a\"b\\c\nd"], Snapshot::default());
    assert!(
        text.contains("blb_sensor_up{sensor=\"a\\\"b\\\\c\\nd\"} 0"),
        "{text}"
    );
}

#[test]
fn tunnel_counters_are_exposed_per_kind() {
    use blb_core::tunnel::{TunnelKind, TunnelStats};
    let mut tunnels = TunnelStats {
        packets: 12,
        depth_limited: 1,
        malformed: 2,
        fragmented_outer: 3,
        ..TunnelStats::default()
    };
    tunnels.by_kind[TunnelKind::Vxlan.index()] = 9;
    let text = render(
        &["s0"],
        Snapshot {
            tunnels,
            ..Snapshot::default()
        },
    );
    for line in [
        "blb_tunnelled_packets_total 12",
        "blb_tunnel_packets_total{kind=\"vxlan\"} 9",
        "blb_tunnel_packets_total{kind=\"gtp_u\"} 0",
        "blb_tunnel_depth_limited_total 1",
        "blb_tunnel_malformed_total 2",
        "blb_tunnel_fragmented_outer_total 3",
        "# TYPE blb_tunnel_packets counter",
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
