//! System users of the partner's own business: `POST /{system_user_id}/applications` installs
//! the app, `POST /{system_user_id}/access_tokens` mints their tokens.

use axum::response::Response;
use serde_json::json;

use crate::edges::{flag, list, not_visible};
use crate::graph::{Call, graph_error, json_response};
use crate::world::{SESSION_INVALIDATED, SIXTY_DAYS, Token, TokenKind, World, now_epoch};

fn oauth(code: i64, message: &str) -> Response {
    graph_error(400, code, None, message, "OAuthException")
}

/// The system user of the path, its business, and the app of `business_app`, once the caller
/// is known to act for that business; else Graph's refusal.
#[allow(clippy::result_large_err)] // the refusal is the whole answer, built once per call
fn target(world: &World, call: &Call, info: &Token) -> Result<(String, String, String), Response> {
    let su = call
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let Some((business, _)) = world.system_user(&su) else {
        return Err(not_visible(&su));
    };
    let business = business.id.clone();
    if !world.member_may_manage(&business, info)
        || !info.scopes.iter().any(|s| s == "business_management")
    {
        return Err(oauth(
            200,
            "(#200) The token must belong to an admin, an admin system user or a system user of the system user's business, with business_management",
        ));
    }
    let Some(app_id) = call.params.get("business_app").filter(|a| !a.is_empty()) else {
        return Err(oauth(100, "(#100) The parameter business_app is required"));
    };
    let owned = world
        .app(app_id)
        .is_some_and(|a| a.business_id.as_deref() == Some(business.as_str()));
    if !owned {
        return Err(oauth(
            100,
            &format!("(#100) The app {app_id} does not belong to the business of system user {su}"),
        ));
    }
    Ok((su, business, app_id.clone()))
}

/// `POST /{system_user_id}/applications` with `business_app`: installs the app for the system
/// user -> `true`. Installing again is harmless.
pub fn install_app(world: &mut World, call: &Call, _token: &str, info: &Token) -> Response {
    let (su, _, app_id) = match target(world, call, info) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    world.installs.insert((su, app_id));
    json_response(200, json!(true))
}

/// `POST /{system_user_id}/access_tokens` with `business_app`, `scope`, `appsecret_proof`
/// (required), `set_token_expires_in_60_days` -> `{"access_token"}`.
pub fn mint(world: &mut World, call: &Call, _token: &str, info: &Token) -> Response {
    let (su, business, app_id) = match target(world, call, info) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !world.installs.contains(&(su.clone(), app_id.clone())) {
        return oauth(
            200,
            &format!(
                "(#200) The app {app_id} is not installed for system user {su}: install it with POST /{su}/applications first"
            ),
        );
    }
    let scopes = list(call.params.get("scope"));
    if scopes.is_empty() {
        return oauth(100, "(#100) The parameter scope is required");
    }
    let permissions = world
        .app(&app_id)
        .map(|a| a.permissions.clone())
        .unwrap_or_default();
    if let Some(bad) = scopes
        .iter()
        .find(|s| !permissions.is_empty() && !permissions.contains(s))
    {
        return oauth(100, &format!("(#100) Invalid scope: {bad}"));
    }
    let expiring = flag(call, "set_token_expires_in_60_days");
    let required = world
        .business(&business)
        .is_some_and(|b| b.requires_expiring_tokens);
    if required && !expiring {
        return oauth(
            100,
            "(#100) This business requires system user access tokens to expire: set set_token_expires_in_60_days=true to generate one",
        );
    }
    let now = now_epoch();
    let minted = Token {
        app_id,
        kind: TokenKind::Partner,
        business_id: business,
        system_user_id: su,
        granular: scopes.iter().map(|s| (s.clone(), None)).collect(),
        scopes,
        issued_at: now,
        issued_seq: world.tokens.len() as u64,
        expires_at: if expiring { now + SIXTY_DAYS } else { 0 },
        valid: true,
        invalid_subcode: SESSION_INVALIDATED,
        bisu: false,
        parent: None,
        page_id: None,
        obo_partner: None,
    };
    let value = world.add_token(minted);
    json_response(200, json!({ "access_token": value }))
}
