//! Live feedback and control: SNMP load polled from Debian's real snmpd (hrProcessorLoad
//! pinned to a mean of 40) and combined with the estimate; state changes on the control
//! endpoint need the bearer token (401 without, 403 with a wrong one or none configured); a
//! drained sensor gets no traffic until restored; pushed loads are checked.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::lab::*;
use crate::util::pcaps;

/// A control token long enough for blb (16 characters at least).
const TOKEN: &str = "endpoints-test-token-0123456789";

// --- 2. SNMP -----------------------------------------------------------------------------

/// The number of CPUs snmpd's hr_proc reports: the `cpuN` lines of /proc/stat.
fn cpu_count() -> usize {
    std::fs::read_to_string("/proc/stat")
        .map(|s| {
            s.lines()
                .filter(|l| {
                    l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
                })
                .count()
        })
        .unwrap_or(0)
        .max(1)
}

/// snmpd's configuration: every CPU's hrProcessorLoad row pinned, 30, 50, 30, 50, … (and 40
/// for an odd last one), so the mean is 40 whatever the number of CPUs.
fn snmpd_conf() -> String {
    let cpus = cpu_count();
    let mut conf = String::from("rocommunity public 127.0.0.1\n");
    for i in 0..cpus {
        let load = if i + 1 == cpus && cpus % 2 == 1 {
            40
        } else if i % 2 == 0 {
            30
        } else {
            50
        };
        conf += &format!(
            "override .1.3.6.1.2.1.25.3.3.1.2.{} integer {load}\n",
            196_608 + i
        );
    }
    conf
}

/// snmpd in the namespace, killed on drop.
struct Snmpd {
    child: Child,
    log: PathBuf,
}

