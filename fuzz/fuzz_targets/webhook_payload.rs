//! Webhook deliveries as the offboarding route hands them over: `X-Hub-Signature-256` and body
//! through `shared::offboarding::handle_delivery` (over the in-memory ports), and the body
//! through `parse_delivery`. The first line is the signature header: `valid` for the right one,
//! `absent` for none, anything else as sent; the rest is the body.
#![no_main]

use fuzz_support::{APP_ID, APP_SECRET, assert_quotes_only, block_on, first_line};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::Sha256;
use shared::Error;
use shared::fakes::Fakes;
use shared::offboarding::{handle_delivery, parse_delivery};
use shared::signatures::hub_signature;
use shared::tokens::Recovery;

const DELIVERY_NAMES: &[&str] = &[
    "object",
    "entry",
    "id",
    "time",
    "changes",
    "changed_fields",
    "field",
    "value",
];

/// Whether `header` carries the body's HMAC, computed here.
fn signs(header: Option<&str>, body: &[u8]) -> bool {
    let Some(digest) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().as_slice() == digest.as_slice()
}

/// How many changes a delivery holds, read from its JSON here (leniently: serde does not
/// check the UTF-8 of members it skips).
fn changes_in(body: &[u8]) -> Option<usize> {
    let delivery: Value = serde_json::from_str(&String::from_utf8_lossy(body)).ok()?;
    if delivery["object"] != "application" {
        return Some(0);
    }
    let count = |entry: &Value, key: &str| entry[key].as_array().map_or(0, Vec::len);
    Some(delivery["entry"].as_array().map_or(0, |entries| {
        entries
            .iter()
            .map(|e| count(e, "changes") + count(e, "changed_fields"))
            .sum()
    }))
}

fuzz_target!(|data: &[u8]| {
    let (line, body) = first_line(data);
    let correct = hub_signature(APP_SECRET, body);
    let header = match line {
        b"valid" => Some(correct.as_str()),
        b"absent" => None,
        other => std::str::from_utf8(other).ok(),
    };
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let result = block_on(handle_delivery(&ports, body, header, Recovery::NotHere));
    let recorded = fakes.store.read(|state| state.webhooks.len());
    if !signs(header, body) {
        assert!(
            matches!(result, Err(Error::Unauthorized(_))),
            "an unsigned delivery answered {result:?}"
        );
        assert_eq!(recorded, 0, "an unsigned delivery recorded a change");
        return;
    }
    match result {
        Ok(outcome) => {
            let ours = parse_delivery(body)
                .expect("a delivery handled parses")
                .iter()
                .filter(|change| change.app_id == APP_ID)
                .count();
            assert_eq!(outcome.recorded + outcome.duplicates, ours, "{outcome:?}");
            assert_eq!(outcome.recorded, recorded);
            assert_eq!(outcome.applied + outcome.deferred, outcome.recorded);
        }
        Err(err) => {
            assert_eq!(err.http_status(), 400, "a signed delivery failed: {err}");
            assert_eq!(recorded, 0, "a refused delivery recorded a change");
        }
    }
    match parse_delivery(body) {
        Ok(changes) => {
            if let Some(expected) = changes_in(body) {
                assert_eq!(changes.len(), expected);
            }
        }
        Err(err) => {
            assert_eq!(err.error_type(), "InvalidRequest");
            assert_quotes_only(&err.to_string(), DELIVERY_NAMES);
        }
    }
});
