//! SNMP v2c polling of HOST-RESOURCES-MIB hrProcessorLoad.
//!
//! [`SnmpClient`] walks a subtree with GetNext requests over UDP, one outstanding request at
//! a time. Replies from other addresses, with another request id, or that do not decode are
//! ignored; a request that gets no answer within the timeout is sent again `retries` times
//! with the same request id. [`SnmpClient::processor_load`] turns the hrProcessorLoad rows
//! (one per CPU, each the percentage of the last minute the CPU was busy) into one mean.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ber::{self, Message, Pdu, PduKind, Value};
use crate::LiveError;

/// HOST-RESOURCES-MIB::hrProcessorLoad, the column of per-CPU one-minute load percentages.
pub const HR_PROCESSOR_LOAD: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];

/// The most rows [`SnmpClient::processor_load`] reads.
pub const MAX_PROCESSOR_ROWS: usize = 4096;

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Where and how to poll one agent. `Debug` leaves the community out.
#[derive(Clone, PartialEq, Eq)]
pub struct SnmpConfig {
    /// The agent's UDP address (usually port 161).
    pub agent: SocketAddr,
    /// The v2c community.
    pub community: String,
    /// How long to wait for each answer (default 1 s).
    pub timeout: Duration,
    /// How often to resend an unanswered request (default 1).
    pub retries: u32,
}

impl SnmpConfig {
    /// Community `public`, timeout 1 s, one retry.
    pub fn new(agent: SocketAddr) -> Self {
        SnmpConfig {
            agent,
            community: "public".to_string(),
            timeout: Duration::from_secs(1),
            retries: 1,
        }
    }
}

impl std::fmt::Debug for SnmpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpConfig")
            .field("agent", &self.agent)
            .field("community", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

impl Default for SnmpConfig {
    /// An agent on 127.0.0.1:161 with the defaults of [`SnmpConfig::new`].
    fn default() -> Self {
        SnmpConfig::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 161))
    }
}

