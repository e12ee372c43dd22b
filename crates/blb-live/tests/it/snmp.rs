//! Tests of snmp: the client against Debian's real `snmpd` on loopback, with the
//! hrProcessorLoad rows pinned by `override` directives.

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use blb_live::LiveError;
use blb_live::feedback::ber::Value;
use blb_live::feedback::snmp::{HR_PROCESSOR_LOAD, SnmpClient, SnmpConfig};

const SNMPD: &str = "/usr/sbin/snmpd";

/// Whether a tool is present; skipped (or failed under `BLB_REQUIRE_TOOLS=1`) if not.
fn have_tool(path: &str) -> bool {
    crate::skip::require(
        Path::new(path).exists(),
        &format!("{path} is missing (apt-get install snmpd snmp)"),
    )
}

/// A UDP port nobody listens on right now.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The number of CPUs hr_proc reports: the `cpuN` lines of /proc/stat.
fn cpu_count() -> usize {
    fs::read_to_string("/proc/stat")
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

/// A running snmpd, killed on drop.
struct Snmpd {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Snmpd {
    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
    }

    /// Starts snmpd with `conf` on a free loopback port and waits until it answers.
    fn start(conf: &str) -> Snmpd {
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let conf_path = dir.path().join("snmpd.conf");
            fs::write(&conf_path, conf).unwrap();
            let log = fs::File::create(dir.path().join("snmpd.log")).unwrap();
            let port = free_udp_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let child = Command::new(SNMPD)
                .args(["-f", "-Lo", "-C", "-c"])
                .arg(&conf_path)
                .arg("-p")
                .arg(dir.path().join("snmpd.pid"))
                .arg(format!("udp:{addr}"))
                .env("SNMP_PERSISTENT_DIR", dir.path())
                .env("SNMPCONFPATH", dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {SNMPD}: {e}"));
            let mut agent = Snmpd { child, dir, addr };
            if agent.wait_ready() {
                return agent;
            }
            last_log = agent.log();
        }
        panic!("snmpd did not come up; its last log:\n{last_log}");
    }

    /// Polls the agent with the client under test until it answers (false if snmpd exited,
    /// for instance because the port was taken meanwhile).
    fn wait_ready(&mut self) -> bool {
        let mut cfg = SnmpConfig::new(self.addr);
        cfg.timeout = Duration::from_millis(200);
        cfg.retries = 0;
        let mut client = SnmpClient::new(cfg).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                eprintln!("snmpd exited with {status}:\n{}", self.log());
                return false;
            }
            // sysDescr: every view includes it.
            if client
                .walk(&[1, 3, 6, 1, 2, 1, 1, 1], 1)
                .is_ok_and(|r| !r.is_empty())
            {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "snmpd on {} did not answer within 20 s:\n{}",
            self.addr,
            self.log()
        );
    }

    fn client(&self, community: &str) -> SnmpClient {
        let mut cfg = SnmpConfig::new(self.addr);
        cfg.community = community.to_string();
        cfg.timeout = Duration::from_millis(500);
        SnmpClient::new(cfg).unwrap()
    }
}

/// The rows `snmpwalk` sees under hrProcessorLoad, if the tool is there.
fn snmpwalk_loads(agent: &Snmpd) -> Option<Vec<(Vec<u32>, i64)>> {
    if !have_tool("/usr/bin/snmpwalk") {
        return None;
    }
    let out = Command::new("/usr/bin/snmpwalk")
        .args(["-v2c", "-c", "public", "-On", "-t", "2"])
        .arg(agent.addr.to_string())
        .arg("1.3.6.1.2.1.25.3.3.1.2")
        .env("SNMP_PERSISTENT_DIR", agent.dir.path())
        .env("SNMPCONFPATH", agent.dir.path())
        .output()
        .ok()?;
    assert!(out.status.success(), "snmpwalk failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .filter_map(|l| {
                // .1.3.6.1.2.1.25.3.3.1.2.196608 = INTEGER: 30
                let (oid, value) = l.split_once(" = INTEGER: ")?;
                let oid = oid
                    .trim_start_matches('.')
                    .split('.')
                    .map(|a| a.parse().unwrap())
                    .collect();
                Some((oid, value.trim().parse().unwrap()))
            })
            .collect(),
    )
}

