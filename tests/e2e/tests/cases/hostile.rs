//! A hostile input corpus generated from tables: every route and every direct invocation shape
//! crossed with injection strings, oversized values, wrong types, unicode edge cases, broken
//! JSON and bytes, and with forged signatures, stale callbacks, wrong methods and content types
//! and other browsers' states. Each is refused (4xx, or a refusal's `errorType`), nothing
//! crashes, and the table and the secrets are exactly as they were.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use e2e::Stack;
use e2e::client::http_event;
use e2e::stack::{APP_ID, APP_SECRET, WEBHOOK_VERIFY_TOKEN};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// A business no client is, nor ever was, in this run.
const UNKNOWN_ID: &str = "3999999999999999";
/// A system user of nobody.
const NOBODY: &str = "4999999999999999";
const XSS: &str = "<script>alert(1)</script>";

/// One hostile value, as it goes into a slot.
enum V {
    /// Text, sent as a JSON string, a query or form value, or a path segment.
    Text(String),
    /// A JSON value where the slot wants another type.
    Json(Value),
    /// JSON text spliced in as it is, e.g. the escape of a lone surrogate.
    RawJson(String),
    /// Bytes that are not UTF-8: raw in a body, percent-encoded in a query or a path.
    Bytes(&'static [u8]),
}

struct Hostile {
    name: &'static str,
    value: V,
}

fn hostile_values() -> Vec<Hostile> {
    let text = |name, value: String| Hostile {
        name,
        value: V::Text(value),
    };
    let json = |name, value: Value| Hostile {
        name,
        value: V::Json(value),
    };
    let raw = |name, value: &str| Hostile {
        name,
        value: V::RawJson(value.to_owned()),
    };
    let bytes = |name, value| Hostile {
        name,
        value: V::Bytes(value),
    };
    let nested = |depth: usize| {
        let mut value = json!("deep");
        for _ in 0..depth {
            value = json!([value]);
        }
        value
    };
    vec![
        // Injection.
        text("SQL injection", "' OR '1'='1' --".into()),
        text("SQL UNION", "1 UNION SELECT token FROM secrets".into()),
        text("NoSQL operator as text", r#"{"$ne": null}"#.into()),
        text(
            "DynamoDB expression",
            "pk = :pk OR attribute_exists(sk)".into(),
        ),
        text("shell substitution", "$(touch /tmp/hostile)".into()),
        text("shell backticks", "`id`".into()),
        text("shell chain", "1; cat /etc/passwd".into()),
        text("path traversal", "../../../../etc/passwd".into()),
        text("encoded path traversal", "..%2F..%2Fetc%2Fpasswd".into()),
        text("backslash traversal", "..\\..\\windows\\win.ini".into()),
        text(
            "CRLF header injection",
            "1\r\nX-Hostile: injected\r\nSet-Cookie: hostile=1".into(),
        ),
        text("NUL byte", "123\u{0}456".into()),
        text("markup", XSS.into()),
        text("format string", "%s%s%n%x".into()),
        text("log forging", "1\n{\"message\":\"forged\"}".into()),
        text("JSON as text", r#"{"client_business_id":"1"}"#.into()),
        // Sizes and shapes of ids.
        text("64 KiB", "A".repeat(64 * 1024)),
        text("1 MiB", "A".repeat(1 << 20)),
        text("64 KiB of digits", "1".repeat(64 * 1024)),
        text("33 digits", "1".repeat(33)),
        text("empty", String::new()),
        text("tab", "\t".into()),
        text("padded digits", " 123 ".into()),
        text("signed number", "-1".into()),
        text("exponent", "1e3".into()),
        text("hexadecimal", "0x1F".into()),
        // Unicode edge cases.
        text("RTL override", "\u{202E}3000000000000001".into()),
        text("zero-width joiner", "3000\u{200D}000000000001".into()),
        text("zero-width space", "\u{200B}".into()),
        text("byte order mark", "\u{FEFF}123".into()),
        text("emoji", "\u{1F511}\u{1F4A5}".into()),
        text("emoji ZWJ sequence", "\u{1F469}\u{200D}\u{1F4BB}".into()),
        text("NFC accent", "caf\u{E9}".into()),
        text("NFD accent", "cafe\u{301}".into()),
        text("Cyrillic look-alike", "\u{430}cct-hostile".into()),
        text("full-width digits", "\u{FF11}\u{FF12}\u{FF13}".into()),
        text("Arabic-Indic digits", "\u{661}\u{662}\u{663}".into()),
        text("mathematical digits", "\u{1D7CF}\u{1D7D0}".into()),
        text("noncharacter", "\u{FFFF}".into()),
        text("combining overload", format!("1{}", "\u{301}".repeat(1000))),
        // Wrong types.
        json("number", json!(42)),
        json("negative number", json!(-1)),
        json("fraction", json!(1.5)),
        json("true", json!(true)),
        json("false", json!(false)),
        json("null", Value::Null),
        json("empty array", json!([])),
        json("array of text", json!(["x"])),
        json("empty object", json!({})),
        json("NoSQL operator", json!({"$ne": null})),
        json("NoSQL regex", json!({"$regex": ".*"})),
        json("nested arrays", nested(64)),
        // JSON that no parser should take.
        raw("lone high surrogate", r#""\ud800""#),
        raw("lone low surrogate", r#""\udfff""#),
        raw("reversed surrogates", r#""\udc00\ud800""#),
        raw("number out of range", "1e400"),
        raw("integer beyond u64", "18446744073709551616"),
        raw("NaN", "NaN"),
        raw("invalid escape", r#""\x41""#),
        raw("single quotes", "'x'"),
        raw("truncated string", r#""unterminated"#),
        raw("nested 10,000 deep", &deep_json(10_000)),
        // Bytes that are not UTF-8.
        bytes("invalid UTF-8", b"\xff\xfe"),
        bytes("overlong slash", b"\xc0\xaf"),
        bytes("overlong NUL", b"\xc0\x80"),
        bytes("3-byte overlong", b"\xe0\x80\xaf"),
        bytes("encoded surrogate", b"\xed\xa0\x80"),
        bytes("truncated sequence", b"\xe2\x82"),
        bytes("Latin-1", b"caf\xe9"),
    ]
}

/// Arrays nested `depth` deep, as text.
fn deep_json(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Objects nested `depth` deep, as text.
fn deep_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

// What each slot's contract accepts: such values are not hostile there, and are left out.

fn text_of(value: &V) -> Option<&str> {
    match value {
        V::Text(text) => Some(text),
        _ => None,
    }
}

fn is_graph_id(value: &V) -> bool {
    text_of(value)
        .is_some_and(|t| !t.is_empty() && t.len() <= 32 && t.bytes().all(|b| b.is_ascii_digit()))
}

fn is_one_of(value: &V, allowed: &[&str]) -> bool {
    text_of(value).is_some_and(|t| allowed.contains(&t))
}

fn is_permission(value: &V) -> bool {
    text_of(value).is_some_and(|t| {
        !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

fn is_reason(value: &V) -> bool {
    text_of(value).is_some_and(|t| {
        !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_- .".contains(&b))
    })
}

fn is_partner_ref(value: &V) -> bool {
    text_of(value).is_some_and(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b))
    })
}

fn is_null(value: &V) -> bool {
    matches!(value, V::Json(Value::Null))
}

fn is_bool_or_null(value: &V) -> bool {
    matches!(value, V::Json(Value::Bool(_) | Value::Null))
}

fn never(_: &V) -> bool {
    false
}

// Rendering a value into a body, a query, a path or a form.

const PLACEHOLDER: &str = "\u{1}hostile\u{1}";

/// `template` with the value at `pointer` replaced by `value`, as body bytes.
fn splice(template: &Value, pointer: &str, value: &V) -> Vec<u8> {
    let mut body = template.clone();
    let slot = body
        .pointer_mut(pointer)
        .expect("the slot is in the template");
    *slot = match value {
        V::Text(text) => Value::String(text.clone()),
        V::Json(json) => json.clone(),
        V::RawJson(_) | V::Bytes(_) => Value::String(PLACEHOLDER.into()),
    };
    let text = body.to_string();
    let marker = Value::String(PLACEHOLDER.into()).to_string();
    match value {
        V::RawJson(raw) => text.replacen(&marker, raw, 1).into_bytes(),
        V::Bytes(bytes) => {
            let (before, after) = text.split_once(&marker).expect("the marker");
            [before.as_bytes(), b"\"", bytes, b"\"", after.as_bytes()].concat()
        }
        _ => text.into_bytes(),
    }
}

fn percent_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// A query or form value; only text and bytes go there.
fn query_value(value: &V) -> Option<String> {
    match value {
        V::Text(text) => Some(url::form_urlencoded::byte_serialize(text.as_bytes()).collect()),
        V::Bytes(bytes) => Some(percent_all(bytes)),
        _ => None,
    }
}

/// A path segment: everything but unreserved characters percent-encoded.
fn path_segment(value: &V) -> Option<String> {
    let encode = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    match value {
        V::Text(text) => Some(encode(text.as_bytes())),
        V::Bytes(bytes) => Some(encode(bytes)),
        _ => None,
    }
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `X-Hub-Signature-256` of `body` with `key`.
fn hub_signature(key: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(key.as_bytes(), body)))
}

/// A `signed_request` of `payload` (any bytes), signed with `key`.
fn signed_request(key: &str, payload: &[u8]) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(payload);
    let signature = URL_SAFE_NO_PAD.encode(hmac(key.as_bytes(), encoded.as_bytes()));
    format!("{signature}.{encoded}")
}

fn form(signed_request: &str) -> Vec<u8> {
    let value: String = url::form_urlencoded::byte_serialize(signed_request.as_bytes()).collect();
    format!("signed_request={value}").into_bytes()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

// The cases.

/// Request headers: names are ours, values may be hostile.
type Headers = Vec<(&'static str, String)>;

#[derive(Clone, Copy)]
enum Browser {
    /// This stack's browser, with the cookie that opened its sessions.
    Main,
    /// Another browser, without that cookie.
    Other,
}

enum Send {
    Http {
        browser: Browser,
        method: &'static str,
        path: String,
        headers: Headers,
        body: Vec<u8>,
    },
    /// An API Gateway event straight to the function, as API Gateway sends bodies that are
    /// not text (`cargo lambda watch` refuses those itself).
    Event {
        function: &'static str,
        event: Value,
    },
    /// A direct invocation; the refusal must be one of `expect`.
    Invoke {
        function: &'static str,
        payload: Vec<u8>,
        expect: &'static [&'static str],
    },
}

const INVALID: &[&str] = &["InvalidRequest"];
const NOT_FOUND: &[&str] = &["ClientNotFound"];

fn function_of(path: &str) -> &'static str {
    if path.starts_with("/onboarding") || path.starts_with("/oauth") {
        "oauth-callback"
    } else if path.starts_with("/clients") {
        "dataset-lookup"
    } else {
        "offboarding"
    }
}

/// A GET; an address longer than an HTTP client sends goes straight to the function, as an
/// API Gateway event (see [`reaches_its_function`]).
fn get(browser: Browser, path: String) -> Send {
    if path.len() <= 60_000 {
        return request(browser, "GET", path, vec![], vec![]);
    }
    let (path, query) = path.split_once('?').unwrap_or((&path, ""));
    Send::Event {
        function: function_of(path),
        event: http_event("GET", path, query, &[], b""),
    }
}

fn request(
    browser: Browser,
    method: &'static str,
    path: String,
    headers: Headers,
    body: Vec<u8>,
) -> Send {
    Send::Http {
        browser,
        method,
        path,
        headers,
        body,
    }
}

/// A POST from this stack's browser; a body that is not UTF-8 goes as API Gateway sends it.
fn post(path: &str, content_type: &str, body: Vec<u8>, headers: &[(&'static str, String)]) -> Send {
    let mut headers = headers.to_vec();
    if !content_type.is_empty() {
        headers.push(("content-type", content_type.to_owned()));
    }
    if std::str::from_utf8(&body).is_ok() {
        return request(Browser::Main, "POST", path.to_owned(), headers, body);
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    Send::Event {
        function: function_of(path),
        event: http_event("POST", path, "", &headers, &body),
    }
}

fn post_json(path: &str, body: Vec<u8>) -> Send {
    post(path, "application/json", body, &[])
}

fn invoke(function: &'static str, payload: Vec<u8>, expect: &'static [&'static str]) -> Send {
    Send::Invoke {
        function,
        payload,
        expect,
    }
}

struct Case {
    target: &'static str,
    what: String,
    send: Send,
}

/// API Gateway passes at most 10240 bytes of request line and headers, so a longer address
/// reaches a function only as a direct invocation of a forged event. oauth-callback answers
/// HTTP only, under lambda_http's own event conversion, which panics on an address longer than
/// a URI may be: such events are left out for it (the functions with a direct door refuse
/// them).
fn reaches_its_function(send: &Send) -> bool {
    match send {
        Send::Event {
            function: "oauth-callback",
            event,
        } => {
            let length = |field: &str| event[field].as_str().map_or(0, str::len);
            length("rawPath") + length("rawQueryString") <= 10_240
        }
        _ => true,
    }
}

#[derive(Default)]
struct Corpus {
    cases: Vec<Case>,
    seen: BTreeSet<(&'static str, String)>,
    /// Cases that cannot reach their function, by [`reaches_its_function`].
    left_out: usize,
}

impl Corpus {
    fn add(&mut self, target: &'static str, what: impl Into<String>, send: Send) {
        if !reaches_its_function(&send) {
            self.left_out += 1;
            return;
        }
        let what = what.into();
        if self.seen.insert((target, what.clone())) {
            self.cases.push(Case { target, what, send });
        }
    }

    /// Crosses one slot of a target with every hostile value its contract does not accept
    /// and that can be put there.
    fn cross(
        &mut self,
        values: &[Hostile],
        target: &'static str,
        slot: &str,
        accepts: impl Fn(&V) -> bool,
        render: impl Fn(&V) -> Option<Send>,
    ) {
        for hostile in values.iter().filter(|h| !accepts(&h.value)) {
            if let Some(send) = render(&hostile.value) {
                self.add(target, format!("{slot} = {}", hostile.name), send);
            }
        }
    }

    /// `cross` for a GET from this stack's browser: each value, encoded by `encode`, goes into
    /// the address `address` makes of it.
    fn cross_get(
        &mut self,
        values: &[Hostile],
        target: &'static str,
        slot: &str,
        accepts: impl Fn(&V) -> bool,
        encode: fn(&V) -> Option<String>,
        address: impl Fn(&str) -> String,
    ) {
        self.cross(values, target, slot, accepts, |v| {
            Some(get(Browser::Main, address(&encode(v)?)))
        });
    }
}

/// What the corpus runs against, set up before the first snapshot.
struct Fixtures {
    /// An onboarded client business.
    client: String,
    /// A pending session this stack's browser opened.
    pending: String,
    /// The onboarded client's session, completed in this stack's browser.
    completed: String,
    /// A session that expired.
    expired: String,
    /// A well-formed state no session has.
    unknown: String,
    /// A fresh `signed_request` a callback would accept, for a user with no clients.
    valid_signed_request: String,
    /// A webhook body that would be recorded if its signature were accepted.
    harmless_delivery: Vec<u8>,
}

fn http_routes(corpus: &mut Corpus, values: &[Hostile], f: &Fixtures) {
    let Fixtures {
        client,
        pending,
        unknown,
        ..
    } = f;

    // POST /onboarding/sessions
    let target = "POST /onboarding/sessions";
    let sessions = |template: Value, pointer: &'static str| {
        move |v: &V| {
            Some(post_json(
                "/onboarding/sessions",
                splice(&template, pointer, v),
            ))
        }
    };
    let obo = json!({"partner_ref": "acct-hostile", "mode": "obo",
        "client_business_id": "3000000000000002",
        "assets": [{"id": "6000000000000002", "type": "page", "tasks": ["MANAGE"]}],
        "scope": ["pages_show_list"]});
    corpus.cross(
        values,
        target,
        "partner_ref",
        is_partner_ref,
        sessions(json!({"partner_ref": null}), "/partner_ref"),
    );
    corpus.cross(
        values,
        target,
        "mode",
        |v| is_one_of(v, &["bisu", "obo"]) || is_null(v),
        sessions(
            json!({"partner_ref": "acct-hostile", "mode": null}),
            "/mode",
        ),
    );
    corpus.cross(
        values,
        target,
        "client_business_id",
        |v| is_graph_id(v) || is_null(v),
        sessions(obo.clone(), "/client_business_id"),
    );
    corpus.cross(
        values,
        target,
        "assets[0].id",
        is_graph_id,
        sessions(obo.clone(), "/assets/0/id"),
    );
    corpus.cross(
        values,
        target,
        "assets[0].type",
        |v| is_one_of(v, &["page", "catalog", "ad_account"]),
        sessions(obo.clone(), "/assets/0/type"),
    );
    corpus.cross(
        values,
        target,
        "assets[0].tasks[0]",
        |v| text_of(v).is_some_and(|t| t.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')),
        sessions(obo.clone(), "/assets/0/tasks/0"),
    );
    corpus.cross(
        values,
        target,
        "scope[0]",
        is_permission,
        sessions(obo.clone(), "/scope/0"),
    );

    // The browser routes' parameters, from this stack's browser.
    for (target, path) in [
        ("GET /onboarding", "/onboarding"),
        ("GET /onboarding/start", "/onboarding/start"),
    ] {
        corpus.cross_get(values, target, "session", never, query_value, |v| {
            format!("{path}?session={v}")
        });
    }
    corpus.cross_get(
        values,
        "GET /onboarding",
        "connected (pending session)",
        |v| text_of(v).is_some_and(|t| t.len() <= 1 && !t.chars().any(char::is_control)),
        query_value,
        |v| format!("/onboarding?session={pending}&connected={v}"),
    );
    let target = "GET /oauth/callback";
    corpus.cross_get(values, target, "state", never, query_value, |v| {
        format!("/oauth/callback?code=AQhostile&state={v}")
    });
    corpus.cross_get(
        values,
        target,
        "code (unknown state)",
        never,
        query_value,
        |v| format!("/oauth/callback?code={v}&state={unknown}"),
    );
    corpus.cross_get(
        values,
        target,
        "error (pending session)",
        never,
        query_value,
        |v| format!("/oauth/callback?error={v}&state={pending}"),
    );
    corpus.cross_get(values, target, "error_reason", never, query_value, |v| {
        format!("/oauth/callback?error=access_denied&error_reason={v}&state={pending}")
    });
    let target = "POST /oauth/code";
    let code_template = json!({"code": "AQhostile", "state": unknown});
    corpus.cross(values, target, "code (unknown state)", never, |v| {
        Some(post_json("/oauth/code", splice(&code_template, "/code", v)))
    });
    corpus.cross(values, target, "state", never, |v| {
        Some(post_json(
            "/oauth/code",
            splice(&code_template, "/state", v),
        ))
    });

    // dataset-lookup
    for (target, tail) in [
        ("GET /clients/{id}", ""),
        ("GET /clients/{id}/datasets", "/datasets"),
    ] {
        corpus.cross_get(values, target, "id", is_graph_id, path_segment, |v| {
            format!("/clients/{v}{tail}")
        });
    }
    corpus.cross_get(
        values,
        "GET /clients/{id}/datasets",
        "refresh (onboarded client)",
        |v| is_one_of(v, &["true", "false"]),
        query_value,
        |v| format!("/clients/{client}/datasets?refresh={v}"),
    );

    // GET /webhooks/meta: the handshake's parameters, the others right.
    let target = "GET /webhooks/meta";
    let token: String =
        url::form_urlencoded::byte_serialize(WEBHOOK_VERIFY_TOKEN.as_bytes()).collect();
    corpus.cross_get(
        values,
        target,
        "hub.mode",
        |v| is_one_of(v, &["subscribe"]),
        query_value,
        |v| format!("/webhooks/meta?hub.mode={v}&hub.verify_token={token}&hub.challenge=1"),
    );
    corpus.cross_get(
        values,
        target,
        "hub.verify_token",
        never,
        query_value,
        |v| format!("/webhooks/meta?hub.mode=subscribe&hub.verify_token={v}&hub.challenge=1"),
    );
    // A challenge is echoed as plain text when it is 1 to 256 characters without controls.
    corpus.cross_get(
        values,
        target,
        "hub.challenge",
        |v| {
            text_of(v).is_some_and(|t| {
                !t.is_empty() && t.len() <= 256 && !t.chars().any(char::is_control)
            })
        },
        query_value,
        |v| format!("/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge={v}"),
    );

    // GET /meta/data-deletion/{code}
    corpus.cross_get(
        values,
        "GET /meta/data-deletion/{code}",
        "code",
        never,
        path_segment,
        |v| format!("/meta/data-deletion/{v}"),
    );
}

/// Signed webhook deliveries whose content is hostile: the signature holds, the body does not.
fn webhooks(corpus: &mut Corpus, values: &[Hostile], f: &Fixtures) {
    let target = "POST /webhooks/meta";
    let signed = |body: Vec<u8>| {
        let signature = hub_signature(APP_SECRET, &body);
        post(
            "/webhooks/meta",
            "application/json",
            body,
            &[("x-hub-signature-256", signature)],
        )
    };
    let time = now();
    // A first change that would be recorded, then the hostile one: a delivery that is
    // refused must record neither.
    let two_changes = json!({"object": "application", "entry": [{"id": APP_ID, "time": time, "changes": [
        {"field": "business_integration_install", "value": {"business_manager_id": UNKNOWN_ID}},
        {"field": "business_integration_uninstall", "value": {"business_manager_id": null}}]}]});
    corpus.cross(
        values,
        target,
        "signed, second change's business_manager_id",
        |v| is_graph_id(v) || matches!(v, V::Json(n) if n.is_u64()),
        |v| {
            Some(signed(splice(
                &two_changes,
                "/entry/0/changes/1/value/business_manager_id",
                v,
            )))
        },
    );
    let one_change = json!({"object": "application", "entry": [{"id": APP_ID, "time": time, "changes": [
        {"field": "business_integration_uninstall", "value": {"business_manager_id": UNKNOWN_ID}}],
        "changed_fields": []}]});
    corpus.cross(
        values,
        target,
        "signed, object",
        |v| matches!(v, V::Text(_)),
        |v| Some(signed(splice(&one_change, "/object", v))),
    );
    corpus.cross(
        values,
        target,
        "signed, entry",
        // serde reads an entry from an array of its fields too: an entry with an odd id is
        // for another app, and ignored.
        |v| matches!(v, V::Json(Value::Array(a)) if a.iter().all(|e| e.is_array() || e.is_object())),
        |v| Some(signed(splice(&one_change, "/entry", v))),
    );
    corpus.cross(
        values,
        target,
        "signed, time",
        |v| matches!(v, V::Json(n) if n.is_i64()),
        |v| Some(signed(splice(&one_change, "/entry/0/time", v))),
    );
    corpus.cross(
        values,
        target,
        "signed, changes",
        |v| matches!(v, V::Json(Value::Array(a)) if a.is_empty()),
        |v| Some(signed(splice(&one_change, "/entry/0/changes", v))),
    );
    corpus.cross(
        values,
        target,
        "signed, field",
        |v| matches!(v, V::Text(_)),
        |v| Some(signed(splice(&one_change, "/entry/0/changes/0/field", v))),
    );
    corpus.cross(
        values,
        target,
        "signed, changed_fields",
        |v| matches!(v, V::Json(Value::Array(a)) if a.iter().all(Value::is_string)),
        |v| Some(signed(splice(&one_change, "/entry/0/changed_fields", v))),
    );

    // Whole bodies, signed: the signature holds, the JSON does not.
    let body = String::from_utf8(f.harmless_delivery.clone()).expect("UTF-8");
    let signed_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not JSON", b"hello".to_vec()),
        ("truncated", body.as_bytes()[..body.len() / 2].to_vec()),
        ("JSON array", b"[]".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("nested 10,000 deep", deep_json(10_000).into_bytes()),
        (
            "objects nested 10,000 deep",
            deep_objects(10_000).into_bytes(),
        ),
        (
            "byte order mark",
            [b"\xef\xbb\xbf".as_slice(), body.as_bytes()].concat(),
        ),
        ("trailing garbage", format!("{body} x").into_bytes()),
        ("invalid UTF-8", [body.as_bytes(), b"\xff"].concat()),
        (
            "UTF-16",
            body.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
        ("no object", br#"{"entry":[]}"#.to_vec()),
    ];
    for (what, body) in signed_bodies {
        corpus.add(target, format!("signed body: {what}"), signed(body));
    }

    // Signatures that must not hold.
    let body = &f.harmless_delivery;
    let right = hub_signature(APP_SECRET, body);
    let replayed_onto = String::from_utf8(body.clone())
        .expect("UTF-8")
        .replace(UNKNOWN_ID, "3999999999999998");
    let forged: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("no signature", body.clone(), vec![]),
        (
            "empty signature",
            body.clone(),
            vec![("x-hub-signature-256", String::new())],
        ),
        (
            "prefix only",
            body.clone(),
            vec![("x-hub-signature-256", "sha256=".into())],
        ),
        (
            "zeros",
            body.clone(),
            vec![("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))],
        ),
        (
            "not hex",
            body.clone(),
            vec![("x-hub-signature-256", format!("sha256={}", "z".repeat(64)))],
        ),
        (
            "truncated",
            body.clone(),
            vec![("x-hub-signature-256", right[..right.len() - 2].to_owned())],
        ),
        (
            "one bit off",
            body.clone(),
            vec![(
                "x-hub-signature-256",
                format!(
                    "{}{}",
                    &right[..right.len() - 1],
                    if right.ends_with('0') { '1' } else { '0' }
                ),
            )],
        ),
        (
            "another key",
            body.clone(),
            vec![(
                "x-hub-signature-256",
                hub_signature("not-the-app-secret", body),
            )],
        ),
        (
            "keyed with the verify token",
            body.clone(),
            vec![(
                "x-hub-signature-256",
                hub_signature(WEBHOOK_VERIFY_TOKEN, body),
            )],
        ),
        (
            "SHA-1 prefix",
            body.clone(),
            vec![("x-hub-signature-256", right.replace("sha256=", "sha1="))],
        ),
        (
            "upper-case prefix",
            body.clone(),
            vec![("x-hub-signature-256", right.replace("sha256=", "SHA256="))],
        ),
        (
            "in the SHA-1 header",
            body.clone(),
            vec![("x-hub-signature", right.clone())],
        ),
        (
            "replayed onto another body",
            replayed_onto.clone().into_bytes(),
            vec![("x-hub-signature-256", right.clone())],
        ),
        (
            "replayed onto the body plus a space",
            [body.as_slice(), b" "].concat(),
            vec![("x-hub-signature-256", right.clone())],
        ),
        (
            "replayed onto a truncated body",
            body[..body.len() - 1].to_vec(),
            vec![("x-hub-signature-256", right.clone())],
        ),
        (
            "forged then right, repeated header",
            body.clone(),
            vec![
                ("x-hub-signature-256", format!("sha256={}", "0".repeat(64))),
                ("x-hub-signature-256", right.clone()),
            ],
        ),
    ];
    for (what, body, headers) in forged {
        corpus.add(
            target,
            format!("forged signature: {what}"),
            post("/webhooks/meta", "application/json", body, &headers),
        );
    }
    // A header this long never passes API Gateway (nor `cargo lambda watch`, which may drop
    // the connection): straight to the function.
    let long_signature = format!("sha256={}", "a".repeat(1 << 20));
    corpus.add(
        target,
        "forged signature: 1 MiB signature",
        Send::Event {
            function: "offboarding",
            event: http_event(
                "POST",
                "/webhooks/meta",
                "",
                &[
                    ("content-type", "application/json"),
                    ("x-hub-signature-256", &long_signature),
                ],
                body,
            ),
        },
    );
    // Unsigned hostile bodies are refused for their signature before they are read.
    for hostile in values {
        let body = splice(
            &one_change,
            "/entry/0/changes/0/value/business_manager_id",
            &hostile.value,
        );
        corpus.add(
            target,
            format!("unsigned, business_manager_id = {}", hostile.name),
            post("/webhooks/meta", "application/json", body, &[]),
        );
    }
}

/// The `signed_request` callbacks: forged, stale and hostile payloads, each to both routes.
fn callbacks(corpus: &mut Corpus, values: &[Hostile], f: &Fixtures) {
    let time = now();
    let payload = json!({"algorithm": "HMAC-SHA256", "issued_at": time, "user_id": NOBODY});
    for (target, path) in [
        ("POST /meta/deauthorize", "/meta/deauthorize"),
        ("POST /meta/data-deletion", "/meta/data-deletion"),
    ] {
        let signed = |payload: Vec<u8>| {
            post(
                path,
                "application/x-www-form-urlencoded",
                form(&signed_request(APP_SECRET, &payload)),
                &[],
            )
        };
        corpus.cross(values, target, "signed_request", never, |v| {
            Some(post(
                path,
                "application/x-www-form-urlencoded",
                format!("signed_request={}", query_value(v)?).into_bytes(),
                &[],
            ))
        });
        corpus.cross(
            values,
            target,
            "signed, user_id",
            |v| is_graph_id(v) || matches!(v, V::Json(n) if n.is_u64()),
            |v| Some(signed(splice(&payload, "/user_id", v))),
        );
        corpus.cross(
            values,
            target,
            "signed, algorithm",
            |v| text_of(v).is_some_and(|t| t.eq_ignore_ascii_case("HMAC-SHA256")),
            |v| Some(signed(splice(&payload, "/algorithm", v))),
        );
        corpus.cross(
            values,
            target,
            "signed, issued_at",
            |v| matches!(v, V::Json(n) if n.as_i64().is_some_and(|t| (time - 86_400..=time + 300).contains(&t))),
            |v| Some(signed(splice(&payload, "/issued_at", v))),
        );

        let sign_with =
            |key: &str, payload: &Value| signed_request(key, payload.to_string().as_bytes());
        let at = |issued_at: i64| json!({"algorithm": "HMAC-SHA256", "issued_at": issued_at, "user_id": NOBODY});
        let good = &f.valid_signed_request;
        let (good_signature, good_payload) = good.split_once('.').expect("two parts");
        let other_payload = URL_SAFE_NO_PAD.encode(at(time + 1).to_string());
        // The standard alphabet differs from base64url only in `+` and `/`: a signature that
        // has one of them there.
        let standard_alphabet = (0..)
            .find_map(|earlier| {
                let payload = URL_SAFE_NO_PAD.encode(at(time - earlier).to_string());
                let signature = STANDARD.encode(hmac(APP_SECRET.as_bytes(), payload.as_bytes()));
                signature
                    .contains(['+', '/'])
                    .then(|| format!("{signature}.{payload}"))
            })
            .expect("a signature with + or /");
        let forged: Vec<(&str, String)> = vec![
            // Expired: signed with the app secret, issued too long ago.
            ("expired by a minute", sign_with(APP_SECRET, &at(time - 86_400 - 60))),
            ("expired years ago", sign_with(APP_SECRET, &at(1_000_000_000))),
            ("issued at 0", sign_with(APP_SECRET, &at(0))),
            ("issued before 1970", sign_with(APP_SECRET, &at(-1))),
            ("issued in an hour", sign_with(APP_SECRET, &at(time + 3600))),
            ("issued at i64::MAX", sign_with(APP_SECRET, &at(i64::MAX))),
            ("issued at i64::MIN", sign_with(APP_SECRET, &at(i64::MIN))),
            ("another key", sign_with("not-the-app-secret", &at(time))),
            ("keyed with the verify token", sign_with(WEBHOOK_VERIFY_TOKEN, &at(time))),
            ("signature replayed onto another payload", format!("{good_signature}.{other_payload}")),
            ("signature reversed", format!("{}.{good_payload}", good_signature.chars().rev().collect::<String>())),
            ("signature in standard base64", standard_alphabet),
            ("no signature", format!(".{good_payload}")),
            ("no payload", format!("{good_signature}.")),
            ("no dot", good.replace('.', "")),
            ("three parts", format!("{good}.{good_payload}")),
            ("truncated", good[..good.len() - 5].to_owned()),
            ("payload not base64", format!("{good_signature}.***")),
            ("payload not JSON", signed_request(APP_SECRET, b"hello")),
            ("payload a JSON array", signed_request(APP_SECRET, b"[]")),
            ("payload nested 1,500 deep", signed_request(APP_SECRET, deep_json(1_500).as_bytes())),
            ("payload not UTF-8", signed_request(APP_SECRET, b"{\"user_id\":\"\xff\"}")),
            ("payload without algorithm", sign_with(APP_SECRET, &json!({"issued_at": time, "user_id": NOBODY}))),
            ("payload without issued_at", sign_with(APP_SECRET, &json!({"algorithm": "HMAC-SHA256", "user_id": NOBODY}))),
            ("payload without user_id", sign_with(APP_SECRET, &json!({"algorithm": "HMAC-SHA256", "issued_at": time}))),
            ("algorithm none", sign_with(APP_SECRET, &json!({"algorithm": "none", "issued_at": time, "user_id": NOBODY}))),
            ("4 KiB and more", signed_request(APP_SECRET, json!({"algorithm": "HMAC-SHA256", "issued_at": time, "user_id": NOBODY, "pad": "x".repeat(4096)}).to_string().as_bytes())),
        ];
        for (what, value) in forged {
            corpus.add(
                target,
                format!("signed_request: {what}"),
                post(path, "application/x-www-form-urlencoded", form(&value), &[]),
            );
        }
        // A valid signed_request, wrongly sent.
        let valid = form(good);
        let form_cases: Vec<(&str, &str, Vec<u8>)> = vec![
            (
                "repeated",
                "application/x-www-form-urlencoded",
                [valid.as_slice(), b"&", &valid].concat(),
            ),
            (
                "repeated, second forged",
                "application/x-www-form-urlencoded",
                [valid.as_slice(), b"&signed_request=x.y"].concat(),
            ),
            ("empty form", "application/x-www-form-urlencoded", vec![]),
            (
                "other field only",
                "application/x-www-form-urlencoded",
                b"signed=1".to_vec(),
            ),
            (
                "form over 8 KiB",
                "application/x-www-form-urlencoded",
                [valid.as_slice(), b"&pad=", "x".repeat(9000).as_bytes()].concat(),
            ),
            (
                "1 MiB form",
                "application/x-www-form-urlencoded",
                [valid.as_slice(), b"&pad=", "x".repeat(1 << 20).as_bytes()].concat(),
            ),
            (
                "as JSON",
                "application/json",
                json!({"signed_request": good}).to_string().into_bytes(),
            ),
            ("no content type", "", valid.clone()),
            ("text/plain", "text/plain", valid.clone()),
            (
                "multipart",
                "multipart/form-data; boundary=hostile",
                valid.clone(),
            ),
            ("application/xml", "application/xml", valid.clone()),
            (
                "a longer media type",
                "application/x-www-form-urlencodedx",
                valid.clone(),
            ),
            (
                "invalid UTF-8 in the form",
                "application/x-www-form-urlencoded",
                b"signed_request=\xff\xfe".to_vec(),
            ),
            (
                "overlong encoding in the form",
                "application/x-www-form-urlencoded",
                b"signed_request=\xc0\xaf".to_vec(),
            ),
            (
                "percent-encoded bytes that are not UTF-8",
                "application/x-www-form-urlencoded",
                b"signed_request=%FF%FE.%C0%AF".to_vec(),
            ),
            (
                "NUL in the form",
                "application/x-www-form-urlencoded",
                b"signed_request=%00".to_vec(),
            ),
        ];
        for (what, content_type, body) in form_cases {
            corpus.add(
                target,
                format!("valid signed_request: {what}"),
                post(path, content_type, body, &[]),
            );
        }
    }
}

/// The direct invocation shapes of DESIGN section 3, one slot at a time.
fn invocations(corpus: &mut Corpus, values: &[Hostile], f: &Fixtures) {
    let id = f.client.as_str();
    type Accepts = fn(&V) -> bool;
    // (function, target, slot, template, where the value goes, what the contract accepts)
    type Slot = (
        &'static str,
        &'static str,
        &'static str,
        Value,
        &'static str,
        Accepts,
    );
    let slot = |function, target, slot, template, pointer, accepts: Accepts| -> Slot {
        (function, target, slot, template, pointer, accepts)
    };
    let slots = vec![
        slot(
            "token-fetch",
            "token-fetch {client_business_id, force_refresh?}",
            "client_business_id",
            json!({"client_business_id": null}),
            "/client_business_id",
            is_graph_id,
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, force_refresh?}",
            "force_refresh",
            json!({"client_business_id": id, "force_refresh": null}),
            "/force_refresh",
            is_bool_or_null,
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, scope, assets?, expires_in_60_days?}",
            "scope",
            json!({"client_business_id": id, "scope": null}),
            "/scope",
            |v| {
                is_null(v)
                    || matches!(v, V::Json(Value::Array(a)) if !a.is_empty()
                && a.iter().all(|s| s.as_str().is_some_and(|t| is_permission(&V::Text(t.into())))))
            },
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, scope, assets?, expires_in_60_days?}",
            "scope[0]",
            json!({"client_business_id": id, "scope": [null]}),
            "/scope/0",
            is_permission,
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, scope, assets?, expires_in_60_days?}",
            "assets",
            json!({"client_business_id": id, "scope": ["ads_management"], "assets": null}),
            "/assets",
            |v| is_null(v) || matches!(v, V::Json(Value::Array(a)) if a.is_empty()),
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, scope, assets?, expires_in_60_days?}",
            "assets[0]",
            json!({"client_business_id": id, "scope": ["ads_management"], "assets": [null]}),
            "/assets/0",
            is_graph_id,
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, scope, assets?, expires_in_60_days?}",
            "expires_in_60_days",
            json!({"client_business_id": id, "scope": ["ads_management"], "expires_in_60_days": null}),
            "/expires_in_60_days",
            is_bool_or_null,
        ),
        slot(
            "token-fetch",
            "token-fetch {client_business_id, page_id}",
            "page_id",
            json!({"client_business_id": id, "page_id": null}),
            "/page_id",
            |v| is_graph_id(v) || is_null(v),
        ),
        slot(
            "token-fetch",
            "token-fetch {owner: partner, page_id}",
            "page_id",
            json!({"owner": "partner", "page_id": null}),
            "/page_id",
            |v| is_graph_id(v) || is_null(v),
        ),
        slot(
            "token-fetch",
            "token-fetch {owner: partner, page_id}",
            "owner",
            json!({"owner": null, "page_id": "6000000000000001"}),
            "/owner",
            |v| is_one_of(v, &["partner"]) || is_null(v),
        ),
        slot(
            "token-fetch",
            "token-fetch {owner: partner}",
            "owner",
            json!({"owner": null}),
            "/owner",
            |v| is_one_of(v, &["partner"]),
        ),
        slot(
            "token-fetch",
            "token-fetch {action: pages, client_business_id}",
            "client_business_id",
            json!({"action": "pages", "client_business_id": null}),
            "/client_business_id",
            is_graph_id,
        ),
        slot(
            "token-fetch",
            "token-fetch {action: pages, owner: partner}",
            "owner",
            json!({"action": "pages", "owner": null}),
            "/owner",
            |v| is_one_of(v, &["partner"]),
        ),
        slot(
            "token-fetch",
            "token-fetch {action: partner.provision, system_user_id, scope}",
            "system_user_id",
            json!({"action": "partner.provision", "system_user_id": null, "scope": ["business_management"]}),
            "/system_user_id",
            is_graph_id,
        ),
        slot(
            "token-fetch",
            "token-fetch {action: partner.provision, system_user_id, scope}",
            "scope[0]",
            json!({"action": "partner.provision", "system_user_id": NOBODY, "scope": [null]}),
            "/scope/0",
            is_permission,
        ),
        slot(
            "token-fetch",
            "token-fetch {action: partner.provision, system_user_id, scope}",
            "expires_in_60_days",
            json!({"action": "partner.provision", "system_user_id": NOBODY, "scope": ["business_management"], "expires_in_60_days": null}),
            "/expires_in_60_days",
            is_bool_or_null,
        ),
        slot(
            "token-fetch",
            "token-fetch {action: partner.rotate}",
            "an extra page_id",
            json!({"action": "partner.rotate", "page_id": null}),
            "/page_id",
            is_null,
        ),
        slot(
            "token-fetch",
            "token-fetch {action: sweep, max_items?}",
            "max_items",
            json!({"action": "sweep", "max_items": null}),
            "/max_items",
            |v| matches!(v, V::Json(n) if n.is_u64() || n.is_null()),
        ),
        slot(
            "token-fetch",
            "token-fetch {action}",
            "action",
            json!({"action": null}),
            "/action",
            |v| {
                is_one_of(
                    v,
                    &["sweep", "pages", "partner.provision", "partner.rotate"],
                )
            },
        ),
        slot(
            "dataset-lookup",
            "dataset-lookup {client_business_id, refresh?}",
            "client_business_id",
            json!({"client_business_id": null}),
            "/client_business_id",
            is_graph_id,
        ),
        slot(
            "dataset-lookup",
            "dataset-lookup {client_business_id, refresh?}",
            "refresh",
            json!({"client_business_id": id, "refresh": null}),
            "/refresh",
            |v| matches!(v, V::Json(Value::Bool(_))),
        ),
        slot(
            "offboarding",
            "offboarding {client_business_id, reason, dataset_id?}",
            "client_business_id",
            json!({"client_business_id": null, "reason": "hostile corpus"}),
            "/client_business_id",
            is_graph_id,
        ),
        slot(
            "offboarding",
            "offboarding {client_business_id, reason, dataset_id?}",
            "reason",
            json!({"client_business_id": id, "reason": null}),
            "/reason",
            is_reason,
        ),
        slot(
            "offboarding",
            "offboarding {client_business_id, reason, dataset_id?}",
            "dataset_id",
            json!({"client_business_id": id, "reason": "hostile corpus", "dataset_id": null}),
            "/dataset_id",
            |v| is_graph_id(v) || is_null(v),
        ),
    ];
    for (function, target, name, template, pointer, accepts) in slots {
        corpus.cross(values, target, name, accepts, |v| {
            Some(invoke(function, splice(&template, pointer, v), INVALID))
        });
    }

    // Unknown clients are not found, by every shape that names one.
    for (function, target, payload) in [
        (
            "token-fetch",
            "token-fetch {client_business_id, force_refresh?}",
            json!({"client_business_id": UNKNOWN_ID}),
        ),
        (
            "token-fetch",
            "token-fetch {client_business_id, scope, assets?, expires_in_60_days?}",
            json!({"client_business_id": UNKNOWN_ID, "scope": ["ads_management"]}),
        ),
        (
            "token-fetch",
            "token-fetch {client_business_id, page_id}",
            json!({"client_business_id": UNKNOWN_ID, "page_id": "6000000000000001"}),
        ),
        (
            "token-fetch",
            "token-fetch {action: pages, client_business_id}",
            json!({"action": "pages", "client_business_id": UNKNOWN_ID}),
        ),
        (
            "dataset-lookup",
            "dataset-lookup {client_business_id, refresh?}",
            json!({"client_business_id": UNKNOWN_ID, "refresh": true}),
        ),
        (
            "dataset-lookup",
            "dataset-lookup {client_business_id, refresh?}",
            json!({"client_business_id": "000000000000000000000000000000000"[1..].to_owned()}),
        ),
    ] {
        corpus.add(
            target,
            format!("unknown client {payload}"),
            invoke(function, payload.to_string().into_bytes(), NOT_FOUND),
        );
    }

    // Whole payloads that are not one of the shapes, to each function.
    let valid = |function: &str| match function {
        "token-fetch" => json!({"client_business_id": id}).to_string(),
        "dataset-lookup" => json!({"client_business_id": id}).to_string(),
        _ => json!({"client_business_id": UNKNOWN_ID, "reason": "hostile corpus"}).to_string(),
    };
    for function in ["token-fetch", "dataset-lookup", "offboarding"] {
        let target: &'static str = match function {
            "token-fetch" => "token-fetch payload",
            "dataset-lookup" => "dataset-lookup payload",
            _ => "offboarding payload",
        };
        let ok = valid(function);
        let id_field = if function == "offboarding" {
            UNKNOWN_ID
        } else {
            id
        };
        // Not here: a JSON value followed by more. Lambda's Invoke API refuses a payload that is
        // not JSON before any function runs; `cargo lambda watch` passes it on, and the runtime
        // reads the first value.
        let payloads: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("whitespace", b" \n\t ".to_vec()),
            ("not JSON", b"hello".to_vec()),
            ("truncated", ok.as_bytes()[..ok.len() - 3].to_vec()),
            ("only an opening brace", b"{".to_vec()),
            ("unbalanced braces", b"{}}".to_vec()),
            (
                "byte order mark",
                [b"\xef\xbb\xbf".as_slice(), ok.as_bytes()].concat(),
            ),
            ("comment", format!("/* hostile */ {ok}").into_bytes()),
            ("single quotes", ok.replace('"', "'").into_bytes()),
            ("NaN", b"NaN".to_vec()),
            ("Infinity", br#"{"client_business_id": Infinity}"#.to_vec()),
            ("a string", br#""client""#.to_vec()),
            ("a number", b"42".to_vec()),
            ("true", b"true".to_vec()),
            ("null", b"null".to_vec()),
            ("an array of the payload", format!("[{ok}]").into_bytes()),
            ("arrays nested 10,000 deep", deep_json(10_000).into_bytes()),
            (
                "objects nested 10,000 deep",
                deep_objects(10_000).into_bytes(),
            ),
            (
                "deep inside a field",
                format!(r#"{{"client_business_id":{}}}"#, deep_json(10_000)).into_bytes(),
            ),
            (
                "lone surrogate",
                br#"{"client_business_id":"\ud800"}"#.to_vec(),
            ),
            (
                "invalid UTF-8",
                b"{\"client_business_id\":\"\xff\"}".to_vec(),
            ),
            (
                "UTF-16",
                ok.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            ),
            (
                "duplicate key, same value",
                format!(
                    r#"{{"client_business_id":"{id_field}","client_business_id":"{id_field}"{}}}"#,
                    if function == "offboarding" {
                        r#","reason":"hostile corpus""#
                    } else {
                        ""
                    }
                )
                .into_bytes(),
            ),
            (
                "duplicate key, bad then good",
                format!(
                    r#"{{"client_business_id":"x","client_business_id":"{id_field}"{}}}"#,
                    if function == "offboarding" {
                        r#","reason":"hostile corpus""#
                    } else {
                        ""
                    }
                )
                .into_bytes(),
            ),
            (
                "unknown field",
                format!(r#"{{"client_business_id":"{id_field}","admin":true}}"#).into_bytes(),
            ),
            (
                "__proto__",
                format!(r#"{{"client_business_id":"{id_field}","__proto__":{{"admin":true}}}}"#)
                    .into_bytes(),
            ),
            (
                "constructor",
                format!(
                    r#"{{"client_business_id":"{id_field}","constructor":{{"prototype":{{}}}}}}"#
                )
                .into_bytes(),
            ),
            (
                "1 MiB field name",
                format!(r#"{{"{}":1}}"#, "k".repeat(1 << 20)).into_bytes(),
            ),
            (
                "10,000 unknown fields",
                format!(
                    "{{{}}}",
                    (0..10_000)
                        .map(|i| format!(r#""f{i}":1"#))
                        .collect::<Vec<_>>()
                        .join(",")
                )
                .into_bytes(),
            ),
            (
                "NUL in a field name",
                b"{\"client_business_id\\u0000\":\"1\"}".to_vec(),
            ),
            (
                "an API Gateway event without a context",
                br#"{"requestContext":{}}"#.to_vec(),
            ),
            (
                "requestContext a number",
                format!(r#"{{"client_business_id":"{id_field}","requestContext":1}}"#).into_bytes(),
            ),
        ];
        for (what, payload) in payloads {
            corpus.add(target, what, invoke(function, payload, INVALID));
        }
    }
}

/// API Gateway events to the functions with both doors, whose parts make no HTTP request.
fn forged_events(corpus: &mut Corpus, f: &Fixtures) {
    let id = f.client.as_str();
    let event = |path: &str, query: &str, headers: &[(&str, &str)]| {
        http_event("GET", path, query, headers, b"")
    };
    for (function, target, path) in [
        (
            "dataset-lookup",
            "dataset-lookup API Gateway event",
            format!("/clients/{id}"),
        ),
        (
            "offboarding",
            "offboarding API Gateway event",
            "/meta/data-deletion/00000000000000000000000000000000".to_owned(),
        ),
    ] {
        let mut not_base64 = event(&path, "", &[]);
        not_base64["body"] = json!("!!! not base64 !!!");
        let mut method = event(&path, "", &[]);
        method["requestContext"]["http"]["method"] = json!("GET /");
        let mut domain = event(&path, "", &[]);
        domain["requestContext"]["domainName"] = json!("a b");
        let mut no_context_http = event(&path, "", &[]);
        no_context_http["requestContext"] = json!({"stage": "$default"});
        let mut header_crlf = event(&path, "", &[]);
        header_crlf["headers"] = json!({"x-hostile": "a\r\nb"});
        let events = vec![
            ("a body marked base64 that is not", not_base64),
            ("a path that is a port", event(":99999", "", &[])),
            ("a path that is a host", event("\u{e9}\u{0}", "", &[])),
            ("a quote in the raw query", event(&path, "a=\"b\"", &[])),
            (
                "angle brackets in the raw query",
                event(&path, "a=<b>", &[]),
            ),
            ("a space in the raw query", event(&path, "a=b c", &[])),
            ("NUL in the raw query", event(&path, "a=\u{0}", &[])),
            ("a host with a space", event(&path, "", &[("host", "a b")])),
            (
                "a host with a bad port",
                event(&path, "", &[("host", "example.com:99999")]),
            ),
            (
                "a forwarded scheme with a space",
                event(
                    &path,
                    "",
                    &[("host", "example.com"), ("x-forwarded-proto", "a b")],
                ),
            ),
            ("a domain name with a space", domain),
            ("a method with a space", method),
            ("a context without http", no_context_http),
            ("a header value with CRLF", header_crlf),
            (
                "a 64 KiB raw query",
                event(&path, &format!("refresh={}", "a".repeat(64 * 1024)), &[]),
            ),
        ];
        for (what, event) in events {
            corpus.add(target, what, Send::Event { function, event });
        }
    }
}

/// Routes and the other parts of HTTP: methods, content types, repeats, sessions of other
/// browsers, expired and unknown sessions, path shapes.
fn http_shapes(corpus: &mut Corpus, f: &Fixtures) {
    let Fixtures {
        client,
        pending,
        completed,
        expired,
        unknown,
        ..
    } = f;
    let deletion = "/meta/data-deletion/0123456789abcdef0123456789abcdef";
    let new_session = json!({"partner_ref": "acct-hostile"})
        .to_string()
        .into_bytes();
    let code_body = |state: &str| {
        json!({"code": "AQhostile", "state": state})
            .to_string()
            .into_bytes()
    };

    // Wrong methods, each with a body the right method would take.
    let routes: Vec<(&str, String, &[&'static str], Vec<u8>)> = vec![
        (
            "POST /onboarding/sessions",
            "/onboarding/sessions".into(),
            &["GET", "PUT", "DELETE", "PATCH"],
            new_session.clone(),
        ),
        (
            "GET /onboarding",
            format!("/onboarding?session={unknown}"),
            &["POST", "PUT", "DELETE", "PATCH"],
            vec![],
        ),
        (
            "GET /onboarding/start",
            format!("/onboarding/start?session={unknown}"),
            &["POST", "PUT", "DELETE", "PATCH"],
            vec![],
        ),
        (
            "GET /oauth/callback",
            format!("/oauth/callback?code=AQhostile&state={unknown}"),
            &["POST", "PUT", "DELETE", "PATCH"],
            vec![],
        ),
        (
            "POST /oauth/code",
            "/oauth/code".into(),
            &["GET", "PUT", "DELETE", "PATCH"],
            code_body(unknown),
        ),
        (
            "GET /clients/{id}",
            format!("/clients/{client}"),
            &["POST", "PUT", "DELETE", "PATCH", "HEAD"],
            vec![],
        ),
        (
            "GET /clients/{id}/datasets",
            format!("/clients/{client}/datasets?refresh=true"),
            &["POST", "PUT", "DELETE", "PATCH", "PROPFIND"],
            vec![],
        ),
        (
            "GET /webhooks/meta",
            "/webhooks/meta".into(),
            &["PUT", "DELETE", "PATCH"],
            f.harmless_delivery.clone(),
        ),
        (
            "POST /meta/deauthorize",
            "/meta/deauthorize".into(),
            &["GET", "PUT", "DELETE", "PATCH"],
            form(&f.valid_signed_request),
        ),
        (
            "POST /meta/data-deletion",
            "/meta/data-deletion".into(),
            &["GET", "PUT", "DELETE", "PATCH"],
            form(&f.valid_signed_request),
        ),
        (
            "GET /meta/data-deletion/{code}",
            deletion.into(),
            &["POST", "PUT", "DELETE", "PATCH"],
            vec![],
        ),
    ];
    for (target, path, methods, body) in routes {
        let content_type = if target.contains("/meta/d") && !target.contains("{code}") {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        for method in methods {
            corpus.add(
                target,
                format!("wrong method {method}"),
                request(
                    Browser::Main,
                    method,
                    path.clone(),
                    vec![("content-type", content_type.into())],
                    body.clone(),
                ),
            );
        }
        // cargo lambda watch answers OPTIONS itself (a CORS preflight): sent as API Gateway
        // would send it.
        let (route, query) = path.split_once('?').unwrap_or((&path, ""));
        corpus.add(
            target,
            "wrong method OPTIONS",
            Send::Event {
                function: function_of(route),
                event: http_event(
                    "OPTIONS",
                    route,
                    query,
                    &[("content-type", content_type)],
                    &body,
                ),
            },
        );
    }

    // Wrong content types, each with a body the right one would take.
    let media_types = [
        ("no content type", ""),
        ("text/plain", "text/plain"),
        ("form encoded", "application/x-www-form-urlencoded"),
        ("multipart", "multipart/form-data; boundary=hostile"),
        ("application/xml", "application/xml"),
        ("text/json", "text/json"),
        ("a longer media type", "application/jsonx"),
        ("a JSON suffix type", "application/merge-patch+json"),
        ("a list of types", "application/json, text/plain"),
        ("a wildcard", "*/*"),
    ];
    for (target, path, body) in [
        (
            "POST /onboarding/sessions",
            "/onboarding/sessions",
            new_session.clone(),
        ),
        ("POST /oauth/code", "/oauth/code", code_body(pending)),
    ] {
        for (what, content_type) in media_types {
            corpus.add(
                target,
                format!("wrong content type: {what}"),
                post(path, content_type, body.clone(), &[]),
            );
        }
    }

    // JSON bodies that are not the route's JSON.
    let valid_code = String::from_utf8(code_body(unknown)).expect("UTF-8");
    for (target, path, ok) in [
        (
            "POST /onboarding/sessions",
            "/onboarding/sessions",
            r#"{"partner_ref":"acct-hostile"}"#.to_owned(),
        ),
        ("POST /oauth/code", "/oauth/code", valid_code),
    ] {
        let first_key = ok.split('"').nth(1).expect("a key").to_owned();
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("whitespace", b"  ".to_vec()),
            ("null", b"null".to_vec()),
            ("array", b"[]".to_vec()),
            ("string", br#""x""#.to_vec()),
            ("number", b"42".to_vec()),
            ("truncated", ok.as_bytes()[..ok.len() - 2].to_vec()),
            ("arrays nested 4,000 deep", deep_json(4_000).into_bytes()),
            ("arrays nested 10,000 deep", deep_json(10_000).into_bytes()),
            (
                "objects nested 1,000 deep",
                deep_objects(1_000).into_bytes(),
            ),
            (
                "byte order mark",
                [b"\xef\xbb\xbf".as_slice(), ok.as_bytes()].concat(),
            ),
            ("trailing garbage", format!("{ok}x").into_bytes()),
            ("two objects", format!("{ok}{ok}").into_bytes()),
            ("comment", format!("/**/{ok}").into_bytes()),
            ("single quotes", ok.replace('"', "'").into_bytes()),
            (
                "duplicate field",
                ok.replacen('{', &format!(r#"{{"{first_key}":"x","#), 1)
                    .into_bytes(),
            ),
            (
                "__proto__",
                ok.replacen('{', r#"{"__proto__":{"admin":true},"#, 1)
                    .into_bytes(),
            ),
            (
                "64 KiB",
                format!(r#"{{"{first_key}":"{}"}}"#, "x".repeat(64 * 1024)).into_bytes(),
            ),
            (
                "1 MiB",
                format!(r#"{{"{first_key}":"{}"}}"#, "x".repeat(1 << 20)).into_bytes(),
            ),
            (
                "UTF-16",
                ok.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            ),
            ("invalid UTF-8", b"{\"partner_ref\":\"\xff\xfe\"}".to_vec()),
            (
                "overlong encoding",
                b"{\"partner_ref\":\"\xc0\xaf\"}".to_vec(),
            ),
            ("encoded surrogate", b"{\"code\":\"\xed\xa0\x80\"}".to_vec()),
            ("Latin-1", b"{\"partner_ref\":\"caf\xe9\"}".to_vec()),
        ];
        for (what, body) in bodies {
            corpus.add(target, format!("body: {what}"), post_json(path, body));
        }
    }
    // Bodies that are not UTF-8, to the webhook unsigned.
    for (what, body) in [
        ("invalid UTF-8", b"\xff\xfe".as_slice()),
        ("overlong encoding", b"{\"object\":\"\xc0\xaf\"}"),
        ("encoded surrogate", b"{\"object\":\"\xed\xa0\x80\"}"),
    ] {
        corpus.add(
            "POST /webhooks/meta",
            format!("unsigned body: {what}"),
            post("/webhooks/meta", "application/json", body.to_vec(), &[]),
        );
    }

    // Repeated parameters.
    let token: String =
        url::form_urlencoded::byte_serialize(WEBHOOK_VERIFY_TOKEN.as_bytes()).collect();
    let repeats: Vec<(&str, &str, String)> = vec![
        (
            "GET /onboarding",
            "session twice, the same",
            format!("/onboarding?session={pending}&session={pending}"),
        ),
        (
            "GET /onboarding",
            "session twice, another second",
            format!("/onboarding?session={pending}&session={unknown}"),
        ),
        (
            "GET /onboarding",
            "session twice, empty second",
            format!("/onboarding?session={pending}&session="),
        ),
        (
            "GET /onboarding",
            "connected twice",
            format!("/onboarding?session={pending}&connected=1&connected=1"),
        ),
        (
            "GET /onboarding/start",
            "session twice, the same",
            format!("/onboarding/start?session={pending}&session={pending}"),
        ),
        (
            "GET /onboarding/start",
            "session twice, another second",
            format!("/onboarding/start?session={pending}&session={unknown}"),
        ),
        (
            "GET /oauth/callback",
            "state twice",
            format!("/oauth/callback?code=AQhostile&state={pending}&state={pending}"),
        ),
        (
            "GET /oauth/callback",
            "code twice",
            format!("/oauth/callback?code=AQhostile&code=AQhostile&state={pending}"),
        ),
        (
            "GET /oauth/callback",
            "error twice",
            format!("/oauth/callback?error=access_denied&error=access_denied&state={pending}"),
        ),
        (
            "GET /clients/{id}/datasets",
            "refresh twice, false",
            format!("/clients/{client}/datasets?refresh=false&refresh=false"),
        ),
        (
            "GET /clients/{id}/datasets",
            "refresh twice, true",
            format!("/clients/{client}/datasets?refresh=true&refresh=true"),
        ),
        (
            "GET /webhooks/meta",
            "hub.mode twice",
            format!(
                "/webhooks/meta?hub.mode=subscribe&hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1"
            ),
        ),
        (
            "GET /webhooks/meta",
            "hub.verify_token twice",
            format!(
                "/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.verify_token={token}&hub.challenge=1"
            ),
        ),
        (
            "GET /webhooks/meta",
            "hub.challenge twice",
            format!(
                "/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1&hub.challenge=2"
            ),
        ),
        (
            "GET /onboarding",
            "a query over 4 KiB",
            format!("/onboarding?session={pending}&pad={}", "x".repeat(5000)),
        ),
        (
            "GET /clients/{id}/datasets",
            "a 64 KiB query",
            format!(
                "/clients/{client}/datasets?refresh=true&pad={}",
                "x".repeat(64 * 1024)
            ),
        ),
        (
            "GET /clients/{id}/datasets",
            "a 1 MiB query",
            format!(
                "/clients/{client}/datasets?refresh=true&pad={}",
                "x".repeat(1 << 20)
            ),
        ),
        (
            "GET /onboarding",
            "session as an array",
            format!("/onboarding?session[]={pending}"),
        ),
        (
            "GET /onboarding",
            "overlong encoding in the query",
            "/onboarding?session=%C0%AF".into(),
        ),
        (
            "GET /onboarding",
            "encoded surrogate in the query",
            "/onboarding?session=%ED%A0%80".into(),
        ),
        (
            "GET /clients/{id}/datasets",
            "a NUL in the query",
            format!("/clients/{client}/datasets?refresh=true%00"),
        ),
    ];
    for (target, what, path) in repeats {
        corpus.add(target, what, get(Browser::Main, path));
    }
    let duplicate_json: Vec<(&str, &str, String)> = vec![
        (
            "POST /onboarding/sessions",
            "partner_ref twice",
            r#"{"partner_ref":"acct-hostile","partner_ref":"acct-hostile"}"#.into(),
        ),
        (
            "POST /onboarding/sessions",
            "mode twice",
            r#"{"partner_ref":"acct-hostile","mode":"bisu","mode":"bisu"}"#.into(),
        ),
        (
            "POST /oauth/code",
            "state twice",
            format!(r#"{{"code":"AQhostile","state":"{unknown}","state":"{unknown}"}}"#),
        ),
        (
            "POST /oauth/code",
            "code twice",
            format!(r#"{{"code":"AQhostile","code":"AQhostile","state":"{unknown}"}}"#),
        ),
    ];
    for (target, what, body) in duplicate_json {
        let path = target.split_once(' ').expect("a method").1;
        corpus.add(target, what, post_json(path, body.into_bytes()));
    }
    for (function, target, body) in [
        (
            "token-fetch",
            "token-fetch payload",
            format!(
                r#"{{"client_business_id":"{client}","force_refresh":false,"force_refresh":false}}"#
            ),
        ),
        (
            "dataset-lookup",
            "dataset-lookup payload",
            format!(r#"{{"client_business_id":"{client}","refresh":false,"refresh":false}}"#),
        ),
        (
            "offboarding",
            "offboarding payload",
            format!(r#"{{"client_business_id":"{UNKNOWN_ID}","reason":"a","reason":"b"}}"#),
        ),
    ] {
        corpus.add(
            target,
            "a field repeated with the same value",
            invoke(function, body.into_bytes(), INVALID),
        );
    }

    // A state from another browser: the session is bound to this stack's browser.
    let forged_cookie = URL_SAFE_NO_PAD.encode(Sha256::digest(b"another browser"));
    let cookies: Vec<(&str, Headers)> = vec![
        ("without a cookie", vec![]),
        (
            "with a cookie of its own",
            vec![("cookie", format!("onboarding_browser={forged_cookie}"))],
        ),
        (
            "with a malformed cookie",
            vec![("cookie", "onboarding_browser=hostile".into())],
        ),
        (
            "with the cookie twice",
            vec![(
                "cookie",
                format!("onboarding_browser={forged_cookie}; onboarding_browser=hostile"),
            )],
        ),
        (
            "with an 8 KiB cookie",
            vec![(
                "cookie",
                format!("onboarding_browser={}", "A".repeat(8 * 1024)),
            )],
        ),
    ];
    for (session, state) in [
        ("a pending session", pending),
        ("a completed session", completed),
    ] {
        for (how, headers) in &cookies {
            let what = format!("{session} from another browser {how}");
            corpus.add(
                "GET /onboarding",
                what.clone(),
                request(
                    Browser::Other,
                    "GET",
                    format!("/onboarding?session={state}"),
                    headers.clone(),
                    vec![],
                ),
            );
            corpus.add(
                "GET /onboarding/start",
                what.clone(),
                request(
                    Browser::Other,
                    "GET",
                    format!("/onboarding/start?session={state}"),
                    headers.clone(),
                    vec![],
                ),
            );
            corpus.add(
                "GET /oauth/callback",
                what.clone(),
                request(
                    Browser::Other,
                    "GET",
                    format!("/oauth/callback?code=AQhostile&state={state}"),
                    headers.clone(),
                    vec![],
                ),
            );
            let mut json_headers = headers.clone();
            json_headers.push(("content-type", "application/json".into()));
            corpus.add(
                "POST /oauth/code",
                what,
                request(
                    Browser::Other,
                    "POST",
                    "/oauth/code".into(),
                    json_headers,
                    code_body(state),
                ),
            );
        }
    }
    // Expired and unknown sessions, from this stack's browser.
    for (what, state) in [
        ("an expired session", expired),
        ("an unknown session", unknown),
    ] {
        corpus.add(
            "GET /onboarding",
            what,
            get(Browser::Main, format!("/onboarding?session={state}")),
        );
        corpus.add(
            "GET /onboarding/start",
            what,
            get(Browser::Main, format!("/onboarding/start?session={state}")),
        );
        corpus.add(
            "GET /oauth/callback",
            what,
            get(
                Browser::Main,
                format!("/oauth/callback?code=AQhostile&state={state}"),
            ),
        );
        corpus.add(
            "POST /oauth/code",
            what,
            post_json("/oauth/code", code_body(state)),
        );
    }

    // Paths.
    let paths: Vec<(&str, &str, String)> = vec![
        (
            "GET /clients/{id}",
            "an unknown client",
            format!("/clients/{UNKNOWN_ID}"),
        ),
        (
            "GET /clients/{id}/datasets",
            "an unknown client",
            format!("/clients/{UNKNOWN_ID}/datasets"),
        ),
        (
            "GET /clients/{id}/datasets",
            "an unknown client, refreshed",
            format!("/clients/{UNKNOWN_ID}/datasets?refresh=true"),
        ),
        (
            "GET /clients/{id}",
            "a route below the client",
            format!("/clients/{client}/tokens"),
        ),
        (
            "GET /clients/{id}/datasets",
            "a route below the datasets",
            format!("/clients/{client}/datasets/1"),
        ),
        ("GET /clients/{id}", "no id", "/clients//datasets".into()),
        (
            "GET /clients/{id}",
            "an encoded slash in the id",
            format!("/clients/{client}%2Fdatasets"),
        ),
        (
            "GET /clients/{id}",
            "the id in a matrix parameter",
            format!("/clients/{client};admin=1"),
        ),
        (
            "GET /meta/data-deletion/{code}",
            "an unknown code",
            deletion.into(),
        ),
        (
            "GET /meta/data-deletion/{code}",
            "upper-case hex",
            deletion
                .to_uppercase()
                .replace("/META/DATA-DELETION/", "/meta/data-deletion/"),
        ),
        (
            "GET /meta/data-deletion/{code}",
            "31 characters",
            deletion[..deletion.len() - 1].into(),
        ),
        (
            "GET /meta/data-deletion/{code}",
            "33 characters",
            format!("{deletion}0"),
        ),
        (
            "GET /meta/data-deletion/{code}",
            "a route below the code",
            format!("{deletion}/x"),
        ),
        (
            "GET /meta/data-deletion/{code}",
            "no code",
            "/meta/data-deletion/".into(),
        ),
        (
            "GET /webhooks/meta",
            "no parameters",
            "/webhooks/meta".into(),
        ),
        (
            "GET /webhooks/meta",
            "no verify token",
            "/webhooks/meta?hub.mode=subscribe&hub.challenge=1".into(),
        ),
        ("GET /onboarding", "no session", "/onboarding".into()),
        (
            "GET /onboarding/start",
            "no session",
            "/onboarding/start".into(),
        ),
        ("GET /oauth/callback", "nothing", "/oauth/callback".into()),
    ];
    for (target, what, path) in paths {
        corpus.add(target, what, get(Browser::Main, path));
    }
}

/// Whether an HTTP answer is a clean refusal: 4xx, no header or markup of ours reflected.
fn refusal(status: u16, headers: &HeaderMap, body: &str) -> Result<(), String> {
    if headers.contains_key("x-hostile")
        || headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.as_bytes().starts_with(b"hostile"))
    {
        return Err(format!("HTTP {status} with an injected header"));
    }
    let html = headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html && body.contains(XSS) {
        return Err(format!("HTTP {status} reflects markup in a page"));
    }
    if (400..500).contains(&status) {
        return Ok(());
    }
    // Never the body itself: a page that should not have been served may hold a state.
    let kind = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["type"].as_str().map(str::to_owned))
        .or_else(|| {
            body.split("data-error-type=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "no error type".into());
    Err(format!("HTTP {status} ({kind})"))
}

async fn outcome(stack: &Stack, other: &reqwest::Client, case: &Case) -> Result<(), String> {
    match &case.send {
        Send::Http {
            browser,
            method,
            path,
            headers,
            body,
        } => {
            let client = match browser {
                Browser::Main => &stack.http,
                Browser::Other => other,
            };
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let answer = stack
                .send(client, method, path, &headers, body.clone())
                .await;
            refusal(answer.status, &answer.headers, &answer.body)
        }
        Send::Event { function, event } => {
            match stack.invoke_bytes(function, event.to_string()).await {
                Ok(result) => {
                    let mut headers = HeaderMap::new();
                    for (name, value) in result["headers"].as_object().into_iter().flatten() {
                        if let (Ok(name), Some(Ok(value))) = (
                            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                            value.as_str().map(reqwest::header::HeaderValue::from_str),
                        ) {
                            headers.insert(name, value);
                        }
                    }
                    let status = result["statusCode"].as_u64().unwrap_or_default() as u16;
                    refusal(
                        status,
                        &headers,
                        result["body"].as_str().unwrap_or_default(),
                    )
                }
                Err(kind) if kind == "InvalidRequest" => Ok(()),
                Err(kind) => Err(format!("errorType {kind}")),
            }
        }
        Send::Invoke {
            function,
            payload,
            expect,
        } => match stack.invoke_bytes(function, payload.clone()).await {
            // Never the answer itself: it may hold a token.
            Ok(_) => Err("succeeded (answer withheld)".into()),
            Err(kind) if expect.contains(&kind.as_str()) => Ok(()),
            Err(kind) => Err(format!("errorType {kind}, expected one of {expect:?}")),
        },
    }
}

pub async fn hostile_inputs_get_4xx_or_invalid_request_and_change_nothing(stack: &Stack) {
    let business = stack.new_business().await;
    let (completed, _) =
        super::onboarding::onboard_with_sdk(stack, &business, "acct-hostile").await;
    let pending = stack.create_session("acct-hostile-pending").await.state;
    let expired = URL_SAFE_NO_PAD.encode(Sha256::digest(b"hostile: an expired session"));
    stack.put_session_item(&expired, now() - 60).await;
    let unknown = URL_SAFE_NO_PAD.encode(Sha256::digest(b"hostile: no session"));
    stack.states.lock().unwrap().push(unknown.clone());
    let time = now();
    let fixtures = Fixtures {
        client: business.id.clone(),
        pending,
        completed: completed.state,
        expired,
        unknown,
        valid_signed_request: signed_request(
            APP_SECRET,
            json!({"algorithm": "HMAC-SHA256", "issued_at": time, "user_id": NOBODY})
                .to_string()
                .as_bytes(),
        ),
        harmless_delivery: json!({"object": "application", "entry": [{"id": APP_ID, "time": time,
            "changes": [{"field": "business_integration_uninstall",
                "value": {"business_manager_id": UNKNOWN_ID}}]}]})
        .to_string()
        .into_bytes(),
    };
    stack
        .credentials
        .lock()
        .unwrap()
        .push(fixtures.valid_signed_request.clone());

    let values = hostile_values();
    let mut corpus = Corpus::default();
    http_routes(&mut corpus, &values, &fixtures);
    webhooks(&mut corpus, &values, &fixtures);
    callbacks(&mut corpus, &values, &fixtures);
    invocations(&mut corpus, &values, &fixtures);
    forged_events(&mut corpus, &fixtures);
    http_shapes(&mut corpus, &fixtures);
    let (cases, left_out) = (corpus.cases, corpus.left_out);
    let targets: BTreeSet<&str> = cases.iter().map(|c| c.target).collect();
    assert!(
        cases.len() >= 200,
        "only {} distinct hostile cases",
        cases.len()
    );

    let before = stack.snapshot().await;
    let other = stack.other_browser();
    let started = std::time::Instant::now();
    let mut results: Vec<(usize, Result<(), String>)> =
        futures_util::stream::iter(cases.iter().enumerate())
            .map(|(index, case)| {
                let other = &other;
                async move { (index, outcome(stack, other, case).await) }
            })
            .buffer_unordered(4)
            .collect()
            .await;
    results.sort_by_key(|(index, _)| *index);
    let after = stack.snapshot().await;
    eprintln!(
        "hostile corpus: {} distinct cases over {} targets in {:.1?} ({left_out} left out: \
         they cannot reach their function)",
        cases.len(),
        targets.len(),
        started.elapsed()
    );

    let mut failures: Vec<String> = results
        .into_iter()
        .filter_map(|(index, result)| {
            let case = &cases[index];
            result
                .err()
                .map(|problem| format!("{} | {}: {problem}", case.target, case.what))
        })
        .collect();
    // Compared whole; described without values (`Debug` would show session states).
    if after != before {
        failures.push(format!(
            "the corpus changed the table or the secrets:\n  {}",
            after.changes_since(&before).join("\n  ")
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases were not refused cleanly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
