//! Direct-invocation payloads: `shared::lambda::invoke::Payload` read as lambda_runtime reads it
//! (it must never fail, so the runtime never answers for us), then `invoke::parse` into each
//! function's invocation (`shared::lambda::shapes`), checked with shared's validators.
#![no_main]

use fuzz_support::assert_quotes_only;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::lambda::invoke::{self, Payload};
use shared::lambda::shapes::{LookupRequest, OffboardRequest, TokenFields};
use shared::model::{ClientBusinessId, SystemUserId, is_digits};
use shared::offboarding::parse_reason;
use shared::tokens::{MintRequest, parse_page_id};

const NAMES: &[&str] = &[
    "client_business_id",
    "refresh",
    "reason",
    "dataset_id",
    "action",
    "scope",
    "assets",
    "expires_in_60_days",
    "force_refresh",
    "page_id",
    "owner",
    "max_items",
    "system_user_id",
];

/// `invoke::parse` into `T`: a refusal is `InvalidRequest` and quotes nothing sent; a value
/// read re-serialises to a payload that reads back the same.
fn parse<T>(payload: &Value) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    match invoke::parse::<T>(payload.clone()) {
        Ok(value) => {
            assert!(payload.is_object());
            let again = serde_json::to_value(&value).expect("requests serialise");
            assert_eq!(invoke::parse::<T>(again).ok().as_ref(), Some(&value));
            Some(value)
        }
        Err(err) => {
            assert_eq!(err.error_type(), "InvalidRequest", "{err}");
            assert_quotes_only(&err.to_string(), NAMES);
            None
        }
    }
}

const RAW_VALUE_TOKEN: &[u8] = b"$serde_json::private::RawValue";

fuzz_target!(|data: &[u8]| {
    // As lambda_runtime 1.x deserialises the payload of an invocation.
    let payload: Payload =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(data))
            .expect("any payload reaches the handler");
    // The same bytes as serde_json reads them (no trailing check either). serde_json's own
    // `Value` takes an object keyed by its private RawValue token for a raw value and refuses
    // it; `Payload` reads the object it is (`invoke`'s test of that token).
    let plain = Value::deserialize(&mut serde_json::Deserializer::from_slice(data));
    let raw_value_token = data
        .windows(RAW_VALUE_TOKEN.len())
        .any(|w| w == RAW_VALUE_TOKEN);
    match &payload {
        Payload::Json(_) if raw_value_token => {}
        Payload::Json(value) => assert_eq!(Some(value), plain.as_ref().ok()),
        Payload::NotJson => assert!(plain.is_err(), "JSON read as not JSON"),
        Payload::RepeatedField => assert!(plain.is_ok(), "not JSON read as JSON"),
    }
    let value = match payload.into_json() {
        Ok(value) => value,
        Err(err) => {
            assert_eq!(err.error_type(), "InvalidRequest");
            return;
        }
    };
    if let Some(request) = parse::<LookupRequest>(&value) {
        let _ = ClientBusinessId::parse(&request.client_business_id);
    }
    if let Some(request) = parse::<OffboardRequest>(&value) {
        if let Ok(reason) = parse_reason(&request.reason) {
            assert!(!reason.is_empty() && reason.len() <= 64);
        }
        if let Some(dataset) = &request.dataset_id {
            let _ = is_digits(dataset, 32);
        }
    }
    if let Some(fields) = parse::<TokenFields>(&value) {
        if let Some(scope) = fields.scope.clone()
            && let Ok(mint) = MintRequest::new(
                scope.clone(),
                fields.assets.clone().unwrap_or_default(),
                fields.expires_in_60_days.unwrap_or(false),
                fields.force_refresh.unwrap_or(false),
            )
        {
            // The same request however its lists are ordered or repeated.
            let mut reordered = scope.clone();
            reordered.reverse();
            reordered.extend(scope);
            let again = MintRequest::new(
                reordered,
                fields.assets.clone().unwrap_or_default(),
                fields.expires_in_60_days.unwrap_or(false),
                fields.force_refresh.unwrap_or(false),
            );
            if let Ok(again) = again {
                assert_eq!(again, mint);
            }
        }
        if let Some(page) = &fields.page_id
            && let Ok(id) = parse_page_id(page)
        {
            assert!(is_digits(&id, 32));
        }
        if let Some(user) = &fields.system_user_id {
            let _ = SystemUserId::parse(user);
        }
    }
});
