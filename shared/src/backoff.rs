//! The wait between two attempts: full jitter, a random wait up to a capped exponential delay,
//! so that callers who failed together do not try again together.

use rand::Rng;
use std::time::Duration;

/// A random wait up to `base * 2^attempt` (at most `cap`); `attempt` counts from 0.
pub fn full_jitter(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt)).min(cap);
    Duration::from_millis(rand::rng().random_range(0..=ceiling.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_stays_under_the_doubling_ceiling_and_the_cap() {
        let (base, cap) = (Duration::from_millis(10), Duration::from_millis(250));
        for attempt in 0..40 {
            let ceiling = (base * 2u32.saturating_pow(attempt.min(20))).min(cap);
            for _ in 0..50 {
                assert!(full_jitter(base, cap, attempt) <= ceiling);
            }
        }
    }

    #[test]
    fn the_wait_is_spread_not_fixed() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_secs(1));
        let waits: std::collections::BTreeSet<_> =
            (0..50).map(|_| full_jitter(base, cap, 3)).collect();
        assert!(waits.len() > 10, "only {} distinct waits", waits.len());
    }
}
