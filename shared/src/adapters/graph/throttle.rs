//! Where Meta throttles: the whole app (codes 4, 17, 32, 613) or one business's use case
//! (80000-80014, named in `X-Business-Use-Case-Usage`). No call goes out to a throttled scope
//! until access returns.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::GraphError;

const APP: &str = "app";
/// When Meta does not say, a throttled scope rests this long.
const DEFAULT_WAIT_SECS: i64 = 60;

#[derive(Default)]
pub struct Throttle {
    until: Mutex<HashMap<String, i64>>,
}

/// The business a call is about: the first path segment after the version, when it is an id.
pub fn business_of(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    segments.next()?;
    segments
        .next()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Business ids and the seconds until each regains access, from the header.
fn throttled_businesses(header: &str) -> Vec<(String, i64)> {
    let Ok(serde_json::Value::Object(usage)) = serde_json::from_str(header) else {
        return vec![];
    };
    usage
        .into_iter()
        .filter_map(|(business, entries)| {
            let minutes = entries
                .as_array()?
                .iter()
                .filter_map(|e| e.get("estimated_time_to_regain_access")?.as_i64())
                .max()?;
            (minutes > 0).then_some((business, minutes * 60))
        })
        .collect()
}

impl Throttle {
    /// Seconds until a call about `business` may go out; `None`: it may now.
    pub fn wait(&self, business: Option<&str>, now: i64) -> Option<u64> {
        let until = self.until.lock().expect("throttle lock");
        [Some(APP), business]
            .into_iter()
            .flatten()
            .filter_map(|key| until.get(key))
            .map(|at| at - now)
            .filter(|left| *left > 0)
            .max()
            .map(|left| left as u64)
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
            *at = (*at).max(now + secs);
        };
        let named = usage_header.map(throttled_businesses).unwrap_or_default();
        let wait = err.retry_after_secs.map_or(DEFAULT_WAIT_SECS, |s| s as i64);
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
    }

    #[test]
    fn an_app_limit_stops_every_call() {
        let throttle = Throttle::default();
        throttle.record(&GraphError::meta(400, 4, None), None, Some("42"), 1000);
        assert_eq!(throttle.wait(Some("43"), 1000), Some(60));
        assert_eq!(throttle.wait(None, 1059), Some(1));
    }

    #[test]
    fn the_business_is_the_first_segment_after_the_version() {
        assert_eq!(business_of("/v25.0/42/owned_pixels"), Some("42"));
        assert_eq!(business_of("/v25.0/debug_token"), None);
        assert_eq!(business_of("/v25.0/me"), None);
    }
}
