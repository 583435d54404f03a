//! Injected failures: which Graph calls they hit (method, path pattern, count) and what they answer.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::graph::json_response;
use crate::usage;

/// An injected failure for the next `count` calls whose path matches `path`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The path after the version (`/me`, `/123/owned_pixels`); `*` matches any run of
    /// characters, `/` included (`*` alone matches every call).
    pub path: String,
    /// Only calls with this method (the effective one: POST with `method=get` is a GET).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    /// Matching calls let through before the fault starts: with `*`, the fault hits the
    /// (skip + 1)th call from now, whatever it is.
    #[serde(default)]
    pub skip: u32,
    /// HTTP status of the answer; 400 when an error or body is given without it.
    #[serde(default)]
    pub status: Option<u16>,
    /// Graph's error envelope, built from these parts.
    #[serde(default)]
    pub error: Option<FaultError>,
    /// A JSON body answered verbatim (any envelope at all); excludes `error`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Bytes answered verbatim as `application/json`, broken JSON included; status 200 unless
    /// given. Excludes `error` and `body`.
    #[serde(default)]
    pub raw_body: Option<String>,
    /// Wait this long first; alone (no status, error or body) the call then runs normally.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub headers: HashMap<String, String>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultError {
    pub code: i64,
    #[serde(default)]
    pub subcode: Option<i64>,
    /// Default: Graph's usual message for the code.
    #[serde(default)]
    pub message: Option<String>,
    /// Default `OAuthException`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
}

/// The faults waiting to be used, first match first.
#[derive(Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    /// Adds a fault, or says why it cannot be one.
    pub fn add(&mut self, fault: Fault) -> Result<(), &'static str> {
        if fault.count == 0 {
            return Err("count must be at least 1");
        }
        if [
            fault.error.is_some(),
            fault.body.is_some(),
            fault.raw_body.is_some(),
        ]
        .iter()
        .filter(|given| **given)
        .count()
            > 1
        {
            return Err("give one of error, body and raw_body");
        }
        if fault
            .status
            .is_some_and(|s| StatusCode::from_u16(s).is_err())
        {
            return Err("status must be an HTTP status code");
        }
        self.0.push(fault);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn pending(&self) -> &[Fault] {
        &self.0
    }

    /// Takes one use of the first fault matching this call.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let index = self.0.iter().position(|f| {
            matches(&f.path, path)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        if self.0[index].skip > 0 {
            self.0[index].skip -= 1;
            return None;
        }
        let fault = self.0[index].clone();
        self.0[index].count -= 1;
        if self.0[index].count == 0 {
            self.0.remove(index);
        }
        Some(fault)
    }
}

/// Whether `path` matches `pattern`, where `*` stands for any run of characters.
pub fn matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((head, rest)) => path.strip_prefix(head).is_some_and(|tail| {
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| matches(rest, &tail[i..]))
        }),
    }
}

/// Graph's usual message for an error code, for faults that give none.
fn default_message(code: i64) -> &'static str {
    match code {
        1 => "An unknown error occurred",
        2 => "An unexpected error has occurred. Please retry your request later.",
        4 => "(#4) Application request limit reached",
        17 => "(#17) User request limit reached",
        32 => "(#32) Page request limit reached",
        102 => "Session key invalid or no longer valid",
        190 => "Error validating access token: The session has been invalidated.",
        613 => "(#613) Calls to this api have exceeded the rate limit.",
        80000..=80014 => {
            "There have been too many calls from this business. Wait a bit and try again."
        }
        _ => "Injected error",
    }
}

/// The error envelope of a fault, as Graph writes it (optional members only when given).
pub fn envelope(e: &FaultError) -> Value {
    let mut error = json!({
        "message": e.message.as_deref().unwrap_or(default_message(e.code)),
        "type": e.kind.as_deref().unwrap_or("OAuthException"),
        "code": e.code,
        "fbtrace_id": format!("Afake{}", crate::world::random_text(18)),
    });
    if let Some(sub) = e.subcode {
        error["error_subcode"] = json!(sub);
    }
    if let Some(transient) = e.is_transient {
        error["is_transient"] = json!(transient);
    }
    if let Some(title) = &e.error_user_title {
        error["error_user_title"] = json!(title);
    }
    if let Some(msg) = &e.error_user_msg {
        error["error_user_msg"] = json!(msg);
    }
    json!({ "error": error })
}