#[test]
fn processor_load_from_real_snmpd() {
    if !have_tool(SNMPD) {
        return;
    }
    // Pin every CPU's row: 30, 50, 30, 50, … (hr_proc itself reports no load in its first
    // minute, and real values would not be reproducible anyway).
    let cpus = cpu_count();
    let pinned: Vec<(u32, i64)> = (0..cpus as u32)
        .map(|i| (196_608 + i, if i % 2 == 0 { 30 } else { 50 }))
        .collect();
    let mut conf = String::from(
        "rocommunity public 127.0.0.1\n\
         rocommunity limited 127.0.0.1 .1.3.6.1.2.1.1\n",
    );
    for (index, load) in &pinned {
        conf.push_str(&format!(
            "override .1.3.6.1.2.1.25.3.3.1.2.{index} integer {load}\n"
        ));
    }
    let agent = Snmpd::start(&conf);

    let mut client = agent.client("public");
    let rows = client.walk(HR_PROCESSOR_LOAD, 4096).unwrap();
    let as_ints: Vec<(Vec<u32>, i64)> = rows
        .iter()
        .map(|(oid, v)| match v {
            Value::Integer(x) => (oid.clone(), *x),
            other => panic!("hrProcessorLoad row {oid:?} is {other:?}"),
        })
        .collect();
    let mean = client.processor_load().unwrap();
    let expected_rows: Vec<(Vec<u32>, i64)> = pinned
        .iter()
        .map(|(index, load)| {
            let mut oid = HR_PROCESSOR_LOAD.to_vec();
            oid.push(*index);
            (oid, *load)
        })
        .collect();
    if as_ints == expected_rows {
        let expected = pinned.iter().map(|(_, l)| *l as f64).sum::<f64>() / cpus as f64;
        assert_eq!(mean, expected, "rows {as_ints:?}");
        if cpus == 2 {
            assert_eq!(mean, 40.0);
        }
    } else {
        // The agent has rows the overrides do not cover; agree with snmpwalk instead.
        eprintln!("hrProcessorLoad rows differ from the pinned ones: {as_ints:?}");
        let Some(walked) = snmpwalk_loads(&agent) else {
            panic!("unexpected rows {as_ints:?} and no snmpwalk to compare with");
        };
        assert_eq!(as_ints, walked);
        let expected = walked.iter().map(|(_, l)| *l as f64).sum::<f64>() / walked.len() as f64;
        assert!((mean - expected).abs() < 1e-9, "{mean} vs {expected}");
    }
    if let Some(walked) = snmpwalk_loads(&agent) {
        assert_eq!(as_ints, walked, "our walk and snmpwalk disagree");
    }

    // A walk stops at max_rows.
    assert_eq!(client.walk(HR_PROCESSOR_LOAD, 1).unwrap().len(), 1);

    // A community whose view lacks HOST-RESOURCES-MIB: no rows, and the error says so.
    let err = agent.client("limited").processor_load().unwrap_err();
    let text = err.to_string();
    eprintln!("error as expected: {text}");
    assert!(matches!(err, LiveError::Snmp { .. }), "{err:?}");
    assert!(text.contains("no hrProcessorLoad rows"), "{text}");
    assert!(text.contains(&agent.addr.to_string()), "{text}");

    // A wrong community gets no answer at all: a timeout naming the agent.
    let t = Instant::now();
    let err = agent.client("wrong").processor_load().unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&agent.addr.to_string()), "{text}");
    eprintln!("error as expected: {text}");
    assert!(text.contains("no answer"), "{text}");
    assert!(
        t.elapsed() < Duration::from_millis(1000 + 500),
        "{:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn no_agent_listening_fails_in_time() {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let mut cfg = SnmpConfig::new(addr);
    cfg.timeout = Duration::from_millis(300);
    cfg.retries = 1;
    let t = Instant::now();
    let err = SnmpClient::new(cfg).unwrap().processor_load().unwrap_err();
    let elapsed = t.elapsed();
    let text = err.to_string();
    eprintln!("error as expected: {text}");
    assert!(matches!(err, LiveError::Snmp { .. }), "{err:?}");
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(elapsed < Duration::from_millis(600 + 400), "{elapsed:?}");
}
