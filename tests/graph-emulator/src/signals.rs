//! What Meta sends the service on its own: signed webhooks and `signed_request` callbacks,
//! and the client-side acts that cause them (removing the app, changing granted assets).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Shared;
use crate::world::now_epoch;

fn hmac_hex(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// The app's id and secret: the first (usually only) app of the seed.
async fn app(shared: &Shared) -> (String, String) {
    let world = shared.lock().await;
    let app = world.apps.first().expect("the seed has an app");
    (app.id.clone(), app.secret.clone())
}

/// A webhook body for one change of the `application` object, and its signature header.
async fn signed_webhook(shared: &Shared, field: &str, business_id: &str) -> (String, String) {
    let (app_id, secret) = app(shared).await;
    let body = json!({"object": "application", "entry": [{"id": app_id, "time": now_epoch(),
        "changes": [{"field": field, "value": {"business_manager_id": business_id, "tp_config_id": "2000000000000001"}}]}]})
    .to_string();
    let signature = format!("sha256={}", hmac_hex(&secret, body.as_bytes()));
    (body, signature)
}

#[derive(Deserialize)]
pub struct WebhookSpec {
    field: String,
    business_id: String,
    /// Where to deliver it; without it the body and signature are returned.
    #[serde(default)]
    url: Option<String>,
    /// Deliveries of the same body sent at once.
    #[serde(default = "one")]
    copies: usize,
}

fn one() -> usize {
    1
}

/// Signs a webhook; with `url`, delivers `copies` of it concurrently and reports the answers.
pub async fn webhook(State(shared): State<Shared>, Json(spec): Json<WebhookSpec>) -> Response {
    let (body, signature) = signed_webhook(&shared, &spec.field, &spec.business_id).await;
    let Some(url) = spec.url else {
        return Json(json!({"body": body, "signature": signature})).into_response();
    };
    let statuses = deliver(&url, &body, &signature, spec.copies.clamp(1, 100)).await;
    Json(json!({ "statuses": statuses })).into_response()
}

async fn deliver(url: &str, body: &str, signature: &str, copies: usize) -> Vec<u16> {
    let client = reqwest::Client::new();
    let sends = (0..copies).map(|_| {
        client
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body.to_owned())
            .send()
    });
    let mut statuses = Vec::new();
    for result in futures_join(sends).await {
        statuses.push(result.map_or(0, |r| r.status().as_u16()));
    }
    statuses
}

/// Runs the futures concurrently on the runtime and collects their results in order.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("delivery task"));
    }
    out
}

#[derive(Deserialize)]
pub struct SignedRequestSpec {
    user_id: Value,
    #[serde(default)]
    issued_at: Option<i64>,
    #[serde(default)]
    algorithm: Option<String>,
    /// Where to post it as a form; without it the signed_request is returned.
    #[serde(default)]
    url: Option<String>,
}

/// A `signed_request` as Meta builds it; with `url`, posted there as a form.
pub async fn signed_request(
    State(shared): State<Shared>,
    Json(spec): Json<SignedRequestSpec>,
) -> Response {
    let (_, secret) = app(&shared).await;
    let payload = json!({"algorithm": spec.algorithm.unwrap_or_else(|| "HMAC-SHA256".into()),
        "issued_at": spec.issued_at.unwrap_or_else(|| now_epoch() as i64), "user_id": spec.user_id});
    let encoded = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(encoded.as_bytes());
    let signed = format!(
        "{}.{encoded}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    let Some(url) = spec.url else {
        return Json(json!({ "signed_request": signed })).into_response();
    };
    match reqwest::Client::new()
        .post(&url)
        .form(&[("signed_request", &signed)])
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            Json(json!({"status": status, "body": body})).into_response()
        }
        Err(_) => (
            StatusCode::BAD_GATEWAY,
            "the callback could not be delivered",
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
pub struct RemoveApp {
    #[serde(default)]
    webhook_url: Option<String>,
}

/// The client removes the app in Business Settings: its BISU stops working, and Meta sends
/// `business_integration_uninstall` when a webhook URL is given.
pub async fn remove_app(
    State(shared): State<Shared>,
    Path(business): Path<String>,
    Json(req): Json<RemoveApp>,
) -> Response {
    let invalidated = {
        let mut world = shared.lock().await;
        let mut count = 0;
        for token in world
            .tokens
            .values_mut()
            .filter(|t| t.business_id == business && t.bisu)
        {
            token.valid = false;
            count += 1;
        }
        count
    };
    let statuses = match req.webhook_url {
        Some(url) => {
            let (body, signature) =
                signed_webhook(&shared, "business_integration_uninstall", &business).await;
            deliver(&url, &body, &signature, 1).await
        }
        None => vec![],
    };
    Json(json!({"invalidated": invalidated, "webhook_statuses": statuses})).into_response()
}

#[derive(Deserialize)]
pub struct Grants {
    targets: Vec<String>,
}

/// The client changes which assets the integration may use: the targeted scopes of its
/// tokens now list `targets`.
pub async fn change_grants(
    State(shared): State<Shared>,
    Path(business): Path<String>,
    Json(req): Json<Grants>,
) -> Response {
    let mut world = shared.lock().await;
    let mut changed = 0;
    for token in world
        .tokens
        .values_mut()
        .filter(|t| t.business_id == business && t.valid)
    {
        for (_, targets) in token.granular.iter_mut().filter(|(_, t)| t.is_some()) {
            *targets = Some(req.targets.clone());
        }
        changed += 1;
    }
    Json(json!({ "tokens_changed": changed })).into_response()
}
