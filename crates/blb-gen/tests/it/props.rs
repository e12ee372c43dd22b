//! Property test: for random valid options, every scenario yields valid, time-ordered frames
//! inside the capture window.

use std::net::Ipv4Addr;

use blb_gen::{GenOptions, Ipv4Prefix, Scenario};
use proptest::prelude::*;

use crate::common::run;

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_options_give_valid_frames(
        seed in any::<u64>(),
        scenario in 0usize..5,
        duration in 0.05f64..2.0,
        training in 0.0f64..1.0,
        packet_size in 60usize..=9000,
        rate in 1e4f64..3e6,
        join in 1.0f64..2000.0,
        attackers in 1u64..3000,
        per_packet in any::<bool>(),
        background_rate in 0.0f64..400.0,
        prefix_len in 16u8..=32,
        scan_ports in 1u16..=3000,
    ) {
        let opts = GenOptions {
            seed,
            duration_secs: duration,
            training_secs: training,
            packet_size,
            attack_rate_bytes: rate,
            attacker_join_rate: join,
            attackers,
            random_ports_per_packet: per_packet,
            background_rate,
            sweep_prefix: Ipv4Prefix::new(Ipv4Addr::new(10, 20, 0, 0), prefix_len).unwrap(),
            scan_ports,
            scan_rate: 2000.0,
            ..GenOptions::default()
        };
        let (report, pkts) = run(Scenario::ALL[scenario], &opts);
        let t0 = opts.start_time * 1_000_000_000;
        let end = t0 + ((training + duration) * 1e9).round() as u64;
        prop_assert!(pkts.iter().all(|p| p.ts >= t0 && p.ts < end));
        if let Some(a) = report.attack_end_secs {
            prop_assert!(a >= training - 1e-9);
        }
        if Scenario::ALL[scenario] == Scenario::UdpFlood {
            prop_assert!(pkts.iter().filter(|p| p.dst == opts.victim).all(|p| p.len == packet_size));
            prop_assert!(report.attack_sources >= 1 && report.attack_sources <= attackers);
        }
    }
}
