//! The Graph endpoints: one dispatcher that logs every call, applies injected faults, honours
//! the `method=get` override on POST, checks tokens and `appsecret_proof` like Graph does.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::Duration;

use crate::Shared;
use crate::world::{Token, TokenKind, World};

pub fn graph_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    message: &str,
    kind: &str,
) -> Response {
    let mut error = json!({"message": message, "type": kind, "code": code, "fbtrace_id": crate::world::random_text(11)});
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    json_response(status, json!({ "error": error }))
}

/// Graph's answer to a token it cannot read.
pub fn unparsable_token() -> Response {
    graph_error(
        400,
        190,
        None,
        "Invalid OAuth access token - Cannot parse access_token",
        "OAuthException",
    )
}

/// Graph's 190 for a token that was valid once: invalidated, revoked, or its app removed.
pub fn invalid_token(info: &Token) -> Response {
    let message = if info.invalid_subcode == crate::world::APP_NOT_INSTALLED {
        format!(
            "Error validating access token: The user has not authorized application {}.",
            info.app_id
        )
    } else if info.invalid_subcode == crate::world::REVOKED {
        "Error validating access token: The session was invalidated explicitly using an API call."
            .to_owned()
    } else {
        "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.".to_owned()
    };
    graph_error(
        400,
        190,
        Some(info.invalid_subcode),
        &message,
        "OAuthException",
    )
}

pub fn oauth_error(code: i64, subcode: Option<i64>, message: &str) -> Response {
    graph_error(400, code, subcode, message, "OAuthException")
}

pub fn json_response(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        axum::Json(body),
    )
        .into_response()
}

/// Who is calling, from the `Authorization` header or an `access_token` parameter.
pub enum Caller {
    Nobody,
    App(String),
    Token(String, Box<Token>),
    Unknown,
}

pub struct Call {
    pub method: String,
    pub path: String,
    pub version: String,
    /// The Host the client used, so `next` URLs point back the way it came.
    pub host: String,
    pub params: HashMap<String, String>,
}

/// Every Graph call: answered, then stamped with `X-App-Usage` as Graph does.
pub async fn dispatch(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = answer(&shared, method, uri, headers, body).await;
    let usage = shared.lock().await.app_usage;
    crate::usage::stamp(&mut response, usage);
    response
}

async fn answer(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_path = uri.path().to_owned();
    let mut segments = raw_path.trim_start_matches('/').splitn(2, '/');
    let version = segments.next().unwrap_or("").to_owned();
    let path = format!("/{}", segments.next().unwrap_or(""));
    if !is_version(&version) {
        return graph_error(400, 2500, None, "Unknown path components", "OAuthException");
    }
    let mut params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let body_params: HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let body_keys: Vec<String> = body_params.keys().cloned().collect();
    params.extend(body_params);
    let mut effective = method.as_str().to_owned();
    if method == Method::POST
        && params
            .get("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("get"))
    {
        effective = "GET".into();
    }

    let fault = shared.lock().await.faults.take(&effective, &path);
    if let Some(delay) = fault.as_ref().and_then(|f| f.delay_ms) {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let mut world = shared.lock().await;
    let caller = identify(&world, &headers, &params);
    let (token_kind, proof_valid) = match &caller {
        Caller::Token(token, info) => (
            Some(format!("{:?}", info.kind)),
            Some(
                params
                    .get("appsecret_proof")
                    .is_some_and(|p| proof_matches(&world, info, token, p)),
            ),
        ),
        Caller::App(_) => (Some("app".to_owned()), None),
        Caller::Unknown => (Some("unknown".to_owned()), None),
        Caller::Nobody => (None, None),
    };
    // The Host the client used, so `next` URLs point back the way it came.
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let call = Call {
        method: effective,
        path,
        version: version.clone(),
        host,
        params,
    };
    let response = match fault.and_then(|f| crate::faults::response(&f, &call.path)) {
        Some(injected) => injected,
        None => match crate::scale::refusal(&mut world, &call, &caller) {
            Some(throttled) => throttled,
            None => route(&mut world, &call, &caller),
        },
    };
    let seq = world.log.len() as u64 + 1;
    world.log.push(crate::world::LogEntry {
        seq,
        method: call.method.clone(),
        path: call.path.clone(),
        version,
        url: logged_url(&uri, &call.path),
        body_keys,
        token_kind,
        appsecret_proof: call.params.get("appsecret_proof").cloned(),
        proof_valid,
        status: response.status().as_u16(),
    });
    response
}

/// The URL as logged: exactly as requested, except that `/oauth/revoke` (documented as a GET with
/// the app secret and tokens in its query) has those values replaced by `REDACTED`.
fn logged_url(uri: &Uri, path: &str) -> String {
    if path != "/oauth/revoke" {
        return uri.to_string();
    }
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .map(|(k, v)| {
                let secret =
                    ["client_secret", "revoke_token", "access_token"].contains(&k.as_str());
                (k, if secret { "REDACTED".to_owned() } else { v })
            })
            .collect();
    if pairs.is_empty() {
        return uri.path().to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}?{query}", uri.path())
}

fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        })
}

