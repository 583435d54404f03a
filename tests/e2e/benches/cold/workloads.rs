//! The events each function is measured on, and what they need in place: onboarded clients
//! (through the release oauth-callback itself), fresh sessions with their browser cookie and
//! codes, signed webhook deliveries.

use base64::Engine;
use e2e::emulator::{Emulator, business_spec, code_request};
use local_stack::stack::{APP_ID, APP_SECRET};
use serde_json::{Value, json};

use crate::instance::Instance;

/// An API Gateway HTTP API (payload 2.0) event (`e2e::client::http_event`), with the browser's
/// cookies and a JSON body when there is one.
pub fn http_event(
    method: &str,
    path: &str,
    query: &str,
    cookies: &[String],
    body: Option<&Value>,
) -> Vec<u8> {
    let cookie = cookies.join("; ");
    let mut headers = vec![("host", "bench.example.test")];
    if !cookie.is_empty() {
        headers.push(("cookie", &cookie));
    }
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    event_bytes(method, path, query, &headers, body.as_bytes())
}

fn event_bytes(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    e2e::client::http_event(method, path, query, headers, body)
        .to_string()
        .into_bytes()
}

/// The status of an HTTP answer, and its body and cookies.
pub struct HttpAnswer {
    pub status: u64,
    pub body: String,
    pub cookies: Vec<String>,
}

pub fn http_answer(bytes: &[u8]) -> Result<HttpAnswer, String> {
    let answer: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not an HTTP answer ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    })?;
    let mut body = answer["body"].as_str().unwrap_or_default().to_owned();
    if answer["isBase64Encoded"] == json!(true) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|e| format!("answer body: {e}"))?;
        body = String::from_utf8_lossy(&raw).into_owned();
    }
    let cookies = answer["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect();
    Ok(HttpAnswer {
        status: answer["statusCode"].as_u64().unwrap_or_default(),
        body,
        cookies,
    })
}

/// A new client business with two pixels of its own.
pub async fn new_business(emulator: &Emulator) -> Result<String, String> {
    let made = emulator
        .post("/_emulator/businesses", business_spec(2, 0, false))
        .await?;
    made["id"].as_str().map(str::to_owned).ok_or("no id".into())
}

/// A code as `FB.login` hands it to the onboarding page.
pub async fn code(emulator: &Emulator, business: &str) -> Result<String, String> {
    let made = emulator
        .post("/_emulator/codes", code_request(business, None))
        .await?;
    made["code"]
        .as_str()
        .map(str::to_owned)
        .ok_or("no code".into())
}

/// Invokes an HTTP route and insists on `status`.
pub async fn call(instance: &Instance, event: &[u8], status: u64) -> Result<HttpAnswer, String> {
    let (bytes, _) = instance.invoke(event).await?;
    let answer = http_answer(&bytes)?;
    if answer.status != status {
        return Err(format!(
            "expected {status}, got {}: {}",
            answer.status, answer.body
        ));
    }
    Ok(answer)
}

/// A `POST /oauth/code` event ready to send: a new business's code for a new session, whose
/// browser cookie is bound, all made through `setup` (a warm oauth-callback).
pub async fn code_post(setup: &Instance, emulator: &Emulator) -> Result<Vec<u8>, String> {
    let business = new_business(emulator).await?;
    let created = call(
        setup,
        &http_event(
            "POST",
            "/onboarding/sessions",
            "",
            &[],
            Some(&json!({"partner_ref": format!("bench-{business}")})),
        ),
        201,
    )
    .await?;
    let session: Value = serde_json::from_str(&created.body).map_err(|e| e.to_string())?;
    let state = session["state"].as_str().ok_or("no state")?.to_owned();
    let started = call(
        setup,
        &http_event(
            "GET",
            "/onboarding/start",
            &format!("session={state}"),
            &[],
            None,
        ),
        302,
    )
    .await?;
    let code = code(emulator, &business).await?;
    Ok(http_event(
        "POST",
        "/oauth/code",
        "",
        &started.cookies,
        Some(&json!({"code": code, "state": state})),
    ))
}

/// Onboards a new business through `setup`; answers its id.
pub async fn onboard(setup: &Instance, emulator: &Emulator) -> Result<String, String> {
    let event = code_post(setup, emulator).await?;
    onboarded_id(&call(setup, &event, 200).await?)
}

/// The client business id a successful code POST answers with.
pub fn onboarded_id(answer: &HttpAnswer) -> Result<String, String> {
    let body: Value = serde_json::from_str(&answer.body).map_err(|e| e.to_string())?;
    body["client_business_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no client_business_id in {}", answer.body))
}

/// token-fetch's direct invocation for a client's token.
pub fn token_request(client: &str, force_refresh: bool) -> Vec<u8> {
    json!({"client_business_id": client, "force_refresh": force_refresh})
        .to_string()
        .into_bytes()
}

/// `GET /clients/{id}/datasets`.
pub fn datasets_request(client: &str) -> Vec<u8> {
    http_event("GET", &format!("/clients/{client}/datasets"), "", &[], None)
}

/// A signed delivery of a new `business_integration_update` for `client` (`n` keeps each
/// change distinct, as Meta's are).
pub fn webhook_delivery(client: &str, n: i64) -> Vec<u8> {
    let body = json!({"object": "application", "entry": [{"id": APP_ID, "time": 1_700_000_000 + n,
        "changes": [{"field": "business_integration_update",
            "value": {"business_manager_id": client}}]}]})
    .to_string();
    let signature = shared::signatures::hub_signature(APP_SECRET, body.as_bytes());
    let headers = [
        ("content-type", "application/json"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    event_bytes("POST", "/webhooks/meta", "", &headers, body.as_bytes())
}
