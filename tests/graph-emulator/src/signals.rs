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
use crate::webhooks::{self, Change, Layout, MAX_CHANGES};
use crate::world::now_epoch;

/// An app's id, secret and login configuration: the named one, else the first of the seed (the
/// partner's).
async fn app(shared: &Shared, app_id: Option<&str>) -> Result<(String, String, String), Response> {
    let world = shared.lock().await;
    let app = match app_id {
        Some(id) => world.app(id),
        None => world.apps.first(),
    };
    let Some(app) = app else {
        return Err(bad_request("unknown app_id"));
    };
    let config = app.configs.first().map_or(String::new(), |c| c.id.clone());
    Ok((app.id.clone(), app.secret.clone(), config))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// A signed delivery of `changes` from an app: the body as sent, and its signature header.
async fn signed_webhook(
    shared: &Shared,
    app_id: Option<&str>,
    changes: &[Change],
    layout: &Layout,
) -> Result<(String, String), Response> {
    let (app_id, secret, config) = app(shared, app_id).await?;
    let body = webhooks::body(&app_id, &config, changes, layout).to_string();
    let signature = webhooks::signature(&secret, body.as_bytes());
    Ok((body, signature))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// One change (with `business_id`); more go in `changes`, after it.
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    business_id: Option<String>,
    #[serde(default)]
    changes: Vec<Change>,
    /// Entry time (epoch seconds) of changes that give none; default now.
    #[serde(default)]
    time: Option<u64>,
    /// At most this many changes per entry; default all in one.
    #[serde(default)]
    changes_per_entry: Option<usize>,
    /// Off: entries carry `changed_fields` only, as with "Include values" off.
    #[serde(default = "yes")]
    include_values: bool,
    /// The sending app; default the seed's first (the partner's).
    #[serde(default)]
    app_id: Option<String>,
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

fn yes() -> bool {
    true
}

/// Signs one delivery carrying every change asked for; with `url`, delivers `copies` of it
/// concurrently and reports the answers.
pub async fn webhook(State(shared): State<Shared>, Json(spec): Json<WebhookSpec>) -> Response {
    let mut changes = match (spec.field, spec.business_id) {
        (Some(field), Some(business_id)) => vec![Change {
            field,
            business_id,
            time: None,
        }],
        (None, None) => vec![],
        _ => return bad_request("field and business_id go together"),
    };
    changes.extend(spec.changes);
    if changes.is_empty() || changes.len() > MAX_CHANGES {
        return bad_request("a delivery carries 1 to 1000 changes");
    }
    if spec.changes_per_entry == Some(0) {
        return bad_request("changes_per_entry must be at least 1");
    }
    let layout = Layout {
        time: spec.time.unwrap_or_else(now_epoch),
        per_entry: spec.changes_per_entry.unwrap_or(MAX_CHANGES),
        include_values: spec.include_values,
    };
    let (body, signature) =
        match signed_webhook(&shared, spec.app_id.as_deref(), &changes, &layout).await {
            Ok(signed) => signed,
            Err(refused) => return refused,
        };
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
    let secret = match app(&shared, None).await {
        Ok((_, secret, _)) => secret,
        Err(refused) => return refused,
    };
    let payload = json!({"algorithm": spec.algorithm.unwrap_or_else(|| "HMAC-SHA256".into()),
        "issued_at": spec.issued_at.unwrap_or_else(|| now_epoch() as i64), "user_id": spec.user_id});
    let encoded = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(encoded.as_bytes());
    let signed = format!(
        "{}.{encoded}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    shared.lock().await.signed_requests.push(signed.clone());
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
#[serde(deny_unknown_fields)]
pub struct RemoveApp {
    /// The app removed; default the seed's first (the partner's).
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    webhook_url: Option<String>,
}

/// The client removes the app in Business Settings: its BISU and every token derived from it
/// (granular, page) stop working (190, subcode 458), and Meta sends
/// `business_integration_uninstall` when a webhook URL is given.
pub async fn remove_app(
    State(shared): State<Shared>,
    Path(business): Path<String>,
    Json(req): Json<RemoveApp>,
) -> Response {
    let (app_id, _, _) = match app(&shared, req.app_id.as_deref()).await {
        Ok(app) => app,
        Err(refused) => return refused,
    };
    let invalidated = shared.lock().await.uninstall(&app_id, &business);
    let statuses = match req.webhook_url {
        Some(url) => {
            let change = Change {
                field: "business_integration_uninstall".into(),
                business_id: business.clone(),
                time: None,
            };
            let layout = Layout {
                time: now_epoch(),
                per_entry: MAX_CHANGES,
                include_values: true,
            };
            match signed_webhook(&shared, Some(&app_id), &[change], &layout).await {
                Ok((body, signature)) => deliver(&url, &body, &signature, 1).await,
                Err(refused) => return refused,
            }
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
