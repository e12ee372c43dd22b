//! Tests of the live settings: defaults, every mistake named in one sentence.

use super::*;
use crate::args::BalanceArgs;
use crate::config::ConfigFile;
use crate::settings::BalanceSettings;

fn args(interfaces: &[&str]) -> BalanceArgs {
    BalanceArgs {
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        algorithm: Some("hash".into()),
        ..Default::default()
    }
}

fn merge(a: &BalanceArgs, toml: &str) -> anyhow::Result<BalanceSettings> {
    let file = ConfigFile::parse(toml).map_err(anyhow::Error::msg)?;
    BalanceSettings::merge(a, &file)
}

fn err(a: &BalanceArgs, toml: &str) -> String {
    format!("{:#}", merge(a, toml).expect_err("must be refused"))
}

#[test]
fn sensors_come_from_the_tables() {
    let s = merge(
        &args(&["eth0"]),
        r#"
[live]
control_token = "0123456789abcdef"
metrics = "9187"
control = "9188"
[[sensor]]
name = "suricata-1"
interface = "eth1"
capacity = 5e6
snmp = "10.0.0.9"
[[sensor]]
vxlan = "10.0.0.2"
vni = 7
push = true
[[sensor]]
pcap = "/tmp/s3.pcap"
rotate_bytes = 1000000
keep = 3
"#,
    )
    .expect("valid");
    let live = s.live.expect("live");
    assert_eq!(s.engine.sensors, 3);
    assert_eq!(s.engine.capacities[0], 5e6);
    assert_eq!(live.interfaces, vec!["eth0"]);
    assert_eq!(live.metrics, Some("127.0.0.1:9187".parse().unwrap()));
    assert_eq!(live.sensors[0].name, "suricata-1");
    assert_eq!(
        live.sensors[0].delivery,
        Delivery::Interface {
            name: "eth1".into(),
            qdisc_bypass: false
        }
    );
    let snmp = live.sensors[0].snmp.as_ref().expect("snmp");
    assert_eq!(snmp.agent, "10.0.0.9:161".parse().unwrap());
    assert_eq!(snmp.community, "public");
    assert_eq!(
        live.sensors[1].delivery,
        Delivery::Vxlan {
            destination: "10.0.0.2:4789".parse().unwrap(),
            vni: 7,
            source: None
        }
    );
    assert!(live.sensors[1].push);
    assert_eq!(live.sensors[2].name, "sensor-2");
    assert_eq!(live.backend, Backend::AfPacket);
    assert_eq!(live.report_down_after, Some(Duration::from_secs(60)));
}

#[test]
fn without_tables_a_write_dir_gives_pcap_files() {
    let mut a = args(&["eth0"]);
    a.sensors = Some(2);
    a.write_dir = Some("/tmp/out".into());
    let s = merge(&a, "").expect("valid");
    let live = s.live.expect("live");
    assert_eq!(live.sensors.len(), 2);
    assert!(
        matches!(&live.sensors[1].delivery, Delivery::Pcap { path, .. } if path.ends_with("sensor-1.pcap"))
    );
    a.write_dir = None;
    assert!(err(&a, "").contains("[[sensor]]"));
}

