//! The names a user gave settings: the flag they typed, or the key of the configuration file
//! they wrote, so that every error names what the user wrote (never an internal field name).
//! The settings of `blb balance` are here; the other subcommands' are in the binary.

use blb_core::blb::distance::ALPHA_SUM;

use crate::args::BalanceArgs;
use crate::config::ConfigFile;
use crate::error::usage;

/// `flag` when the user gave the flag, else the configuration `key` (e.g. `[blb] lambda`).
pub fn given(flag_given: bool, flag: &str, key: &str) -> String {
    if flag_given || key.is_empty() {
        flag.to_string()
    } else {
        key.to_string()
    }
}

/// A number as a user would write it: `1e300` rather than 301 digits, `2.5`, `-5`.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && a.is_finite() && !(1e-6..1e16).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A core setting error, its setting named by `name`.
pub fn core_error(e: &blb_core::Error, name: impl FnOnce(&str) -> String) -> anyhow::Error {
    usage(format!("{} {}", name(e.setting()), e.reason()))
}

/// The flag (given or not) and configuration key of a setting of `blb balance`, by the name
/// the core gives it.
fn balance_table(a: &BalanceArgs) -> Vec<(&'static str, &'static str, bool, &'static str)> {
    let v = &a.variant;
    vec![
        (
            "sensors",
            "--sensors",
            a.sensors.is_some(),
            "[balance] sensors",
        ),
        (
            "capacity",
            "--capacity",
            a.capacity.is_some(),
            "[balance] capacity",
        ),
        ("flow_cap", "--flow-cap", a.flow_cap.is_some(), "[flow] cap"),
        ("fragment_cap", "", false, "[flow] fragment_cap"),
        (
            "flow_cutoff_bytes",
            "--flow-cutoff-bytes",
            a.flow_cutoff_bytes.is_some(),
            "[flow] cutoff_bytes",
        ),
        (
            "flow_cutoff_packets",
            "--flow-cutoff-packets",
            a.flow_cutoff_packets.is_some(),
            "[flow] cutoff_packets",
        ),
        ("fragment_timeout", "", false, "[flow] fragment_timeout"),
        (
            "load_time_constant",
            "--load-time-constant",
            a.load_time_constant.is_some(),
            "[balance] load_time_constant",
        ),
        ("lambda", "--lambda", a.lambda.is_some(), "[blb] lambda"),
        (
            "variance_bound",
            "--variance-bound",
            a.variance_bound.is_some(),
            "[blb] variance_bound",
        ),
        (
            "load_threshold",
            "--load-threshold",
            a.load_threshold.is_some(),
            "[blb] load_threshold",
        ),
        (
            "duplication",
            "--duplication",
            a.duplication.is_some(),
            "[blb] duplication",
        ),
        ("m_max", "--m-max", a.m_max.is_some(), "[blb] m_max"),
        ("th_w", "--th-w", a.th_w.is_some(), "[blb] th_w"),
        (
            "cluster_cap",
            "--cluster-cap",
            a.cluster_cap.is_some(),
            "[blb] cluster_cap",
        ),
        ("refresh_interval", "", false, "[blb] refresh_interval"),
        (
            "flow_load",
            "--flow-rate",
            a.flow_rate.is_some(),
            "[blb] flow_rate",
        ),
        (
            "train_flows",
            "--train-flows",
            a.train_flows.is_some(),
            "[blb] train_flows",
        ),
        (
            "join_distance",
            "--join-distance",
            v.join_distance.is_some(),
            "[blb] join_distance",
        ),
        (
            "headroom",
            "--headroom",
            v.headroom.is_some(),
            "[blb] headroom",
        ),
        (
            "noise_sigmas",
            "--noise-sigmas",
            v.noise_sigmas.is_some(),
            "[blb] noise_sigmas",
        ),
        (
            "alpha_ip",
            "--alpha-ip",
            a.alpha_ip.is_some(),
            "[blb] alpha_ip",
        ),
        (
            "alpha_port",
            "--alpha-port",
            a.alpha_port.is_some(),
            "[blb] alpha_port",
        ),
        (
            "alpha_protocol",
            "--alpha-protocol",
            a.alpha_protocol.is_some(),
            "[blb] alpha_protocol",
        ),
        ("d_ip_subnet", "", false, "[blb] d_ip_subnet"),
        ("d_port_functional", "", false, "[blb] d_port_functional"),
        ("d_port_configured", "", false, "[blb] d_port_configured"),
        ("ipv4_prefix", "", false, "[blb] ipv4_prefix"),
        ("ipv6_prefix", "", false, "[blb] ipv6_prefix"),
        ("port_groups", "", false, "[blb] port_groups"),
    ]
}

/// The name a user of `blb balance` gave a core setting.
pub fn balance_setting(setting: &str, a: &BalanceArgs, file: &ConfigFile) -> String {
    if setting == ALPHA_SUM {
        return alpha_sum(a, file);
    }
    balance_table(a)
        .into_iter()
        .find(|row| row.0 == setting)
        .map_or_else(
            || setting.to_string(),
            |(_, flag, g, key)| given(g, flag, key),
        )
}

/// The α's with where each came from, for an error about their sum.
fn alpha_sum(a: &BalanceArgs, file: &ConfigFile) -> String {
    let preset = a
        .alpha_preset
        .as_deref()
        .or(file.blb.alpha_preset.as_deref())
        .unwrap_or("ddos");
    let part = |flag: Option<f64>, name: &str, key: Option<f64>| match (flag, key) {
        (Some(x), _) => format!("--{} {x}", name.replace('_', "-")),
        (None, Some(x)) => format!("[blb] {name} {x}"),
        (None, None) => format!("{name} (the {preset} preset's)"),
    };
    let b = &file.blb;
    format!(
        "{} + {} + {}",
        part(a.alpha_ip, "alpha_ip", b.alpha_ip),
        part(a.alpha_port, "alpha_port", b.alpha_port),
        part(a.alpha_protocol, "alpha_protocol", b.alpha_protocol)
    )
}
