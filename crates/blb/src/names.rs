//! The names a user gave the settings of `generate`, `detect` and `experiment` (those of
//! `balance` are in `blb_daemon::names`, with the helpers shared by all).

pub use blb_daemon::names::{balance_setting, core_error, given, num};

use crate::cli::{DetectArgs, ExperimentArgs, GenerateArgs};

/// The flag of a core or generator setting of `blb experiment` (it has no configuration file).
pub fn experiment_setting(setting: &str, _a: &ExperimentArgs) -> String {
    let flag = match setting {
        "sensors" => "--sensors",
        "capacity" => "--capacity",
        "lambda" => "--lambda",
        "variance_bound" => "--variance-bound",
        "join_distance" => "--join-distance",
        "headroom" => "--headroom",
        "noise_sigmas" => "--noise-sigmas",
        "load_time_constant" => "--load-time-constant",
        "duration_secs" => "--duration",
        "training_secs" => "--training",
        "seed" => "--seed",
        other => return other.to_string(),
    };
    flag.to_string()
}

/// The flag or `[generate]` key of a generator option of `blb generate`.
pub fn generate_setting(name: &str, a: &GenerateArgs) -> String {
    let (flag, g) = match name {
        "duration_secs" => ("--duration", a.duration.is_some()),
        "training_secs" => ("--training", a.training.is_some()),
        "attackers" => ("--attackers", a.attackers.is_some()),
        "attacker_join_rate" => ("--join-rate", a.join_rate.is_some()),
        "attack_rate_bytes" => ("--attack-rate", a.attack_rate.is_some()),
        "packet_size" => ("--packet-size", a.packet_size.is_some()),
        "background_rate" => ("--background-rate", a.background_rate.is_some()),
        "syn_rate" => ("--syn-rate", a.syn_rate.is_some()),
        "sweep_rate" => ("--sweep-rate", a.sweep_rate.is_some()),
        "elephant_rate_bytes" => ("--elephant-rate", a.elephant_rate.is_some()),
        "seed" => ("--seed", a.seed.is_some()),
        other => return format!("[generate] {other}"),
    };
    given(g, flag, &format!("[generate] {name}"))
}

/// The flag of a detector setting of `blb detect`.
pub fn detect_setting(name: &str, _a: &DetectArgs) -> String {
    match name {
        "interval_secs" => "--interval",
        "c" => "--c",
        "beta" => "--beta",
        "threshold" => "--threshold",
        other => other,
    }
    .to_string()
}
