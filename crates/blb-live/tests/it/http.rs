//! Tests of http: a real server on loopback, spoken to over raw TCP.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use blb_live::http::{
    HEAD_TIMEOUT, Handler, MAX_PER_CLIENT, Request, Response, Server, token_matches,
};

/// Echoes what it got.
struct Echo;

impl Handler for Echo {
    fn handle(&self, req: &Request) -> Response {
        if req.path == "/panic" {
            panic!("handler panics on purpose");
        }
        Response::text(
            200,
            format!(
                "method={} path={} query={} token={} body={}",
                req.method,
                req.path,
                req.query.as_deref().unwrap_or("-"),
                req.bearer_token().unwrap_or("-"),
                String::from_utf8_lossy(&req.body)
            ),
        )
    }
}

fn server() -> Server {
    Server::bind("127.0.0.1:0".parse().unwrap(), "test", Arc::new(Echo)).unwrap()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Reads until the server closes and parses the answer.
fn read_reply(mut s: TcpStream) -> Reply {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A reset after the answer arrived still leaves the answer usable.
            Err(e) if !raw.is_empty() => {
                eprintln!("read ended with {e}");
                break;
            }
            Err(e) => panic!("no answer: {e}"),
        }
    }
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    // An HTTP/1.0 request is answered in HTTP/1.0.
    assert!(
        status_line.starts_with("HTTP/1.1 ") || status_line.starts_with("HTTP/1.0 "),
        "{status_line}"
    );
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// A connection from a given loopback address (every 127.x.y.z is this host).
fn connect_from(local: [u8; 4], addr: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from = SocketAddr::from((local, 0));
    sock.bind(&from.into()).unwrap();
    sock.connect(&addr.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn send(mut s: TcpStream, request: &[u8]) -> Reply {
    s.write_all(request).unwrap();
    read_reply(s)
}

fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    send(connect(addr), request)
}

#[test]
fn get_post_and_head() {
    let srv = server();
    let addr = srv.local_addr();
    let get = exchange(
        addr,
        b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\n\r\n",
    );
    assert_eq!(get.status, 200);
    assert_eq!(
        get.text(),
        "method=GET path=/hello query=x=1 token=s3cret body="
    );
    assert_eq!(
        get.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    assert_eq!(
        get.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(get.header("connection"), Some("close"));

    let post = exchange(
        addr,
        b"POST /load HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert_eq!(post.status, 200);
    assert_eq!(
        post.text(),
        "method=POST path=/load query=- token=- body=hello world"
    );

    // A body that arrives after the head, in pieces.
    let mut s = connect(addr);
    s.write_all(b"POST /p HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc")
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    s.write_all(b"def").unwrap();
    assert_eq!(
        read_reply(s).text(),
        "method=POST path=/p query=- token=- body=abcdef"
    );

    let head = exchange(addr, b"HEAD /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let get_len = "method=GET path=/hello query=x=1 token=- body=".len();
    assert_eq!(
        head.header("content-length"),
        Some(get_len.to_string().as_str())
    );
    srv.shutdown();
}

#[test]
fn oversized_and_malformed_requests() {
    let srv = server();
    let addr = srv.local_addr();

    let mut big_head = b"GET / HTTP/1.1\r\n".to_vec();
    while big_head.len() < 10 * 1024 {
        big_head.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big_head.extend_from_slice(b"\r\n");
    let r = exchange(addr, &big_head);
    assert!(r.status == 431 || r.status == 400, "{}", r.status);

    // 1 MiB body: the server answers 413 without waiting for it all.
    let mut s = connect(addr);
    s.write_all(b"POST /x HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n")
        .unwrap();
    let mut writer = s.try_clone().unwrap();
    let feeder = thread::spawn(move || {
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..16 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let r = read_reply(s);
    assert_eq!(r.status, 413);
    feeder.join().unwrap();

    let r = exchange(addr, b"\x00\x01\x02 garbage \xff\r\n\r\n");
    assert_eq!(r.status, 400);
    let r = exchange(addr, b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n");
    assert_eq!(r.status, 400);
    // A chunked body is read like any other, within the same limit.
    let r = exchange(
        addr,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert!(r.text().ends_with("body=hello"), "{}", r.text());
    let mut big = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        big.extend_from_slice(b"1000\r\n");
        big.extend_from_slice(&[b'y'; 4096]);
        big.extend_from_slice(b"\r\n");
    }
    big.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(exchange(addr, &big).status, 413);
    let r = exchange(addr, b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
    assert_eq!(r.status, 400);

    // A client that gives up halfway gets no answer and leaves the server fine.
    let mut s = connect(addr);
    s.write_all(b"GET / HTT").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);

    // A panicking handler becomes a 500.
    assert_eq!(exchange(addr, b"GET /panic HTTP/1.1\r\n\r\n").status, 500);
    assert_eq!(exchange(addr, b"GET /ok HTTP/1.0\r\n\r\n").status, 200);
    srv.shutdown();
}

#[test]
fn idle_clients_do_not_block_others() {
    let srv = server();
    let addr = srv.local_addr();
    let idle: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    let t = Instant::now();
    let r = exchange(addr, b"GET /still-here HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    drop(idle);
    srv.shutdown();
}

#[test]
fn one_client_gets_a_few_connections_others_still_get_in() {
    let srv = server();
    let addr = srv.local_addr();
    // MAX_PER_CLIENT idle connections hold every place of this client for HEAD_TIMEOUT.
    let idle: Vec<TcpStream> = (0..MAX_PER_CLIENT).map(|_| connect(addr)).collect();
    thread::sleep(Duration::from_millis(300));
    let r = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "too many connections, try again\n");
    // Another client address is served.
    let other = connect_from([127, 0, 0, 2], addr);
    assert_eq!(send(other, b"GET /other HTTP/1.1\r\n\r\n").status, 200);
    drop(idle);
    // Once they are gone, requests are served again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still {}", r.status);
        thread::sleep(Duration::from_millis(50));
    }
    srv.shutdown();
}

#[test]
fn a_client_that_trickles_its_head_is_dropped() {
    let srv = server();
    let addr = srv.local_addr();
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let started = Instant::now();
    // One byte every 300 ms (a slowloris): the head is never whole within HEAD_TIMEOUT.
    let head = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut answer = Vec::new();
    let closed = head.iter().any(|b| {
        if s.write_all(&[*b]).is_err() {
            return true;
        }
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                false
            }
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    });
    assert!(closed, "the slow client was never dropped");
    let text = String::from_utf8_lossy(&answer);
    assert!(!text.contains(" 200 "), "{text}");
    assert!(
        started.elapsed() < HEAD_TIMEOUT + Duration::from_secs(3),
        "held for {:?}",
        started.elapsed()
    );
    srv.shutdown();
}

#[test]
fn shutdown_is_prompt_and_closes_the_port() {
    let srv = server();
    let addr = srv.local_addr();
    let _idle = connect(addr);
    thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    srv.shutdown();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(TcpStream::connect(addr).is_err(), "listener still open");
}

#[test]
fn bind_errors_name_the_endpoint() {
    let srv = server();
    let addr = srv.local_addr();
    let err = Server::bind(addr, "metrics", Arc::new(Echo))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("metrics endpoint {addr}: ")),
        "{err}"
    );
    srv.shutdown();
}

#[test]
fn token_matching() {
    assert!(token_matches(Some("s3cret"), "s3cret"));
    assert!(!token_matches(Some("s3creT"), "s3cret"));
    assert!(!token_matches(Some("s3cre"), "s3cret"));
    assert!(!token_matches(Some("s3crett"), "s3cret"));
    assert!(!token_matches(Some(""), "s3cret"));
    assert!(!token_matches(None, "s3cret"));
    assert!(!token_matches(Some(""), ""));
    assert!(!token_matches(Some("x"), ""));
}