/// The answer a fault gives to a call of `path`, or `None` when it only delays the call.
pub fn response(fault: &Fault, path: &str) -> Option<Response> {
    let status = fault
        .status
        .unwrap_or(if fault.raw_body.is_some() { 200 } else { 400 });
    let mut response = match (&fault.body, &fault.error) {
        _ if fault.raw_body.is_some() => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            fault.raw_body.clone().unwrap_or_default(),
        )
            .into_response(),
        (Some(body), _) => json_response(status, body.clone()),
        (None, Some(e)) => json_response(status, envelope(e)),
        (None, None) => (
            StatusCode::from_u16(fault.status?).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected failure",
        )
            .into_response(),
    };
    let code = fault.error.as_ref().map(|e| e.code);
    let given: Vec<(&str, &str)> = fault
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let defaults = code.map_or(vec![], |c| usage::throttle_headers(c, path));
    for (name, value) in defaults.iter().map(|(n, v)| (*n, v.as_str())).chain(given) {
        if let (Ok(n), Ok(v)) = (name.parse::<HeaderName>(), HeaderValue::from_str(value)) {
            response.headers_mut().insert(n, v);
        }
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(path: &str, method: Option<&str>, count: u32) -> Fault {
        serde_json::from_value(
            json!({"path": path, "method": method, "count": count, "status": 500}),
        )
        .unwrap()
    }

    #[test]
    fn patterns_match_any_run_of_characters() {
        assert!(matches("/me", "/me"));
        assert!(!matches("/me", "/me/accounts"));
        assert!(matches("*", "/anything/at/all"));
        assert!(matches("/*/owned_pixels", "/3000000000000001/owned_pixels"));
        assert!(!matches(
            "/*/owned_pixels",
            "/3000000000000001/client_pixels"
        ));
        assert!(matches("/*_pixels", "/1/client_pixels"));
        assert!(matches("/me*", "/me"));
    }

    #[test]
    fn a_fault_is_used_count_times_and_only_for_its_method() {
        let mut faults = Faults::default();
        faults
            .add(fault("/*/system_user_access_tokens", Some("post"), 2))
            .unwrap();
        assert!(faults.take("GET", "/1/system_user_access_tokens").is_none());
        assert!(
            faults
                .take("POST", "/1/system_user_access_tokens")
                .is_some()
        );
        assert!(
            faults
                .take("POST", "/2/system_user_access_tokens")
                .is_some()
        );
        assert!(
            faults
                .take("POST", "/3/system_user_access_tokens")
                .is_none()
        );
        assert!(faults.pending().is_empty());
    }

    #[test]
    fn bad_faults_are_refused() {
        let mut faults = Faults::default();
        assert!(faults.add(fault("/me", None, 0)).is_err());
        let both: Fault = serde_json::from_value(
            json!({"path": "/me", "error": {"code": 1}, "body": {"error": {}}}),
        )
        .unwrap();
        assert!(faults.add(both).is_err());
        assert!(serde_json::from_value::<Fault>(json!({"path": "/me", "stauts": 500})).is_err());
    }

    #[test]
    fn the_transient_envelope_is_metas() {
        let e: FaultError =
            serde_json::from_value(json!({"code": 1, "is_transient": true})).unwrap();
        let body = envelope(&e);
        assert_eq!(body["error"]["message"], "An unknown error occurred");
        assert_eq!(body["error"]["type"], "OAuthException");
        assert_eq!(body["error"]["code"], 1);
        assert_eq!(body["error"]["is_transient"], true);
        assert!(body["error"].get("error_subcode").is_none());
        assert!(body["error"]["fbtrace_id"].is_string());
    }
}
