//! On-Behalf-Of: the relationship (`POST /{partner}/managed_businesses`), the partner's system
//! user in the client business (`POST /{client}/access_token`), and asset roles
//! (`POST /{asset}/assigned_users`). The removal is in `edges`.

use axum::response::Response;
use serde_json::json;

use crate::edges::{list, not_visible};
use crate::graph::{Call, graph_error, json_response};
use crate::world::{AssetKind, SESSION_INVALIDATED, Token, TokenKind, World, now_epoch};

fn first_segment(call: &Call) -> String {
    call.path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned()
}

fn oauth(code: i64, message: &str) -> Response {
    graph_error(400, code, None, message, "OAuthException")
}

fn has_business_management(info: &Token) -> bool {
    info.scopes.iter().any(|s| s == "business_management")
}

/// `POST /{partner_bm}/managed_businesses?existing_client_business_id=` with the client admin's
/// user token (with `business_management`) -> `{"id", "name"}` of the client business.
/// Creating it again is harmless; every refusal is code 42004.
pub fn add_managed_business(
    world: &mut World,
    call: &Call,
    _token: &str,
    info: &Token,
) -> Response {
    let partner = first_segment(call);
    let client = call
        .params
        .get("existing_client_business_id")
        .cloned()
        .unwrap_or_default();
    let refusal = |why: &str| {
        oauth(
            42004,
            &format!("(#42004) Failed to create the On-Behalf-Of relationship: {why}"),
        )
    };
    let app_owner = world.app(&info.app_id).and_then(|a| a.business_id.clone());
    if app_owner.as_deref() != Some(partner.as_str()) {
        return refusal("the partner business does not own the app");
    }
    if info.kind != TokenKind::User || !has_business_management(info) {
        return refusal("a user token of a client admin with business_management is required");
    }
    let Some(business) = world.business(&client).cloned() else {
        return refusal("unknown existing_client_business_id");
    };
    if client == partner || !world.is_admin(&client, &info.system_user_id) {
        return refusal("the user is not an admin of the client business");
    }
    world.managed.insert((partner, client));
    json_response(200, json!({"id": business.id, "name": business.name}))
}

/// `POST /{client_bm}/access_token?scope=&app_id=` with the partner's admin system user token
/// and `appsecret_proof` (required) -> `{"access_token"}` of the partner's system user in the
/// client business ("{client name} SYSTEM USER", created once), with the app installed for it.
pub fn client_system_user_token(
    world: &mut World,
    call: &Call,
    _token: &str,
    info: &Token,
) -> Response {
    let client = first_segment(call);
    if world.business(&client).is_none() {
        return not_visible(&client);
    }
    let partner = info.business_id.clone();
    let admin = world
        .system_user(&info.system_user_id)
        .is_some_and(|(b, su)| b.id == partner && su.role == "ADMIN");
    if info.kind != TokenKind::Partner || !admin {
        return oauth(
            200,
            "(#200) Only an admin system user of the partner business can create a system user in a client business",
        );
    }
    let Some(app_id) = call.params.get("app_id").filter(|a| !a.is_empty()) else {
        return oauth(100, "(#100) The parameter app_id is required");
    };
    let owned = world
        .app(app_id)
        .is_some_and(|a| a.business_id.as_deref() == Some(partner.as_str()));
    if *app_id != info.app_id || !owned {
        return oauth(
            100,
            &format!("(#100) Invalid app_id {app_id}: it must be the partner's app of this token"),
        );
    }
    let scopes = list(call.params.get("scope"));
    if scopes.is_empty() {
        return oauth(100, "(#100) The parameter scope is required");
    }
    if !has_business_management(info) {
        return oauth(
            200,
            "(#200) Requires business_management permission to manage the object",
        );
    }
    if let Some(missing) = scopes.iter().find(|s| !info.scopes.contains(s)) {
        return oauth(
            200,
            &format!("(#200) The partner's token does not have the permission {missing}"),
        );
    }
    if !world.managed.contains(&(partner.clone(), client.clone())) {
        return oauth(
            200,
            &format!(
                "(#200) Business {partner} has no On-Behalf-Of relationship with business {client}"
            ),
        );
    }
    let su = world
        .obo_system_user(&client, &partner)
        .expect("the client business exists");
    world.installs.insert((su.clone(), app_id.clone()));
    let now = now_epoch();
    let token = Token {
        app_id: app_id.clone(),
        kind: TokenKind::SystemUser,
        business_id: client,
        system_user_id: su,
        granular: scopes.iter().map(|s| (s.clone(), None)).collect(),
        scopes,
        issued_at: now,
        issued_seq: world.tokens.len() as u64,
        expires_at: 0,
        valid: true,
        invalid_subcode: SESSION_INVALIDATED,
        bisu: false,
        parent: None,
        page_id: None,
        obo_partner: Some(partner),
    };
    let value = world.add_token(token);
    json_response(200, json!({ "access_token": value }))
}

/// Graph's answer to a POST on an object or edge it does not serve.
fn unsupported_post(id: &str) -> Response {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        "GraphMethodException",
    )
}

/// `POST /{asset_id}/assigned_users?user=&tasks=` with the client admin's user token: gives the
/// (system) user a role on a page, catalog or ad account -> `{"success": true}`. A pixel has no
/// such edge.
pub fn assign_user(world: &mut World, call: &Call, _token: &str, info: &Token) -> Response {
    let id = first_segment(call);
    let Some((owner, kind, asset)) = world.asset(&id) else {
        return unsupported_post(&id);
    };
    if kind == AssetKind::Pixel {
        return unsupported_post(&id);
    }
    let asset_id = asset.id.clone();
    if info.kind != TokenKind::User
        || !world.is_admin(&owner, &info.system_user_id)
        || !has_business_management(info)
    {
        return oauth(
            200,
            "(#200) Only an admin of the business that owns the asset can assign users to it",
        );
    }
    let user = call.params.get("user").cloned().unwrap_or_default();
    let member = world.is_admin(&owner, &user)
        || world.system_user(&user).is_some_and(|(b, _)| b.id == owner);
    if !member {
        return oauth(
            100,
            "(#100) Param user must be a user or system user of the business that owns the asset",
        );
    }
    let tasks = list(call.params.get("tasks"));
    if tasks.is_empty() {
        return oauth(100, "(#100) The parameter tasks is required");
    }
    let allowed = kind.tasks();
    if let Some((i, _)) = tasks
        .iter()
        .enumerate()
        .find(|(_, t)| !allowed.contains(&t.as_str()))
    {
        return oauth(
            100,
            &format!(
                "(#100) Param tasks[{i}] must be one of {{{}}}",
                allowed.join(", ")
            ),
        );
    }
    world.assign(&asset_id, &user, tasks);
    json_response(200, json!({ "success": true }))
}