impl Snmpd {
    fn start(lab: &Lab, port: u16) -> Snmpd {
        let dir = lab.path("snmpd");
        std::fs::create_dir_all(&dir).expect("snmpd dir");
        let conf = dir.join("snmpd.conf");
        std::fs::write(&conf, snmpd_conf()).expect("snmpd.conf");
        let log = dir.join("snmpd.log");
        let out = std::fs::File::create(&log).expect("snmpd.log");
        let listen = format!("udp:127.0.0.1:{port}");
        let pid = dir.join("snmpd.pid");
        let child = lab
            .cmd(&[
                "snmpd",
                "-f",
                "-Lo",
                "-C",
                "-c",
                utf8(&conf),
                "-p",
                utf8(&pid),
                &listen,
            ])
            .env("SNMP_PERSISTENT_DIR", &dir)
            .env("SNMPCONFPATH", &dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("snmpd starts");
        Snmpd { child, log }
    }

    /// The end of snmpd's log (it is long: the MIBs it cannot find).
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn snmp_load_is_polled_from_a_real_snmpd() {
    let Some(pcaps) = pcaps() else { return };
    Lab::run(&["snmpd", "curl"], |lab| {
        const SNMP: u16 = 16_161;
        const METRICS: u16 = 19_287;
        const CONTROL: u16 = 19_288;
        lab.veth("in0", "in0p");
        // Reports stay fresh for 30 s, so the last one still counts after snmpd is gone.
        let cfg = write_config(
            lab,
            &format!(
                "[live]\nreport_stale_after = 30\n\
                 [[sensor]]\npcap = \"{}\"\nsnmp = \"127.0.0.1:{SNMP}\"\nsnmp_interval = 0.5\nsnmp_timeout = 0.3\n\
                 [[sensor]]\npcap = \"{}\"\n",
                utf8(&lab.path("s0.pcap")),
                utf8(&lab.path("s1.pcap")),
            ),
        );
        let mut snmpd = Snmpd::start(lab, SNMP);
        let mut blb = lab.blb(&[
            "-i",
            "in0",
            "-a",
            "hash",
            "--capacity",
            "100000",
            "--config",
            utf8(&cfg),
            "--metrics",
            &METRICS.to_string(),
            "--control",
            &CONTROL.to_string(),
        ]);
        let reported = "blb_sensor_load_reported_percent";
        let url = format!("http://127.0.0.1:{METRICS}/metrics");
        let end = Instant::now() + Duration::from_secs(10);
        let text = loop {
            if let Ok(Some(st)) = snmpd.child.try_wait() {
                panic!("snmpd exited with {st}:\n{}", snmpd.log_tail());
            }
            let (_, text) = lab.curl(&[&url]);
            if sensor_metric(&text, reported, "sensor-0") == Some(40.0) {
                break text;
            }
            assert!(
                Instant::now() < end,
                "sensor-0's reported load never became 40:\n{text}\nblb:\n{}\nsnmpd:\n{}",
                blb.stderr(),
                snmpd.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // No traffic yet: the estimate is 0, and the load the balancer uses is the report.
        let m = |name: &str, sensor: &str| sensor_metric(&text, name, sensor);
        assert_eq!(
            m("blb_sensor_load_estimated_percent", "sensor-0"),
            Some(0.0),
            "{text}"
        );
        let load0 = m("blb_sensor_load_percent", "sensor-0").expect("load of sensor-0");
        assert!(load0 >= 40.0, "{text}");
        assert_eq!(load0, 40.0, "{text}");
        assert!(m("blb_sensor_load_report_age_seconds", "sensor-0").is_some_and(|a| a < 5.0));
        // Sensor 1 reports nothing: no reported line at all, and its load is the estimate.
        assert_eq!(m(reported, "sensor-1"), None, "{text}");
        assert_eq!(m("blb_sensor_load_report_age_seconds", "sensor-1"), None);
        assert!(!text.contains(&format!("{reported}{{sensor=\"sensor-1\"}}")));
        assert_eq!(
            m("blb_sensor_load_percent", "sensor-1"),
            Some(0.0),
            "{text}"
        );
        for s in ["sensor-0", "sensor-1"] {
            assert_eq!(m("blb_sensor_up", s), Some(1.0), "{text}");
        }
        let st = status(lab, CONTROL);
        assert_eq!(st["sensors"][0]["reported_load"], 40.0, "{st}");
        assert_eq!(st["sensors"][0]["load"], 40.0, "{st}");
        assert_eq!(st["sensors"][0]["in_service"], true, "{st}");
        assert_eq!(
            st["sensors"][1]["reported_load"],
            serde_json::Value::Null,
            "{st}"
        );
        assert_eq!(st["sensors"][1]["in_service"], true, "{st}");

        // Stop snmpd: the last report (made with an estimate of 0) stays. Traffic then raises
        // the estimate, and sensor 0's load becomes the report plus the estimate's change.
        snmpd.stop();
        std::thread::sleep(Duration::from_millis(200));
        let input = pcaps.join("scan/nmap_80_all.pcap");
        let sent = lab.replay("in0p", &[&input], Some(10_000))?;
        let text = wait_metrics(lab, METRICS, "the replay to show in the metrics", |t| {
            metric(t, "blb_packets_total") == Some(sent as f64)
        });
        let m = |name: &str, sensor: &str| sensor_metric(&text, name, sensor);
        let est0 = m("blb_sensor_load_estimated_percent", "sensor-0").expect("estimate");
        let est1 = m("blb_sensor_load_estimated_percent", "sensor-1").expect("estimate");
        assert!(
            est0 > 0.0 && est1 > 0.0,
            "both sensors got traffic:\n{text}"
        );
        assert_eq!(m(reported, "sensor-0"), Some(40.0), "{text}");
        let load0 = m("blb_sensor_load_percent", "sensor-0").expect("load");
        assert!(load0 >= 40.0, "{text}");
        assert!(
            (load0 - (40.0 + est0)).abs() < 1e-9 * (40.0 + est0),
            "load {load0} is not report 40 + estimate change {est0}:\n{text}"
        );
        assert_eq!(
            m("blb_sensor_load_percent", "sensor-1"),
            Some(est1),
            "{text}"
        );
        assert_eq!(m(reported, "sensor-1"), None, "{text}");
        let st = blb.stop("TERM");
        assert!(st.success(), "blb failed:\n{}", blb.stderr());
        assert!(
            blb.stderr().contains("SNMP poll failed"),
            "blb did not notice snmpd stopping:\n{}",
            blb.stderr()
        );
        Ok(())
    });
}

// --- 3. control ------------------------------------------------------------------------

#[test]
fn control_changes_need_the_token() {
    let Some(pcaps) = pcaps() else { return };
    Lab::run(&["curl"], |lab| {
        const METRICS: u16 = 19_387;
        const CONTROL: u16 = 19_388;
        let n = 3;
        lab.veth("in0", "in0p");
        let mut config = format!("[live]\ncontrol_token = \"{TOKEN}\"\n");
        for i in 0..n {
            lab.veth(&format!("s{i}"), &format!("s{i}p"));
            config += &format!("[[sensor]]\ninterface = \"s{i}\"\n");
        }
        let (metrics, control) = (METRICS.to_string(), CONTROL.to_string());
        let (mut blb, _) = lab.balance(
            "hash",
            &config,
            &["--metrics", &metrics, "--control", &control],
        );
        let base = format!("http://127.0.0.1:{CONTROL}");
        let drain = format!("{base}/sensors/sensor-1/drain");

        // Without a token, with a wrong one, with a prefix of the right one, another scheme.
        let (code, body) = post(lab, &drain, None, None);
        assert_eq!(code, 401, "{body}");
        let (code, body) = post(lab, &drain, Some("wrong-token-0123456789abcdef"), None);
        assert_eq!(code, 403, "{body}");
        let (code, body) = post(lab, &drain, Some(&TOKEN[..TOKEN.len() - 1]), None);
        assert_eq!(code, 403, "{body}");
        let basic = format!("Authorization: Basic {TOKEN}");
        let (code, body) = lab.curl(&["-X", "POST", "-H", &basic, &drain]);
        assert_eq!(code, 401, "{body}");
        // Nothing changed, and /status needs no token.
        let st = status(lab, CONTROL);
        for i in 0..n {
            assert_eq!(st["sensors"][i]["in_service"], true, "{st}");
            assert_eq!(st["sensors"][i]["name"], format!("sensor-{i}"), "{st}");
        }
        assert!(
            blb.stderr().contains("wrong token refused"),
            "{}",
            blb.stderr()
        );

        // With the token: drained.
        let (code, body) = post(lab, &drain, Some(TOKEN), None);
        assert_eq!(code, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(answer["in_service"], false, "{answer}");
        assert_eq!(answer["name"], "sensor-1", "{answer}");
        assert_eq!(
            answer["reasons"],
            serde_json::json!(["drained"]),
            "{answer}"
        );
        // /status and the metrics agree (each is published right after the change).
        let st = poll(
            "/status to show the drain",
            Duration::from_secs(2),
            || status(lab, CONTROL),
            |st| st["sensors"][1]["in_service"] == false,
        );
        assert_eq!(
            st["sensors"][1]["reasons"],
            serde_json::json!(["drained"]),
            "{st}"
        );
        assert_eq!(st["sensors"][0]["in_service"], true, "{st}");
        assert_eq!(st["sensors"][2]["in_service"], true, "{st}");
        let text = wait_metrics(lab, METRICS, "the drain in the metrics", |t| {
            sensor_metric(t, "blb_sensor_up", "sensor-1") == Some(0.0)
        });
        assert_eq!(sensor_metric(&text, "blb_sensor_up", "sensor-0"), Some(1.0));
        assert_eq!(sensor_metric(&text, "blb_sensor_up", "sensor-2"), Some(1.0));
        assert_eq!(
            metric(
                &text,
                "blb_sensor_out_reason{sensor=\"sensor-1\",reason=\"drained\"}"
            ),
            Some(1.0),
            "{text}"
        );

        // Traffic never reaches the drained sensor; the others get all of it.
        let replay_phase = |phase: &str,
                            input: &Path|
         -> Attempt<(Vec<Captured>, Vec<Vec<Captured>>)> {
            let mut reference = lab.sniff("in0", &lab.path(&format!("{phase}-in0.pcap")), &[]);
            let mut sniffers: Vec<Proc> = (0..n)
                .map(|i| {
                    let file = lab.path(&format!("{phase}-s{i}.pcap"));
                    lab.sniff(&format!("s{i}p"), &file, &[])
                })
                .collect();
            let sent = lab.replay("in0p", &[input], Some(10_000))?;
            std::thread::sleep(Duration::from_millis(700));
            lab.stop_sniffers(std::iter::once(&mut reference).chain(&mut sniffers))?;
            let arrived = lab.reference_frames(&lab.path(&format!("{phase}-in0.pcap")), sent)?;
            let out = (0..n)
                .map(|i| read_frames(&lab.path(&format!("{phase}-s{i}.pcap"))))
                .collect();
            Ok((arrived, out))
        };
        let (arrived, out) = replay_phase("drained", &pcaps.join("scan/nmap_80_all.pcap"))?;
        assert!(
            out[1].is_empty(),
            "the drained sensor got {} frames",
            out[1].len()
        );
        assert!(
            !out[0].is_empty() && !out[2].is_empty(),
            "{:?}",
            out.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert_same_frames(&[&out[0], &out[2]], &arrived, "while sensor-1 was drained");

        // Restore: back in service, and new flows reach it again.
        let (code, body) = post(
            lab,
            &format!("{base}/sensors/sensor-1/restore"),
            Some(TOKEN),
            None,
        );
        assert_eq!(code, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(answer["in_service"], true, "{answer}");
        assert_eq!(answer["reasons"], serde_json::json!([]), "{answer}");
        let st = poll(
            "/status to show the restore",
            Duration::from_secs(2),
            || status(lab, CONTROL),
            |st| st["sensors"][1]["in_service"] == true,
        );
        assert_eq!(st["sensors"][1]["reasons"], serde_json::json!([]), "{st}");
        wait_metrics(lab, METRICS, "the restore in the metrics", |t| {
            sensor_metric(t, "blb_sensor_up", "sensor-1") == Some(1.0)
        });
        let (arrived, out) = replay_phase("restored", &pcaps.join("scan/synscan.pcap"))?;
        assert!(
            !out[1].is_empty(),
            "no new flow reached the restored sensor"
        );
        let outputs: Vec<&[Captured]> = out.iter().map(Vec::as_slice).collect();
        assert_same_frames(&outputs, &arrived, "after the restore");

        // A pushed load.
        let load2 = format!("{base}/sensors/sensor-2/load");
        let (code, body) = post(lab, &load2, Some(TOKEN), Some("55"));
        assert_eq!(code, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(answer["accepted"], true, "{answer}");
        assert_eq!(answer["load"], 55.0, "{answer}");
        let text = wait_metrics(lab, METRICS, "the pushed load in the metrics", |t| {
            sensor_metric(t, "blb_sensor_load_reported_percent", "sensor-2") == Some(55.0)
        });
        for s in ["sensor-0", "sensor-1"] {
            assert_eq!(
                sensor_metric(&text, "blb_sensor_load_reported_percent", s),
                None,
                "{text}"
            );
        }
        // Bad loads are refused, and the good one stays.
        for bad in ["abc", "150", "-1", ""] {
            let (code, body) = post(lab, &load2, Some(TOKEN), Some(bad));
            assert_eq!(code, 400, "load {bad:?}: {body}");
        }
        // A pushed load needs the token too.
        let (code, _) = post(lab, &load2, None, Some("10"));
        assert_eq!(code, 401);
        let (code, _) = post(
            lab,
            &load2,
            Some("wrong-token-0123456789abcdef"),
            Some("10"),
        );
        assert_eq!(code, 403);
        let st = status(lab, CONTROL);
        assert_eq!(st["sensors"][2]["reported_load"], 55.0, "{st}");
        // By id, as JSON.
        let (code, body) = post(
            lab,
            &format!("{base}/sensors/2/load"),
            Some(TOKEN),
            Some("{\"load\": 12.5}"),
        );
        assert_eq!(code, 200, "{body}");
        wait_metrics(lab, METRICS, "the second pushed load", |t| {
            sensor_metric(t, "blb_sensor_load_reported_percent", "sensor-2") == Some(12.5)
        });

        // Unknown sensors, by name and by id.
        for who in ["sensor-9", "3", "nobody"] {
            let (code, body) = post(
                lab,
                &format!("{base}/sensors/{who}/drain"),
                Some(TOKEN),
                None,
            );
            assert_eq!(code, 404, "{who}: {body}");
        }
        let st = blb.stop("TERM");
        assert!(st.success(), "blb failed:\n{}", blb.stderr());

        // A second run with the control endpoint but no token: every change is refused.
        let cfg = write_config(
            lab,
            &(0..n)
                .map(|i| format!("[[sensor]]\ninterface = \"s{i}\"\n"))
                .collect::<String>(),
        );
        const CONTROL2: u16 = 19_389;
        let mut blb = lab.blb(&[
            "-i",
            "in0",
            "-a",
            "hash",
            "--config",
            utf8(&cfg),
            "--control",
            &CONTROL2.to_string(),
        ]);
        assert!(
            blb.stderr().contains("no control_token configured"),
            "{}",
            blb.stderr()
        );
        let base = format!("http://127.0.0.1:{CONTROL2}");
        for token in [Some(TOKEN), Some("anything-at-all-0123456789"), None] {
            let (code, body) = post(lab, &format!("{base}/sensors/sensor-1/drain"), token, None);
            assert_eq!(code, 403, "token {token:?}: {body}");
            let (code, body) = post(lab, &format!("{base}/sensors/0/load"), token, Some("5"));
            assert_eq!(code, 403, "token {token:?}: {body}");
        }
        let st = status(lab, CONTROL2);
        for i in 0..n {
            assert_eq!(st["sensors"][i]["in_service"], true, "{st}");
            assert_eq!(
                st["sensors"][i]["reported_load"],
                serde_json::Value::Null,
                "{st}"
            );
        }
        let st = blb.stop("TERM");
        assert!(st.success(), "blb failed:\n{}", blb.stderr());
        Ok(())
    });
}
