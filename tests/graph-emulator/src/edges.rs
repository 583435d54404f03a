//! Business edges: pixel lists with Graph's cursor paging, and system user token minting.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::graph::{Call, graph_error, json_response};
use crate::world::{Asset, SIXTY_DAYS, Token, TokenKind, World, now_epoch};

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// Graph's answer for an object the token cannot see (or that does not exist).
pub fn not_visible(business: &str) -> Response {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported get request. Object with ID '{business}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
        "GraphMethodException",
    )
}

/// `GET /{business}/owned_pixels` and `/client_pixels`.
pub fn pixels(world: &mut World, call: &Call, token: &str, info: &Token) -> Response {
    let mut parts = call.path.trim_start_matches('/').split('/');
    let (business_id, edge) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let Some(business) = world
        .business(business_id)
        .filter(|_| info.business_id == business_id)
    else {
        return not_visible(business_id);
    };
    let owner = json!({"id": business.id, "name": business.name});
    let list: Vec<Value> = match edge {
        "owned_pixels" => business
            .pixels
            .iter()
            .map(|p| pixel(p, &owner, false))
            .collect(),
        _ => business
            .shared_pixels
            .iter()
            .map(|p| {
                pixel(
                    p,
                    &json!({"id": p.owner_business_id, "name": "Sharing business"}),
                    true,
                )
            })
            .collect(),
    };
    let fields: Vec<&str> = call
        .params
        .get("fields")
        .map_or(vec!["id"], |f| split_fields(f));
    let limit = call
        .params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LIMIT);
    // Cursors: "i<index>" for a page, "e<index>" once the quirky empty page was served.
    let cursor = call
        .params
        .get("after")
        .and_then(|a| URL_SAFE_NO_PAD.decode(a).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (start, served_empty) = match cursor.as_deref().map(|c| c.split_at(1)) {
        Some(("i", n)) => (n.parse().unwrap_or(0), false),
        Some(("e", n)) => (n.parse().unwrap_or(0), true),
        _ => (0, false),
    };
    let encode = |c: String| URL_SAFE_NO_PAD.encode(c);
    let (data, next_cursor): (Vec<Value>, Option<String>) =
        if business.empty_page && start == limit && !served_empty {
            (vec![], Some(encode(format!("e{start}"))))
        } else {
            let end = (start + limit).min(list.len());
            let page = list
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|p| select(p, &fields))
                .collect();
            (page, (end < list.len()).then(|| encode(format!("i{end}"))))
        };
    let mut body = json!({"data": data, "paging": {"cursors": {"before": encode(format!("i{start}")), "after": next_cursor.clone().unwrap_or_else(|| encode(format!("i{start}")))}}});
    if let Some(after) = next_cursor {
        // Like Graph, the next URL repeats the query, token included.
        let mut next = url::Url::parse(&format!(
            "http://{}/{}{}",
            call.host, call.version, call.path
        ))
        .expect("a URL");
        next.query_pairs_mut()
            .append_pair("access_token", token)
            .append_pair("fields", &fields.join(","))
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &after);
        body["paging"]["next"] = json!(next.as_str());
    }
    if call
        .params
        .get("summary")
        .is_some_and(|s| s.contains("total_count"))
    {
        body["summary"] = json!({"total_count": list.len()});
    }
    json_response(200, body)
}

/// Splits a `fields` list at top-level commas (`owner_business{id,name}` stays whole).
fn split_fields(fields: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (vec![], 0, 0);
    for (i, c) in fields.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&fields[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&fields[start..]);
    out
}

fn pixel(p: &Asset, owner: &Value, shared: bool) -> Value {
    let mut value = json!({
        "id": p.id, "name": p.name, "creation_time": "2025-01-15T10:00:00+0000",
        "last_fired_time": "2026-11-01T08:30:00+0000", "is_unavailable": false,
        "owner_business": owner, "data_use_setting": "ADVERTISING_AND_ANALYTICS",
    });
    if shared {
        value["permitted_tasks"] = json!(["ADVERTISE", "ANALYZE", "UPLOAD"]);
    }
    value
}

fn select(pixel: &Value, fields: &[&str]) -> Value {
    let mut out = json!({});
    for field in fields {
        let name = field.split('{').next().unwrap_or(field);
        if let Some(v) = pixel.get(name) {
            out[name] = v.clone();
        }
    }
    out
}

