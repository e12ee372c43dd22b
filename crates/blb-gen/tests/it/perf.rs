//! Generation speed (run manually: `cargo test --release -p blb-gen --test it -- --ignored
//! --nocapture perf`). Prints packets per second; asserts nothing about timing.

use std::time::Instant;

use blb_gen::{GenOptions, NullSink, Scenario, generate};

#[test]
#[ignore = "speed measurement; run in release with --ignored --nocapture"]
fn generation_speed() {
    let cases = [
        (
            Scenario::UdpFlood,
            GenOptions {
                attack_rate_bytes: 1e9,
                attackers: 1_000_000,
                attacker_join_rate: 10_000.0,
                ..GenOptions::default()
            },
        ),
        (
            Scenario::SynFlood,
            GenOptions {
                syn_rate: 50_000.0,
                ..GenOptions::default()
            },
        ),
        (
            Scenario::PortSweep,
            GenOptions {
                sweep_rate: 50_000.0,
                sweep_sources: 50,
                ..GenOptions::default()
            },
        ),
        (
            Scenario::Background,
            GenOptions {
                background_rate: 50_000.0,
                background_clients: 5_000,
                background_servers: 500,
                ..GenOptions::default()
            },
        ),
    ];
    for (scenario, opts) in cases {
        let t = Instant::now();
        let r = generate(scenario, &opts, &mut NullSink).unwrap();
        let dt = t.elapsed().as_secs_f64();
        println!(
            "{scenario}: {} frames, {:.1} MB in {dt:.2} s = {:.2} M frames/s, {:.0} MB/s",
            r.packets,
            r.bytes as f64 / 1e6,
            r.packets as f64 / dt / 1e6,
            r.bytes as f64 / dt / 1e6
        );
    }
}
