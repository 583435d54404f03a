//! The `signed_request` parser on arbitrary input: as received (the signature check must refuse
//! it without panicking), and with a correct signature over the input as the payload, so the
//! payload decoding and checks behind the signature are reached too.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use sha2::Sha256;
use shared::signatures::parse_signed_request;

const SECRET: &str = "fuzz-app-secret";
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let secret = SecretString::from(SECRET);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_signed_request(&secret, text, NOW, 3600);
    }
    let payload = URL_SAFE_NO_PAD.encode(data);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    let signed = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    let _ = parse_signed_request(&secret, &signed, NOW, 3600);
});
