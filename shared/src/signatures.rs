//! Keyed hashes Meta uses: `appsecret_proof` on calls made with a token, `X-Hub-Signature-256`
//! on webhooks, and `signed_request` on the deauthorize and data-deletion callbacks.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::error::Error;

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac
}

/// Lowercase hex HMAC-SHA256 of the access token, keyed with the app secret.
pub fn appsecret_proof(app_secret: &SecretString, access_token: &SecretString) -> String {
    let mac = hmac_sha256(
        app_secret.expose_secret().as_bytes(),
        access_token.expose_secret().as_bytes(),
    );
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let proof = appsecret_proof(
            &SecretString::from("Jefe"),
            &SecretString::from("what do ya want for nothing?"),
        );
        assert_eq!(
            proof,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` against the raw body, in constant time.
pub fn verify_hub_signature(
    app_secret: &SecretString,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), Error> {
    let expected = hub_signature_digest(header)?;
    hmac_sha256(app_secret.expose_secret().as_bytes(), body)
        .verify_slice(&expected)
        .map_err(|_| signature_refused())
}

/// The digest an `X-Hub-Signature-256` header carries; what is not one is refused before any
/// secret is read.
pub fn hub_signature_digest(header: Option<&str>) -> Result<Vec<u8>, Error> {
    header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .filter(|digest| digest.len() == 32)
        .ok_or_else(signature_refused)
}

fn signature_refused() -> Error {
    Error::Unauthorized("the webhook signature is missing or does not match".into())
}

/// The `X-Hub-Signature-256` value Meta sends with `body` (for tests and benchmarks).
pub fn hub_signature(app_secret: &str, body: &[u8]) -> String {
    let digest = hmac_sha256(app_secret.as_bytes(), body)
        .finalize()
        .into_bytes();
    format!("sha256={}", hex::encode(digest))
}

/// The payload of a verified `signed_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub user_id: String,
    pub issued_at: i64,
}

#[derive(serde::Deserialize)]
struct SignedPayload {
    algorithm: String,
    issued_at: i64,
    user_id: IdText,
}

/// `user_id` arrives as a string; accept a number too.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum IdText {
    Text(String),
    Number(u64),
}

/// The longest `signed_request` accepted.
pub const MAX_SIGNED_REQUEST_LEN: usize = 4096;
/// How far in the future `issued_at` may be, for clock skew.
const FUTURE_SKEW_SECS: i64 = 300;

/// Verifies and reads a `signed_request`: `base64url(signature).base64url(payload)`, the
/// signature an HMAC-SHA256 of the encoded payload as received, checked before the payload is
/// read; `algorithm` must be HMAC-SHA256 and `issued_at` within `max_age_secs` of `now`.
pub fn parse_signed_request(
    app_secret: &SecretString,
    raw: &str,
    now: i64,
    max_age_secs: i64,
) -> Result<SignedRequest, Error> {
    let malformed = || Error::Unauthorized("signed_request is malformed".into());
    if raw.len() > MAX_SIGNED_REQUEST_LEN {
        return Err(malformed());
    }
    let (signature, payload) = raw.split_once('.').ok_or_else(malformed)?;
    if signature.is_empty() || payload.is_empty() || payload.contains('.') {
        return Err(malformed());
    }
    let signature = decode_base64url(signature).ok_or_else(malformed)?;
    hmac_sha256(app_secret.expose_secret().as_bytes(), payload.as_bytes())
        .verify_slice(&signature)
        .map_err(|_| Error::Unauthorized("signed_request signature does not match".into()))?;
    let payload: SignedPayload = decode_base64url(payload)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(malformed)?;
    if !payload.algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(Error::Unauthorized(
            "signed_request algorithm must be HMAC-SHA256".into(),
        ));
    }
    if payload.issued_at > now + FUTURE_SKEW_SECS || payload.issued_at < now - max_age_secs {
        return Err(Error::Unauthorized(
            "signed_request is stale or from the future".into(),
        ));
    }
    let user_id = match payload.user_id {
        IdText::Text(text) => text,
        IdText::Number(n) => n.to_string(),
    };
    if user_id.is_empty() || user_id.len() > 32 || !user_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    Ok(SignedRequest {
        user_id,
        issued_at: payload.issued_at,
    })
}

