//! Query strings of the HTTP routes: `shared::lambda::http::query` on any query a request can
//! carry, then what the routes read from it (`single`, `required`, the session `state`, the
//! authorization `code`, the webhook handshake's `hub.*`).
#![no_main]

use fuzz_support::block_on;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use shared::fakes::Fakes;
use shared::lambda::http::query;
use shared::model::{MAX_AUTH_CODE_LEN, SessionState, parse_auth_code};
use shared::offboarding::verify_subscription;

/// `lambda::http::MAX_QUERY_LEN` (its module is private).
const MAX_QUERY_LEN: usize = 4096;
/// The verify token of the fakes' settings.
const VERIFY_TOKEN: &str = "test-verify-token";

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    // What reaches a route: a query that makes a URI (the event door refuses the rest).
    let Ok(req) = lambda_http::http::Request::builder()
        .uri(format!("/onboarding?{raw}"))
        .body(lambda_http::Body::Empty)
    else {
        return;
    };
    let raw = req.uri().query().unwrap_or("");
    let parsed = query(&req);
    if raw.len() > MAX_QUERY_LEN {
        assert!(parsed.is_err(), "an oversized query is refused");
        return;
    }
    let Ok(q) = parsed else {
        let err = parsed.unwrap_err();
        assert_eq!(err.http_status(), 400);
        return;
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    for (name, value) in &pairs {
        // An accepted query holds no control character and nothing that was not UTF-8.
        for text in [name, value] {
            assert!(!text.chars().any(char::is_control), "{text:?} accepted");
            assert!(!text.contains('\u{FFFD}'), "{text:?} accepted");
        }
        let sent = pairs.iter().filter(|(n, _)| n == name).count();
        match q.single(name, usize::MAX) {
            Ok(Some(found)) => {
                assert_eq!(sent, 1, "a repeated {name:?} is refused");
                assert_eq!(found, value);
            }
            Ok(None) => panic!("parameter {name:?} was sent but not found"),
            Err(err) => {
                assert!(sent > 1, "{name:?} sent once refused: {err}");
                assert!(q.required(name, usize::MAX).is_err());
            }
        }
        if sent == 1 && !value.is_empty() {
            assert!(
                q.single(name, value.len() - 1).is_err(),
                "too long accepted"
            );
            assert_eq!(q.required(name, value.len()).ok(), Some(value.as_str()));
        }
    }
    // The onboarding routes' parameters, through the validators they go to.
    if let Ok(Some(state)) = q.single("state", SessionState::LEN)
        && SessionState::parse(state).is_ok()
    {
        assert_eq!(state.len(), SessionState::LEN);
        assert!(
            state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{state:?} accepted as a state"
        );
    }
    if let Ok(code) = q.required("code", MAX_AUTH_CODE_LEN)
        && let Ok(secret) = parse_auth_code(code)
    {
        assert_eq!(secret.expose_secret(), code);
        assert!(
            code.bytes().all(|b| b.is_ascii_graphic()),
            "{code:?} accepted"
        );
    }
    // The webhook subscription handshake, as the offboarding route reads it.
    let (Ok(mode), Ok(token), Ok(challenge)) = (
        q.single("hub.mode", 32),
        q.single("hub.verify_token", 256),
        q.single("hub.challenge", 256),
    ) else {
        return;
    };
    let ports = Fakes::new().ports();
    match block_on(verify_subscription(&ports, mode, token, challenge)) {
        Ok(echoed) => {
            assert_eq!(mode, Some("subscribe"));
            assert_eq!(token, Some(VERIFY_TOKEN));
            assert_eq!(Some(echoed.as_str()), challenge);
            assert!(!echoed.is_empty());
        }
        Err(err) => {
            assert!(matches!(err.http_status(), 400 | 401), "{err}");
            let right = mode == Some("subscribe") && token == Some(VERIFY_TOKEN);
            assert!(!right || challenge.is_none_or(str::is_empty), "{err}");
        }
    }
});