#[test]
fn mistakes_are_named() {
    let a = args(&["eth0"]);
    let cases = [
        (
            "[[sensor]]\ninterface = \"eth1\"\npcap = \"x\"\n",
            "exactly one of",
        ),
        ("[[sensor]]\nvxlan = \"10.0.0.1\"\nvni = 16777216\n", "vni"),
        ("[[sensor]]\ninterface = \"eth0\"\n", "loop"),
        (
            "[[sensor]]\ninterface = \"eth1\"\nvni = 3\n",
            "vxlan delivery only",
        ),
        (
            "[[sensor]]\ninterface = \"eth1\"\nkeep = 3\n",
            "pcap delivery only",
        ),
        (
            "[[sensor]]\ninterface = \"eth1\"\nsnmp_interval = 3.0\n",
            "snmp",
        ),
        (
            "[[sensor]]\nname = \"a\"\ninterface = \"eth1\"\n[[sensor]]\nname = \"a\"\ninterface = \"eth2\"\n",
            "named 'a'",
        ),
        (
            "[live]\ncontrol_token = \"short\"\n[[sensor]]\ninterface = \"eth1\"\n",
            "control_token",
        ),
        (
            "[live]\nring_block_size = 1000\n[[sensor]]\ninterface = \"eth1\"\n",
            "ring_block_size",
        ),
        (
            "[live]\nlog_format = \"xml\"\n[[sensor]]\ninterface = \"eth1\"\n",
            "--log-format",
        ),
        (
            "[live]\nbackend = \"dpdk\"\n[[sensor]]\ninterface = \"eth1\"\n",
            "--backend",
        ),
        (
            "[[sensor]]\nvxlan = \"not an address!\"\n",
            "not an address",
        ),
        (
            "[[sensor]]\ninterface = \"eth1\"\ncapacity = -1.0\n",
            "capacity",
        ),
        (
            "[[sensor]]\ninterface = \"eth1\"\npush = true\n",
            "needs the control endpoint",
        ),
        (
            "[live]\nqueue_batches = 10000000\n[[sensor]]\ninterface = \"eth1\"\n",
            "queue_batches",
        ),
        (
            "[live]\nring_blocks = 1000000\n[[sensor]]\ninterface = \"eth1\"\n",
            "ring_blocks",
        ),
    ];
    for (toml, want) in cases {
        let e = err(&a, toml);
        assert!(
            e.contains(want),
            "{toml:?}: '{e}' does not mention '{want}'"
        );
    }
    let mut both = args(&["eth0"]);
    both.read = Some("x.pcap".into());
    assert!(err(&both, "[[sensor]]\ninterface = \"eth1\"\n").contains("not both"));
    let mut n = args(&["eth0"]);
    n.sensors = Some(4);
    assert!(err(&n, "[[sensor]]\ninterface = \"eth1\"\n").contains("--sensors says 4"));
    if !cfg!(feature = "pcap") {
        let mut f = args(&["eth0"]);
        f.filter = Some("udp".into());
        assert!(err(&f, "[[sensor]]\ninterface = \"eth1\"\n").contains("--backend pcap"));
    }
}

#[test]
fn the_example_configuration_parses_as_live_settings() {
    let text = include_str!("../../../../blb.live.example.toml").replace(
        "control_token_file = \"/run/credentials/blb.service/control-token\"",
        "control_token = \"0123456789abcdef0123\"",
    );
    assert!(text.contains("control_token = "));
    let s = merge(&BalanceArgs::default(), &text).expect("blb.live.example.toml is valid");
    let live = s.live.expect("live");
    assert!(!live.sensors.is_empty());
    assert!(live.control_token.is_some());
    let sources: Vec<&str> = live
        .sensors
        .iter()
        .filter_map(|s| s.loss.as_ref().map(|l| l.source.key()))
        .collect();
    assert_eq!(sources, ["suricata_eve", "zeek_capture_loss"]);
}

#[test]
fn loss_sources_take_their_defaults_and_keys() {
    use super::super::loss_settings::LossSource;
    use blb_core::overload::LossConfig;
    let s = merge(
        &args(&["eth0"]),
        r#"
[[sensor]]
interface = "eth1"
suricata_eve = "/var/log/suricata/eve.json"
[[sensor]]
interface = "eth2"
suricata_socket = "/run/suricata/suricata-command.socket"
loss_interval = 4.0
loss_enter_percent = 5.0
loss_samples = 3
[[sensor]]
interface = "eth3"
zeek_capture_loss = "/opt/zeek/logs/current/capture_loss.log"
zeek_peer = "worker-1"
loss_stale_after = 120
loss_release_percent = 0.5
"#,
    )
    .expect("valid");
    let live = s.live.expect("live");
    let eve = live.sensors[0].loss.as_ref().expect("a loss source");
    assert_eq!(
        eve.source,
        LossSource::SuricataEve("/var/log/suricata/eve.json".into())
    );
    assert_eq!(eve.interval, Duration::from_secs(2));
    assert_eq!(eve.config, LossConfig::suricata());
    let sock = live.sensors[1].loss.as_ref().expect("a loss source");
    assert_eq!(sock.source.key(), "suricata_socket");
    assert_eq!(sock.interval, Duration::from_secs(4));
    assert_eq!(
        (
            sock.config.enter_percent,
            sock.config.release_percent,
            sock.config.samples
        ),
        (5.0, 0.1, 3)
    );
    let zeek = live.sensors[2].loss.as_ref().expect("a loss source");
    assert_eq!(
        zeek.source.describe(),
        "zeek_capture_loss /opt/zeek/logs/current/capture_loss.log (peer worker-1)"
    );
    assert_eq!(zeek.config.stale_after, 120_000_000_000);
    assert_eq!(
        (zeek.config.enter_percent, zeek.config.release_percent),
        (10.0, 0.5)
    );
    // A loss source is not a report the health check waits for.
    assert!(live.sensors.iter().all(|s| s.snmp.is_none() && !s.push));
}

