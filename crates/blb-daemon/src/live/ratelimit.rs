//! Warnings an attacker can provoke at will (a wrong control token, say) are rate-limited:
//! one log line per reason per period, the next one saying how many were suppressed, so that
//! a brute-force attempt cannot grow the log without bound.

use std::time::{Duration, Instant};

/// How often one reason may log.
pub const PERIOD: Duration = Duration::from_secs(10);

/// A rate limiter for one reason.
#[derive(Debug, Default)]
pub struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    /// Whether to log now; when it is, the number of occurrences suppressed since the last
    /// line (to be said in it).
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < PERIOD => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_with_the_count_suppressed() {
        let t0 = Instant::now();
        let mut r = RateLimited::default();
        assert_eq!(r.allow(t0), Some(0));
        // A thousand refusals within the period: no line.
        for i in 0..1000 {
            assert_eq!(r.allow(t0 + Duration::from_millis(i)), None);
        }
        // The next period: one line, saying 1 000 were suppressed.
        assert_eq!(r.allow(t0 + PERIOD), Some(1000));
        assert_eq!(r.allow(t0 + PERIOD + Duration::from_secs(1)), None);
        assert_eq!(r.allow(t0 + 3 * PERIOD), Some(1));
    }
}
