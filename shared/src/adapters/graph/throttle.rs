//! Where Meta throttles, and how close it is: the whole app (codes 4, 17, 32, 613;
//! `X-App-Usage`) or one business's use case (80000-80014; `X-Business-Use-Case-Usage`).
//! No call goes out to a throttled scope until access returns, and the pace tells the sweep
//! to slow down near the limit.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::GraphError;
use crate::model::graph_error::MAX_WAIT_SECS;
use crate::ports::Pace;

const APP: &str = "app";
/// When Meta does not say, a throttled scope rests this long.
const DEFAULT_WAIT_SECS: i64 = 60;
/// Usage in percent from which the sweep takes one item at a time...
pub const SLOW_AT: u8 = 75;
/// ...and from which it starts nothing new, well before Meta's 100%.
pub const STOP_AT: u8 = 90;
/// A usage reading older than this says nothing: usage is a rolling window, and the next call
/// brings a fresh one.
const READING_FRESH_SECS: i64 = 5 * 60;

#[derive(Clone, Copy)]
struct Reading {
    percent: u8,
    at: i64,
}

#[derive(Default)]
pub struct Throttle {
    until: Mutex<HashMap<String, i64>>,
    usage: Mutex<HashMap<String, Reading>>,
}

/// The business a call is about: the first path segment after the version, when it is an id.
pub fn business_of(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    segments.next()?;
    segments
        .next()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The highest of the percentages Meta reports in one usage object.
fn percent(usage: &serde_json::Value) -> Option<u8> {
    ["call_count", "total_time", "total_cputime"]
        .iter()
        .filter_map(|key| usage.get(key)?.as_u64())
        .max()
        .map(|p| p.min(100) as u8)
}

/// Each business's highest usage and its seconds until access returns, from the header.
fn business_usage(header: &str) -> Vec<(String, Option<u8>, i64)> {
    let Ok(serde_json::Value::Object(usage)) = serde_json::from_str(header) else {
        return vec![];
    };
    usage
        .into_iter()
        .filter_map(|(business, entries)| {
            let entries = entries.as_array()?;
            let busiest = entries.iter().filter_map(percent).max();
            let minutes = entries
                .iter()
                .filter_map(|e| e.get("estimated_time_to_regain_access")?.as_i64())
                .max()
                .unwrap_or(0);
            let secs = minutes.clamp(0, MAX_WAIT_SECS as i64 / 60) * 60;
            Some((business, busiest, secs))
        })
        .collect()
}

impl Throttle {
    /// Seconds until a call about `business` may go out; `None`: it may now.
    pub fn wait(&self, business: Option<&str>, now: i64) -> Option<u64> {
        let until = self.until.lock().expect("throttle lock");
        scopes(business)
            .filter_map(|key| until.get(key))
            .map(|at| at - now)
            .filter(|left| *left > 0)
            .max()
            .map(|left| left as u64)
    }

    /// How work about `business` (or the app alone) should go now.
    pub fn pace(&self, business: Option<&str>, now: i64) -> Pace {
        if let Some(wait) = self.wait(business, now) {
            return Pace::Stop {
                until: now + wait as i64,
            };
        }
        let usage = self.usage.lock().expect("usage lock");
        let busiest = scopes(business)
            .filter_map(|key| usage.get(key))
            .filter(|r| now - r.at < READING_FRESH_SECS)
            .max_by_key(|r| r.percent);
        match busiest {
            Some(r) if r.percent >= STOP_AT => Pace::Stop {
                until: r.at + READING_FRESH_SECS,
            },
            Some(r) if r.percent >= SLOW_AT => Pace::Slow,
            _ => Pace::Go,
        }
    }

    /// Notes the usage headers of any answer.
    pub fn observe(&self, app_header: Option<&str>, business_header: Option<&str>, now: i64) {
        let mut usage = self.usage.lock().expect("usage lock");
        let app = app_header.and_then(|h| percent(&serde_json::from_str(h).ok()?));
        if let Some(percent) = app {
            usage.insert(APP.to_owned(), Reading { percent, at: now });
        }
        for (business, busiest, _) in business_header.map(business_usage).unwrap_or_default() {
            if let Some(percent) = busiest {
                usage.insert(business, Reading { percent, at: now });
            }
        }
    }

    /// Records a throttled answer to a call about `business`.
    pub fn record(
        &self,
        err: &GraphError,
        usage_header: Option<&str>,
        business: Option<&str>,
        now: i64,
    ) {
        let mut until = self.until.lock().expect("throttle lock");
        let mut set = |key: &str, secs: i64| {
            let at = until.entry(key.to_owned()).or_default();
            *at = (*at).max(now.saturating_add(secs));
        };
        let named: Vec<(String, i64)> = usage_header
            .map(business_usage)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, _, secs)| *secs > 0)
            .map(|(id, _, secs)| (id, secs))
            .collect();
        let wait = err
            .retry_after_secs
            .map_or(DEFAULT_WAIT_SECS, |s| s.min(MAX_WAIT_SECS) as i64);
        match err.code {
            Some(80000..=80014) if !named.is_empty() => {
                for (id, secs) in named {
                    set(&id, secs);
                }
            }
            Some(80000..=80014) => set(business.unwrap_or(APP), wait),
            _ => set(APP, wait),
        }
    }
}

