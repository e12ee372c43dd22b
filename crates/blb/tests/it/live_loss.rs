//! Live: a sensor's load from its own drop counters, read on Suricata's command socket. A
//! fake Suricata on a unix socket answers blb's handshake with the recorded reply and each
//! `dump-counters` with recorded replies (`../shared/sensors/suricata`): twice the NOK of a
//! starting Suricata, then the reply of the flood's first drops, then that of the flood. blb,
//! running in the lab, must send the recorded request bytes, count the NOKs, turn the sensor
//! overloaded (its load held at 100 %); when the fake Suricata goes away, the source goes
//! stale and the sensor's load is the estimate again.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use blb_live::feedback::suricata_socket::{DUMP_COUNTERS, HANDSHAKE};

use crate::lab::*;

/// A fake Suricata command socket, stopped on drop.
struct FakeSuricata {
    stop: Arc<AtomicBool>,
    heard: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSuricata {
    /// Serve on `path`: the handshake's recorded answer, then `replies[i]` for the i-th
    /// dump-counters (the last one ever after).
    fn start(path: &Path, replies: Vec<Vec<u8>>) -> FakeSuricata {
        let listener = UnixListener::bind(path).expect("bind the fake socket");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (stop2, heard2) = (Arc::clone(&stop), Arc::clone(&heard));
        let thread = std::thread::spawn(move || {
            let mut served = 0;
            while !stop2.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(Duration::from_millis(200)))
                    .expect("timeout");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let mut line = Vec::new();
                while !stop2.load(Ordering::Relaxed) {
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) => break,
                        Ok(_) if line.ends_with(b"\n") => {}
                        Ok(_) | Err(_) => continue, // a timeout: keep what came, wait
                    }
                    heard2.lock().unwrap().push(std::mem::take(&mut line));
                    let last = heard2.lock().unwrap().last().cloned().unwrap();
                    let reply = if last == HANDSHAKE {
                        b"{\"return\":\"OK\"}\n".to_vec()
                    } else if last == DUMP_COUNTERS {
                        served += 1;
                        replies[(served - 1).min(replies.len() - 1)].clone()
                    } else {
                        break;
                    };
                    if writer.write_all(&reply).is_err() {
                        break;
                    }
                }
            }
        });
        FakeSuricata {
            stop,
            heard,
            thread: Some(thread),
        }
    }

    fn heard(&self) -> Vec<Vec<u8>> {
        self.heard.lock().unwrap().clone()
    }
}

