//! A client of Suricata's unix command socket (`unix-command` in suricata.yaml), as
//! `suricatasc` talks to it: stream-mode AF_UNIX, one JSON object per line each way. The
//! client sends `{"version":"0.2"}\n` and gets `{"return":"OK"}\n`; then each command,
//! `{"command":"dump-counters"}\n`, gets one line back (see [`super::suricata`] for the
//! reply). The bytes are those of the recorded session. The connection is kept between polls
//! and made again after any failure.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::LiveError;

/// The handshake the client opens with.
pub const HANDSHAKE: &[u8] = b"{\"version\":\"0.2\"}\n";

/// The `dump-counters` command.
pub const DUMP_COUNTERS: &[u8] = b"{\"command\":\"dump-counters\"}\n";

/// The longest reply read (a dump of many threads is a few hundred kilobytes).
pub const MAX_REPLY: usize = 16 << 20;

/// One Suricata's command socket.
#[derive(Debug)]
pub struct SuricataSocket {
    path: PathBuf,
    timeout: Duration,
    stream: Option<UnixStream>,
    /// Bytes received past the last reply's newline.
    pending: Vec<u8>,
}

impl SuricataSocket {
    /// A client of the socket at `path`; each exchange must finish within `timeout`.
    pub fn new(path: impl Into<PathBuf>, timeout: Duration) -> Self {
        SuricataSocket {
            path: path.into(),
            timeout: timeout.max(Duration::from_millis(1)),
            stream: None,
            pending: Vec::new(),
        }
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Send `dump-counters` and return the reply line (without its newline), connecting and
    /// shaking hands first when needed. Any failure closes the connection.
    pub fn dump_counters(&mut self) -> Result<Vec<u8>, LiveError> {
        let result = self.try_dump();
        if result.is_err() {
            self.stream = None;
            self.pending.clear();
        }
        result
    }

    fn try_dump(&mut self) -> Result<Vec<u8>, LiveError> {
        if self.stream.is_none() {
            self.connect()?;
        }
        self.exchange(DUMP_COUNTERS, "dump-counters")
    }

    fn connect(&mut self) -> Result<(), LiveError> {
        let stream = UnixStream::connect(&self.path).map_err(|e| LiveError::Io {
            what: format!("connecting to the Suricata socket {}", self.path.display()),
            os: e,
        })?;
        for r in [
            stream.set_read_timeout(Some(self.timeout)),
            stream.set_write_timeout(Some(self.timeout)),
        ] {
            r.map_err(|e| self.io("setting timeouts on", e))?;
        }
        self.stream = Some(stream);
        self.pending.clear();
        let answer = self.exchange(HANDSHAKE, "the version handshake")?;
        let ok = serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .is_some_and(|v| v.get("return").and_then(|r| r.as_str()) == Some("OK"));
        if !ok {
            return Err(self.feed(format!(
                "answered the version handshake with {} (this client speaks protocol 0.2)",
                String::from_utf8_lossy(&answer[..answer.len().min(200)])
            )));
        }
        Ok(())
    }

    /// Send `message` and read one line back.
    fn exchange(&mut self, message: &[u8], what: &str) -> Result<Vec<u8>, LiveError> {
        let deadline = Instant::now() + self.timeout;
        let Some(stream) = self.stream.as_mut() else {
            return Err(self.feed("is not connected".into()));
        };
        if let Err(e) = stream.write_all(message) {
            return Err(self.io(&format!("sending {what} to"), e));
        }
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line = self.pending[..i].to_vec();
                self.pending.drain(..=i);
                return Ok(line);
            }
            if self.pending.len() > MAX_REPLY {
                return Err(self.feed(format!(
                    "answered {what} with more than {MAX_REPLY} bytes without a newline"
                )));
            }
            if Instant::now() >= deadline {
                return Err(self.feed(format!("did not answer {what} within {:?}", self.timeout)));
            }
            let Some(stream) = self.stream.as_mut() else {
                return Err(self.feed("is not connected".into()));
            };
            match stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(self.feed(format!("closed the connection before answering {what}")));
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(
                        self.feed(format!("did not answer {what} within {:?}", self.timeout))
                    );
                }
                Err(e) => return Err(self.io(&format!("reading the answer to {what} from"), e)),
            }
        }
    }

    fn feed(&self, reason: String) -> LiveError {
        LiveError::Feed {
            source_name: format!("Suricata socket {}", self.path.display()),
            reason,
        }
    }

    fn io(&self, what: &str, e: std::io::Error) -> LiveError {
        LiveError::Io {
            what: format!("{what} the Suricata socket {}", self.path.display()),
            os: e,
        }
    }
}
