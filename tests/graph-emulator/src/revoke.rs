//! `GET /oauth/revoke` (and the same parameters as a POST form): revokes a (system) user token.

use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;

use crate::graph::{Caller, invalid_token, json_response, oauth_error, unparsable_token};
use crate::world::{World, now_epoch};

/// `client_id`, `client_secret`, `revoke_token`, `access_token` -> `{"success": "true"}` (a
/// string, as Meta answers). The token and every token derived from it then answer 190
/// (subcode 467). Revoking a token that is already dead answers the same success.
pub fn revoke(world: &mut World, params: &HashMap<String, String>, caller: &Caller) -> Response {
    let app_id = params.get("client_id").cloned().unwrap_or_default();
    let Some(app) = world.app(&app_id).cloned() else {
        return oauth_error(
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    };
    if params.get("client_secret") != Some(&app.secret) {
        return oauth_error(1, None, "Error validating client secret.");
    }
    match caller {
        Caller::Nobody => {
            return oauth_error(
                2500,
                None,
                "An access token is required to request this resource.",
            );
        }
        Caller::Unknown => return unparsable_token(),
        Caller::App(id) if *id != app_id => return unparsable_token(),
        Caller::App(_) => {}
        Caller::Token(_, info) => {
            if info.app_id != app_id {
                return oauth_error(
                    100,
                    None,
                    "(#100) The access token was not issued to this app",
                );
            }
            if !info.valid {
                return invalid_token(info);
            }
            if info.expires_at != 0 && info.expires_at <= now_epoch() {
                return oauth_error(
                    190,
                    Some(463),
                    "Error validating access token: Session has expired.",
                );
            }
        }
    }
    let Some(target) = params.get("revoke_token").filter(|t| !t.is_empty()) else {
        return oauth_error(100, None, "(#100) The parameter revoke_token is required");
    };
    let Some(info) = world.tokens.get(target) else {
        return unparsable_token();
    };
    if info.app_id != app_id {
        return oauth_error(
            100,
            None,
            "(#100) The token to revoke was not issued to this app",
        );
    }
    world.revoke(target);
    json_response(200, json!({"success": "true"}))
}
