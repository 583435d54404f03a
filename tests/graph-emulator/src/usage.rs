//! Graph's usage headers: `X-App-Usage` on every answer, throttling headers on throttled ones.

use axum::http::HeaderValue;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The app's usage in percent, as `X-App-Usage` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AppUsage {
    pub call_count: u32,
    pub total_time: u32,
    pub total_cputime: u32,
}

impl Default for AppUsage {
    /// Small and distinct, so a parser that mixes the members up shows it.
    fn default() -> Self {
        Self {
            call_count: 3,
            total_time: 2,
            total_cputime: 1,
        }
    }
}

/// A change to the reported usage; members left out keep their value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppUsagePatch {
    call_count: Option<u32>,
    total_time: Option<u32>,
    total_cputime: Option<u32>,
}

impl AppUsage {
    pub fn apply(&mut self, patch: &AppUsagePatch) {
        self.call_count = patch.call_count.unwrap_or(self.call_count);
        self.total_time = patch.total_time.unwrap_or(self.total_time);
        self.total_cputime = patch.total_cputime.unwrap_or(self.total_cputime);
    }

    fn header(&self) -> String {
        serde_json::to_string(self).expect("plain numbers")
    }
}

/// Adds `X-App-Usage` unless the answer already has one (an injected fault's own).
pub fn stamp(response: &mut Response, usage: AppUsage) {
    let headers = response.headers_mut();
    if !headers.contains_key("x-app-usage") {
        let value = HeaderValue::from_str(&usage.header()).expect("ASCII JSON");
        headers.insert("x-app-usage", value);
    }
}

/// The headers Graph adds to a throttled answer with `code`: the app at 100% for code 4,
/// the business's use case (keyed by the path's first id) for 80000-80014, access back in a
/// minute. A fault's own headers replace these.
pub fn throttle_headers(code: i64, path: &str) -> Vec<(&'static str, String)> {
    let full = AppUsage {
        call_count: 100,
        total_time: 100,
        total_cputime: 100,
    };
    match code {
        4 => vec![("x-app-usage", full.header())],
        80000..=80014 => {
            let business = first_id(path).unwrap_or("0");
            vec![(
                "x-business-use-case-usage",
                business_usage(business, code, 1),
            )]
        }
        _ => vec![],
    }
}

/// The path's first segment when it is an id (the business a call is about, if any).
pub fn first_id(path: &str) -> Option<&str> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// `X-Business-Use-Case-Usage` for a business at its limit of the use case of `code`, access
/// back in `minutes`.
pub fn business_usage(business: &str, code: i64, minutes: i64) -> String {
    json!({ business: [{"type": use_case(code), "call_count": 100, "total_cputime": 100,
        "total_time": 100, "estimated_time_to_regain_access": minutes}]})
    .to_string()
}

/// The business use case a throttling code belongs to.
fn use_case(code: i64) -> &'static str {
    match code {
        80000 => "ads_insights",
        80001 => "pages",
        80002 => "instagram",
        80003 => "custom_audience",
        80005 => "leadgen",
        80006 => "messenger",
        80008 => "whatsapp_business_management",
        80009 | 80014 => "catalog_management",
        _ => "ads_management",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut usage = AppUsage::default();
        usage.apply(&serde_json::from_str(r#"{"call_count": 95}"#).unwrap());
        assert_eq!(
            usage.header(),
            r#"{"call_count":95,"total_time":2,"total_cputime":1}"#
        );
        assert!(serde_json::from_str::<AppUsagePatch>(r#"{"calls": 1}"#).is_err());
    }

    #[test]
    fn business_throttling_names_the_business_and_when_access_returns() {
        let headers = throttle_headers(80004, "/3000000000000001/owned_pixels");
        let (name, value) = &headers[0];
        assert_eq!(*name, "x-business-use-case-usage");
        let value: serde_json::Value = serde_json::from_str(value).unwrap();
        let entry = &value["3000000000000001"][0];
        assert_eq!(entry["type"], "ads_management");
        assert_eq!(entry["estimated_time_to_regain_access"], 1);
        assert!(throttle_headers(100, "/me").is_empty());
    }
}
