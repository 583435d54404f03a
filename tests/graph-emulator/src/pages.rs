//! Pages and the page tokens derived from the token that asks: `GET /{page_id}`, `/me/accounts`.

use axum::response::Response;
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

/// The pages the token's system user has a role on: its business's pages.
fn pages_of(world: &World, info: &Token) -> Vec<Asset> {
    match info.kind {
        TokenKind::SystemUser | TokenKind::User => world
            .business(&info.business_id)
            .map_or(vec![], |b| b.pages.clone()),
        TokenKind::Partner | TokenKind::Page => vec![],
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

fn page_value(world: &mut World, token: &str, info: &Token, page: &Asset, field: &str) -> Value {
    match field {
        "id" => json!(page.id),
        "name" => json!(page.name),
        "category" => json!("Local business"),
        "category_list" => json!([{"id": "2500", "name": "Local business"}]),
        "tasks" => json!(TASKS),
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
    let own = pages_of(world, info).into_iter().find(|p| p.id == id);
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
    body["id"] = json!(page.id);
    json_response(200, body)
}

/// `GET /me/accounts`: every page the system user has a role on, each with its page token.
pub fn accounts(world: &mut World, _call: &Call, token: &str, info: &Token) -> Response {
    if info.kind == TokenKind::Page {
        return nonexisting_field("accounts", "Page");
    }
    let fields = [
        "access_token",
        "category",
        "category_list",
        "name",
        "id",
        "tasks",
    ];
    let data: Vec<Value> = pages_of(world, info)
        .iter()
        .map(|page| {
            let mut entry = json!({});
            for field in fields {
                entry[field] = page_value(world, token, info, page, field);
            }
            entry
        })
        .collect();
    json_response(
        200,
        json!({"data": data, "paging": {"cursors": {"before": "ZmFrZS1iZWZvcmU", "after": "ZmFrZS1hZnRlcg"}}}),
    )
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