/// base64url, padded or not.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

#[cfg(test)]
mod signed_tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const NOW: i64 = 1_800_000_000;

    fn secret() -> SecretString {
        SecretString::from("app-secret")
    }

    fn sign(payload: &str, pad: bool) -> String {
        let mut encoded = URL_SAFE_NO_PAD.encode(payload);
        if pad {
            while !encoded.len().is_multiple_of(4) {
                encoded.push('=');
            }
        }
        let mac = hmac_sha256(b"app-secret", encoded.as_bytes())
            .finalize()
            .into_bytes();
        format!("{}.{encoded}", URL_SAFE_NO_PAD.encode(mac))
    }

    #[test]
    fn accepts_a_good_request_padded_or_not() {
        let payload = format!(r#"{{"algorithm":"HMAC-SHA256","issued_at":{NOW},"user_id":"42"}}"#);
        for pad in [false, true] {
            let parsed = parse_signed_request(&secret(), &sign(&payload, pad), NOW, 3600).unwrap();
            assert_eq!(parsed.user_id, "42");
        }
        let numeric = format!(r#"{{"algorithm":"HMAC-SHA256","issued_at":{NOW},"user_id":42}}"#);
        assert_eq!(
            parse_signed_request(&secret(), &sign(&numeric, false), NOW, 3600)
                .unwrap()
                .user_id,
            "42"
        );
    }

    #[test]
    fn refuses_forged_stale_and_malformed_requests() {
        let good = sign(
            &format!(r#"{{"algorithm":"HMAC-SHA256","issued_at":{NOW},"user_id":"42"}}"#),
            false,
        );
        let (sig, payload) = good.split_once('.').unwrap();
        let cases = [
            format!(
                "{sig}.{}",
                URL_SAFE_NO_PAD
                    .encode(r#"{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"43"}"#)
            ),
            sign(
                &format!(r#"{{"algorithm":"HMAC-SHA1","issued_at":{NOW},"user_id":"42"}}"#),
                false,
            ),
            sign(
                &format!(
                    r#"{{"algorithm":"HMAC-SHA256","issued_at":{},"user_id":"42"}}"#,
                    NOW - 7200
                ),
                false,
            ),
            sign(
                &format!(
                    r#"{{"algorithm":"HMAC-SHA256","issued_at":{},"user_id":"42"}}"#,
                    NOW + 3600
                ),
                false,
            ),
            sign(r#"{"algorithm":"HMAC-SHA256","user_id":"42"}"#, false),
            sign("not json", false),
            good[..good.len() - 5].to_owned(),
            sig.to_string(),
            format!(".{payload}"),
            format!("{sig}.{payload}.x"),
            "!!!.???".to_owned(),
            String::new(),
            "a".repeat(5000),
        ];
        for case in cases {
            assert!(
                parse_signed_request(&secret(), &case, NOW, 3600).is_err(),
                "{case:?} accepted"
            );
        }
    }

    #[test]
    fn hub_signatures_are_checked() {
        let body = br#"{"object":"application"}"#;
        let good = format!(
            "sha256={}",
            hex::encode(hmac_sha256(b"app-secret", body).finalize().into_bytes())
        );
        assert!(verify_hub_signature(&secret(), body, Some(&good)).is_ok());
        assert!(verify_hub_signature(&secret(), b"other body", Some(&good)).is_err());
        assert!(verify_hub_signature(&secret(), body, None).is_err());
        assert!(verify_hub_signature(&secret(), body, Some("sha1=abcd")).is_err());
        assert!(verify_hub_signature(&secret(), body, Some("sha256=zz")).is_err());
    }
}
