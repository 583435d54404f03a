//! Pages and the page tokens derived from the token that asks: `GET /{page_id}`, `/me/accounts`.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::graph::{Call, graph_error, json_response};
use crate::world::{Asset, SESSION_INVALIDATED, Token, TokenKind, World, now_epoch};

const TASKS: [&str; 6] = [
    "ADVERTISE",
    "ANALYZE",
    "CREATE_CONTENT",
    "MESSAGING",
    "MODERATE",
    "MANAGE",
];

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// The pages the token's (system) user has a role on, with its tasks there: every page of its
/// business for a BISU (and the tokens derived from it) or an admin's user token; the pages
/// assigned to it for the partner's own system users and a client system user (On-Behalf-Of).
fn pages_of(world: &World, info: &Token) -> Vec<(Asset, Vec<String>)> {
    let all_tasks = || TASKS.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    match info.kind {
        TokenKind::SystemUser if info.obo_partner.is_some() => {
            world.pages_with_role(&info.system_user_id)
        }
        TokenKind::SystemUser | TokenKind::User => {
            world.business(&info.business_id).map_or(vec![], |b| {
                b.pages.iter().map(|p| (p.clone(), all_tasks())).collect()
            })
        }
        TokenKind::Partner => world.pages_with_role(&info.system_user_id),
        TokenKind::Page => vec![],
    }
}

/// The page's token derived from `parent`: the one already derived if still valid (a stable
/// page token), else a new one that never expires and dies with `parent`.
fn page_token(world: &mut World, parent: &str, info: &Token, page: &str) -> String {
    let existing = world.tokens.iter().find(|(_, t)| {
        t.valid && t.parent.as_deref() == Some(parent) && t.page_id.as_deref() == Some(page)
    });
    if let Some((value, _)) = existing {
        return value.clone();
    }
    let token = Token {
        kind: TokenKind::Page,
        issued_at: now_epoch(),
        issued_seq: world.tokens.len() as u64,
        expires_at: 0,
        valid: true,
        invalid_subcode: SESSION_INVALIDATED,
        bisu: false,
        parent: Some(parent.to_owned()),
        page_id: Some(page.to_owned()),
        ..info.clone()
    };
    world.add_token(token)
}

fn page_value(
    world: &mut World,
    token: &str,
    info: &Token,
    (page, tasks): &(Asset, Vec<String>),
    field: &str,
) -> Value {
    match field {
        "id" => json!(page.id),
        "name" => json!(page.name),
        "category" => json!("Local business"),
        "category_list" => json!([{"id": "2500", "name": "Local business"}]),
        "tasks" => json!(tasks),
        "access_token" => json!(page_token(world, token, info, &page.id)),
        _ => Value::Null,
    }
}

fn nonexisting_field(field: &str, node: &str) -> Response {
    graph_error(
        400,
        100,
        None,
        &format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
        "OAuthException",
    )
}

/// `GET /{id}`: a page the token's system user has a role on (with `fields=access_token`, its
/// page token); other ids are not visible.
pub fn node(world: &mut World, call: &Call, token: &str, info: &Token) -> Response {
    let id = call.path.trim_start_matches('/');
    let is_page = world
        .businesses
        .iter()
        .any(|b| b.pages.iter().any(|p| p.id == id));
    if !is_page {
        return graph_error(
            400,
            100,
            Some(33),
            &format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            "GraphMethodException",
        );
    }
    let fields: Vec<String> = call
        .params
        .get("fields")
        .map_or(vec!["name".into(), "id".into()], |f| {
            f.split(',').map(str::to_owned).collect()
        });
    let own = pages_of(world, info).into_iter().find(|(p, _)| p.id == id);
    let page = match own {
        Some(page) => page,
        None if fields.iter().any(|f| f == "access_token") => {
            return graph_error(
                400,
                200,
                None,
                "(#200) The system user must have a role on this page to get its access token",
                "OAuthException",
            );
        }
        None => return graph_error(400, 10, None, "(#10) Permission denied", "OAuthException"),
    };
    let mut body = json!({});
    for field in &fields {
        match page_value(world, token, info, &page, field) {
            Value::Null => return nonexisting_field(field, "Page"),
            value => body[field.as_str()] = value,
        }
    }
    body["id"] = json!(page.0.id);
    json_response(200, body)
}

/// `GET /me/accounts`: every page the (system) user has a role on, each with its page token,
/// `limit` (default 25, at most 100) a page, cursor paging (`after`, `paging.next`).
pub fn accounts(world: &mut World, call: &Call, token: &str, info: &Token) -> Response {
    if info.kind == TokenKind::Page {
        return nonexisting_field("accounts", "Page");
    }
    let default_fields = "access_token,category,category_list,name,id,tasks";
    let fields: Vec<String> = call
        .params
        .get("fields")
        .map_or(default_fields, String::as_str)
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    let limit = call
        .params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LIMIT);
    // A cursor names an item (`p<index>`): `after` starts past the item it names.
    let start: usize = call
        .params
        .get("after")
        .and_then(|a| URL_SAFE_NO_PAD.decode(a).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|c| c.strip_prefix('p').and_then(|n| n.parse::<usize>().ok()))
        .map_or(0, |n| n + 1);
    let pages = pages_of(world, info);
    let end = (start + limit).min(pages.len());
    let mut data = Vec::new();
    for page in pages.get(start..end).unwrap_or_default() {
        let mut entry = json!({});
        for field in &fields {
            match page_value(world, token, info, page, field) {
                Value::Null => return nonexisting_field(field, "Page"),
                value => entry[field.as_str()] = value,
            }
        }
        data.push(entry);
    }
    if data.is_empty() {
        // Like Graph, an empty list carries no paging.
        return json_response(200, json!({ "data": data }));
    }
    let encode = |n: usize| URL_SAFE_NO_PAD.encode(format!("p{n}"));
    let mut body = json!({"data": data, "paging": {"cursors": {"before": encode(start), "after": encode(end - 1)}}});
    if end < pages.len() {
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
            .append_pair("after", &encode(end - 1));
        body["paging"]["next"] = json!(next.as_str());
    }
    json_response(200, body)
}

/// `GET /me` with a page token: the page.
pub fn me(world: &World, fields: &[&str], info: &Token) -> Response {
    let page_id = info.page_id.clone().unwrap_or_default();
    let name = world
        .businesses
        .iter()
        .flat_map(|b| &b.pages)
        .find(|p| p.id == page_id)
        .map_or(String::new(), |p| p.name.clone());
    let mut body = json!({"id": page_id});
    for field in fields {
        match *field {
            "id" => {}
            "name" => body["name"] = json!(name),
            other => return nonexisting_field(other, "Page"),
        }
    }
    json_response(200, body)
}
