//! The control and metrics endpoints under 50 slow clients: each of them, from its own
//! loopback address, keeps more connections open than it may, trickles its request heads a
//! byte at a time and reconnects whenever it is dropped or refused. Meanwhile an operator's
//! `/status`, a token-protected drain and a Prometheus scrape are each answered 200, every
//! time. (Before the server was built on hyper with per-client limits, 20 such clients got
//! 30 of 30 legitimate `/status` requests answered 503.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use blb::live::control::{Control, Envelope};
use blb::live::metrics::{Metrics, Snapshot};
use blb_live::deliver::queue::SensorCounters;
use blb_live::http::{MAX_PER_CLIENT, Server};

const TOKEN: &str = "slow-clients-test-token-0123";
const SLOW_CLIENTS: u8 = 50;

fn endpoints() -> (Server, Server) {
    let (tx, rx) = mpsc::channel::<Envelope>();
    // The balancing loop's part: answer every command.
    thread::spawn(move || {
        while let Ok((_, reply)) = rx.recv() {
            if let Some(reply) = reply {
                let _ = reply.send(Ok("{\"in_service\":false}\n".into()));
            }
        }
    });
    let snapshot = Arc::new(Mutex::new(Snapshot::default()));
    let names = vec!["sensor-0".to_string(), "sensor-1".to_string()];
    let control = Control::new(names.clone(), Some(TOKEN.into()), tx, Arc::clone(&snapshot));
    let metrics = Metrics {
        names,
        counters: (0..2)
            .map(|_| Arc::new(SensorCounters::default()))
            .collect(),
        snapshot,
        algorithm: "blb",
    };
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    (
        Server::bind(any, "control endpoint", Arc::new(control)).expect("control binds"),
        Server::bind(any, "metrics endpoint", Arc::new(metrics)).expect("metrics binds"),
    )
}

/// A connection from loopback address 127.0.0.`last`.
fn connect_from(last: u8, to: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.bind(&SocketAddr::from(([127, 0, 0, last], 0)).into())?;
    sock.connect_timeout(&to.into(), Duration::from_secs(2))?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_millis(50)))?;
    s.set_write_timeout(Some(Duration::from_millis(500)))?;
    Ok(s)
}

/// One slow client until `stop`: holds up to twice its allowance of connections, each
/// trickling a head; counts the connections it made.
fn slow_client(last: u8, to: [SocketAddr; 2], stop: &AtomicBool, made: &AtomicU64) {
    let head = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut open: Vec<(TcpStream, usize)> = Vec::new();
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        while open.len() < 2 * MAX_PER_CLIENT {
            turn += 1;
            match connect_from(last, to[turn % 2]) {
                Ok(s) => {
                    made.fetch_add(1, Ordering::Relaxed);
                    open.push((s, 0));
                }
                Err(_) => break,
            }
        }
        // A byte each; a connection the server closed or refused is replaced.
        open.retain_mut(|(s, sent)| {
            let b = head.get(*sent).copied().unwrap_or(b'a');
            *sent += 1;
            if s.write_all(&[b]).is_err() {
                return false;
            }
            let mut buf = [0u8; 512];
            s.read(&mut buf).is_err()
        });
        thread::sleep(Duration::from_millis(150));
    }
}

/// A whole exchange as a person or Prometheus makes it: (status, body).
fn request(to: SocketAddr, text: &str) -> (u16, String) {
    let mut s = TcpStream::connect(to).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(text.as_bytes()).expect("sends");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn fifty_slow_clients_do_not_lock_out_the_operator() {
    let (control, metrics) = endpoints();
    let to = [control.local_addr(), metrics.local_addr()];
    let stop = AtomicBool::new(false);
    let made = AtomicU64::new(0);
    thread::scope(|s| {
        for k in 0..SLOW_CLIENTS {
            let (stop, made) = (&stop, &made);
            s.spawn(move || slow_client(10 + k, to, stop, made));
        }
        // Let them fill their places first.
        thread::sleep(Duration::from_millis(1500));
        let started = Instant::now();
        let mut answers = Vec::new();
        for _ in 0..30 {
            let status = request(to[0], "GET /status HTTP/1.1\r\nHost: blb\r\n\r\n");
            let drain = request(
                to[0],
                &format!(
                    "POST /sensors/sensor-1/drain HTTP/1.1\r\nHost: blb\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n"
                ),
            );
            let scrape = request(
                to[1],
                "GET /metrics HTTP/1.1\r\nHost: blb\r\nAccept: application/openmetrics-text\r\n\r\n",
            );
            assert!(scrape.1.contains("blb_packets_total 0"), "{}", scrape.1);
            answers.push((status.0, drain.0, scrape.0));
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        let refused = answers.iter().filter(|a| **a != (200, 200, 200)).count();
        assert_eq!(refused, 0, "answers (status, drain, scrape): {answers:?}");
        println!(
            "30 rounds in {:?} while the slow clients made {} connections",
            started.elapsed(),
            made.load(Ordering::Relaxed)
        );
    });
    assert!(
        made.load(Ordering::Relaxed) > u64::from(SLOW_CLIENTS) * MAX_PER_CLIENT as u64,
        "the slow clients kept more connections than they may"
    );
    control.shutdown();
    metrics.shutdown();
}
