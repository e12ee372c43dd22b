//! The HTTP/1.1 server of the metrics and control endpoints, on hyper.
//!
//! Why hyper: it is the HTTP implementation the Rust ecosystem relies on (behind axum,
//! reqwest, tonic), fuzzed and maintained, with an HTTP/1 server that lets the caller own the
//! accept loop, which per-client limits need; axum would add a router and tower layers blb's
//! six routes do not need, and tiny_http has no way to refuse a connection by its peer nor a
//! timeout on a slow request head. hyper runs here on a single-threaded tokio runtime in one
//! thread per endpoint; handlers stay synchronous and run on tokio's blocking pool. hyper,
//! tokio and prometheus-client together add 0.7 MB to the stripped release binary (5.4 to
//! 6.1 MB) and replaced 580 lines of our own HTTP parsing.
//!
//! Limits, so that neither a flood of connections nor slow clients lock an operator out:
//! * at most [`MAX_PER_CLIENT`] connections at once from one address and
//!   [`MAX_CONNECTIONS`] in all; more get `503` straight away, before anything is read;
//! * a request head must arrive whole within [`HEAD_TIMEOUT`] (a client that trickles its
//!   head, or connects and says nothing, is dropped then), and the whole exchange, body and
//!   answer included, within [`REQUEST_DEADLINE`];
//! * heads of at most [`MAX_HEAD`] bytes (`431` beyond), bodies of at most [`MAX_BODY`]
//!   (`413`, answered from `Content-Length` without reading the body);
//! * one request per connection (`Connection: close`).
//!
//! `HEAD` is answered like `GET` without the body; handlers see it as `GET`. Paths are
//! passed on as sent, without percent-decoding. A handler that panics gives `500`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::LiveError;

/// The largest request head (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;
/// The largest request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Connections served at once, all clients together.
pub const MAX_CONNECTIONS: usize = 256;
/// Connections served at once from one client address.
pub const MAX_PER_CLIENT: usize = 4;
/// How long a request head may take to arrive (an idle or trickling client is dropped).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a whole exchange may take, body and answer included.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long a refused connection gets to take its `503`.
const REFUSAL_TIMEOUT: Duration = Duration::from_millis(200);

/// A parsed request. `Debug` hides the value of `Authorization` headers.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The method (`HEAD` is presented as `GET`).
    pub method: String,
    /// The path, up to `?`, not percent-decoded.
    pub path: String,
    /// The query after `?`, if any.
    pub query: Option<String>,
    /// The headers in order, names in lower case.
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
    stop: Option<oneshot::Sender<()>>,
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
        let listener = std::net::TcpListener::bind(addr).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name(format!("{name}-http"))
            .build()
            .map_err(io)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener).map_err(io)?
        };
        let (stop, stopped) = oneshot::channel();
        let thread = thread::Builder::new()
            .name(format!("{name}-http"))
            .spawn(move || {
                runtime.block_on(accept_loop(listener, handler, stopped));
                // Exchanges still running are dropped; a handler busy on the blocking pool
                // finishes on its own.
                runtime.shutdown_background();
            })
            .map_err(io)?;
        Ok(Server {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes the listener and waits for the server's thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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

/// Open connections, per client address and in all.
#[derive(Default)]
struct Clients {
    by_addr: HashMap<IpAddr, usize>,
    total: usize,
}

/// One connection's place among the open ones; given back when dropped.
struct Slot {
    clients: Arc<Mutex<Clients>>,
    addr: IpAddr,
}

impl Slot {
    /// A place for a connection from `addr`, if the limits leave one.
    fn take(clients: &Arc<Mutex<Clients>>, addr: IpAddr) -> Option<Slot> {
        let mut c = clients.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.by_addr.get(&addr).copied().unwrap_or(0);
        if c.total >= MAX_CONNECTIONS || mine >= MAX_PER_CLIENT {
            return None;
        }
        c.total += 1;
        c.by_addr.insert(addr, mine + 1);
        Some(Slot {
            clients: Arc::clone(clients),
            addr,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_addr.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                c.by_addr.remove(&self.addr);
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    mut stop: oneshot::Receiver<()>,
) {
    let clients = Arc::new(Mutex::new(Clients::default()));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            // A transient failure such as running out of descriptors.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            }
        };
        match Slot::take(&clients, peer.ip()) {
            Some(slot) => {
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ =
                        tokio::time::timeout(REQUEST_DEADLINE, serve(stream, peer, handler)).await;
                });
            }
            None => {
                tokio::spawn(refuse_busy(stream));
            }
        }
    }
}

/// Answers `503` without reading the request, and gives the client a moment to take it.
async fn refuse_busy(mut stream: TcpStream) {
    let answer = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\nconnection: close\r\n\r\ntoo many connections, try again\n";
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        stream.write_all(answer).await?;
        stream.shutdown().await?;
        // Read what the client sent, so closing does not reset the connection before it
        // has read the answer.
        let mut sink = [0u8; 4096];
        stream.read(&mut sink).await
    })
    .await;
}

async fn serve(stream: TcpStream, peer: SocketAddr, handler: Arc<dyn Handler>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| answer(req, peer, Arc::clone(&handler)));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(false)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The answer to one request: limits first, then the handler on the blocking pool.
async fn answer(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    handler: Arc<dyn Handler>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Ok(render(&Response::text(
            413,
            "request body larger than 64 KiB\n",
        )));
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(render(&Response::text(
                413,
                "request body larger than 64 KiB\n",
            )));
        }
        Err(_) => return Ok(render(&Response::text(400, "the request body broke off\n"))),
    };
    let head_only = parts.method == hyper::Method::HEAD;
    let request = Request {
        method: if head_only {
            "GET".into()
        } else {
            parts.method.as_str().to_string()
        },
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: (parts.headers.iter())
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), value)
            })
            .collect(),
        body: body.to_vec(),
        peer,
    };
    let response = tokio::task::spawn_blocking(move || {
        catch_unwind(AssertUnwindSafe(|| handler.handle(&request)))
    })
    .await;
    let response = match response {
        Ok(Ok(r)) => r,
        _ => Response::text(500, "internal error\n"),
    };
    Ok(render(&response))
}

fn render(resp: &Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(resp.body.clone())));
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(resp.content_type));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
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