/// A v2c client of one agent.
pub struct SnmpClient {
    cfg: SnmpConfig,
    socket: UdpSocket,
    next_id: i32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SnmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpClient")
            .field("cfg", &self.cfg)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl SnmpClient {
    /// A client of `cfg.agent`, with a UDP socket on an ephemeral port of the agent's
    /// address family.
    pub fn new(cfg: SnmpConfig) -> Result<Self, LiveError> {
        let agent = cfg.agent.to_string();
        let invalid = |reason: &str| LiveError::Snmp {
            agent: agent.clone(),
            reason: reason.to_string(),
        };
        if cfg.timeout.is_zero() {
            return Err(invalid("the timeout must be longer than zero"));
        }
        if cfg.community.len() > 255 {
            return Err(invalid("the community is longer than 255 bytes"));
        }
        if cfg.agent.port() == 0 || cfg.agent.ip().is_unspecified() {
            return Err(invalid("the agent address needs a host and a port"));
        }
        let local = match cfg.agent {
            SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        };
        let socket = UdpSocket::bind(local).map_err(|e| LiveError::Io {
            what: format!("SNMP agent {agent}: binding a UDP socket"),
            os: e,
        })?;
        // Connecting makes the kernel drop datagrams from elsewhere and report ICMP port
        // unreachable as ECONNREFUSED; the source is still checked on every datagram.
        socket.connect(cfg.agent).map_err(|e| LiveError::Io {
            what: format!("SNMP agent {agent}: connecting the UDP socket"),
            os: e,
        })?;
        // Start request ids somewhere unpredictable so that stale answers meant for an
        // earlier client on the same port are unlikely to match.
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0);
        Ok(SnmpClient {
            cfg,
            socket,
            next_id: (seed & 0x3FFF_FFFF) as i32 + 1,
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// The agent's address.
    pub fn agent(&self) -> SocketAddr {
        self.cfg.agent
    }

    /// Walks the subtree under `base` with GetNext requests and returns its rows in order,
    /// at most `max_rows` of them (the walk stops there). The walk ends when the agent
    /// answers with an OID outside the subtree or with endOfMibView.
    pub fn walk(
        &mut self,
        base: &[u32],
        max_rows: usize,
    ) -> Result<Vec<(Vec<u32>, Value)>, LiveError> {
        let mut rows = Vec::new();
        let mut current = base.to_vec();
        while rows.len() < max_rows {
            let (oid, value) = self.get_next(&current)?;
            if matches!(value, Value::EndOfMibView)
                || oid.len() <= base.len()
                || !oid.starts_with(base)
            {
                break;
            }
            if oid <= current {
                return Err(self.error(format!(
                    "the agent answered GetNext {} with {}, which does not come after it \
                     (a broken agent would loop forever)",
                    ber::format_oid(&current),
                    ber::format_oid(&oid)
                )));
            }
            current.clone_from(&oid);
            rows.push((oid, value));
        }
        Ok(rows)
    }

    /// The mean hrProcessorLoad over the agent's CPUs, in percent (0–100).
    pub fn processor_load(&mut self) -> Result<f64, LiveError> {
        let rows = self.walk(HR_PROCESSOR_LOAD, MAX_PROCESSOR_ROWS)?;
        if rows.is_empty() {
            return Err(self.error(format!(
                "the agent has no hrProcessorLoad rows ({}); check that the agent's view \
                 for this community includes HOST-RESOURCES-MIB",
                ber::format_oid(HR_PROCESSOR_LOAD)
            )));
        }
        let loads: Vec<f64> = rows
            .iter()
            .filter_map(|(_, v)| match v {
                Value::Integer(x) if (0..=100).contains(x) => Some(*x as f64),
                Value::Gauge32(x) if *x <= 100 => Some(f64::from(*x)),
                _ => None,
            })
            .collect();
        if loads.is_empty() {
            return Err(self.error(format!(
                "none of the agent's {} hrProcessorLoad rows is an INTEGER from 0 to 100",
                rows.len()
            )));
        }
        Ok(loads.iter().sum::<f64>() / loads.len() as f64)
    }

    fn error(&self, reason: String) -> LiveError {
        LiveError::Snmp {
            agent: self.cfg.agent.to_string(),
            reason,
        }
    }

    fn take_request_id(&mut self) -> i32 {
        let id = self.next_id;
        // Increase, staying positive (some agents mishandle negative ids).
        self.next_id = if id >= i32::MAX - 1 { 1 } else { id + 1 };
        id
    }

    /// One GetNext exchange: the first binding of the answer.
    fn get_next(&mut self, oid: &[u32]) -> Result<(Vec<u32>, Value), LiveError> {
        let request_id = self.take_request_id();
        let request = Message {
            version: ber::VERSION_2C,
            community: self.cfg.community.as_bytes().to_vec(),
            pdu: Pdu {
                kind: PduKind::GetNext,
                request_id,
                error_status: 0,
                error_index: 0,
                varbinds: vec![(oid.to_vec(), Value::Null)],
            },
        };
        let bytes = request
            .encode()
            .map_err(|e| self.error(format!("{e}, so it cannot be requested")))?;
        let response = self.exchange(&bytes, request_id)?;
        if response.pdu.error_status != 0 {
            return Err(self.error(format!(
                "the agent answered GetNext {} with error-status {} ({}), error-index {}",
                ber::format_oid(oid),
                error_status_name(response.pdu.error_status),
                response.pdu.error_status,
                response.pdu.error_index
            )));
        }
        response.pdu.varbinds.into_iter().next().ok_or_else(|| {
            self.error(format!(
                "the agent answered GetNext {} without a variable binding",
                ber::format_oid(oid)
            ))
        })
    }

    /// Sends `request` and waits for the Response with `request_id`, resending on timeout.
    fn exchange(&mut self, request: &[u8], request_id: i32) -> Result<Message, LiveError> {
        let agent = self.cfg.agent;
        let attempts = self.cfg.retries.saturating_add(1);
        let mut refused = false;
        let mut last_io: Option<std::io::Error> = None;
        for _ in 0..attempts {
            if let Err(e) = self.socket.send(request) {
                // A send error (no route, refused from an earlier ICMP) counts as an attempt.
                refused |= e.kind() == std::io::ErrorKind::ConnectionRefused;
                last_io = Some(e);
                std::thread::sleep(self.cfg.timeout.min(Duration::from_millis(100)));
                continue;
            }
            let deadline = Instant::now() + self.cfg.timeout;
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                // set_read_timeout rejects zero; the check above keeps it positive.
                let wait = (deadline - now).max(Duration::from_millis(1));
                if let Err(e) = self.socket.set_read_timeout(Some(wait)) {
                    return Err(LiveError::Io {
                        what: format!("SNMP agent {agent}: setting the socket timeout"),
                        os: e,
                    });
                }
                match self.socket.recv_from(&mut self.buf) {
                    Ok((n, from)) => {
                        if !same_agent(from, agent) {
                            continue;
                        }
                        let Some(data) = self.buf.get(..n) else {
                            continue;
                        };
                        let Ok(msg) = Message::decode(data) else {
                            continue;
                        };
                        if msg.version == ber::VERSION_2C
                            && msg.pdu.kind == PduKind::Response
                            && msg.pdu.request_id == request_id
                        {
                            return Ok(msg);
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // ICMP port unreachable surfaces here: nobody listens. Pause briefly
                        // and try again in case the agent is just starting.
                        refused |= e.kind() == std::io::ErrorKind::ConnectionRefused;
                        last_io = Some(e);
                        std::thread::sleep(self.cfg.timeout.min(Duration::from_millis(100)));
                        break;
                    }
                }
            }
        }
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        let reason = if refused {
            format!("nothing is listening on the agent's UDP port (ICMP port unreachable, {tries})")
        } else if let Some(e) = last_io {
            format!(
                "no answer after {tries} of {:?} each, the last failing with: {e}",
                self.cfg.timeout
            )
        } else {
            format!(
                "no answer after {tries} of {:?} each (is the agent running, reachable, \
                 and is the community right?)",
                self.cfg.timeout
            )
        };
        Err(self.error(reason))
    }
}

/// Whether a datagram from `from` comes from `agent` (an IPv4 agent may answer a dual-stack
/// socket from its IPv4-mapped address).
fn same_agent(from: SocketAddr, agent: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    from.port() == agent.port() && canon(from.ip()) == canon(agent.ip())
}

/// The RFC 3416 name of an error-status.
pub fn error_status_name(status: i64) -> &'static str {
    match status {
        0 => "noError",
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        7 => "wrongType",
        8 => "wrongLength",
        9 => "wrongEncoding",
        10 => "wrongValue",
        11 => "noCreation",
        12 => "inconsistentValue",
        13 => "resourceUnavailable",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError",
        17 => "notWritable",
        18 => "inconsistentName",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// A scripted agent on loopback: answers each request with the datagrams `answer`
    /// returns (none = stay silent); it stops after 1.5 s without requests.
    fn fake_agent<F>(answer: F) -> (SocketAddr, thread::JoinHandle<()>)
    where
        F: Fn(&Message) -> Vec<Vec<u8>> + Send + 'static,
    {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let req = Message::decode(&buf[..n]).unwrap();
                for reply in answer(&req) {
                    sock.send_to(&reply, from).unwrap();
                }
            }
        });
        (addr, handle)
    }

