//! Property tests: no input panics, `Y_n ≥ 0`, and `Y_n` follows the recurrence from `X_n`.

use blb_core::packet::{Addr, FragmentInfo, PacketClass, PacketMeta, proto};
use blb_detect::cusum::Interval;
use blb_detect::{AddressDb, Cusum, CusumConfig, ScanConfig, ScanDetector};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000_000_000;

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        (0u8..40).prop_map(|i| Addr::v4([10, 0, 0, i])),
        any::<[u8; 4]>().prop_map(Addr::v4),
        (0u8..4).prop_map(|i| Addr::v6([0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i])),
        Just(Addr::mac([2, 0, 0, 0, 0, 1])),
        Just(Addr::NONE),
    ]
}

/// A time step: mostly small, sometimes a reorder (older), sometimes a long gap.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 0i64..50_000_000,
        1 => -2_000_000_000i64..0,
        1 => 0i64..100_000_000_000_000,
    ]
}

fn packet() -> impl Strategy<Value = (i64, PacketMeta)> {
    let class = prop_oneof![
        6 => Just(PacketClass::Ip),
        1 => Just(PacketClass::NonIp),
        1 => Just(PacketClass::Unparsable),
    ];
    let protocol = prop_oneof![
        Just(proto::TCP),
        Just(proto::UDP),
        Just(proto::ICMP),
        Just(proto::ICMPV6),
        any::<u8>(),
    ];
    (
        step(),
        (class, addr(), addr(), protocol, any::<u8>()),
        (
            0u16..2000,
            0u16..300,
            any::<bool>(),
            any::<Option<(u32, u32)>>(),
        ),
    )
        .prop_map(
            |(dt, (class, src, dst, protocol, flags), (sp, dp, hp, frag))| {
                let p = PacketMeta {
                    class,
                    src,
                    dst,
                    protocol,
                    tcp_flags: flags,
                    src_port: sp,
                    dst_port: dp,
                    has_ports: hp,
                    fragment: frag.map(|(id, offset)| FragmentInfo {
                        id,
                        offset: offset % 3 * 8,
                        more: false,
                    }),
                    ..PacketMeta::default()
                };
                (dt, p)
            },
        )
}

fn check_recurrence(cfg: &CusumConfig, iv: &[Interval], from_start: bool) {
    let mut prev: Option<&Interval> = None;
    for i in iv {
        assert!(i.y >= 0.0 && i.y.is_finite(), "{i:?}");
        assert_eq!(i.x, i.new_sources as f64 / cfg.c);
        assert_eq!(i.alarm, cfg.exceeds(i.y));
        let before = match prev {
            Some(p) => {
                assert!(i.index > p.index);
                let skipped = (i.index - p.index - 1) as f64;
                Some((p.y - skipped * cfg.beta).max(0.0))
            }
            None if from_start && i.index == 0 => Some(0.0),
            None => None,
        };
        if let Some(b) = before {
            let want = (b + i.x - cfg.beta).max(0.0);
            assert!(
                (i.y - want).abs() <= 1e-9 * want.max(1.0),
                "{i:?} want {want}"
            );
        }
        prev = Some(i);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn detectors_never_panic_and_y_follows_the_recurrence(
        train in proptest::collection::vec(packet(), 0..40),
        pkts in proptest::collection::vec(packet(), 0..300),
        start in any::<Option<u16>>(),
        small_caps in any::<bool>(),
        beta in 0.1f64..3.0,
        c in 0.5f64..10.0,
    ) {
        let cap = if small_caps { 3 } else { 1 << 16 };
        let mut db = AddressDb::default();
        for (_, p) in &train {
            db.learn(p);
        }
        let cfg = CusumConfig {
            beta,
            c,
            threshold: 2.0,
            seen_cap: cap,
            history_cap: if small_caps { 8 } else { 1 << 16 },
            max_gap_records: if small_caps { 2 } else { 50 },
            ..CusumConfig::default()
        };
        let origin = start.map(|s| T0 + u64::from(s) * 1_000_000);
        let mut cu = Cusum::new(cfg.clone(), db, origin).unwrap();
        let scfg = ScanConfig {
            source_threshold: 3,
            port_threshold: 4,
            max_entries: cap,
            history_cap: if small_caps { 8 } else { 1 << 16 },
            max_gap_records: if small_caps { 2 } else { 50 },
            window_secs: 0.5,
            ..ScanConfig::default()
        };
        let mut sc = ScanDetector::new(scfg, origin).unwrap();
        let mut ts = T0;
        for (dt, p) in &pkts {
            ts = ts.saturating_add_signed(*dt);
            let p = PacketMeta { ts, ..*p };
            cu.observe(&p);
            sc.observe(&p);
            prop_assert!(sc.window_len() <= cap);
            prop_assert!(cu.seen_len() <= cap);
            if dt % 7 == 0 {
                cu.advance_to(ts);
                sc.advance_to(ts);
            }
        }
        cu.finish(ts.saturating_add(1));
        sc.finish(ts.saturating_add(1));
        check_recurrence(&cfg, cu.intervals(), cu.stats().history_dropped == 0);
        prop_assert!(cu.intervals().iter().all(|i| i.y <= cu.max_y()));
        if let Some(a) = cu.first_alarm() {
            prop_assert!(a.alarm);
        }
        let new: u64 = cu.intervals().iter().map(|i| i.new_sources).sum();
        if cu.stats().history_dropped == 0 {
            prop_assert_eq!(new, cu.stats().new_sources);
            let n: u64 = sc.intervals().iter().map(|i| i.packets).sum();
            prop_assert_eq!(n, pkts.len() as u64);
        }
        for w in sc.intervals().windows(2) {
            prop_assert!(w[0].index < w[1].index);
        }
        prop_assert!(sc.intervals().iter().all(|i| i.alarm == (i.scanning_sources + i.swept_ports > 0)));
    }

    #[test]
    fn parsed_arbitrary_bytes_never_panic(
        frames in proptest::collection::vec((0u64..3_000_000_000, proptest::collection::vec(any::<u8>(), 0..80)), 0..60),
    ) {
        let mut cu = Cusum::new(CusumConfig::default(), AddressDb::default(), None).unwrap();
        let mut sc = ScanDetector::new(ScanConfig::default(), None).unwrap();
        let mut ts = T0;
        for (dt, f) in &frames {
            ts += dt;
            let p = blb_wire::parse(1, ts, f.len() as u32, f);
            cu.observe(&p);
            sc.observe(&p);
        }
        cu.finish(ts);
        sc.finish(ts);
        check_recurrence(cu.config(), cu.intervals(), true);
    }
}
