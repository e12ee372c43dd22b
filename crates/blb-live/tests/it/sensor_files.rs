//! Tests of the Suricata and Zeek readers on the recorded sensor output
//! (`../shared/sensors`): every EVE stats record, the dump-counters replies (the NOK one
//! too), the unix-socket bytes replayed by a fake Suricata, Zeek's logs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use blb_live::feedback::suricata::{self, EveLine, Reply, SuricataCounters};
use blb_live::feedback::suricata_socket::{DUMP_COUNTERS, HANDSHAKE, SuricataSocket};
use blb_live::feedback::zeek::{ZeekLine, ZeekLog};

fn sensors() -> Option<PathBuf> {
    crate::skip::sensors()
}

/// Every EVE stats record, in the file's order.
fn eve_records(dir: &Path) -> Vec<SuricataCounters> {
    let text = std::fs::read(dir.join("suricata/eve-stats.json")).unwrap();
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| match suricata::eve_line(l) {
            Ok(EveLine::Stats(c)) => c,
            other => panic!("not a stats record: {other:?}"),
        })
        .collect()
}

/// The messages of `unix-socket-session.txt`: (client to server?, exact bytes).
fn session(dir: &Path) -> Vec<(bool, Vec<u8>)> {
    let text = std::fs::read_to_string(dir.join("suricata/unix-socket-session.txt")).unwrap();
    let mut out = Vec::new();
    let mut dir_next = None;
    for line in text.lines() {
        if line.starts_with(">>> C->S") {
            dir_next = Some(true);
        } else if line.starts_with("<<< S->C") {
            dir_next = Some(false);
        } else if let (Some(d), Some(lit)) = (dir_next.take(), line.strip_prefix("b'")) {
            out.push((
                d,
                python_bytes(lit.strip_suffix('\'').expect("a bytes literal")),
            ));
        }
    }
    out
}

/// The body of a Python bytes literal between `b'` and `'`.
fn python_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (v, n) = match b[i + 1] {
            b'n' => (b'\n', 2),
            b'r' => (b'\r', 2),
            b't' => (b'\t', 2),
            b'x' => (
                u8::from_str_radix(std::str::from_utf8(&b[i + 2..i + 4]).unwrap(), 16).unwrap(),
                4,
            ),
            other => (other, 2), // \\ \' \"
        };
        out.push(v);
        i += n;
    }
    out
}

#[test]
fn every_eve_stats_record_parses_with_the_counters_of_run_md() {
    let Some(dir) = sensors() else { return };
    let r = eve_records(&dir);
    assert_eq!(r.len(), 28);
    // RUN.md's table: the first drops at uptime 24, the final totals at uptime 54.
    let first_drops = r.iter().find(|c| c.drops > 0).unwrap();
    assert_eq!(first_drops.uptime, Some(24));
    assert_eq!((first_drops.packets, first_drops.drops), (360_504, 8421));
    let w: Vec<_> = first_drops
        .workers
        .iter()
        .map(|w| (w.name.as_str(), w.packets, w.drops))
        .collect();
    assert_eq!(
        w,
        [
            ("W#01-vethsensor", 178_940, 6410),
            ("W#02-vethsensor", 181_564, 2011)
        ]
    );
    let last = r.last().unwrap();
    assert_eq!(
        (last.packets, last.drops, last.decoded),
        (1_641_109, 723_766, 917_343)
    );
    assert_eq!(last.packets, last.decoded + last.drops);
    // In time order; the workers' counters add up to the totals in every record.
    for pair in r.windows(2) {
        assert!(pair[0].timestamp < pair[1].timestamp);
    }
    for c in &r {
        let sum: (u64, u64) = c
            .workers
            .iter()
            .fold((0, 0), |a, w| (a.0 + w.packets, a.1 + w.drops));
        assert_eq!(sum, (c.packets, c.drops), "uptime {:?}", c.uptime);
    }
    // 2026-12-01T13:32:55.319517+0000.
    assert_eq!(r[0].timestamp, Some(1_796_131_975_319_517_000));
}

#[test]
fn a_torn_stats_line_is_refused_and_other_lines_passed_over() {
    let Some(dir) = sensors() else { return };
    let text = std::fs::read(dir.join("suricata/eve-stats.json")).unwrap();
    let line = text.split(|&b| b == b'\n').next().unwrap();
    let err = suricata::eve_line(&line[..line.len() / 2]).unwrap_err();
    assert!(err.contains("not a JSON record"), "{err}");
    // The tail of a torn line has no event type: not a stats record.
    assert_eq!(
        suricata::eve_line(&line[line.len() / 2..]),
        Ok(EveLine::Other)
    );
}

