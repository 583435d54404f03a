//! The `/_emulator` control API: codes, tokens, businesses, faults, settings, logs (see README.md).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

use crate::Shared;
use crate::faults::Fault;
use crate::usage::AppUsagePatch;
use crate::world::{
    App, Asset, Business, LoginConfig, SESSION_INVALIDATED, Token, TokenKind, now_epoch, random_id,
};

#[derive(Deserialize)]
pub struct CodeRequest {
    app_id: String,
    config_id: String,
    business_id: String,
    #[serde(default)]
    redirect_uri: Option<String>,
}

pub async fn issue_code(State(shared): State<Shared>, Json(req): Json<CodeRequest>) -> Response {
    let mut world = shared.lock().await;
    if world.config(&req.app_id, &req.config_id).is_none()
        || world.business(&req.business_id).is_none()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unknown app, configuration or business"})),
        )
            .into_response();
    }
    let code = world.issue_code(
        &req.app_id,
        &req.config_id,
        &req.business_id,
        req.redirect_uri,
    );
    Json(json!({ "code": code })).into_response()
}

#[derive(Deserialize)]
pub struct NewBusiness {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    owned_pixels: usize,
    #[serde(default)]
    shared_pixels: usize,
    #[serde(default)]
    empty_page: bool,
}

fn pixels(count: usize, label: &str, owner: Option<&str>) -> Vec<Asset> {
    (1..=count)
        .map(|n| Asset {
            id: random_id(),
            name: format!("{label} {n}"),
            owner_business_id: owner.map(str::to_owned),
        })
        .collect()
}

/// A new business with `owned_pixels` of its own and `shared_pixels` shared by another.
pub async fn add_business(State(shared): State<Shared>, Json(req): Json<NewBusiness>) -> Response {
    let sharer = random_id();
    let business = Business {
        id: random_id(),
        name: req.name.unwrap_or_else(|| "Test business".into()),
        system_user_id: random_id(),
        pixels: pixels(req.owned_pixels, "Owned pixel", None),
        pages: vec![],
        shared_pixels: pixels(req.shared_pixels, "Shared pixel", Some(&sharer)),
        empty_page: req.empty_page,
    };
    shared.lock().await.businesses.push(business.clone());
    Json(business).into_response()
}

