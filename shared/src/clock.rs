//! Wall-clock time: the real clock, and the one text form times take in answers and pages.

use chrono::{DateTime, SecondsFormat};

use crate::ports::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// RFC 3339 text of a Unix time, to the second.
pub fn rfc3339(epoch: i64) -> String {
    DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}
