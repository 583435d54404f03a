//! `shared::signatures::parse_signed_request` on arbitrary input: as received (a signature that
//! does not match must be refused before the payload is decoded), and with a correct signature
//! over the input as the payload (what is accepted is what the payload says, padded or not).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fuzz_support::{APP_SECRET, NOW};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use serde_json::Value;
use sha2::Sha256;
use shared::signatures::{MAX_SIGNED_REQUEST_LEN, parse_signed_request};

const MAX_AGE: i64 = 3600;

fn mac(payload: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sign(payload: &[u8], pad: bool) -> String {
    let mut encoded = URL_SAFE_NO_PAD.encode(payload);
    if pad {
        while !encoded.len().is_multiple_of(4) {
            encoded.push('=');
        }
    }
    format!("{}.{encoded}", URL_SAFE_NO_PAD.encode(mac(&encoded)))
}

fuzz_target!(|data: &[u8]| {
    let secret = SecretString::from(APP_SECRET);
    if let Ok(text) = std::str::from_utf8(data) {
        let result = parse_signed_request(&secret, text, NOW, MAX_AGE);
        // Whether the signature matches, computed here: the only text that decodes to the
        // right MAC is its canonical unpadded base64url.
        let signed = text.split_once('.').is_some_and(|(signature, payload)| {
            signature.trim_end_matches('=') == URL_SAFE_NO_PAD.encode(mac(payload))
        });
        match &result {
            Ok(_) => assert!(signed, "accepted without the right signature: {text:?}"),
            Err(err) if !signed => {
                let message = err.to_string();
                assert!(
                    message.ends_with("is malformed") || message.ends_with("does not match"),
                    "a refused signature reached the payload: {message}"
                );
            }
            Err(_) => {}
        }
    }
    let results = [false, true].map(|pad| {
        let signed = sign(data, pad);
        (signed.len() <= MAX_SIGNED_REQUEST_LEN)
            .then(|| parse_signed_request(&secret, &signed, NOW, MAX_AGE).ok())
    });
    if let [Some(unpadded), Some(padded)] = &results {
        assert_eq!(unpadded, padded, "padding changes the outcome");
    }
    if let Some(Some(request)) = &results[0] {
        // What is accepted is what the payload says.
        // Read leniently: serde does not check the UTF-8 of members it skips.
        let Ok(payload) = serde_json::from_str::<Value>(&String::from_utf8_lossy(data)) else {
            return;
        };
        let algorithm = payload["algorithm"].as_str().expect("an algorithm");
        assert!(algorithm.eq_ignore_ascii_case("HMAC-SHA256"), "{algorithm}");
        assert_eq!(payload["issued_at"].as_i64(), Some(request.issued_at));
        assert!((NOW - MAX_AGE..=NOW + 300).contains(&request.issued_at));
        let user_id = match &payload["user_id"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        assert_eq!(user_id, request.user_id);
        assert!(!user_id.is_empty() && user_id.len() <= 32);
        assert!(user_id.bytes().all(|b| b.is_ascii_digit()), "{user_id:?}");
    }
});