fn identify(world: &World, headers: &HeaderMap, params: &HashMap<String, String>) -> Caller {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(str::to_owned);
    let Some(token) = from_header.or_else(|| params.get("access_token").cloned()) else {
        return Caller::Nobody;
    };
    if let Some((app_id, secret)) = token.split_once('|') {
        return match world.app(app_id) {
            Some(app) if app.secret == secret => Caller::App(app_id.to_owned()),
            _ => Caller::Unknown,
        };
    }
    match world.tokens.get(&token) {
        Some(info) => Caller::Token(token.clone(), Box::new(info.clone())),
        None => Caller::Unknown,
    }
}

fn proof_matches(world: &World, info: &Token, token: &str, proof: &str) -> bool {
    let Some(app) = world.app(&info.app_id) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(app.secret.as_bytes()).expect("any key length");
    mac.update(token.as_bytes());
    hex::decode(proof).is_ok_and(|p| mac.verify_slice(&p).is_ok())
}

/// The path's segments after the version: `/123/assigned_users` is `["123", "assigned_users"]`.
fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

fn route(world: &mut World, call: &Call, caller: &Caller) -> Response {
    let parts = segments(&call.path);
    let edge = match parts.as_slice() {
        [id, edge] if !id.is_empty() && *id != "me" && *id != "oauth" => *edge,
        _ => "",
    };
    match (call.method.as_str(), call.path.as_str()) {
        ("GET" | "POST", "/oauth/access_token") => exchange(world, &call.params),
        ("GET" | "POST", "/oauth/revoke") => crate::revoke::revoke(world, &call.params, caller),
        ("GET", "/debug_token") => crate::debug_token::debug_token(world, call, caller),
        ("GET", "/me") => with_user_token(world, call, caller, me),
        ("GET", "/me/accounts") => with_user_token(world, call, caller, crate::pages::accounts),
        ("GET", p) if p.ends_with("/owned_pixels") || p.ends_with("/client_pixels") => {
            with_user_token(world, call, caller, crate::edges::pixels)
        }
        ("DELETE", p) if p.ends_with("/managed_businesses") => {
            with_user_token(world, call, caller, crate::edges::remove_managed_business)
        }
        ("POST", _) if edge == "managed_businesses" => {
            with_user_token(world, call, caller, crate::obo::add_managed_business)
        }
        ("POST", _) if edge == "access_token" => {
            with_proof_required(world, call, caller, crate::obo::client_system_user_token)
        }
        ("POST", _) if edge == "assigned_users" => {
            with_user_token(world, call, caller, crate::obo::assign_user)
        }
        ("POST", _) if edge == "applications" => {
            with_user_token(world, call, caller, crate::system_users::install_app)
        }
        ("POST", _) if edge == "access_tokens" => {
            with_proof_required(world, call, caller, crate::system_users::mint)
        }
        ("POST", p) if p.ends_with("/system_user_access_tokens") => {
            with_user_token(world, call, caller, crate::edges::system_user_access_tokens)
        }
        ("GET", p) if p.len() > 1 && !p[1..].contains('/') => {
            with_user_token(world, call, caller, crate::pages::node)
        }
        _ => graph_error(
            400,
            100,
            Some(33),
            "Unsupported request - method type or path not supported by this emulator",
            "GraphMethodException",
        ),
    }
}

type Handler = fn(&mut World, &Call, &str, &Token) -> Response;

/// Runs `handler` for a valid user or system user token that carries a correct proof (when its
/// app requires one).
fn with_user_token(world: &mut World, call: &Call, caller: &Caller, handler: Handler) -> Response {
    match authorized(world, call, caller, false) {
        Ok((token, info)) => handler(world, call, &token, &info),
        Err(refused) => refused,
    }
}

/// As `with_user_token`, for the endpoints that require `appsecret_proof` whatever the app says.
fn with_proof_required(
    world: &mut World,
    call: &Call,
    caller: &Caller,
    handler: Handler,
) -> Response {
    match authorized(world, call, caller, true) {
        Ok((token, info)) => handler(world, call, &token, &info),
        Err(refused) => refused,
    }
}

