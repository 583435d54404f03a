//! `GET /debug_token`: what Graph tells an app about a token, and its refusal for another app's.

use axum::response::Response;
use serde_json::{Value, json};

use crate::graph::{Call, Caller, graph_error, json_response};
use crate::world::{APP_NOT_INSTALLED, REVOKED, TokenKind, World, now_epoch};

pub fn debug_token(world: &mut World, call: &Call, caller: &Caller) -> Response {
    let Caller::App(app_id) = caller else {
        return graph_error(
            400,
            190,
            None,
            "Invalid OAuth access token - debug_token needs the app access token",
            "OAuthException",
        );
    };
    let Some(input) = call.params.get("input_token") else {
        return graph_error(
            400,
            100,
            None,
            "The parameter input_token is required",
            "OAuthException",
        );
    };
    let Some(info) = world.tokens.get(input) else {
        return json_response(
            200,
            json!({"data": {"error": {"code": 190, "message": "Invalid OAuth access token."}, "is_valid": false, "scopes": []}}),
        );
    };
    if info.app_id != *app_id {
        return graph_error(
            400,
            100,
            None,
            "(#100) The App_id in the input_token did not match the Viewing App",
            "OAuthException",
        );
    }
    let granular: Vec<Value> = info
        .granular
        .iter()
        .map(|(scope, targets)| match targets {
            Some(ids) => json!({"scope": scope, "target_ids": ids}),
            None => json!({"scope": scope}),
        })
        .collect();
    let expired = info.expires_at != 0 && info.expires_at <= now_epoch();
    let kind = match info.kind {
        TokenKind::User => "USER",
        TokenKind::Page => "PAGE",
        TokenKind::SystemUser | TokenKind::Partner => "SYSTEM_USER",
    };
    let application = world.app(&info.app_id).map_or("", |a| a.name.as_str());
    let mut data = json!({
        "app_id": info.app_id,
        "type": kind,
        "application": application,
        "data_access_expires_at": 0,
        "expires_at": info.expires_at,
        "is_valid": info.valid && !expired,
        "issued_at": info.issued_at,
        "scopes": info.scopes,
        "granular_scopes": granular,
        "user_id": info.system_user_id,
    });
    if let Some(page) = &info.page_id {
        data["profile_id"] = json!(page);
    }
    if !info.valid {
        let message = if info.invalid_subcode == APP_NOT_INSTALLED {
            format!("The user has not authorized application {}.", info.app_id)
        } else if info.invalid_subcode == REVOKED {
            "The session was invalidated explicitly using an API call.".to_owned()
        } else {
            "The session has been invalidated.".to_owned()
        };
        data["error"] = json!({"code": 190, "subcode": info.invalid_subcode, "message": message});
    }
    json_response(200, json!({ "data": data }))
}