    fn reply(req: &Message, status: i64, varbinds: Vec<(Vec<u32>, Value)>) -> Vec<u8> {
        Message {
            version: 1,
            community: req.community.clone(),
            pdu: Pdu {
                kind: PduKind::Response,
                request_id: req.pdu.request_id,
                error_status: status,
                error_index: 0,
                varbinds,
            },
        }
        .encode()
        .unwrap()
    }

    fn row(i: u32) -> Vec<u32> {
        let mut oid = HR_PROCESSOR_LOAD.to_vec();
        oid.push(i);
        oid
    }

    fn client(addr: SocketAddr) -> SnmpClient {
        let mut cfg = SnmpConfig::new(addr);
        cfg.timeout = Duration::from_millis(300);
        SnmpClient::new(cfg).unwrap()
    }

    #[test]
    fn walks_and_ignores_stale_and_garbage_replies() {
        let (addr, h) = fake_agent(|req| {
            let asked = &req.pdu.varbinds[0].0;
            let next = if asked.as_slice() == HR_PROCESSOR_LOAD {
                (row(1), Value::Integer(20))
            } else if *asked == row(1) {
                (row(2), Value::Gauge32(60))
            } else if *asked == row(2) {
                (row(3), Value::Integer(1000))
            } else {
                (vec![1, 3, 6, 1, 2, 1, 25, 3, 4, 1], Value::Integer(1))
            };
            let mut stale = req.clone();
            stale.pdu.request_id = req.pdu.request_id.wrapping_sub(1);
            vec![
                b"garbage".to_vec(),
                reply(&stale, 0, vec![(row(9), Value::Integer(99))]),
                reply(req, 0, vec![next]),
            ]
        });
        let mut c = client(addr);
        let rows = c.walk(HR_PROCESSOR_LOAD, 100).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1], (row(2), Value::Gauge32(60)));
        // 1000 is out of range and left out of the mean.
        assert_eq!(c.processor_load().unwrap(), 40.0);
        assert_eq!(c.walk(HR_PROCESSOR_LOAD, 2).unwrap().len(), 2);
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn error_status_and_empty_and_looping_agents() {
        let (addr, h) = fake_agent(|req| vec![reply(req, 2, vec![])]);
        let err = client(addr).processor_load().unwrap_err().to_string();
        assert!(err.contains("noSuchName (2)"), "{err}");
        h.join().unwrap();

        let (addr, h) = fake_agent(|req| vec![reply(req, 0, vec![(vec![1, 4], Value::Null)])]);
        let err = client(addr).processor_load().unwrap_err().to_string();
        assert!(err.contains("no hrProcessorLoad rows"), "{err}");
        assert!(err.contains(&addr.to_string()), "{err}");
        h.join().unwrap();

        let (addr, h) = fake_agent(|req| vec![reply(req, 0, vec![(row(5), Value::Integer(1))])]);
        let err = client(addr).processor_load().unwrap_err().to_string();
        assert!(err.contains("does not come after"), "{err}");
        h.join().unwrap();
    }

    #[test]
    fn retries_after_a_lost_request() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen2 = seen.clone();
        let (addr, h) = fake_agent(move |req| {
            let n = seen2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n == 0 {
                return vec![]; // drop the first request
            }
            vec![reply(req, 0, vec![(vec![2, 0], Value::EndOfMibView)])]
        });
        let mut c = client(addr);
        assert!(c.walk(HR_PROCESSOR_LOAD, 10).unwrap().is_empty());
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn rejects_bad_settings() {
        let cfg = SnmpConfig {
            timeout: Duration::ZERO,
            ..SnmpConfig::default()
        };
        assert!(SnmpClient::new(cfg).is_err());
        let cfg = SnmpConfig::new("0.0.0.0:161".parse().unwrap());
        assert!(SnmpClient::new(cfg).is_err());
        assert_eq!(error_status_name(16), "authorizationError");
    }
}
