//! The control endpoint: read the sensors' status, drain or restore a sensor, and let a
//! sensor push its load. Anything that changes state needs the configured bearer token
//! (`Authorization: Bearer TOKEN`); without a configured token, state changes are refused.
//!
//! Routes:
//! * `GET /status`: every sensor, in service or not and why, its loads and its own loss
//!   source's state (no token needed);
//! * `POST /sensors/{id or name}/drain` and `.../restore`;
//! * `POST /sensors/{id or name}/load` with a body that is a number (percent) or
//!   `{"load": percent}`;
//! * `POST /flows/bypass` and `POST /flows/bypass/cancel` with a body naming a live flow by
//!   EVE's fields (see [`super::bypass`]): its packets go nowhere (counted as `bypassed`)
//!   until cancelled or the flow ends. A flow that is not live is answered 404.
//!
//! Requests become [`Command`]s for the balancing loop, which applies them between bursts of
//! packets (within about 20 ms) and answers.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blb_live::http::{Handler, Request, Response, token_matches};

use blb_core::limits::FiveTuple;

use super::metrics::Snapshot;

/// What the control endpoint asks of the balancing loop.
#[derive(Debug)]
pub enum Command {
    /// Take the sensor out of service until restored.
    Drain(usize),
    /// End a drain.
    Restore(usize),
    /// The sensor's own load report, percent, and where it came from.
    Report(usize, f64, &'static str),
    /// Bypass a live flow (`on`) or end its bypass.
    Bypass {
        /// The flow.
        flow: FiveTuple,
        /// Bypass, or end the bypass.
        on: bool,
        /// When the request arrived (Unix nanoseconds).
        received_ns: u64,
    },
    /// A floor of the sensor's load, percent, from its own loss figures (see `feeds`).
    Floor(usize, f64),
}

/// Why the balancing loop refused a command: the HTTP status and a sentence.
pub type Refusal = (u16, String);

/// A command and where to send the answer (a JSON text, or why it was refused).
pub type Envelope = (Command, Option<Sender<Result<String, Refusal>>>);

/// The control endpoint's handler.
pub struct Control {
    /// Sensor names, by id.
    pub names: Vec<String>,
    /// The token, if one is configured.
    pub token: Option<String>,
    /// Commands to the balancing loop.
    pub commands: Mutex<Sender<Envelope>>,
    /// The latest snapshot (for `/status`).
    pub snapshot: Arc<Mutex<Snapshot>>,
    /// Wrong tokens are logged at most once per period (a brute force must not fill the log).
    pub wrong_token_log: Mutex<super::ratelimit::RateLimited>,
}

impl Handler for Control {
    fn handle(&self, req: &Request) -> Response {
        let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match (req.method.as_str(), parts.as_slice()) {
            ("GET" | "HEAD", ["status"]) => self.status(),
            ("POST", ["sensors", sensor, action]) => {
                if let Some(refused) = self.authorise(req) {
                    return refused;
                }
                let Some(id) = self.sensor(sensor) else {
                    return Response::json(
                        404,
                        format!("{{\"error\":\"no sensor '{}'\"}}\n", json_escape(sensor)),
                    );
                };
                let command = match *action {
                    "drain" => Command::Drain(id),
                    "restore" => Command::Restore(id),
                    "load" => match parse_load(&req.body) {
                        Some(v) => Command::Report(id, v, "push"),
                        None => {
                            return Response::json(
                                400,
                                "{\"error\":\"the body must be a load in percent (0 to 100), as a number or {\\\"load\\\": N}\"}\n",
                            );
                        }
                    },
                    _ => return Response::json(404, "{\"error\":\"unknown action\"}\n"),
                };
                self.send(command)
            }
            ("POST", ["flows", "bypass"]) => self.bypass(req, true),
            ("POST", ["flows", "bypass", "cancel"]) => self.bypass(req, false),
            (_, ["status"]) | (_, ["sensors", _, _]) | (_, ["flows", "bypass", ..]) => {
                Response::json(405, "{\"error\":\"method not allowed\"}\n")
            }
            _ => Response::json(
                404,
                "{\"error\":\"routes: GET /status, POST /sensors/{id}/drain|restore|load, POST /flows/bypass, POST /flows/bypass/cancel\"}\n",
            ),
        }
    }
}

impl Control {
    /// The control endpoint for sensors `names`, taking state changes with `token` (none:
    /// read-only), sending them to the loop on `commands`, answering `/status` from
    /// `snapshot`; wrong tokens are logged at most once per period.
    pub fn new(
        names: Vec<String>,
        token: Option<String>,
        commands: Sender<Envelope>,
        snapshot: Arc<Mutex<Snapshot>>,
    ) -> Self {
        Control {
            names,
            token,
            commands: Mutex::new(commands),
            snapshot,
            wrong_token_log: Mutex::new(Default::default()),
        }
    }

