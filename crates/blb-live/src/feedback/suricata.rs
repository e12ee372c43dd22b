//! Suricata's own counters as it writes them: EVE `stats` records (one JSON object per line
//! of `eve.json`, among every other event type) and the reply of the unix-socket command
//! `dump-counters` (`{"message":{…counters…},"return":"OK"}`, or `"return":"NOK"` with a
//! message such as "stats not yet synchronized" while Suricata starts).
//!
//! Both carry the same tree: `uptime`, `capture.kernel_packets` and `capture.kernel_drops`
//! (the af-packet sockets' `PACKET_STATISTICS`, summed over the workers; `kernel_packets`
//! counts the dropped packets too), `decoder.pkts`, and under `threads` the same per thread
//! (`W#01-eth0`, …; the capture workers are the threads with `capture` counters). EVE records
//! also have `*_delta` values and a `timestamp`; they are not used: a delta is 0 in about
//! one record in three under load (see the `overload` module of `blb-core`), so differences
//! are taken over longer windows from the totals.
//!
//! Nothing here reads per-thread CPU time: Suricata has tick counters only when built with
//! profiling, which the recorded build was not.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What an EVE `stats` line contains, as bytes, so other event types are passed over without
/// parsing them.
pub const EVE_STATS_MARKER: &[u8] = b"\"event_type\":\"stats\"";

/// One capture worker's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCounters {
    /// The thread's name (`W#01-eth0`).
    pub name: String,
    /// `capture.kernel_packets`.
    pub packets: u64,
    /// `capture.kernel_drops`.
    pub drops: u64,
    /// `decoder.pkts` (0 when absent).
    pub decoded: u64,
}

/// The counters of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuricataCounters {
    /// The EVE record's time, nanoseconds since the epoch (a `dump-counters` reply has none).
    pub timestamp: Option<u64>,
    /// Seconds since Suricata started.
    pub uptime: Option<u64>,
    /// `capture.kernel_packets`: packets offered to the capture, dropped ones included.
    pub packets: u64,
    /// `capture.kernel_drops`.
    pub drops: u64,
    /// `decoder.pkts`: packets decoded.
    pub decoded: u64,
    /// The capture workers, by name.
    pub workers: Vec<WorkerCounters>,
}

/// One line of `eve.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EveLine {
    /// Another event type (passed over).
    Other,
    /// A `stats` record.
    Stats(SuricataCounters),
}

/// A `dump-counters` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `"return":"OK"`: the counters.
    Counters(SuricataCounters),
    /// `"return":"NOK"` and its message (e.g. "stats not yet synchronized" at start).
    Nok(String),
}

#[derive(Deserialize)]
struct Capture {
    kernel_packets: Option<u64>,
    kernel_drops: Option<u64>,
}

#[derive(Deserialize)]
struct Decoder {
    pkts: Option<u64>,
}

#[derive(Deserialize)]
struct Thread {
    capture: Option<Capture>,
    decoder: Option<Decoder>,
}

