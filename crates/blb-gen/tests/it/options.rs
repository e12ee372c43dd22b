//! Option validation and (de)serialization.

use blb_gen::{GenError, GenOptions, Scenario, generate};

fn err(scenario: Scenario, opts: GenOptions) -> (&'static str, String) {
    let mut sink: Vec<(u64, Vec<u8>)> = Vec::new();
    match generate(scenario, &opts, &mut sink) {
        Err(e @ GenError::BadOption { name, .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "{msg}");
            assert!(!msg.contains('\n'));
            assert!(sink.is_empty());
            (name, msg)
        }
        other => panic!("expected BadOption, got {other:?}"),
    }
}

#[test]
fn bad_options_are_named() {
    let d = GenOptions::default;
    let cases: Vec<(Scenario, GenOptions, &str)> = vec![
        (
            Scenario::UdpFlood,
            GenOptions {
                packet_size: 59,
                ..d()
            },
            "packet_size",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                packet_size: 9001,
                ..d()
            },
            "packet_size",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                duration_secs: 0.0,
                ..d()
            },
            "duration_secs",
        ),
        (
            Scenario::Background,
            GenOptions {
                duration_secs: -1.0,
                ..d()
            },
            "duration_secs",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                duration_secs: f64::NAN,
                ..d()
            },
            "duration_secs",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                attackers: 0,
                ..d()
            },
            "attackers",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                training_secs: -1.0,
                ..d()
            },
            "training_secs",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                attacker_join_rate: 0.0,
                ..d()
            },
            "attacker_join_rate",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                attack_rate_bytes: f64::INFINITY,
                ..d()
            },
            "attack_rate_bytes",
        ),
        (
            Scenario::SynFlood,
            GenOptions {
                syn_rate: -5.0,
                ..d()
            },
            "syn_rate",
        ),
        (
            Scenario::SynFlood,
            GenOptions { syn_port: 0, ..d() },
            "syn_port",
        ),
        (
            Scenario::PortSweep,
            GenOptions {
                sweep_sources: 0,
                ..d()
            },
            "sweep_sources",
        ),
        (
            Scenario::PortSweep,
            GenOptions {
                sweep_open_fraction: 1.5,
                ..d()
            },
            "sweep_open_fraction",
        ),
        (
            Scenario::PortSweep,
            GenOptions {
                sweep_prefix: "0.0.0.0/4".parse().unwrap(),
                ..d()
            },
            "sweep_prefix",
        ),
        (
            Scenario::PortScan,
            GenOptions {
                scan_ports: 0,
                ..d()
            },
            "scan_ports",
        ),
        (
            Scenario::Background,
            GenOptions {
                background_clients: 0,
                ..d()
            },
            "background_clients",
        ),
        (
            Scenario::Background,
            GenOptions {
                background_servers: 1,
                ..d()
            },
            "background_servers",
        ),
        (
            Scenario::Background,
            GenOptions {
                background_rate: -1.0,
                ..d()
            },
            "background_rate",
        ),
    ];
    for (scenario, opts, name) in cases {
        let (got, msg) = err(scenario, opts);
        assert_eq!(got, name, "{msg}");
    }
    let (_, msg) = err(
        Scenario::UdpFlood,
        GenOptions {
            packet_size: 10,
            ..d()
        },
    );
    assert_eq!(
        msg,
        "invalid option `packet_size`: must be between 60 and 9000 frame bytes, got 10"
    );
}

#[test]
fn options_irrelevant_to_the_scenario_are_not_checked() {
    let opts = GenOptions {
        attackers: 0,
        duration_secs: 1.0,
        ..GenOptions::default()
    };
    let mut sink: Vec<(u64, Vec<u8>)> = Vec::new();
    generate(Scenario::SynFlood, &opts, &mut sink).unwrap();
}

#[test]
fn background_can_be_disabled() {
    let opts = GenOptions {
        background_rate: 0.0,
        background_clients: 0,
        duration_secs: 2.0,
        ..GenOptions::default()
    };
    let mut sink: Vec<(u64, Vec<u8>)> = Vec::new();
    let r = generate(Scenario::UdpFlood, &opts, &mut sink).unwrap();
    assert_eq!(r.background_packets, 0);
    assert!(r.attack_packets > 1900);
    let r = generate(Scenario::Background, &opts, &mut Vec::new()).unwrap();
    assert_eq!(r.packets, 0);
    assert_eq!(r.first_ts_nanos, None);
}

#[derive(serde::Deserialize)]
struct Config {
    generate: GenOptions,
}

#[test]
fn options_live_in_a_toml_generate_table() {
    let c: Config = toml::from_str(
        "[generate]\nseed = 7\nduration_secs = 50\nattack_rate_bytes = 2000000\n\
         victim = \"10.10.1.1\"\nsweep_prefix = \"10.30.0.0/16\"\n",
    )
    .unwrap();
    let o = c.generate;
    assert_eq!(o.seed, 7);
    assert_eq!(o.duration_secs, 50.0);
    assert_eq!(o.attack_rate_bytes, 2e6);
    assert_eq!(o.victim, std::net::Ipv4Addr::new(10, 10, 1, 1));
    assert_eq!(o.sweep_prefix.to_string(), "10.30.0.0/16");
    assert_eq!(o.attackers, 10_000, "unset keys keep their defaults");

    let e = toml::from_str::<Config>("[generate]\nattack_rate = 5\n")
        .err()
        .unwrap();
    assert!(e.to_string().contains("attack_rate"), "{e}");
    let e = toml::from_str::<Config>("[generate]\nsweep_prefix = \"10.30.0.1/16\"\n")
        .err()
        .unwrap();
    assert!(e.to_string().contains("host bits"), "{e}");

    let text = toml::to_string(&GenOptions::default()).unwrap();
    let back: GenOptions = toml::from_str(&text).unwrap();
    assert_eq!(back, GenOptions::default());
}

/// A rate the capture cannot hold is refused by the rate's name (at 1e9 SYNs a second for
/// 100 s the generator once wrote without end).
#[test]
fn rates_that_would_never_end_are_refused() {
    for (scenario, opts, name) in [
        (
            Scenario::SynFlood,
            GenOptions {
                syn_rate: 1e9,
                ..GenOptions::default()
            },
            "syn_rate",
        ),
        (
            Scenario::UdpFlood,
            GenOptions {
                attack_rate_bytes: 1e10,
                packet_size: 64,
                ..GenOptions::default()
            },
            "attack_rate_bytes",
        ),
        (
            Scenario::Background,
            GenOptions {
                background_rate: 1e8,
                ..GenOptions::default()
            },
            "background_rate",
        ),
    ] {
        let (got, reason) = err(scenario, opts);
        assert_eq!(got, name, "{reason}");
        assert!(reason.contains("more than 1e9"), "{reason}");
    }
    // A high rate over a short capture is fine.
    let short = GenOptions {
        syn_rate: 1e6,
        duration_secs: 10.0,
        ..GenOptions::default()
    };
    assert!(short.validate(Scenario::SynFlood).is_ok());
}
