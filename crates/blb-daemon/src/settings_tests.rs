//! Tests of the validated settings of `blb balance`: flags over the file over the defaults,
//! and errors naming what the user wrote.

use super::*;

fn args() -> BalanceArgs {
    BalanceArgs {
        read: Some("in.pcap".into()),
        sensors: Some(4),
        algorithm: Some("hash".into()),
        write_dir: Some("out".into()),
        ..Default::default()
    }
}

#[test]
fn flags_override_the_file() {
    let file =
        ConfigFile::parse("[balance]\nsensors = 8\nalgorithm = \"single\"\ncapacity = 5e6\n")
            .unwrap();
    let s = BalanceSettings::merge(&args(), &file).unwrap();
    assert_eq!(s.engine.sensors, 4);
    assert_eq!(s.algorithm, Algorithm::Hash);
    assert_eq!(s.engine.capacities, vec![5e6; 4]);
    assert_eq!(s.key_source, KeySource::Random);
}

#[test]
fn bad_values_name_the_flag() {
    let mut a = args();
    a.sensors = Some(0);
    let e = BalanceSettings::merge(&a, &ConfigFile::default()).unwrap_err();
    assert!(e.to_string().contains("--sensors"), "{e}");
    let mut a = args();
    a.algorithm = Some("magic".into());
    assert!(
        BalanceSettings::merge(&a, &ConfigFile::default())
            .unwrap_err()
            .to_string()
            .contains("magic")
    );
    let mut a = args();
    a.hash_key = Some("abc".into());
    assert!(
        BalanceSettings::merge(&a, &ConfigFile::default())
            .unwrap_err()
            .to_string()
            .contains("--hash-key")
    );
    let mut a = args();
    a.capacity = Some(-1.0);
    assert!(
        BalanceSettings::merge(&a, &ConfigFile::default())
            .unwrap_err()
            .to_string()
            .contains("--capacity")
    );
    let mut a = args();
    a.read = None;
    assert!(
        BalanceSettings::merge(&a, &ConfigFile::default())
            .unwrap_err()
            .to_string()
            .contains("--read")
    );
}

#[test]
fn blb_settings_merge_and_are_checked() {
    let mut a = args();
    a.algorithm = Some("blb".into());
    a.variance_bound = Some(4.0);
    a.alpha_preset = Some("port".into());
    let file =
        ConfigFile::parse("[blb]\nlambda = 1.2\nduplication = 2\nport_groups = [[23, 80]]\n")
            .unwrap();
    let s = BalanceSettings::merge(&a, &file).unwrap();
    assert_eq!(s.algorithm, Algorithm::Blb);
    assert_eq!(s.blb.constraint, Constraint::Variance(4.0));
    assert_eq!(s.blb.lambda, 1.2);
    assert_eq!(s.blb.duplication, 2);
    assert_eq!(s.blb.distance.alpha_port, 0.6);
    assert_eq!(s.blb.distance.port_groups, vec![vec![23, 80]]);
    a.duplication = Some(9);
    let e = BalanceSettings::merge(&a, &file).unwrap_err().to_string();
    assert!(e.contains("duplication"), "{e}");
    a.duplication = None;
    a.alpha_ip = Some(0.9);
    let e = BalanceSettings::merge(&a, &file).unwrap_err().to_string();
    assert!(e.contains("alpha"), "{e}");
    a.alpha_ip = None;
    a.load_threshold = Some(70.0);
    assert_eq!(
        BalanceSettings::merge(&a, &file).unwrap().blb.constraint,
        Constraint::Threshold(70.0)
    );
}

#[test]
fn blb_variant_and_robust_settings() {
    let mut a = args();
    a.algorithm = Some("blb".into());
    let merge = |a: &BalanceArgs, text: &str| {
        BalanceSettings::merge(a, &ConfigFile::parse(text).unwrap()).map(|s| s.blb)
    };
    // Robust by default; `variant = "paper"` gives the paper's defaults.
    assert_eq!(merge(&a, "").unwrap(), BlbConfig::robust());
    assert_eq!(
        merge(&a, "[blb]\nvariant = \"paper\"\n").unwrap(),
        BlbConfig::paper()
    );
    // The flag wins over the file.
    a.variant.blb_variant = Some("robust".into());
    assert_eq!(
        merge(&a, "[blb]\nvariant = \"paper\"\n").unwrap().variant,
        Variant::Robust
    );
    a.variant.blb_variant = None;
    // Robust BLB's own keys, and their flags.
    let c = merge(
        &a,
        "[blb]\njoin_distance = 0.4\nheadroom = 0.1\nnoise = false\nstart = \"warm-up\"\n",
    )
    .unwrap();
    assert_eq!(
        (c.join_distance, c.headroom, c.noise_sigmas, c.start),
        (0.4, 0.1, None, Start::WarmUp)
    );
    a.variant.noise_sigmas = Some(1.5);
    assert_eq!(merge(&a, "").unwrap().noise_sigmas, Some(1.5));
    a.variant.no_noise = true;
    assert_eq!(merge(&a, "").unwrap().noise_sigmas, None);
    a.variant = Default::default();
    // Errors name what the user wrote.
    let e = merge(&a, "[blb]\nvariant = \"odd\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("[blb] variant"), "{e}");
    a.variant.blb_variant = Some("odd".into());
    let e = merge(&a, "").unwrap_err().to_string();
    assert!(e.contains("--blb-variant"), "{e}");
    a.variant.blb_variant = None;
    a.variant.join_distance = Some(0.0);
    let e = merge(&a, "").unwrap_err().to_string();
    assert!(e.contains("--join-distance"), "{e}");
    a.variant.join_distance = None;
    let e = merge(&a, "[blb]\ntrain_flows = 5000\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("train_flows") && e.contains("2000"), "{e}");
}

#[test]
fn configured_key_is_used() {
    let mut a = args();
    a.hash_key = Some("000102030405060708090a0b0c0d0e0f".into());
    let s = BalanceSettings::merge(&a, &ConfigFile::default()).unwrap();
    assert_eq!(s.key_source, KeySource::Configured);
    assert_eq!(s.hash_key.0[15], 15);
}

#[test]
fn tunnels_inner_by_default_flag_over_file() {
    let merge = |a: &BalanceArgs, text: &str| {
        BalanceSettings::merge(a, &ConfigFile::parse(text).unwrap()).map(|s| s.tunnels)
    };
    let mut a = args();
    assert_eq!(merge(&a, "").unwrap(), Tunnels::Inner);
    assert_eq!(
        merge(&a, "[flow]\ntunnels = \"outer\"\n").unwrap(),
        Tunnels::Outer
    );
    a.tunnels = Some("inner".into());
    assert_eq!(
        merge(&a, "[flow]\ntunnels = \"outer\"\n").unwrap(),
        Tunnels::Inner
    );
    a.tunnels = Some("both".into());
    let e = merge(&a, "").unwrap_err().to_string();
    assert!(e.contains("--tunnels") && e.contains("'both'"), "{e}");
    a.tunnels = None;
    let e = merge(&a, "[flow]\ntunnels = \"deep\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[flow] tunnels") && e.contains("inner or outer"),
        "{e}"
    );
}
