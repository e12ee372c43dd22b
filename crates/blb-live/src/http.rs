//! A small HTTP/1.1 server for the metrics and control endpoints.
//!
//! One request per connection (`Connection: close`), bodies only with `Content-Length`
//! (at most 64 KiB), request heads of at most 8 KiB, 2 s read and write timeouts, at most
//! 16 connections served at once (more get `503` straight away). The accept loop runs on
//! its own thread and polls a non-blocking listener, so [`Server::shutdown`] returns
//! promptly. `HEAD` is answered like `GET` without the body; handlers see it as `GET`.
//! Paths are passed on as sent, without percent-decoding.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::LiveError;

/// The largest request head (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;
/// The largest request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Read and write timeout of each socket operation.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a whole request may take to arrive.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(25);

/// A parsed request. `Debug` hides the value of `Authorization` headers.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The method (`HEAD` is presented as `GET`).
    pub method: String,
    /// The path, up to `?`, not percent-decoded.
    pub path: String,
    /// The query after `?`, if any.
    pub query: Option<String>,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
    /// The client's address.
    pub peer: SocketAddr,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = (self.headers.iter())
            .map(|(n, v)| match n.eq_ignore_ascii_case("authorization") {
                true => (n.as_str(), "<redacted>"),
                false => (n.as_str(), v.as_str()),
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("peer", &self.peer)
            .finish()
    }
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (scheme, token) = value.split_once([' ', '\t'])?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        (!token.is_empty()).then_some(token)
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The Content-Type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A `text/plain` response.
    pub fn text(status: u16, s: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: s.into().into_bytes(),
        }
    }

    /// An `application/json` response.
    pub fn json(status: u16, s: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: s.into().into_bytes(),
        }
    }
}

/// Answers requests. Called on the connection's thread; a panic becomes a `500`.
pub trait Handler: Send + Sync + 'static {
    /// The response to `req`.
    fn handle(&self, req: &Request) -> Response;
}

/// A running server; dropping it shuts it down like [`Server::shutdown`].
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `addr` and serves with `handler`. `name` says what the endpoint is (for
    /// example `"metrics"`) and appears in errors and thread names.
    pub fn bind(
        addr: SocketAddr,
        name: &'static str,
        handler: Arc<dyn Handler>,
    ) -> Result<Self, LiveError> {
        let what = if name.ends_with("endpoint") {
            format!("{name} {addr}")
        } else {
            format!("{name} endpoint {addr}")
        };
        let io = |source| LiveError::Io {
            what: what.clone(),
            os: source,
        };
        let listener = TcpListener::bind(addr).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("{name}-http"))
            .spawn(move || accept_loop(listener, name, handler, stop2))
            .map_err(io)?;
        Ok(Server {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes the listener and waits for the accept thread. Requests in
    /// progress finish on their own threads.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Decrements the connection count when a connection thread ends (even by panic).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(
    listener: TcpListener,
    name: &'static str,
    handler: Arc<dyn Handler>,
    stop: Arc<AtomicBool>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // WouldBlock, or a transient failure such as running out of descriptors.
            Err(_) => {
                thread::sleep(POLL);
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            refuse_busy(stream);
            continue;
        }
        let slot = Slot(active.clone());
        let handler = handler.clone();
        // The stream moves into the closure; if the spawn fails the closure (and with it
        // the stream and the slot) is dropped, which closes the connection.
        let _ = thread::Builder::new()
            .name(format!("{name}-conn"))
            .spawn(move || {
                let _slot = slot;
                serve(stream, peer, handler.as_ref());
            });
    }
}

/// Answers `503` without reading the request, from the accept thread (never blocking it
/// for long).
fn refuse_busy(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let resp = Response::text(503, "too many connections, try again\n");
    let _ = stream.write_all(&render(&resp, true));
    let _ = stream.shutdown(Shutdown::Write);
    // Discard what the client already sent so that closing does not reset the connection
    // before it has read the answer.
    let _ = stream.set_nonblocking(true);
    let mut sink = [0u8; 4096];
    let _ = stream.read(&mut sink);
}

/// Why a request could not be read.
enum Failure {
    /// Send this response, then close.
    Respond(Response),
    /// Close without a word (the client went away or never said anything).
    Close,
}

fn reject(status: u16, msg: &str) -> Failure {
    Failure::Respond(Response::text(status, format!("{msg}\n")))
}

fn serve(mut stream: TcpStream, peer: SocketAddr, handler: &dyn Handler) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_nodelay(true);
    match read_request(&mut stream, peer) {
        Ok((req, head_only)) => {
            let resp = catch_unwind(AssertUnwindSafe(|| handler.handle(&req)))
                .unwrap_or_else(|_| Response::text(500, "internal error\n"));
            let _ = stream.write_all(&render(&resp, !head_only));
            finish(stream);
        }
        Err(Failure::Respond(resp)) => {
            let _ = stream.write_all(&render(&resp, true));
            finish(stream);
        }
        Err(Failure::Close) => {}
    }
}

/// Half-closes and drains the rest of the request for a moment, so that unread input does
/// not make the kernel reset the connection before the client has read the answer.
fn finish(mut stream: TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let until = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 16 * 1024];
    let mut drained = 0usize;
    while Instant::now() < until && drained < 8 * 1024 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Reads with the socket timeout, shortened to what is left of `deadline`.
