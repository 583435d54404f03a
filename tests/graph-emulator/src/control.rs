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
use crate::world::{Business, Fault, random_id};

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
}

pub async fn add_business(State(shared): State<Shared>, Json(req): Json<NewBusiness>) -> Response {
    let business = Business {
        id: random_id(),
        name: req.name.unwrap_or_else(|| "Test business".into()),
        system_user_id: random_id(),
        pixels: vec![],
        pages: vec![],
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
