//! `/_emulator` read-outs of what Meta keeps (tokens by id, never by value; revocations,
//! installs, On-Behalf-Of relationships, roles) and the client-side acts on them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::world::{REVOKED, Token, World, now_epoch, token_id};

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

fn not_found(message: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

/// What the emulator knows of a token, without its value.
fn token_view(value: &str, t: &Token) -> Value {
    let expired = t.expires_at != 0 && t.expires_at <= now_epoch();
    json!({
        "token_id": token_id(value),
        "kind": t.kind,
        "app_id": t.app_id,
        "business_id": t.business_id,
        "user_id": t.system_user_id,
        "scopes": t.scopes,
        "valid": t.valid && !expired,
        "revoked": !t.valid && t.invalid_subcode == REVOKED,
        "invalid_subcode": (!t.valid).then_some(t.invalid_subcode),
        "expired": expired,
        "issued_at": t.issued_at,
        "expires_at": t.expires_at,
        "bisu": t.bisu,
        "parent_id": t.parent.as_deref().map(token_id),
        "page_id": t.page_id,
        "obo_partner_business_id": t.obo_partner,
    })
}

fn tokens(world: &World) -> Vec<Value> {
    let mut all: Vec<(&String, &Token)> = world.tokens.iter().collect();
    all.sort_by_key(|(_, t)| t.issued_seq);
    all.into_iter().map(|(v, t)| token_view(v, t)).collect()
}

/// `GET /_emulator/state`: businesses (system users, admins, assets and roles, settings),
/// installs, On-Behalf-Of relationships, every token by id, revocations.
pub async fn state(State(shared): State<Shared>) -> Response {
    let world = shared.lock().await;
    let installs: Vec<Value> = world
        .installs
        .iter()
        .map(|(su, app)| json!({"system_user_id": su, "app_id": app}))
        .collect();
    let managed: Vec<Value> = world
        .managed
        .iter()
        .map(|(p, c)| json!({"partner_business_id": p, "client_business_id": c}))
        .collect();
    Json(json!({
        "businesses": world.businesses,
        "installs": installs,
        "managed_businesses": managed,
        "tokens": tokens(&world),
        "revoked": world.revoked,
    }))
    .into_response()
}

/// `GET /_emulator/revoked`: the tokens revoked with `/oauth/revoke`, by id.
pub async fn revoked(State(shared): State<Shared>) -> Response {
    Json(json!({ "revoked": shared.lock().await.revoked })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspect {
    access_token: String,
}

/// `POST /_emulator/tokens/inspect` `{access_token}`: what the emulator knows of that token
/// (`known: false` if it never issued it). The value travels in the body, never in a URL.
pub async fn inspect(State(shared): State<Shared>, Json(req): Json<Inspect>) -> Response {
    let world = shared.lock().await;
    let Some(info) = world.tokens.get(&req.access_token) else {
        return Json(
            json!({"known": false, "valid": false, "token_id": token_id(&req.access_token)}),
        )
        .into_response();
    };
    let mut view = token_view(&req.access_token, info);
    view["known"] = json!(true);
    Json(view).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessSettings {
    #[serde(default)]
    requires_expiring_tokens: Option<bool>,
}

/// `POST /_emulator/businesses/{b}/settings`: the business's own settings.
pub async fn business_settings(
    State(shared): State<Shared>,
    Path(business): Path<String>,
    Json(req): Json<BusinessSettings>,
) -> Response {
    let mut world = shared.lock().await;
    let Some(b) = world.business_mut(&business) else {
        return not_found("unknown business");
    };
    if let Some(required) = req.requires_expiring_tokens {
        b.requires_expiring_tokens = required;
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserToken {
    /// Default the seed's first business.
    #[serde(default)]
    business_id: Option<String>,
    /// Default the business's first admin.
    #[serde(default)]
    user_id: Option<String>,
    /// Default the seed's first app.
    #[serde(default)]
    app_id: Option<String>,
    /// Default the app's first user-token configuration.
    #[serde(default)]
    config_id: Option<String>,
}

/// `POST /_emulator/user-token`: an admin's user token, as the On-Behalf-Of login and the code
/// exchange would give it.
pub async fn user_token(State(shared): State<Shared>, Json(req): Json<UserToken>) -> Response {
    let mut world = shared.lock().await;
    let Some(app) = (match &req.app_id {
        Some(id) => world.app(id),
        None => world.apps.first(),
    })
    .cloned() else {
        return bad_request("unknown app");
    };
    let config = match &req.config_id {
        Some(id) => app.configs.iter().find(|c| c.id == *id && c.kind == "user"),
        None => app.configs.iter().find(|c| c.kind == "user"),
    };
    let Some(config) = config.cloned() else {
        return bad_request("the app has no such user-token configuration");
    };
    let business_id = req
        .business_id
        .or_else(|| world.businesses.first().map(|b| b.id.clone()))
        .unwrap_or_default();
    let Some(business) = world.business(&business_id).cloned() else {
        return bad_request("unknown business");
    };
    let user = req
        .user_id
        .or_else(|| business.admins.first().map(|a| a.id.clone()));
    let Some(user) = user.filter(|u| world.is_admin(&business.id, u)) else {
        return bad_request("user_id must be an admin of the business");
    };
    let (token, expires_in) = world.mint_token_for(&app.id, &config.id, &business.id, Some(&user));
    Json(
        json!({"access_token": token, "user_id": user, "business_id": business.id,
        "app_id": app.id, "expires_in": expires_in}),
    )
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    user: String,
    #[serde(default)]
    tasks: Vec<String>,
}

/// `POST /_emulator/assets/{asset}/assign` `{user, tasks}`: a role given in Business Settings.
pub async fn assign(
    State(shared): State<Shared>,
    Path(asset): Path<String>,
    Json(req): Json<Assign>,
) -> Response {
    let mut world = shared.lock().await;
    if !world.assign(&asset, &req.user, req.tasks) {
        return not_found("no page, catalog or ad account with that id");
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /_emulator/assets/{asset}/unassign` `{user}`: the client takes the role away; page
/// tokens of that page derived from the user's tokens die.
pub async fn unassign(
    State(shared): State<Shared>,
    Path(asset): Path<String>,
    Json(req): Json<Assign>,
) -> Response {
    let mut world = shared.lock().await;
    if world.asset(&asset).is_none() {
        return not_found("no such asset");
    }
    let removed = world.unassign(&asset, &req.user);
    Json(json!({ "removed": removed })).into_response()
}

/// `DELETE /_emulator/businesses/{b}/system-users/{su}`: the business deletes a system user;
/// its tokens and everything derived from them answer 190 (subcode 460).
pub async fn delete_system_user(
    State(shared): State<Shared>,
    Path((business, su)): Path<(String, String)>,
) -> Response {
    let mut world = shared.lock().await;
    if world.system_user(&su).is_none_or(|(b, _)| b.id != business) {
        return not_found("no such system user in that business");
    }
    let invalidated = world.delete_system_user(&su);
    Json(json!({ "invalidated": invalidated })).into_response()
}