impl Drop for FakeSuricata {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_suricata_socket_overloads_a_live_sensor_until_it_goes_away() {
    let Some(sensors) = crate::skip::sensors() else {
        return;
    };
    let file = |name: &str| -> Vec<u8> {
        std::fs::read(sensors.join("suricata").join(name)).expect("a recorded reply")
    };
    // The handshake's answer is the recorded one.
    let session = std::fs::read_to_string(sensors.join("suricata/unix-socket-session.txt"))
        .expect("the recorded session");
    assert!(session.contains("b'{\"return\":\"OK\"}\\n'"));
    let nok = file("dump-counters-001-20261201T133253Z-startup-NOK.json");
    let mut replies = vec![nok.clone(), nok];
    for (name, polls) in [
        (
            "dump-counters-009-20261201T133318Z-overload-first-drops.json",
            8,
        ),
        ("dump-counters-011-20261201T133325Z-overload.json", 1),
    ] {
        replies.extend(std::iter::repeat_n(file(name), polls));
    }
    Lab::run(&["curl"], |lab| {
        const METRICS: u16 = 19_487;
        lab.veth("in0", "in0p");
        let sock = lab.path("suricata.sock");
        let suricata = FakeSuricata::start(&sock, replies.clone());
        // One hot window overloads it; nothing releases it (no loss is below 0 %), so the
        // state holds until the source goes stale, 3 s after the fake Suricata is gone, and
        // the last floor 2 s after that.
        let cfg = write_config(
            lab,
            &format!(
                "[live]\nreport_stale_after = 2\n\
                 [[sensor]]\npcap = \"{}\"\nsuricata_socket = \"{}\"\nloss_interval = 0.5\n\
                 loss_samples = 1\nloss_release_percent = 0\nloss_stale_after = 3\n\
                 [[sensor]]\npcap = \"{}\"\n",
                utf8(&lab.path("s0.pcap")),
                utf8(&sock),
                utf8(&lab.path("s1.pcap")),
            ),
        );
        let summary: PathBuf = lab.path("summary.json");
        let mut blb = lab.blb(&[
            "-i",
            "in0",
            "-a",
            "blb",
            "--capacity",
            "100000",
            "--config",
            utf8(&cfg),
            "--metrics",
            &METRICS.to_string(),
            "--summary",
            utf8(&summary),
        ]);
        let url = format!("http://127.0.0.1:{METRICS}/metrics");
        let m = |t: &str, name: &str| sensor_metric(t, name, "sensor-0");
        // Overloaded: its load held at 100 % or more (the loop applies the floor the source's
        // thread sent, so the two may be a snapshot apart).
        let (_, text) = poll(
            "sensor-0 overloaded by its drop counters, its load held at 100 %",
            Duration::from_secs(60),
            || lab.curl(&[&url]),
            |(code, t)| {
                *code == 200
                    && m(t, "blb_sensor_loss_overloaded") == Some(1.0)
                    && m(t, "blb_sensor_load_percent").is_some_and(|l| l >= 99.0)
            },
        );
        assert!(
            m(&text, "blb_sensor_loss_percent").is_some_and(|l| l > 50.0),
            "{text}"
        );
        assert_eq!(m(&text, "blb_sensor_loss_stale"), Some(0.0), "{text}");
        // The bytes blb sent: the recorded handshake, then the recorded command.
        let heard = suricata.heard();
        assert_eq!(heard.first().map(Vec::as_slice), Some(HANDSHAKE));
        assert!(heard.len() > 10 && heard[1..].iter().all(|l| l == DUMP_COUNTERS));
        // Suricata goes away: stale, the state forgotten, the load the estimate again.
        drop(suricata);
        let (_, text) = poll(
            "sensor-0's source stale and its load the estimate again",
            Duration::from_secs(60),
            || lab.curl(&[&url]),
            |(code, t)| {
                *code == 200
                    && m(t, "blb_sensor_loss_stale") == Some(1.0)
                    && m(t, "blb_sensor_load_percent").is_some_and(|l| l < 1.0)
            },
        );
        assert_eq!(m(&text, "blb_sensor_loss_overloaded"), Some(0.0), "{text}");
        assert_eq!(
            m(&text, "blb_sensor_loss_overloads_total"),
            Some(1.0),
            "{text}"
        );
        assert_eq!(m(&text, "blb_sensor_loss_stale_total"), Some(1.0), "{text}");
        assert_eq!(
            m(&text, "blb_sensor_loss_garbled_total"),
            Some(0.0),
            "{text}"
        );
        let st = blb.stop("TERM");
        assert!(st.success(), "blb failed:\n{}", blb.stderr());
        let err = blb.stderr();
        assert!(err.contains("stats not yet synchronized"), "{err}");
        assert!(
            err.contains("sensor overloaded by its own figures"),
            "{err}"
        );
        assert!(err.contains("loss source is stale"), "{err}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary"))
                .expect("JSON summary");
        let loss = &json["live"]["loss"][0];
        assert_eq!(loss["name"], "sensor-0", "{loss}");
        assert!(
            loss["errors"].as_u64() > Some(2),
            "the two NOKs, then no Suricata: {loss}"
        );
        assert_eq!(loss["counts"]["entered"], 1, "{loss}");
        assert_eq!(loss["counts"]["released"], 0, "{loss}");
        assert_eq!(loss["counts"]["stale"], 1, "{loss}");
        assert_eq!(loss["stale"], true, "{loss}");
        assert!(loss["reports_accepted"].as_u64() > Some(10), "{loss}");
        assert_eq!(json["live"]["loss"].as_array().map(Vec::len), Some(1));
        Ok(())
    });
}
