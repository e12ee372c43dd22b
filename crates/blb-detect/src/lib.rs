//! Intrusion detectors for `blb` experiments, independent of the balancer.
//!
//! The detectors consume parsed packet records ([`blb_core::packet::PacketMeta`]) with their
//! capture timestamps, in timestamp order (small reorders are tolerated: a packet older than the
//! detector's clock is treated as arriving now). Time only moves with the timestamps the caller
//! hands in, so every result is deterministic.
//!
//! * [`Cusum`] — source-address monitoring with CUSUM after Peng, Leckie & Ramamohanarao
//!   (2004), the DDoS detector of Le, Al-Shaer & Boutaba (2008) §VII: an address database
//!   ([`AddressDb`]) is learned from training traffic; during detection, the number of *new*
//!   source addresses per interval, normalised by a fixed `C`, drives the CUSUM statistic
//!   `Y_n = max(0, Y_{n−1} + X_n − β)`, which alarms when `Y_n > th_y`.
//! * [`ScanDetector`] — port-scan and port-sweep detection by distinct targets per source, and
//!   distinct destination addresses per destination port, in a sliding window.
//!
//! # Intervals and alarm times
//!
//! Both detectors report per interval of `interval_secs` (default 1 s). Intervals are numbered
//! from 0: interval `n` covers `[origin + n·Δ, origin + (n+1)·Δ)`, where the origin is the
//! explicit start time given to the detector or, without one, the timestamp of the first packet
//! (or of the first [`Cusum::advance_to`] call). `Y_n` is the statistic after interval `n`
//! closed, and the *alarm time* of interval `n` is `n·Δ` after the origin — the paper's
//! convention (its Fig. 3 plots `Y_n` at second `n`): 100 new sources per second from the origin
//! on give `Y_n = n + 1`, which first exceeds 20 at `n = 20`, "the attack is detected at second
//! 20". The decision itself is only available when the interval ends, `(n+1)·Δ` after the origin
//! (each [`cusum::Interval`] carries both `start_ts` and `end_ts`).
//!
//! # Bounded memory
//!
//! Everything an attacker can grow has a cap with a counted overflow: the training tables and
//! the address database ([`AddressDbConfig`]), the set of sources already counted as new
//! ([`CusumConfig::seen_cap`], oldest evicted first), the scan windows
//! ([`ScanConfig::max_entries`], oldest evicted first), the stored interval history (oldest half
//! dropped when full) and the records stored for one timestamp gap (the rest of a long gap is
//! fast-forwarded in constant time).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addrdb;
mod bounded;
mod clock;
pub mod cusum;
pub mod scan;

pub use addrdb::{AddressDb, AddressDbConfig, AddressDbStats};
pub use cusum::{Cusum, CusumConfig, CusumStats};
pub use scan::{ScanConfig, ScanDetector, ScanStats};

/// Errors of the detectors' constructors: a configuration value out of range.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum DetectError {
    /// An option is out of range.
    #[error("invalid detector option `{name}`: {reason}")]
    BadOption {
        /// The option's field name.
        name: &'static str,
        /// What is wrong with it ("must be ..., got ...").
        reason: String,
    },
}

/// All detector settings, e.g. a `[detect]` table in TOML: every key is optional (the defaults
/// are the paper's values) and unknown keys are rejected.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// How the address database is learned.
    pub address_db: AddressDbConfig,
    /// The CUSUM detector.
    pub cusum: CusumConfig,
    /// The scan detector.
    pub scan: ScanConfig,
}

impl DetectConfig {
    /// Checks every section; the error names the first bad option.
    pub fn validate(&self) -> Result<(), DetectError> {
        self.address_db.validate()?;
        self.cusum.validate()?;
        self.scan.validate()
    }
}

/// Longest interval or window accepted, in seconds (one year).
const MAX_SECS: f64 = 366.0 * 86_400.0;

/// Converts a duration option to nanoseconds, checking it is between 1 µs and a year.
pub(crate) fn secs_option(name: &'static str, secs: f64) -> Result<u64, DetectError> {
    if secs.is_finite() && (1e-6..=MAX_SECS).contains(&secs) {
        // In range, so the product is a finite value between 1e3 and 3.2e16: exact enough.
        Ok((secs * 1e9).round() as u64)
    } else {
        Err(DetectError::BadOption {
            name,
            reason: format!("must be a number of seconds between 1e-6 and {MAX_SECS}, got {secs}"),
        })
    }
}

/// Checks that a capacity option is at least 1.
pub(crate) fn cap_option(name: &'static str, v: usize) -> Result<(), DetectError> {
    if v == 0 {
        Err(DetectError::BadOption {
            name,
            reason: "must be at least 1, got 0".into(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_parse_from_empty_and_reject_unknown() {
        DetectConfig::default().validate().unwrap();
        // serde's value deserializer for an empty map: every field defaulted.
        use serde::Deserialize;
        use serde::de::value::MapDeserializer;
        let empty: Vec<(&str, &str)> = Vec::new();
        let de: MapDeserializer<'_, _, serde::de::value::Error> =
            MapDeserializer::new(empty.into_iter());
        assert_eq!(
            DetectConfig::deserialize(de).unwrap(),
            DetectConfig::default()
        );
    }

    #[test]
    fn unknown_key_rejected() {
        use serde::Deserialize;
        use serde::de::value::MapDeserializer;
        let kv = vec![("no_such_option", "1")];
        let de: MapDeserializer<'_, _, serde::de::value::Error> =
            MapDeserializer::new(kv.into_iter());
        assert!(DetectConfig::deserialize(de).is_err());
    }

    #[test]
    fn secs_option_bounds() {
        assert_eq!(secs_option("x", 1.0), Ok(1_000_000_000));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-7, 1e9] {
            assert!(secs_option("x", bad).is_err(), "{bad}");
        }
    }
}