pub async fn add_fault(State(shared): State<Shared>, Json(fault): Json<Fault>) -> Response {
    match shared.lock().await.faults.add(fault) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

/// The faults not used up yet, with the uses they have left.
pub async fn list_faults(State(shared): State<Shared>) -> Response {
    Json(json!({ "faults": shared.lock().await.faults.pending() })).into_response()
}

pub async fn clear_faults(State(shared): State<Shared>) -> Response {
    shared.lock().await.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
pub struct Invalidate {
    business_id: String,
}

/// Invalidates every token of a business, as a password change or app removal would.
pub async fn invalidate(State(shared): State<Shared>, Json(req): Json<Invalidate>) -> Response {
    let mut world = shared.lock().await;
    let mut count = 0;
    for token in world
        .tokens
        .values_mut()
        .filter(|t| t.business_id == req.business_id)
    {
        token.valid = false;
        count += 1;
    }
    Json(json!({ "invalidated": count })).into_response()
}

pub async fn requests(State(shared): State<Shared>) -> Response {
    Json(json!({ "requests": shared.lock().await.log })).into_response()
}

/// Every token and code ever issued, so tests can prove none leaked into logs or URLs.
pub async fn issued(State(shared): State<Shared>) -> Response {
    let world = shared.lock().await;
    let tokens: Vec<&String> = world.tokens.keys().collect();
    let codes: Vec<&String> = world.codes.keys().collect();
    Json(json!({ "tokens": tokens, "codes": codes })).into_response()
}

/// Settings to change; those left out keep their value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    code_lifetime_ms: Option<u64>,
    /// What `X-App-Usage` reports on every Graph answer from now on.
    #[serde(default)]
    app_usage: Option<AppUsagePatch>,
}

pub async fn settings(State(shared): State<Shared>, Json(req): Json<Settings>) -> Response {
    let mut world = shared.lock().await;
    if let Some(ms) = req.code_lifetime_ms {
        world.code_lifetime = Duration::from_millis(ms);
    }
    if let Some(patch) = &req.app_usage {
        world.app_usage.apply(patch);
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
pub struct Expire {
    business_id: String,
    expires_in_secs: u64,
}

/// Makes every valid token of a business expire soon, to exercise refreshing.
pub async fn expire(State(shared): State<Shared>, Json(req): Json<Expire>) -> Response {
    let mut world = shared.lock().await;
    let at = now_epoch() + req.expires_in_secs;
    let mut count = 0;
    for token in world
        .tokens
        .values_mut()
        .filter(|t| t.business_id == req.business_id && t.valid)
    {
        token.expires_at = at;
        count += 1;
    }
    Json(json!({ "expiring": count })).into_response()
}

#[derive(Deserialize)]
pub struct PartnerToken {
    app_id: String,
}

/// A token of the partner's own admin system user, as the provider would configure it.
pub async fn partner_token(
    State(shared): State<Shared>,
    Json(req): Json<PartnerToken>,
) -> Response {
    let mut world = shared.lock().await;
    if world.app(&req.app_id).is_none() {
        return (StatusCode::BAD_REQUEST, "unknown app").into_response();
    }
    let seq = world.tokens.len() as u64;
    let token = world.add_token(Token {
        app_id: req.app_id,
        kind: TokenKind::Partner,
        business_id: "partner".into(),
        system_user_id: random_id(),
        scopes: vec!["business_management".into()],
        granular: vec![("business_management".into(), None)],
        issued_at: now_epoch(),
        issued_seq: seq,
        expires_at: 0,
        valid: true,
        invalid_subcode: SESSION_INVALIDATED,
        bisu: false,
        parent: None,
        page_id: None,
    });
    Json(json!({ "access_token": token })).into_response()
}

/// The seed's second app: the usual "another app" of tests.
const OTHER_APP_ID: &str = "1000000000000002";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    business_id: Option<String>,
}

/// An app the emulator did not know, created for a test: obviously fake, one BISU configuration.
fn other_app(id: &str) -> App {
    App {
        id: id.to_owned(),
        secret: format!("other-app-{id}-secret-not-a-real-secret"),
        name: format!("Other Demo App {id}"),
        require_appsecret_proof: false,
        configs: vec![LoginConfig {
            id: random_id(),
            kind: "bisu".into(),
            scopes: vec!["business_management".into(), "ads_read".into()],
            targeted_scopes: vec![],
            token_expires_in: None,
        }],
    }
}

/// A BISU token of any app (default the seed's second one, an app that is not the partner's;
/// an unknown id creates that app) for a business (default the seed's first), as if its login
/// had happened: e.g. to show `debug_token` refusing another app's token.
pub async fn issue_token(State(shared): State<Shared>, Json(req): Json<TokenRequest>) -> Response {
    let mut world = shared.lock().await;
    let app_id = req.app_id.unwrap_or_else(|| OTHER_APP_ID.into());
    if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
        return (StatusCode::BAD_REQUEST, "app_id must be a numeric id").into_response();
    }
    if world.app(&app_id).is_none() {
        world.apps.push(other_app(&app_id));
    }
    let app = world.app(&app_id).cloned().expect("just ensured");
    let Some(config) = app.configs.first() else {
        return (
            StatusCode::BAD_REQUEST,
            "the app has no login configuration",
        )
            .into_response();
    };
    let business_id = req
        .business_id
        .or_else(|| world.businesses.first().map(|b| b.id.clone()))
        .unwrap_or_default();
    let Some(business) = world.business(&business_id).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown business").into_response();
    };
    let (token, _) = world.mint_token(&app.id, &config.id, &business.id);
    Json(
        json!({"access_token": token, "app_id": app.id, "app_secret": app.secret,
        "business_id": business.id, "system_user_id": business.system_user_id}),
    )
    .into_response()
}

/// Removes a pixel from a business's owned or shared list.
pub async fn remove_pixel(
    State(shared): State<Shared>,
    axum::extract::Path((business, pixel)): axum::extract::Path<(String, String)>,
) -> Response {
    let mut world = shared.lock().await;
    let Some(b) = world.business_mut(&business) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let before = b.pixels.len() + b.shared_pixels.len();
    b.pixels.retain(|p| p.id != pixel);
    b.shared_pixels.retain(|p| p.id != pixel);
    let removed = before - b.pixels.len() - b.shared_pixels.len();
    Json(json!({ "removed": removed })).into_response()
}
