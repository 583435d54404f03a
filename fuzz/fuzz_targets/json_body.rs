//! JSON request bodies of the HTTP routes: `shared::lambda::http::json_body` into the bodies of
//! `POST /onboarding/sessions` and `POST /oauth/code` (`shared::lambda::shapes`), and into any
//! JSON value. The first byte picks the shape (`0` session, `1` code, `2`
//! any value) and the Content-Type; the rest is the body.
#![no_main]

use fuzz_support::{assert_quotes_only, same_json};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::Error;
use shared::lambda::http::json_body;
use shared::lambda::shapes::{CodeRequest, NewSessionRequest};
use shared::model::{MAX_AUTH_CODE_LEN, SessionState, parse_auth_code};

/// oauth-callback's `MAX_BODY`.
const MAX_BODY: usize = 8 * 1024;

const SESSION_NAMES: &[&str] = &[
    "partner_ref",
    "mode",
    "client_business_id",
    "assets",
    "scope",
    "id",
    "type",
    "tasks",
    "bisu",
    "obo",
];
const CODE_NAMES: &[&str] = &["code", "state"];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "text/plain",
];

fn post(content_type: &str, body: &[u8]) -> lambda_http::Request {
    let body = match std::str::from_utf8(body) {
        Ok(text) => lambda_http::Body::Text(text.to_owned()),
        Err(_) => lambda_http::Body::Binary(body.to_vec()),
    };
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/onboarding/sessions")
        .header("content-type", content_type)
        .body(body)
        .expect("a static request")
}

/// Parses `body` as `T`; checks what any refusal must be; a value read re-serialises to a body
/// that reads back the same.
fn read<T>(content_type: &str, body: &[u8], declared: &[&str]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    match json_body::<T>(&post(content_type, body), MAX_BODY) {
        Ok(value) => {
            assert!(body.len() <= MAX_BODY, "an oversized body was read");
            let again = serde_json::to_vec(&value).expect("request values serialise");
            let back = json_body::<T>(&post("application/json", &again), usize::MAX)
                .expect("a serialised request reads back");
            assert_eq!(back, value);
            Some(value)
        }
        Err(err) => {
            match &err {
                Error::UnsupportedMediaType(_) => assert_eq!(content_type, "text/plain"),
                Error::PayloadTooLarge(_) => assert!(body.len() > MAX_BODY),
                Error::InvalidRequest(_) => {}
                other => panic!("a body refused as {other:?}"),
            }
            assert_quotes_only(&err.to_string(), declared);
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(pick / 3) % CONTENT_TYPES.len()];
    match pick % 3 {
        0 => {
            let Some(request) = read::<NewSessionRequest>(content_type, body, SESSION_NAMES) else {
                return;
            };
            // What oauth-callback does next with the fields.
            let Ok(Some(obo)) = request.obo() else {
                return;
            };
            for checked in &obo.assets {
                {
                    assert!(!checked.tasks.is_empty() && checked.tasks.len() <= 8);
                    assert!(
                        checked
                            .tasks
                            .iter()
                            .all(|t| checked.kind.tasks().contains(&t.as_str()))
                    );
                    let digits = checked.id.strip_prefix("act_").unwrap_or(&checked.id);
                    assert!(shared::model::is_digits(digits, 32), "{:?}", checked.id);
                }
            }
        }
        1 => {
            let Some(request) = read::<CodeRequest>(content_type, body, CODE_NAMES) else {
                return;
            };
            if SessionState::parse(&request.state).is_ok() {
                assert_eq!(request.state.len(), SessionState::LEN);
            }
            if parse_auth_code(&request.code).is_ok() {
                assert!(!request.code.is_empty() && request.code.len() <= MAX_AUTH_CODE_LEN);
                assert!(request.code.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        _ => {
            let req = post(content_type, body);
            if let Ok(value) = json_body::<serde_json::Value>(&req, MAX_BODY) {
                let text = serde_json::to_vec(&value).expect("values serialise");
                let back: serde_json::Value =
                    serde_json::from_slice(&text).expect("serialised JSON reads back");
                assert!(same_json(&value, &back), "{value} != {back}");
            }
        }
    }
});
