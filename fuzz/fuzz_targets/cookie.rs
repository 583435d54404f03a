//! The session cookie: `Cookie` headers (one a line) read by `shared::lambda::http::cookie`,
//! then the value bound to a pending onboarding session by `shared::onboarding::bind_browser`
//! (over the in-memory ports), as the onboarding page and `login_url` do.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fuzz_support::block_on;
use libfuzzer_sys::fuzz_target;
use shared::Error;
use shared::fakes::Fakes;
use shared::lambda::http::cookie;
use shared::model::{Mode, PartnerRef};
use shared::onboarding::{BROWSER_COOKIE, bind_browser, browser_hash, create_session};

fn request(headers: &[&[u8]]) -> lambda_http::Request {
    let mut builder = lambda_http::http::Request::builder().uri("/onboarding");
    for value in headers {
        if let Ok(value) = lambda_http::http::HeaderValue::from_bytes(value) {
            builder = builder.header("cookie", value);
        }
    }
    builder
        .body(lambda_http::Body::Empty)
        .expect("a request of valid headers")
}

/// What a browser cookie the service issued looks like: 32 bytes in unpadded base64url.
fn issued_shape(value: &str) -> bool {
    value.len() == 43 && URL_SAFE_NO_PAD.decode(value).is_ok_and(|b| b.len() == 32)
}

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').take(8).collect();
    let req = request(&lines);
    let found = cookie(&req, BROWSER_COOKIE);
    if let Some(value) = found {
        assert!(!value.contains(';'), "{value:?}");
        let pair = format!("{BROWSER_COOKIE}={value}");
        assert!(
            req.headers()
                .get_all("cookie")
                .iter()
                .any(|h| h.to_str().is_ok_and(|h| h.contains(&pair))),
            "{value:?} is not in the headers"
        );
    }
    // Another cookie changes nothing; the same cookie again makes it ambiguous: refused.
    let mut more = lines.clone();
    more.push(b"theme=dark; lang=en");
    assert_eq!(cookie(&request(&more), BROWSER_COOKIE), found);
    if found.is_some() {
        let again = format!("{BROWSER_COOKIE}=x");
        more.push(again.as_bytes());
        assert_eq!(cookie(&request(&more), BROWSER_COOKIE), None);
    }

    // Binding: the first browser binds a pending session, with its own cookie when that is one
    // the service could have issued, else with a fresh one; no other browser gets in after it.
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let partner = PartnerRef::parse("acct-1").expect("a partner ref");
    let new = block_on(create_session(&ports, partner, Mode::Bisu, None)).expect("a session");
    let bound = block_on(bind_browser(&ports, &new.state, found)).expect("the first browser binds");
    let kept = match (&bound.new_cookie, found) {
        (None, Some(value)) => {
            assert!(issued_shape(value), "{value:?} kept as the browser cookie");
            value.to_owned()
        }
        (Some(fresh), sent) => {
            assert!(issued_shape(fresh));
            assert!(
                sent.is_none_or(|sent| !issued_shape(sent)),
                "{sent:?} replaced"
            );
            fresh.clone()
        }
        (None, None) => panic!("a browser without a cookie bound without getting one"),
    };
    assert_eq!(
        bound.session.browser.as_deref(),
        Some(browser_hash(&kept).as_str())
    );
    let same = block_on(bind_browser(&ports, &new.state, Some(&kept))).expect("the same browser");
    assert!(same.new_cookie.is_none());
    let mut other = URL_SAFE_NO_PAD.decode(&kept).expect("an issued cookie");
    other[0] ^= 1;
    let other = URL_SAFE_NO_PAD.encode(other);
    for intruder in [Some(other.as_str()), None] {
        let refused = block_on(bind_browser(&ports, &new.state, intruder));
        assert!(
            matches!(refused, Err(Error::SessionOtherBrowser)),
            "{refused:?}"
        );
    }
});