#[test]
fn dump_counters_replies_parse_and_match_eve_records() {
    let Some(dir) = sensors() else { return };
    let eve = eve_records(&dir);
    let mut files: Vec<_> = std::fs::read_dir(dir.join("suricata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("dump-counters-")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 7);
    let mut ok = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        match suricata::dump_counters_reply(&bytes).unwrap() {
            Reply::Nok(m) => {
                assert!(f.to_str().unwrap().contains("NOK"));
                assert_eq!(m, "stats not yet synchronized");
            }
            Reply::Counters(c) => {
                ok += 1;
                assert_eq!(c.timestamp, None);
                assert_eq!(c.workers.len(), 2);
                // The same counters as an EVE record of the same moment.
                let same = eve.iter().find(|e| {
                    (e.packets, e.drops, e.decoded) == (c.packets, c.drops, c.decoded)
                        && e.workers == c.workers
                });
                assert!(same.is_some(), "{} matches no EVE record", f.display());
            }
        }
    }
    assert_eq!(ok, 6);
}

#[test]
fn the_client_sends_the_recorded_bytes() {
    let Some(dir) = sensors() else { return };
    let s = session(&dir);
    assert_eq!(s[0], (true, HANDSHAKE.to_vec()));
    assert_eq!(s[1], (false, b"{\"return\":\"OK\"}\n".to_vec()));
    assert!(s.contains(&(true, DUMP_COUNTERS.to_vec())));
    // suricatasc's own handshake, from the strace, is the same bytes.
    let strace = std::fs::read_to_string(dir.join("suricata/unix-socket-strace.txt")).unwrap();
    let hex: String = HANDSHAKE.iter().map(|b| format!("\\x{b:02x}")).collect();
    assert!(strace.contains(&format!("sendto(3, \"{hex}\", 18,")));
}

/// A fake Suricata on `path`: answers each line the client sends with the reply recorded
/// after the same bytes in the session (`replies` overrides some), for `connections`
/// connections.
fn fake_suricata(
    path: &Path,
    session: Vec<(bool, Vec<u8>)>,
    replies: Vec<(Vec<u8>, Vec<u8>)>,
    connections: usize,
) -> thread::JoinHandle<Vec<Vec<u8>>> {
    let listener = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        let mut heard = Vec::new();
        for _ in 0..connections {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                let mut line = Vec::new();
                if reader.read_until(b'\n', &mut line).unwrap() == 0 {
                    break;
                }
                heard.push(line.clone());
                let reply = replies
                    .iter()
                    .find(|(q, _)| *q == line)
                    .map(|(_, r)| r.clone())
                    .or_else(|| {
                        let i = session.iter().position(|(c, m)| *c && *m == line)?;
                        Some(session[i + 1].1.clone())
                    });
                match reply {
                    Some(r) => writer.write_all(&r).unwrap(),
                    None => break, // an unknown command: hang up
                }
            }
        }
        heard
    })
}

#[test]
fn dump_counters_over_a_socket_replaying_the_recorded_bytes() {
    let Some(dir) = sensors() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("suricata.sock");
    let server = fake_suricata(&path, session(&dir), Vec::new(), 1);
    let mut client = SuricataSocket::new(&path, Duration::from_secs(30));
    let reply = client.dump_counters().unwrap();
    assert_eq!(reply.len() + 1, 25_814, "the recorded reply, whole");
    let Reply::Counters(c) = suricata::dump_counters_reply(&reply).unwrap() else {
        panic!("an OK reply")
    };
    assert_eq!((c.uptime, c.packets, c.drops), (Some(21), 26_271, 0));
    // A second poll on the same connection.
    assert!(client.dump_counters().is_ok());
    drop(client);
    let heard = server.join().unwrap();
    assert_eq!(heard, [HANDSHAKE, DUMP_COUNTERS, DUMP_COUNTERS]);
}

#[test]
fn a_not_yet_synchronized_suricata_and_a_missing_socket() {
    let Some(dir) = sensors() else { return };
    let nok =
        std::fs::read(dir.join("suricata/dump-counters-001-20261201T133253Z-startup-NOK.json"))
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("suricata.sock");
    // Suricata answers dump-counters with the recorded NOK while it starts.
    let server = fake_suricata(
        &path,
        session(&dir),
        vec![(DUMP_COUNTERS.to_vec(), nok.clone())],
        1,
    );
    let mut client = SuricataSocket::new(&path, Duration::from_secs(30));
    let reply = client.dump_counters().unwrap();
    assert_eq!(
        suricata::dump_counters_reply(&reply).unwrap(),
        Reply::Nok("stats not yet synchronized".into())
    );
    drop(client);
    server.join().unwrap();
    // Nobody listening any more: an error naming the socket, and no connection kept.
    std::fs::remove_file(&path).unwrap();
    let mut client = SuricataSocket::new(&path, Duration::from_secs(1));
    let err = client.dump_counters().unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(!client.is_connected());
}

#[test]
fn zeek_capture_loss_parses_and_other_logs_are_refused() {
    let Some(dir) = sensors() else { return };
    let mut z = ZeekLog::new();
    let text = std::fs::read(dir.join("zeek/capture_loss.log")).unwrap();
    let mut records = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        match z.line(line) {
            ZeekLine::Record(r) => records.push(r),
            ZeekLine::Garbled(e) => panic!("garbled: {e}"),
            ZeekLine::Header => {}
        }
    }
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.ts, None, "the baseline masks ts");
        assert_eq!(r.peer.as_deref(), Some("zeek"));
        assert_eq!((r.gaps, r.acks, r.percent_lost), (Some(0), Some(0), 0.0));
        assert_eq!(r.ts_delta, Some(0.0));
    }
    // stats.log is another log: its records are refused, saying which.
    let mut z = ZeekLog::new();
    let text = std::fs::read(dir.join("zeek/stats.log")).unwrap();
    let garbled: Vec<String> = text
        .split(|&b| b == b'\n')
        .filter_map(|l| match z.line(l) {
            ZeekLine::Garbled(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(garbled.len(), 2);
    assert!(garbled[0].contains("'stats'"), "{}", garbled[0]);
}
