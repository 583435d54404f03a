//! Optimistic writes: read an item, change it, write it only if no one wrote it meanwhile.
//! A lost race is tried again after a short random pause, so that writers racing for one
//! item take turns instead of colliding again at once (an offboarding must get its fence in
//! while dataset refreshes and token writes hit the same client).

use std::time::Duration;

use crate::backoff::full_jitter;
use crate::error::{Error, Result};

/// Attempts before a write that keeps losing gives up.
pub const ATTEMPTS: u32 = 10;
/// The pause after the first lost race is up to this, doubling after each one...
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// ...to at most this: 1.3 s of pauses in all, at the very worst.
const LONGEST_PAUSE: Duration = Duration::from_millis(250);

/// Counts the attempts of one optimistic write: call [`Races::attempt`] before each one.
pub struct Races {
    record: &'static str,
    made: u32,
}

impl Races {
    /// `record` names what kept changing in the error after the last attempt.
    pub fn new(record: &'static str) -> Self {
        Self { record, made: 0 }
    }

    /// Before an attempt: nothing before the first, a pause after each lost race, and an
    /// error once every attempt has been lost.
    pub async fn attempt(&mut self) -> Result<()> {
        if self.made == ATTEMPTS {
            tracing::warn!(
                record = self.record,
                attempts = ATTEMPTS,
                "a write lost the race for its record every time"
            );
            return Err(Error::Internal(format!(
                "the {} record kept changing",
                self.record
            )));
        }
        if self.made > 0 {
            tokio::time::sleep(full_jitter(FIRST_PAUSE, LONGEST_PAUSE, self.made - 1)).await;
        }
        self.made += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_attempt_after_a_lost_race_waits_a_little_and_the_last_is_followed_by_an_error() {
        let mut races = Races::new("partner");
        let started = tokio::time::Instant::now();
        races.attempt().await.unwrap();
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the first attempt goes at once"
        );
        for _ in 1..ATTEMPTS {
            races.attempt().await.unwrap();
        }
        // Each pause is random, but nine of them add up to more than nothing and stay
        // under the doubling ceilings.
        let paused = started.elapsed();
        assert!(paused > Duration::ZERO);
        assert!(paused <= Duration::from_millis(10 + 20 + 40 + 80 + 160 + 4 * 250));
        let err = races.attempt().await.unwrap_err();
        assert!(
            matches!(&err, Error::Internal(m) if m == "the partner record kept changing"),
            "{err:?}"
        );
    }
}