/// The calling token if it is valid, unexpired and proven as required; else Graph's refusal.
#[allow(clippy::result_large_err)] // the refusal is the whole answer, built once per call
fn authorized(
    world: &World,
    call: &Call,
    caller: &Caller,
    proof_always_required: bool,
) -> Result<(String, Box<Token>), Response> {
    let (token, info) = match caller {
        Caller::Token(token, info) => (token.clone(), info.clone()),
        Caller::Nobody => {
            return Err(oauth_error(
                2500,
                None,
                "An active access token must be used to query information about the current user.",
            ));
        }
        _ => return Err(unparsable_token()),
    };
    if !info.valid {
        return Err(invalid_token(&info));
    }
    if info.expires_at != 0 && info.expires_at <= crate::world::now_epoch() {
        return Err(graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired.",
            "OAuthException",
        ));
    }
    let requires_proof = proof_always_required
        || world
            .app(&info.app_id)
            .is_some_and(|a| a.require_appsecret_proof);
    match call.params.get("appsecret_proof") {
        None if requires_proof => {
            return Err(graph_error(
                400,
                100,
                None,
                "API calls from the server require an appsecret_proof argument",
                "GraphMethodException",
            ));
        }
        Some(proof) if !proof_matches(world, &info, &token, proof) => {
            return Err(graph_error(
                400,
                100,
                None,
                "Invalid appsecret_proof provided in the API argument",
                "GraphMethodException",
            ));
        }
        _ => {}
    }
    Ok((token, info))
}

fn exchange(world: &mut World, params: &HashMap<String, String>) -> Response {
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
    if params
        .get("grant_type")
        .is_some_and(|g| g == "fb_exchange_token")
    {
        return crate::edges::refresh(
            world,
            params.get("fb_exchange_token").map_or("", String::as_str),
        );
    }
    let code_value = params.get("code").cloned().unwrap_or_default();
    let lifetime = world.code_lifetime;
    let Some(code) = world.codes.get_mut(&code_value) else {
        return oauth_error(100, None, "Invalid verification code format.");
    };
    if code.app_id != app_id {
        return oauth_error(100, None, "Invalid verification code format.");
    }
    if code.used {
        return oauth_error(100, Some(36009), "This authorization code has been used.");
    }
    if code.issued.elapsed() > lifetime {
        return oauth_error(100, Some(36007), "This authorization code has expired.");
    }
    if params.get("redirect_uri") != code.redirect_uri.as_ref() {
        return oauth_error(
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    code.used = true;
    let (config_id, business_id, user_id) = (
        code.config_id.clone(),
        code.business_id.clone(),
        code.user_id.clone(),
    );
    let (token, expires_in) =
        world.mint_token_for(&app_id, &config_id, &business_id, user_id.as_deref());
    let mut body = json!({"access_token": token, "token_type": "bearer"});
    if let Some(secs) = expires_in {
        body["expires_in"] = json!(secs);
    }
    json_response(200, body)
}

fn me(world: &mut World, call: &Call, _token: &str, info: &Token) -> Response {
    // Graph's default fields for a user, system user or page: id and name.
    let fields: Vec<&str> = call
        .params
        .get("fields")
        .map_or(vec!["id", "name"], |f| f.split(',').collect());
    if info.kind == TokenKind::Page {
        return crate::pages::me(world, &fields, info);
    }
    let mut body = json!({"id": info.system_user_id});
    for field in fields {
        match field {
            "id" => {}
            "name" => {
                body["name"] = json!(
                    world
                        .person_name(&info.system_user_id)
                        .unwrap_or_else(|| format!("System user {}", info.system_user_id))
                )
            }
            // Only a business integration (BISU) token, or one derived from it, knows its
            // client business; a person's or an On-Behalf-Of system user's token does not.
            "client_business_id"
                if info.kind == TokenKind::SystemUser && info.obo_partner.is_none() =>
            {
                body["client_business_id"] = json!(info.business_id)
            }
            "client_business_id" => {
                return graph_error(
                    400,
                    190,
                    None,
                    "Invalid OAuth access token - field client_business_id requires a business integration token",
                    "OAuthException",
                );
            }
            other => {
                return graph_error(
                    400,
                    100,
                    None,
                    &format!(
                        "(#100) Tried accessing nonexisting field ({other}) on node type (User)"
                    ),
                    "OAuthException",
                );
            }
        }
    }
    json_response(200, body)
}