/// The app, and the business when there is one: a call is held by either.
fn scopes(business: Option<&str>) -> impl Iterator<Item = &str> {
    [Some(APP), business].into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_business_use_case_limit_stops_only_that_business() {
        let throttle = Throttle::default();
        let header = r#"{"42":[{"type":"ads_management","estimated_time_to_regain_access":3}]}"#;
        let err = GraphError::meta(400, 80004, None);
        throttle.record(&err, Some(header), Some("42"), 1000);
        assert_eq!(throttle.wait(Some("42"), 1000), Some(180));
        assert_eq!(throttle.wait(Some("43"), 1000), None);
        assert_eq!(throttle.wait(None, 1000), None);
        assert_eq!(throttle.wait(Some("42"), 1180), None, "access returns");
        assert_eq!(throttle.pace(Some("42"), 1000), Pace::Stop { until: 1180 });
        assert_eq!(throttle.pace(Some("43"), 1000), Pace::Go);
    }

    #[test]
    fn an_app_limit_stops_every_call() {
        let throttle = Throttle::default();
        throttle.record(&GraphError::meta(400, 4, None), None, Some("42"), 1000);
        assert_eq!(throttle.wait(Some("43"), 1000), Some(60));
        assert_eq!(throttle.wait(None, 1059), Some(1));
        assert_eq!(throttle.pace(None, 1000), Pace::Stop { until: 1060 });
    }

    #[test]
    fn app_usage_slows_then_stops_the_work_and_a_stale_reading_does_not() {
        let throttle = Throttle::default();
        let app = |call_count: u8, cputime: u8| {
            format!(r#"{{"call_count":{call_count},"total_time":1,"total_cputime":{cputime}}}"#)
        };
        throttle.observe(Some(&app(10, 20)), None, 1000);
        assert_eq!(throttle.pace(None, 1000), Pace::Go);
        throttle.observe(Some(&app(10, 80)), None, 1000);
        assert_eq!(
            throttle.pace(None, 1000),
            Pace::Slow,
            "the busiest measure counts"
        );
        throttle.observe(Some(&app(92, 80)), None, 1010);
        assert_eq!(throttle.pace(Some("42"), 1010), Pace::Stop { until: 1310 });
        assert_eq!(
            throttle.pace(None, 1310),
            Pace::Go,
            "the next call reads afresh"
        );
    }

    #[test]
    fn a_busy_business_slows_only_work_about_it() {
        let throttle = Throttle::default();
        let header = r#"{"42":[{"type":"ads_management","call_count":95,"total_time":3,"total_cputime":4,"estimated_time_to_regain_access":0}]}"#;
        throttle.observe(None, Some(header), 1000);
        assert_eq!(throttle.pace(Some("42"), 1000), Pace::Stop { until: 1300 });
        assert_eq!(throttle.pace(Some("43"), 1000), Pace::Go);
        assert_eq!(throttle.pace(None, 1000), Pace::Go);
        throttle.observe(None, Some("not json"), 1001);
        throttle.observe(Some("{}"), None, 1001);
        assert_eq!(throttle.pace(Some("42"), 1001), Pace::Stop { until: 1300 });
    }

    /// Found by `fuzz/fuzz_targets/throttle_headers.rs`: a huge `Retry-After` became a negative
    /// wait (no pause at all), a huge regain estimate overflowed.
    #[test]
    fn huge_waits_from_meta_pause_for_a_day() {
        let throttle = Throttle::default();
        let err = GraphError {
            retry_after_secs: Some(u64::MAX),
            ..GraphError::meta(400, 4, None)
        };
        throttle.record(&err, None, Some("42"), 1000);
        assert_eq!(throttle.wait(Some("42"), 1001), Some(MAX_WAIT_SECS - 1));
        let header: &[u8] = br#"{"42":[{"estimated_time_to_regain_access":9223372036854775807}]}"#;
        let header = std::str::from_utf8(header).unwrap();
        let throttle = Throttle::default();
        throttle.record(
            &GraphError::meta(400, 80004, None),
            Some(header),
            Some("42"),
            1000,
        );
        assert_eq!(throttle.wait(Some("42"), 1000), Some(MAX_WAIT_SECS));
    }

    #[test]
    fn the_business_is_the_first_segment_after_the_version() {
        assert_eq!(business_of("/v25.0/42/owned_pixels"), Some("42"));
        assert_eq!(business_of("/v25.0/debug_token"), None);
        assert_eq!(business_of("/v25.0/me"), None);
    }
}
