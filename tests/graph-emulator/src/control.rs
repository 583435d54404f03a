//! The control API tests use: issue codes, add businesses, inject faults, invalidate tokens,
//! read the request log and everything secret the emulator handed out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

use crate::Shared;
use crate::world::{Asset, Business, Fault, Token, TokenKind, now_epoch, random_id};

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
    if fault.count == 0 {
        return (StatusCode::BAD_REQUEST, "count must be at least 1").into_response();
    }
    shared.lock().await.faults.push(fault);
    StatusCode::NO_CONTENT.into_response()
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

#[derive(Deserialize)]
pub struct Settings {
    code_lifetime_ms: u64,
}

pub async fn settings(State(shared): State<Shared>, Json(req): Json<Settings>) -> Response {
    shared.lock().await.code_lifetime = Duration::from_millis(req.code_lifetime_ms);
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
        bisu: false,
    });
    Json(json!({ "access_token": token })).into_response()
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