#[test]
fn loss_mistakes_are_named_by_their_key() {
    let a = args(&["eth0"]);
    let t = |keys: &str| format!("[[sensor]]\nname = \"s\"\ninterface = \"eth1\"\n{keys}\n");
    let long = format!("suricata_socket = \"/{}\"", "x".repeat(120));
    let cases = [
        (
            t("suricata_eve = \"e\"\nzeek_capture_loss = \"z\""),
            "[[sensor]] 1 ('s'): suricata_eve and zeek_capture_loss are alternatives; keep one",
        ),
        (
            t("suricata_eve = \"e\"\nsnmp = \"10.0.0.1\""),
            "suricata_eve and snmp both give the sensor's load",
        ),
        (t("loss_samples = 2"), "loss_samples needs a loss source"),
        (t("zeek_peer = \"w\""), "zeek_peer needs zeek_capture_loss"),
        (
            t("suricata_eve = \"e\"\nzeek_peer = \"w\""),
            "zeek_peer needs zeek_capture_loss",
        ),
        (t("suricata_eve = \"\""), "suricata_eve is empty"),
        (t(&long), "suricata_socket is 121 bytes long"),
        (
            t("suricata_eve = \"e\"\nloss_interval = 10"),
            "loss_interval (10 s) must be shorter than [live] report_stale_after (10 s)",
        ),
        (
            t("suricata_eve = \"e\"\nloss_interval = 0"),
            "[[sensor]] 1 ('s') loss_interval must be a number of seconds",
        ),
        (
            t("suricata_eve = \"e\"\nloss_stale_after = 1"),
            "loss_stale_after (1 s) must be longer than loss_interval (2 s)",
        ),
        (
            t("suricata_eve = \"e\"\nloss_enter_percent = 0"),
            "[[sensor]] 1 ('s'): loss_enter_percent must be a percentage above 0",
        ),
        (
            t("suricata_eve = \"e\"\nloss_enter_percent = 1\nloss_release_percent = 2"),
            "loss_release_percent must be a percentage from 0 up to loss_enter_percent (1), not 2",
        ),
        (
            t("zeek_capture_loss = \"z\"\nloss_samples = 0"),
            "loss_samples must be from 1 to 100, not 0",
        ),
    ];
    for (toml, want) in &cases {
        let e = err(&a, toml);
        assert!(
            e.contains(want),
            "{toml:?}: '{e}' does not mention '{want}'"
        );
    }
    // A lower enter level pulls the default release level with it.
    let s = merge(&a, &t("suricata_eve = \"e\"\nloss_enter_percent = 0.05")).expect("valid");
    let live = s.live.expect("live");
    let c = live.sensors[0].loss.as_ref().expect("loss").config;
    assert_eq!((c.enter_percent, c.release_percent), (0.05, 0.05));
}

#[test]
fn workers_default_to_the_cores_and_are_checked() {
    let sensor = "[[sensor]]\ninterface = \"eth1\"\n";
    let live = |a: &BalanceArgs, toml: &str| merge(a, toml).expect("valid").live.expect("live");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(
        live(&args(&["eth0"]), sensor).workers,
        cores.min(DEFAULT_MAX_WORKERS)
    );
    assert_eq!(
        live(&args(&["eth0"]), &format!("[live]\nworkers = 3\n{sensor}")).workers,
        3
    );
    let mut flag = args(&["eth0"]);
    flag.workers = Some(2);
    assert_eq!(
        live(&flag, &format!("[live]\nworkers = 3\n{sensor}")).workers,
        2,
        "the flag wins over the file"
    );
    for k in [0, MAX_WORKERS + 1] {
        flag.workers = Some(k);
        let e = err(&flag, sensor);
        assert!(e.contains("--workers") && e.contains(&k.to_string()), "{e}");
    }
    let e = err(&args(&["eth0"]), &format!("[live]\nworkers = 0\n{sensor}"));
    assert!(e.contains("[live] workers"), "{e}");
    if cfg!(feature = "pcap") {
        let mut pcap = args(&["eth0"]);
        pcap.backend = Some("pcap".into());
        assert_eq!(live(&pcap, sensor).workers, 1);
        pcap.workers = Some(2);
        assert!(err(&pcap, sensor).contains("af-packet"));
    }
}