fn read_some(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ErrorKind::TimedOut.into());
    }
    stream.set_read_timeout(Some(left.min(IO_TIMEOUT)))?;
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads and parses one request; the flag says whether it was a HEAD.
fn read_request(stream: &mut TcpStream, peer: SocketAddr) -> Result<(Request, bool), Failure> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return Err(reject(431, "request head larger than 8 KiB"));
        }
        let want = (MAX_HEAD + 4 - buf.len()).min(chunk.len());
        match read_some(stream, &mut chunk[..want], deadline) {
            Ok(0) if buf.is_empty() => return Err(Failure::Close),
            Ok(0) => return Err(reject(400, "connection closed inside the request head")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) && !buf.is_empty() => {
                return Err(reject(408, "request head not received in time"));
            }
            Err(_) => return Err(Failure::Close),
        }
    };
    let (head_len, body_start) = head_end;
    if head_len > MAX_HEAD {
        return Err(reject(431, "request head larger than 8 KiB"));
    }
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| reject(400, "request head is not UTF-8"))?;
    let mut req = parse_head(head, peer)?;
    let head_only = req.method == "HEAD";
    if head_only {
        req.method = "GET".to_string();
    }
    let length = body_length(&req)?;
    let mut body = buf.get(body_start..).unwrap_or_default().to_vec();
    body.truncate(length);
    if body.len() < length
        && req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        match read_some(stream, &mut chunk[..want], deadline) {
            Ok(0) => return Err(reject(400, "connection closed inside the body")),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => return Err(reject(408, "body not received in time")),
            Err(_) => return Err(Failure::Close),
        }
    }
    req.body = body;
    Ok((req, head_only))
}

/// Where the head ends: its length without the blank line, and where the body starts.
/// Accepts CRLF and bare LF line ends.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let limit = buf.len().min(MAX_HEAD + 4);
    let window = &buf[..limit];
    let mut i = 0;
    while let Some(off) = window.get(i..)?.iter().position(|b| *b == b'\n') {
        let nl = i + off;
        let rest = &window[nl + 1..];
        if rest.starts_with(b"\r\n") {
            return Some((nl + 1, nl + 3));
        }
        if rest.starts_with(b"\n") {
            return Some((nl + 1, nl + 2));
        }
        i = nl + 1;
    }
    None
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn parse_head(head: &str, peer: SocketAddr) -> Result<Request, Failure> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(reject(400, "malformed request line"));
    };
    if !is_token(method) {
        return Err(reject(400, "malformed method"));
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v if v.starts_with("HTTP/") && v.len() > 5 => {
            return Err(reject(505, "only HTTP/1.0 and HTTP/1.1 are supported"));
        }
        _ => return Err(reject(400, "malformed HTTP version")),
    }
    if !target.starts_with('/')
        || target
            .bytes()
            .any(|c| c <= b' ' || c == 0x7F || !c.is_ascii())
    {
        return Err(reject(400, "malformed request target"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue; // only the final blank line can be empty
        }
        if line.starts_with([' ', '\t']) {
            return Err(reject(400, "folded header lines are not accepted"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(reject(400, "header line without a colon"));
        };
        if !is_token(name) {
            return Err(reject(400, "malformed header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(reject(400, "control character in a header value"));
        }
        if headers.len() >= 100 {
            return Err(reject(431, "more than 100 headers"));
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body: Vec::new(),
        peer,
    })
}

/// The body length from Content-Length; chunked and other transfer codings are refused.
fn body_length(req: &Request) -> Result<usize, Failure> {
    if req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        return Err(reject(
            411,
            "Transfer-Encoding is not supported, send a Content-Length",
        ));
    }
    let mut length: Option<u64> = None;
    for (_, v) in req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        for part in v.split(',') {
            let part = part.trim();
            if part.is_empty() || part.len() > 18 || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(reject(400, "malformed Content-Length"));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| reject(400, "malformed Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(reject(400, "conflicting Content-Length headers"));
            }
            length = Some(n);
        }
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY as u64 {
        return Err(reject(413, "request body larger than 64 KiB"));
    }
    Ok(length as usize)
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// The bytes of `resp`, with or without the body.
fn render(resp: &Response, with_body: bool) -> Vec<u8> {
    // Keep the status line valid whatever a handler returns.
    let status = if (100..=999).contains(&resp.status) {
        resp.status
    } else {
        500
    };
    let ctype: String = resp
        .content_type
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\n\r\n",
        reason(status),
        resp.body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// Whether `given` equals `expected`, in time that depends only on `expected`'s length.
/// False for `None` and for an empty `expected` (no token configured means no access).
pub fn token_matches(given: Option<&str>, expected: &str) -> bool {
    let (Some(given), false) = (given, expected.is_empty()) else {
        return false;
    };
    let (g, e) = (given.as_bytes(), expected.as_bytes());
    let mut diff = u8::from(g.len() != e.len());
    for (i, b) in e.iter().enumerate() {
        diff |= g.get(i).copied().unwrap_or(0) ^ b;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
