//! Control routes for runs at scale: many Login for Business logins at once, and businesses
//! whose use case Meta throttles until the caller lifts it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Shared;
use crate::graph::{Call, Caller, graph_error};
use crate::world::{
    Business, Person, SESSION_INVALIDATED, Token, TokenKind, World, now_epoch, random_id,
};

/// The partner's app of the seed: logins are of it unless told otherwise.
const PARTNER_APP: &str = "1000000000000001";
/// Logins one call may create.
const MAX_LOGINS: usize = 50_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logins {
    count: usize,
    #[serde(default)]
    app_id: Option<String>,
    /// A BISU configuration of the app; default its first.
    #[serde(default)]
    config_id: Option<String>,
    /// The tokens expire this long from now; default as the configuration says (BISU: never).
    #[serde(default)]
    expires_in_secs: Option<u64>,
}

#[derive(Serialize)]
struct Login {
    business_id: String,
    system_user_id: String,
    access_token: String,
    /// `None`: never.
    expires_at: Option<u64>,
}

/// `count` new businesses, each with one admin and no assets, that have each completed the app's
/// Login for Business: `{logins: [{business_id, system_user_id, access_token, expires_at}]}`.
pub async fn logins(State(shared): State<Shared>, Json(req): Json<Logins>) -> Response {
    if req.count == 0 || req.count > MAX_LOGINS {
        return (
            StatusCode::BAD_REQUEST,
            format!("count must be 1 to {MAX_LOGINS}"),
        )
            .into_response();
    }
    let mut world = shared.lock().await;
    let app_id = req.app_id.unwrap_or_else(|| PARTNER_APP.into());
    let Some(app) = world.app(&app_id).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown app").into_response();
    };
    let config = app.configs.iter().find(|c| match &req.config_id {
        Some(id) => &c.id == id,
        None => c.kind == "bisu",
    });
    let Some(config) = config.filter(|c| c.kind == "bisu").cloned() else {
        return (
            StatusCode::BAD_REQUEST,
            "config_id must name a BISU configuration of the app",
        )
            .into_response();
    };
    let now = now_epoch();
    let lifetime = req.expires_in_secs.or(config.token_expires_in);
    let mut answer = Vec::with_capacity(req.count);
    for _ in 0..req.count {
        let business = new_business(&mut world);
        // No assets, so a targeted scope reaches none.
        let granular = config
            .scopes
            .iter()
            .map(|s| (s.clone(), config.targeted_scopes.contains(s).then(Vec::new)))
            .collect();
        let expires_at = lifetime.map(|secs| now + secs);
        let seq = world.tokens.len() as u64;
        let token = world.add_token(Token {
            app_id: app.id.clone(),
            kind: TokenKind::SystemUser,
            business_id: business.id.clone(),
            system_user_id: business.system_user_id.clone(),
            scopes: config.scopes.clone(),
            granular,
            issued_at: now,
            issued_seq: seq,
            expires_at: expires_at.unwrap_or(0),
            valid: true,
            invalid_subcode: SESSION_INVALIDATED,
            bisu: true,
            parent: None,
            page_id: None,
            obo_partner: None,
        });
        answer.push(Login {
            business_id: business.id,
            system_user_id: business.system_user_id,
            access_token: token,
            expires_at,
        });
    }
    Json(json!({ "logins": answer })).into_response()
}

fn new_business(world: &mut World) -> Business {
    let n = world.businesses.len() + 1;
    let name = format!("Scale business {n}");
    let business = Business {
        id: random_id(),
        system_user_id: random_id(),
        pixels: vec![],
        pages: vec![],
        shared_pixels: vec![],
        empty_page: false,
        catalogs: vec![],
        ad_accounts: vec![],
        admins: vec![Person {
            id: random_id(),
            name: format!("Admin of {name}"),
        }],
        system_users: vec![],
        requires_expiring_tokens: false,
        name,
    };
    world.businesses.push(business.clone());
    business
}

/// A business whose use case is throttled, and how many calls it refused.
#[derive(Clone, Debug, Serialize)]
pub struct BusinessThrottle {
    pub code: i64,
    /// What `estimated_time_to_regain_access` says, in minutes.
    pub minutes: i64,
    pub refused: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttles {
    business_ids: Vec<String>,
    #[serde(default = "an_hour")]
    minutes: i64,
    /// A business use case code, 80000 to 80014; default 80004 (ads_management).
    #[serde(default = "ads_management")]
    code: i64,
}

fn an_hour() -> i64 {
    60
}

fn ads_management() -> i64 {
    80004
}

/// Throttles businesses until lifted: every Graph call about one of them answers `code`.
pub async fn throttle(State(shared): State<Shared>, Json(req): Json<Throttles>) -> Response {
    if !(80000..=80014).contains(&req.code) || req.minutes < 0 {
        return (
            StatusCode::BAD_REQUEST,
            "code must be 80000 to 80014 and minutes at least 0",
        )
            .into_response();
    }
    let mut world = shared.lock().await;
    for id in req.business_ids {
        world.throttles.insert(
            id,
            BusinessThrottle {
                code: req.code,
                minutes: req.minutes,
                refused: 0,
            },
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lift {
    business_ids: Vec<String>,
}

/// Lifts the throttles of `{business_ids}`, or of every business without a body; answers
/// `{lifted}`.
pub async fn lift(State(shared): State<Shared>, body: Bytes) -> Response {
    let which = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Lift>(&body) {
            Ok(lift) => Some(lift.business_ids),
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    };
    let mut world = shared.lock().await;
    let before = world.throttles.len();
    match which {
        Some(ids) => {
            for id in ids {
                world.throttles.remove(&id);
            }
        }
        None => world.throttles.clear(),
    }
    Json(json!({ "lifted": before - world.throttles.len() })).into_response()
}

/// `{throttles: [{business_id, code, minutes, refused}]}`.
pub async fn throttles(State(shared): State<Shared>) -> Response {
    let world = shared.lock().await;
    let mut list: Vec<_> = world
        .throttles
        .iter()
        .map(|(id, t)| {
            json!({"business_id": id, "code": t.code, "minutes": t.minutes, "refused": t.refused})
        })
        .collect();
    list.sort_by(|a, b| a["business_id"].as_str().cmp(&b["business_id"].as_str()));
    Json(json!({ "throttles": list })).into_response()
}

/// The refusal of a call about a throttled business, if it is about one: the path's first
/// id, the calling token's business, or the business of the token it inspects or exchanges.
pub fn refusal(world: &mut World, call: &Call, caller: &Caller) -> Option<Response> {
    if world.throttles.is_empty() {
        return None;
    }
    let of_token = |name: &str| {
        call.params
            .get(name)
            .and_then(|v| world.tokens.get(v))
            .map(|t| t.business_id.clone())
    };
    let candidates = [
        crate::usage::first_id(&call.path).map(str::to_owned),
        match caller {
            Caller::Token(_, info) => Some(info.business_id.clone()),
            _ => None,
        },
        of_token("input_token"),
        of_token("fb_exchange_token"),
    ];
    let business = candidates
        .into_iter()
        .flatten()
        .find(|id| world.throttles.contains_key(id))?;
    let throttle = world.throttles.get_mut(&business)?;
    throttle.refused += 1;
    let mut response = graph_error(
        400,
        throttle.code,
        None,
        "There have been too many calls from this business. Wait a bit and try again.",
        "OAuthException",
    );
    let header = crate::usage::business_usage(&business, throttle.code, throttle.minutes);
    response.headers_mut().insert(
        "x-business-use-case-usage",
        HeaderValue::from_str(&header).expect("ASCII JSON"),
    );
    Some(response)
}