    fn authorise(&self, req: &Request) -> Option<Response> {
        let Some(token) = &self.token else {
            return Some(Response::json(
                403,
                "{\"error\":\"state changes are disabled: no control_token is configured\"}\n",
            ));
        };
        let given = req.bearer_token();
        if given.is_none() {
            return Some(Response::json(
                401,
                "{\"error\":\"this needs Authorization: Bearer TOKEN\"}\n",
            ));
        }
        if !token_matches(given, token) {
            let allowed = self
                .wrong_token_log
                .lock()
                .ok()
                .and_then(|mut r| r.allow(std::time::Instant::now()));
            if let Some(suppressed) = allowed {
                tracing::warn!(
                    peer = %req.peer,
                    path = %req.path,
                    suppressed,
                    "control request with a wrong token refused (at most one such line per 10 s; `suppressed` counts those not logged since the last)"
                );
            }
            return Some(Response::json(403, "{\"error\":\"wrong token\"}\n"));
        }
        None
    }

    fn bypass(&self, req: &Request, on: bool) -> Response {
        if let Some(refused) = self.authorise(req) {
            return refused;
        }
        match super::bypass::parse_flow(&req.body) {
            Ok(flow) => self.send(Command::Bypass {
                flow,
                on,
                received_ns: super::wall_nanos(),
            }),
            Err(e) => Response::json(400, format!("{{\"error\":\"{}\"}}\n", json_escape(&e))),
        }
    }

    fn sensor(&self, s: &str) -> Option<usize> {
        if let Ok(i) = s.parse::<usize>() {
            return (i < self.names.len()).then_some(i);
        }
        self.names.iter().position(|n| n == s)
    }

    fn send(&self, command: Command) -> Response {
        let (tx, rx) = mpsc::channel();
        let sent = match self.commands.lock() {
            Ok(c) => c.send((command, Some(tx))).is_ok(),
            Err(_) => false,
        };
        if !sent {
            return Response::json(503, "{\"error\":\"blb is stopping\"}\n");
        }
        match rx.recv_timeout(Duration::from_secs(3)) {
            Ok(Ok(json)) => Response::json(200, json),
            Ok(Err((status, e))) => {
                Response::json(status, format!("{{\"error\":\"{}\"}}\n", json_escape(&e)))
            }
            Err(_) => Response::json(503, "{\"error\":\"the balancing loop did not answer\"}\n"),
        }
    }

    fn status(&self) -> Response {
        let snap = match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let sensors: Vec<serde_json::Value> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let s = snap.sensors.get(i).cloned().unwrap_or_default();
                serde_json::json!({
                    "id": i,
                    "name": name,
                    "in_service": s.up,
                    "reasons": s.reasons,
                    "load": s.load,
                    "estimated_load": s.estimated_load,
                    "reported_load": s.reported_load.map(|r| r.0),
                    "report_age_secs": s.reported_load.map(|r| r.1),
                    "packets": s.packets,
                    "flows": s.flows,
                    "loss": s.loss,
                })
            })
            .collect();
        let body = serde_json::json!({ "sensors": sensors, "failover": snap.failover });
        Response::json(200, format!("{body}\n"))
    }
}

/// A pushed load: a bare number or `{"load": N}`, finite, 0 to 100.
pub fn parse_load(body: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let v = match text.parse::<f64>() {
        Ok(v) => v,
        Err(_) => {
            let j: serde_json::Value = serde_json::from_str(text).ok()?;
            j.get("load")?.as_f64()?
        }
    };
    (v.is_finite() && (0.0..=100.0).contains(&v)).then_some(v)
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s)
        .map(|q| q.trim_matches('"').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_loads_parse() {
        assert_eq!(parse_load(b"42.5"), Some(42.5));
        assert_eq!(parse_load(b" {\"load\": 7} \n"), Some(7.0));
        assert_eq!(parse_load(b"101"), None);
        assert_eq!(parse_load(b"-1"), None);
        assert_eq!(parse_load(b"NaN"), None);
        assert_eq!(parse_load(b"{\"lod\": 7}"), None);
        assert_eq!(parse_load(&[0xff, 0xfe]), None);
    }
}