#[derive(Deserialize)]
struct Tree {
    uptime: Option<u64>,
    capture: Option<Capture>,
    decoder: Option<Decoder>,
    #[serde(default)]
    threads: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Eve {
    timestamp: Option<String>,
    event_type: Option<String>,
    stats: Option<Tree>,
}

#[derive(Deserialize)]
struct RawReply {
    message: serde_json::Value,
    #[serde(rename = "return")]
    ret: String,
}

/// One line of `eve.json` (without its newline). Lines that are not `stats` records are
/// [`EveLine::Other`] without being parsed; a `stats` record that does not parse or lacks the
/// capture counters is an error saying why.
pub fn eve_line(line: &[u8]) -> Result<EveLine, String> {
    if !contains(line, EVE_STATS_MARKER) {
        return Ok(EveLine::Other);
    }
    let eve: Eve = serde_json::from_slice(line)
        .map_err(|e| format!("a stats line that is not a JSON record ({e})"))?;
    if eve.event_type.as_deref() != Some("stats") {
        return Ok(EveLine::Other);
    }
    let tree = eve
        .stats
        .ok_or_else(|| "a stats record without its \"stats\" object".to_string())?;
    let ts = eve
        .timestamp
        .ok_or_else(|| "a stats record without a timestamp".to_string())?;
    let at = parse_timestamp(&ts)
        .ok_or_else(|| format!("a stats record whose timestamp '{ts}' does not parse"))?;
    let mut c = counters(tree)?;
    c.timestamp = Some(at);
    Ok(EveLine::Stats(c))
}

/// One `dump-counters` reply (one JSON object, with or without its newline).
pub fn dump_counters_reply(reply: &[u8]) -> Result<Reply, String> {
    let raw: RawReply = serde_json::from_slice(trim_newline(reply))
        .map_err(|e| format!("a dump-counters reply that is not the expected JSON ({e})"))?;
    match raw.ret.as_str() {
        "OK" => {
            let tree: Tree = serde_json::from_value(raw.message).map_err(|e| {
                format!("a dump-counters reply whose message is not a counter tree ({e})")
            })?;
            counters(tree).map(Reply::Counters)
        }
        "NOK" => Ok(Reply::Nok(match raw.message {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })),
        other => Err(format!("a dump-counters reply with \"return\":\"{other}\"")),
    }
}

/// An EVE timestamp, `2026-12-01T13:32:55.319517+0000` (also `Z` or `+00:00` for the zone),
/// as nanoseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let kept = &digits[..digits.len().min(9)];
        nanos = kept.parse::<i64>().ok()? * 10_i64.pow(9 - kept.len() as u32);
    }
    let offset_secs = match &s[i..] {
        "Z" => 0,
        zone => {
            let zb = zone.as_bytes();
            let sign = match zb.first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let h: i64 = digits[..2].parse().ok()?;
            let m: i64 = digits[2..].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn counters(tree: Tree) -> Result<SuricataCounters, String> {
    let (packets, drops) = match &tree.capture {
        Some(Capture {
            kernel_packets: Some(p),
            kernel_drops: Some(d),
        }) => (*p, *d),
        _ => {
            return Err(
                "counters without capture.kernel_packets and capture.kernel_drops \
                        (Suricata reports them when it captures with af-packet and stats \
                        totals are on)"
                    .to_string(),
            );
        }
    };
    let mut workers = Vec::new();
    for (name, value) in tree.threads {
        // The Global, flow manager and recycler threads have no capture counters.
        let Ok(t) = serde_json::from_value::<Thread>(value) else {
            continue;
        };
        if let Some(Capture {
            kernel_packets: Some(p),
            kernel_drops: Some(d),
        }) = t.capture
        {
            workers.push(WorkerCounters {
                name,
                packets: p,
                drops: d,
                decoded: t.decoder.and_then(|d| d.pkts).unwrap_or(0),
            });
        }
    }
    Ok(SuricataCounters {
        timestamp: None,
        uptime: tree.uptime,
        packets,
        drops,
        decoded: tree.decoder.and_then(|d| d.pkts).unwrap_or(0),
        workers,
    })
}

fn trim_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(i) = hay
        .get(from..)
        .and_then(|h| h.iter().position(|&c| c == first))
    {
        let at = from + i;
        if hay.get(at + 1..at + 1 + rest.len()) == Some(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        // 2026-12-01T00:00:00Z is 20 788 days after the epoch.
        assert_eq!(days_from_civil(2026, 12, 1), 20_788);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        let t = parse_timestamp("2026-12-01T13:32:55.319517+0000").unwrap();
        assert_eq!(
            t,
            (20_788 * 86_400 + 13 * 3600 + 32 * 60 + 55) * 1_000_000_000 + 319_517_000
        );
        assert_eq!(parse_timestamp("2026-12-01T14:32:55.319517+0100"), Some(t));
        assert_eq!(parse_timestamp("2026-12-01T13:32:55.319517Z"), Some(t));
        assert_eq!(parse_timestamp("2026-12-01T13:32:55.319517+00:00"), Some(t));
        for bad in [
            "",
            "XXXX-XX-XX",
            "2026-13-01T00:00:00Z",
            "2026-12-01T13:32:55.+0000",
            "2026-12-01T13:32:55",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_events_are_passed_over_and_broken_stats_refused() {
        assert_eq!(eve_line(b"{\"event_type\":\"flow\"}"), Ok(EveLine::Other));
        assert_eq!(eve_line(b"not json at all"), Ok(EveLine::Other));
        assert!(eve_line(b"{\"event_type\":\"stats\"").is_err());
        assert!(contains(b"abcabd", b"abd") && !contains(b"abcab", b"abd"));
    }
}
