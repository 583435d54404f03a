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
    App, Asset, Business, LoginConfig, Person, SESSION_INVALIDATED, SIXTY_DAYS, Token, TokenKind,
    now_epoch, random_id,
};

#[derive(Deserialize)]
pub struct CodeRequest {
    app_id: String,
    config_id: String,
    business_id: String,
    #[serde(default)]
    redirect_uri: Option<String>,
    /// A user-token configuration: the admin who logged in (default the business's first).
    #[serde(default)]
    user_id: Option<String>,
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

pub async fn issue_code(State(shared): State<Shared>, Json(req): Json<CodeRequest>) -> Response {
    let mut world = shared.lock().await;
    let Some(config) = world.config(&req.app_id, &req.config_id).cloned() else {
        return bad_request("unknown app, configuration or business");
    };
    let Some(business) = world.business(&req.business_id).cloned() else {
        return bad_request("unknown app, configuration or business");
    };
    let user = if config.kind == "user" {
        let wanted = req
            .user_id
            .or_else(|| business.admins.first().map(|a| a.id.clone()));
        match wanted.filter(|u| world.is_admin(&business.id, u)) {
            Some(user) => Some(user),
            None => return bad_request("user_id must be an admin of the business"),
        }
    } else {
        None
    };
    let code = world.issue_code(
        &req.app_id,
        &req.config_id,
        &req.business_id,
        req.redirect_uri,
        user.clone(),
    );
    let mut body = json!({ "code": code });
    if let Some(user) = user {
        body["user_id"] = json!(user);
    }
    Json(body).into_response()
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
    #[serde(default)]
    pages: usize,
    #[serde(default)]
    catalogs: usize,
    #[serde(default)]
    ad_accounts: usize,
    #[serde(default)]
    requires_expiring_tokens: bool,
}

fn pixels(count: usize, label: &str, owner: Option<&str>) -> Vec<Asset> {
    (1..=count)
        .map(|n| Asset {
            id: random_id(),
            name: format!("{label} {n}"),
            owner_business_id: owner.map(str::to_owned),
            roles: vec![],
        })
        .collect()
}

/// A new business with `owned_pixels` of its own and `shared_pixels` shared by another,
/// `pages`, `catalogs` and `ad_accounts` of its own, and one admin.
pub async fn add_business(State(shared): State<Shared>, Json(req): Json<NewBusiness>) -> Response {
    let sharer = random_id();
    let name = req.name.unwrap_or_else(|| "Test business".into());
    let mut ad_accounts = pixels(req.ad_accounts, "Ad account", None);
    for account in &mut ad_accounts {
        account.id = format!("act_{}", account.id);
    }
    let business = Business {
        id: random_id(),
        system_user_id: random_id(),
        pixels: pixels(req.owned_pixels, "Owned pixel", None),
        pages: pixels(req.pages, &format!("{name} page"), None),
        shared_pixels: pixels(req.shared_pixels, "Shared pixel", Some(&sharer)),
        empty_page: req.empty_page,
        catalogs: pixels(req.catalogs, "Catalog", None),
        ad_accounts,
        admins: vec![Person {
            id: random_id(),
            name: format!("Admin of {name}"),
        }],
        system_users: vec![],
        requires_expiring_tokens: req.requires_expiring_tokens,
        name,
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

/// Every token, code and `signed_request` ever issued, so tests can prove none leaked into
/// logs or URLs.
pub async fn issued(State(shared): State<Shared>) -> Response {
    let world = shared.lock().await;
    let tokens: Vec<&String> = world.tokens.keys().collect();
    let codes: Vec<&String> = world.codes.keys().collect();
    Json(json!({
        "tokens": tokens,
        "codes": codes,
        "signed_requests": world.signed_requests,
    }))
    .into_response()
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

/// The scopes of a partner token handed out by `/_emulator/partner-token` unless told otherwise:
/// enough for On-Behalf-Of with the service's default scopes.
pub const PARTNER_SCOPES: [&str; 6] = [
    "business_management",
    "ads_management",
    "ads_read",
    "catalog_management",
    "pages_show_list",
    "pages_read_engagement",
];

#[derive(Deserialize)]
pub struct PartnerToken {
    app_id: String,
    /// Default: the first admin system user of the partner's business.
    #[serde(default)]
    system_user_id: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    expires_in_60_days: bool,
}

/// A token of a system user of the partner's own business (default its admin system user), as
/// the operator generates it in Business Settings: the app is installed for that system user.
/// Answers `{access_token, system_user_id, business_id, scopes, expires_at}` (`expires_at`
/// null: never).
pub async fn partner_token(
    State(shared): State<Shared>,
    Json(req): Json<PartnerToken>,
) -> Response {
    let mut world = shared.lock().await;
    if world.app(&req.app_id).is_none() {
        return bad_request("unknown app");
    }
    let Some(business) = world.partner_business(&req.app_id) else {
        return bad_request("the seed has no partner business (an app with business_id)");
    };
    let system_user = match req.system_user_id {
        Some(id) => world
            .system_user(&id)
            .filter(|(b, _)| b.id == business)
            .map(|(_, su)| su.id.clone()),
        None => world.business(&business).and_then(|b| {
            b.system_users
                .iter()
                .find(|su| su.role == "ADMIN")
                .map(|su| su.id.clone())
        }),
    };
    let Some(system_user) = system_user else {
        return bad_request("no such system user in the partner business");
    };
    let scopes = req
        .scopes
        .unwrap_or_else(|| PARTNER_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    let now = now_epoch();
    let expires_at = if req.expires_in_60_days {
        now + SIXTY_DAYS
    } else {
        0
    };
    let seq = world.tokens.len() as u64;
    world
        .installs
        .insert((system_user.clone(), req.app_id.clone()));
    let token = world.add_token(Token {
        app_id: req.app_id,
        kind: TokenKind::Partner,
        business_id: business.clone(),
        system_user_id: system_user.clone(),
        granular: scopes.iter().map(|s| (s.clone(), None)).collect(),
        scopes: scopes.clone(),
        issued_at: now,
        issued_seq: seq,
        expires_at,
        valid: true,
        invalid_subcode: SESSION_INVALIDATED,
        bisu: false,
        parent: None,
        page_id: None,
        obo_partner: None,
    });
    Json(json!({
        "access_token": token,
        "system_user_id": system_user,
        "business_id": business,
        "scopes": scopes,
        "expires_at": (expires_at != 0).then_some(expires_at),
    }))
    .into_response()
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
        business_id: None,
        permissions: vec![],
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
