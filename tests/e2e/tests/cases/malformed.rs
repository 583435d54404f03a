//! A table of malformed requests: each answers 4xx with a clear message and changes nothing.

use e2e::Stack;
use serde_json::json;

enum Send {
    Get(String),
    Post {
        path: &'static str,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Bytes that are not UTF-8, delivered as API Gateway does: base64 with `isBase64Encoded`.
    /// (`cargo lambda watch` refuses such HTTP bodies itself, before any function runs.)
    Binary {
        path: &'static str,
        body: &'static [u8],
    },
}

fn get(path_and_query: impl Into<String>) -> Send {
    Send::Get(path_and_query.into())
}

fn post(path: &'static str, content_type: &'static str, body: impl Into<Vec<u8>>) -> Send {
    Send::Post {
        path,
        content_type,
        body: body.into(),
    }
}

fn json(path: &'static str, body: impl Into<Vec<u8>>) -> Send {
    post(path, "application/json", body)
}

pub async fn malformed_requests_get_4xx_and_change_nothing(stack: &Stack) {
    let valid_state = stack.create_session("acct-malformed").await.state;
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, Send)> = vec![
        (
            "session: no content type",
            post("/onboarding/sessions", "", r#"{"partner_ref":"a"}"#),
        ),
        (
            "session: text/plain",
            post(
                "/onboarding/sessions",
                "text/plain",
                r#"{"partner_ref":"a"}"#,
            ),
        ),
        (
            "session: form encoded",
            post(
                "/onboarding/sessions",
                "application/x-www-form-urlencoded",
                "partner_ref=a",
            ),
        ),
        ("session: empty body", json("/onboarding/sessions", "")),
        ("session: not JSON", json("/onboarding/sessions", "hello")),
        (
            "session: invalid UTF-8",
            Send::Binary {
                path: "/onboarding/sessions",
                body: b"{\"partner_ref\":\"\xff\xfe\"}",
            },
        ),
        ("session: JSON array", json("/onboarding/sessions", "[]")),
        (
            "session: missing partner_ref",
            json("/onboarding/sessions", "{}"),
        ),
        (
            "session: partner_ref a number",
            json("/onboarding/sessions", r#"{"partner_ref":42}"#),
        ),
        (
            "session: partner_ref empty",
            json("/onboarding/sessions", r#"{"partner_ref":""}"#),
        ),
        (
            "session: partner_ref too long",
            json(
                "/onboarding/sessions",
                format!(r#"{{"partner_ref":"{}"}}"#, long(129)),
            ),
        ),
        (
            "session: partner_ref control char",
            json("/onboarding/sessions", r#"{"partner_ref":"a\u0007b"}"#),
        ),
        (
            "session: partner_ref markup",
            json("/onboarding/sessions", r#"{"partner_ref":"<script>"}"#),
        ),
        (
            "session: unknown field",
            json(
                "/onboarding/sessions",
                r#"{"partner_ref":"a","admin":true}"#,
            ),
        ),
        (
            "session: repeated field",
            json(
                "/onboarding/sessions",
                r#"{"partner_ref":"a","partner_ref":"b"}"#,
            ),
        ),
        (
            "session: unknown mode",
            json(
                "/onboarding/sessions",
                r#"{"partner_ref":"a","mode":"root"}"#,
            ),
        ),
        (
            "session: mode not built",
            json(
                "/onboarding/sessions",
                r#"{"partner_ref":"a","mode":"obo"}"#,
            ),
        ),
        (
            "session: oversized body",
            json(
                "/onboarding/sessions",
                format!(r#"{{"partner_ref":"{}"}}"#, long(20_000)),
            ),
        ),
        ("session: wrong method", get("/onboarding/sessions")),
        ("page: no session", get("/onboarding")),
        (
            "page: repeated session",
            get(format!(
                "/onboarding?session={valid_state}&session={valid_state}"
            )),
        ),
        (
            "page: very long session",
            get(format!("/onboarding?session={}", long(1000))),
        ),
        (
            "page: session not base64url",
            get(format!("/onboarding?session={}", "*".repeat(43))),
        ),
        ("page: invalid UTF-8", get("/onboarding?session=%FF%FE")),
        (
            "page: control character",
            get("/onboarding?session=abc%00def"),
        ),
        (
            "page: query too long",
            get(format!("/onboarding?session=a&pad={}", long(5000))),
        ),
        (
            "callback: no code",
            get(format!("/oauth/callback?state={valid_state}")),
        ),
        ("callback: no state", get("/oauth/callback?code=abc")),
        (
            "callback: repeated code",
            get(format!("/oauth/callback?code=a&code=b&state={valid_state}")),
        ),
        (
            "callback: repeated state",
            get(format!(
                "/oauth/callback?code=a&state={valid_state}&state={valid_state}"
            )),
        ),
        (
            "callback: code with spaces",
            get(format!("/oauth/callback?code=a%20b&state={valid_state}")),
        ),
        (
            "callback: code too long",
            get(format!(
                "/oauth/callback?code={}&state={valid_state}",
                long(3000)
            )),
        ),
        (
            "callback: state too long",
            get(format!("/oauth/callback?code=abc&state={valid_state}A")),
        ),
        (
            "callback: huge error text",
            get(format!(
                "/oauth/callback?error=access_denied&error_reason={}",
                long(2000)
            )),
        ),
        (
            "callback: error with markup",
            get("/oauth/callback?error=access_denied&error_reason=%3Cscript%3E"),
        ),
        (
            "callback: wrong method",
            post("/oauth/callback", "application/json", "{}"),
        ),
        (
            "code: form encoded",
            post(
                "/oauth/code",
                "application/x-www-form-urlencoded",
                "code=a&state=b",
            ),
        ),
        (
            "code: missing code",
            json("/oauth/code", format!(r#"{{"state":"{valid_state}"}}"#)),
        ),
        (
            "code: missing state",
            json("/oauth/code", r#"{"code":"abc"}"#),
        ),
        (
            "code: code a number",
            json(
                "/oauth/code",
                format!(r#"{{"code":123,"state":"{valid_state}"}}"#),
            ),
        ),
        (
            "code: empty code",
            json(
                "/oauth/code",
                format!(r#"{{"code":"","state":"{valid_state}"}}"#),
            ),
        ),
        (
            "code: code control chars",
            json(
                "/oauth/code",
                format!(r#"{{"code":"a\nb","state":"{valid_state}"}}"#),
            ),
        ),
        (
            "code: short state",
            json("/oauth/code", r#"{"code":"abc","state":"abc"}"#),
        ),
        (
            "code: unknown field",
            json(
                "/oauth/code",
                format!(r#"{{"code":"a","state":"{valid_state}","x":1}}"#),
            ),
        ),
        (
            "code: invalid UTF-8",
            Send::Binary {
                path: "/oauth/code",
                body: b"{\"code\":\"\xc3\x28\",\"state\":\"s\"}",
            },
        ),
        (
            "code: huge body",
            json(
                "/oauth/code",
                format!(r#"{{"code":"{}","state":"s"}}"#, long(100_000)),
            ),
        ),
        ("code: null body", json("/oauth/code", "null")),
    ];
    assert!(cases.len() >= 30);
    let before = stack.counts().await;
    let mut failures = Vec::new();
    for (name, send) in &cases {
        let answer = match send {
            Send::Get(path) => stack.get(path).await,
            Send::Post {
                path,
                content_type,
                body,
            } => stack.post(path, content_type, body.clone()).await,
            Send::Binary { path, body } => {
                stack
                    .invoke_http_event("oauth-callback", "POST", path, "application/json", body)
                    .await
            }
        };
        let clear = answer.body.contains("\"message\"") || answer.body.contains("id=\"error\"");
        if !(400..500).contains(&answer.status) || !clear {
            failures.push(format!(
                "{name}: {} {}",
                answer.status,
                answer.body.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not a clear 4xx:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        stack.counts().await,
        before,
        "malformed requests changed the table or the secrets"
    );
}

/// Direct invocations and dataset routes that do not fit: `InvalidRequest` (or another clear
/// refusal such as `ClientNotFound`), never `Internal`, and nothing changes.
pub async fn malformed_invocations_are_refused_and_change_nothing(stack: &Stack) {
    let business = stack.new_business().await;
    super::onboarding::onboard_with_sdk(stack, &business, "acct-malformed-invoke").await;
    let id = business.id.as_str();
    let many: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
    let invocations: Vec<(&str, &str, serde_json::Value)> = vec![
        ("token-fetch", "empty object", json!({})),
        ("token-fetch", "array", json!([])),
        ("token-fetch", "string", json!("client")),
        ("token-fetch", "null", serde_json::Value::Null),
        (
            "token-fetch",
            "id as number",
            json!({"client_business_id": 123}),
        ),
        (
            "token-fetch",
            "id not numeric",
            json!({"client_business_id": "12ab"}),
        ),
        ("token-fetch", "id empty", json!({"client_business_id": ""})),
        (
            "token-fetch",
            "id too long",
            json!({"client_business_id": "1".repeat(40)}),
        ),
        (
            "token-fetch",
            "unknown field",
            json!({"client_business_id": id, "admin": true}),
        ),
        (
            "token-fetch",
            "scope not a list",
            json!({"client_business_id": id, "scope": "ads_management"}),
        ),
        (
            "token-fetch",
            "scope empty",
            json!({"client_business_id": id, "scope": []}),
        ),
        (
            "token-fetch",
            "scope huge",
            json!({"client_business_id": id, "scope": many}),
        ),
        (
            "token-fetch",
            "scope bad name",
            json!({"client_business_id": id, "scope": ["Ads Management"]}),
        ),
        (
            "token-fetch",
            "scope of numbers",
            json!({"client_business_id": id, "scope": [1, 2]}),
        ),
        (
            "token-fetch",
            "assets without scope",
            json!({"client_business_id": id, "assets": ["1"]}),
        ),
        (
            "token-fetch",
            "assets not numeric",
            json!({"client_business_id": id, "scope": ["ads_management"], "assets": ["x"]}),
        ),
        (
            "token-fetch",
            "assets huge",
            json!({"client_business_id": id, "scope": ["ads_management"], "assets": many}),
        ),
        (
            "token-fetch",
            "expiry flag a string",
            json!({"client_business_id": id, "expires_in_60_days": "yes"}),
        ),
        (
            "token-fetch",
            "force_refresh a number",
            json!({"client_business_id": id, "force_refresh": 1}),
        ),
        (
            "token-fetch",
            "unknown action",
            json!({"action": "delete_everything"}),
        ),
        (
            "token-fetch",
            "sweep with an id",
            json!({"action": "sweep", "client_business_id": id}),
        ),
        (
            "token-fetch",
            "page token (not built)",
            json!({"client_business_id": id, "page_id": "1"}),
        ),
        (
            "token-fetch",
            "another business's id",
            json!({"client_business_id": "123456789012345"}),
        ),
        (
            "token-fetch",
            "another business's id, granular",
            json!({"client_business_id": "123456789012345", "scope": ["ads_management"]}),
        ),
        ("dataset-lookup", "empty object", json!({})),
        (
            "dataset-lookup",
            "id not numeric",
            json!({"client_business_id": "abc"}),
        ),
        (
            "dataset-lookup",
            "refresh a string",
            json!({"client_business_id": id, "refresh": "yes"}),
        ),
        (
            "dataset-lookup",
            "unknown field",
            json!({"client_business_id": id, "limit": 5}),
        ),
        ("dataset-lookup", "array", json!([id])),
        (
            "dataset-lookup",
            "another business's id",
            json!({"client_business_id": "123456789012345"}),
        ),
    ];
    let requests = [
        "/clients/abc/datasets".to_owned(),
        format!("/clients/{id}/datasets?refresh=maybe"),
        format!("/clients/{id}/datasets?refresh=true&refresh=false"),
        format!("/clients/{}/datasets", "9".repeat(40)),
        format!("/clients/{id}/datasets?refresh=%FF"),
        format!("/clients/%20{id}"),
    ];
    let before = stack.counts().await;
    let mut failures = Vec::new();
    for (function, name, payload) in &invocations {
        match stack.invoke(function, payload).await {
            Err(kind) if kind != "Internal" => {}
            other => failures.push(format!("{function} {name}: {other:?}")),
        }
    }
    // Payloads that are not JSON at all get DESIGN's errorType too, not the runtime's.
    for function in ["token-fetch", "dataset-lookup", "offboarding"] {
        for body in ["", "not json", "{", "\u{0}"] {
            let kind = stack.invoke_raw(function, body).await;
            if kind.as_deref() != Some("InvalidRequest") {
                failures.push(format!("{function} raw {body:?}: {kind:?}"));
            }
        }
    }
    for path in &requests {
        let answer = stack.get(path).await;
        if !(400..500).contains(&answer.status) || !answer.body.contains("\"message\"") {
            failures.push(format!("GET {path}: {} {}", answer.status, answer.body));
        }
    }
    let wrong_method = stack
        .post(&format!("/clients/{id}/datasets"), "application/json", "{}")
        .await;
    if wrong_method.status != 405 {
        failures.push(format!("POST datasets: {}", wrong_method.status));
    }
    assert!(invocations.len() + requests.len() >= 25);
    assert!(
        failures.is_empty(),
        "not refused cleanly:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        stack.counts().await,
        before,
        "malformed invocations changed the table or the secrets"
    );
}
