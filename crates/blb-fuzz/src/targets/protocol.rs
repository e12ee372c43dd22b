//! Protocol and settings targets: the SNMP BER codec, the control and metrics endpoints'
//! request handling, and the TOML settings through validation.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};

use blb::cli::BalanceArgs;
use blb::config::ConfigFile;
use blb::live::control::{Control, Envelope};
use blb::live::metrics::{Metrics, Snapshot};
use blb::settings::BalanceSettings;
use blb_live::deliver::queue::SensorCounters;
use blb_live::feedback::ber::{Message, Pdu, PduKind, Value};
use blb_live::http::{Handler, Request};

/// Decode; what decodes encodes back to bytes that decode to the same message.
pub fn ber(data: &[u8]) {
    let Ok(m) = Message::decode(data) else { return };
    let Ok(bytes) = m.encode() else { return };
    let again = Message::decode(&bytes).expect("our own encoding decodes");
    assert_eq!(again, m, "a message changed through encode and decode");
    assert_eq!(
        again.encode().ok(),
        Some(bytes),
        "the encoding is not stable"
    );
}

/// SNMP messages as blb and snmpd send them.
pub fn ber_seeds(_: Option<&Path>) -> Vec<Vec<u8>> {
    let oid = vec![1, 3, 6, 1, 4, 1, 2021, 10, 1, 3, 1];
    let msg = |kind, values: Vec<Value>| Message {
        version: 1,
        community: b"public".to_vec(),
        pdu: Pdu {
            kind,
            request_id: 0x1234_5678,
            error_status: 0,
            error_index: 0,
            varbinds: values.into_iter().map(|v| (oid.clone(), v)).collect(),
        },
    };
    [
        msg(PduKind::Get, vec![Value::Null]),
        msg(PduKind::Response, vec![Value::Integer(42), Value::Null]),
        msg(
            PduKind::Response,
            vec![Value::OctetString(b"0.42".to_vec())],
        ),
        msg(PduKind::GetNext, vec![Value::Null]),
    ]
    .iter()
    .filter_map(|m| m.encode().ok())
    .collect()
}

/// A control endpoint whose balancing loop answers every command at once, and a metrics
/// endpoint, for the whole run.
fn endpoints_once() -> &'static (Control, Metrics) {
    static ENDPOINTS: OnceLock<(Control, Metrics)> = OnceLock::new();
    ENDPOINTS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Envelope>();
        std::thread::spawn(move || answer(rx));
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let names = vec!["a".to_string(), "b".to_string()];
        let control = Control::new(
            names.clone(),
            Some("a-long-enough-token".into()),
            tx,
            Arc::clone(&snapshot),
        );
        let metrics = Metrics {
            names,
            counters: (0..2)
                .map(|_| Arc::new(SensorCounters::default()))
                .collect(),
            snapshot,
            algorithm: "blb",
        };
        (control, metrics)
    })
}

fn answer(rx: Receiver<Envelope>) {
    while let Ok((_, reply)) = rx.recv() {
        if let Some(reply) = reply {
            let _ = reply.send(Ok("{}".into()));
        }
    }
}

/// A request from bytes: method line, path line, header lines up to an empty line, body.
fn request(data: &[u8]) -> Request {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let method = lines.next().unwrap_or("").to_string();
    let target = lines.next().unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Request {
        method,
        path,
        query,
        headers,
        body: body.as_bytes().to_vec(),
        peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
    }
}

/// Both endpoints answer any request with a valid status and a body of the declared kind.
pub fn endpoints(data: &[u8]) {
    let (control, metrics) = endpoints_once();
    let req = request(data);
    for response in [control.handle(&req), metrics.handle(&req)] {
        assert!(
            (200..600).contains(&response.status),
            "status {}",
            response.status
        );
        if response.content_type.contains("json") {
            assert!(
                std::str::from_utf8(&response.body).is_ok(),
                "JSON body not UTF-8"
            );
        }
    }
}

/// Requests the endpoints serve.
pub fn request_seeds(_: Option<&Path>) -> Vec<Vec<u8>> {
    [
        "GET\n/status\n\n",
        "GET\n/metrics\n\n",
        "POST\n/sensors/a/drain\nAuthorization: Bearer a-long-enough-token\n\n",
        "POST\n/sensors/1/restore\nAuthorization: Bearer a-long-enough-token\n\n",
        "POST\n/sensors/b/load\nAuthorization: Bearer a-long-enough-token\n\n{\"load\": 42.5}",
        "POST\n/sensors/b/load\nAuthorization: Bearer wrong\n\n17",
        "HEAD\n/status?x=1\n\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Parse as TOML and merge into offline and live settings: an error or settings, no panic.
pub fn settings(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(file) = ConfigFile::parse(&text) else {
        return;
    };
    let offline = BalanceArgs {
        read: Some("in.pcap".into()),
        write_dir: Some("out".into()),
        ..BalanceArgs::default()
    };
    let _ = BalanceSettings::merge(&offline, &file);
    let live = BalanceArgs {
        interfaces: vec!["lo".into()],
        ..BalanceArgs::default()
    };
    let _ = BalanceSettings::merge(&live, &file);
}

/// The example configurations and pieces of them.
pub fn settings_seeds(_: Option<&Path>) -> Vec<Vec<u8>> {
    let offline = include_str!("../../../../blb.example.toml");
    let live = include_str!("../../../../blb.live.example.toml");
    let mut out = vec![offline.as_bytes().to_vec(), live.as_bytes().to_vec()];
    for text in [offline, live] {
        // Each table alone, so that mutations reach its keys without the others.
        for table in text.split("\n[").skip(1) {
            out.push(format!("[{table}").into_bytes());
        }
    }
    out
}