/// Reads a list sent comma-separated or as a JSON array (`["a","b"]`, or `['a','b']` as
/// Meta's own examples write it).
pub fn list(raw: Option<&String>) -> Vec<String> {
    let Some(raw) = raw else { return vec![] };
    serde_json::from_str::<Vec<String>>(raw).unwrap_or_else(|_| {
        raw.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"').trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// Whether a boolean parameter is set (`true` or `1`).
pub fn flag(call: &Call, name: &str) -> bool {
    call.params
        .get(name)
        .is_some_and(|v| v == "true" || v == "1")
}

/// `POST /{business}/system_user_access_tokens`: granular tokens, or `fetch_only`.
pub fn system_user_access_tokens(
    world: &mut World,
    call: &Call,
    token: &str,
    info: &Token,
) -> Response {
    let business_id = call
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let Some(business) = world.business(&business_id).cloned() else {
        return not_visible(&business_id);
    };
    let is_partner = info.kind == TokenKind::Partner;
    let manages = is_partner || info.business_id == business_id;
    if !manages || !info.scopes.iter().any(|s| s == "business_management") {
        return graph_error(
            400,
            200,
            None,
            "(#200) Requires business_management permission to manage the object",
            "OAuthException",
        );
    }
    if call.params.get("system_user_id") != Some(&business.system_user_id) {
        return graph_error(
            400,
            100,
            None,
            "(#100) Param system_user_id must be the business integration system user",
            "OAuthException",
        );
    }
    if call.params.get("fetch_only").is_some_and(|f| f == "true") {
        return match world.current_bisu(&info.app_id, &business_id) {
            Some(existing) => json_response(200, json!({"access_token": existing})),
            None => graph_error(
                400,
                100,
                None,
                "(#100) No token exists for this system user",
                "OAuthException",
            ),
        };
    }
    if is_partner {
        return graph_error(
            400,
            200,
            None,
            "(#200) Only fetch_only is allowed with this token",
            "OAuthException",
        );
    }
    let scopes = list(call.params.get("scope"));
    if scopes.is_empty() || scopes.iter().any(|s| !info.scopes.contains(s)) {
        return graph_error(
            400,
            3962,
            None,
            "Invalid permission: the scope must be a subset of the original token's",
            "OAuthException",
        );
    }
    let assets = list(call.params.get("asset"));
    let granted = |asset: &String| {
        info.granular
            .iter()
            .filter(|(scope, _)| scopes.contains(scope))
            .any(|(_, targets)| targets.as_ref().is_none_or(|ids| ids.contains(asset)))
    };
    if assets.iter().any(|a| !granted(a)) {
        return graph_error(
            400,
            200,
            None,
            "(#200) The asset must be a subset of the original token's assets",
            "OAuthException",
        );
    }
    let now = now_epoch();
    let granular = info
        .granular
        .iter()
        .filter(|(scope, _)| scopes.contains(scope))
        .map(|(scope, targets)| {
            let limited = if assets.is_empty() {
                targets.clone()
            } else {
                Some(assets.clone())
            };
            (scope.clone(), limited)
        })
        .collect();
    let minted = Token {
        scopes,
        granular,
        issued_at: now,
        issued_seq: world.tokens.len() as u64,
        expires_at: if flag(call, "set_token_expires_in_60_days") {
            now + SIXTY_DAYS
        } else {
            0
        },
        bisu: false,
        // Derived from the calling token: it dies with it (an uninstall kills both).
        parent: Some(token.to_owned()),
        ..info.clone()
    };
    let value = world.add_token(minted);
    json_response(200, json!({ "access_token": value }))
}

/// `grant_type=fb_exchange_token`: a fresh 60-day token with the same grants.
pub fn refresh(world: &mut World, old: &str) -> Response {
    let Some(info) = world.tokens.get(old).cloned().filter(|t| t.valid) else {
        return crate::graph::unparsable_token();
    };
    let now = now_epoch();
    let renewed = Token {
        issued_at: now,
        issued_seq: world.tokens.len() as u64,
        expires_at: now + SIXTY_DAYS,
        ..info
    };
    let value = world.add_token(renewed);
    json_response(
        200,
        json!({"access_token": value, "token_type": "bearer", "expires_in": SIXTY_DAYS}),
    )
}

/// `DELETE /{partner_bm}/managed_businesses?existing_client_business_id=` with a system user
/// token of the partner business: ends On-Behalf-Of. The partner's system user in the client
/// business goes, with its tokens and every token derived from them (page tokens). Removing a
/// relationship that does not exist (any more) answers the same success.
pub fn remove_managed_business(
    world: &mut World,
    call: &Call,
    _token: &str,
    info: &Token,
) -> Response {
    let partner = call
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let client = call
        .params
        .get("existing_client_business_id")
        .cloned()
        .unwrap_or_default();
    if info.kind != TokenKind::Partner
        || info.business_id != partner
        || world.business(&client).is_none()
    {
        return graph_error(
            400,
            42004,
            None,
            "Failed to remove the managed business",
            "OAuthException",
        );
    }
    world.remove_managed(&partner, &client);
    json_response(200, json!({ "success": true }))
}
