//! Wall-clock time in the two forms items use: RFC 3339 text and Unix seconds.

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Now(DateTime<Utc>);

impl Now {
    pub fn get() -> Self {
        Self(Utc::now())
    }
    pub fn epoch(self) -> i64 {
        self.0.timestamp()
    }
    pub fn rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    pub fn epoch_rfc3339(epoch: i64) -> String {
        DateTime::from_timestamp(epoch, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}
