//! The login dialog (consent page), and a stand-in for the JavaScript SDK's `FB.init`/`FB.login`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

use crate::Shared;
use crate::world::World;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether the configuration is of the user-token kind (On-Behalf-Of: an admin logs in).
fn is_user_config(world: &World, app_id: &str, config_id: &str) -> bool {
    world
        .config(app_id, config_id)
        .is_some_and(|c| c.kind == "user")
}

/// Who may log in with a user-token configuration of `app_id`: each admin of each business
/// (not the app's own business), as (business id, business name, user id, user name).
fn admin_choices(world: &World, app_id: &str) -> Vec<(String, String, String, String)> {
    let owner = world.app(app_id).and_then(|a| a.business_id.clone());
    world
        .businesses
        .iter()
        .filter(|b| Some(&b.id) != owner.as_ref())
        .flat_map(|b| {
            b.admins
                .iter()
                .map(|a| (b.id.clone(), b.name.clone(), a.id.clone(), a.name.clone()))
        })
        .collect()
}

/// The admin who logs in: `user_id` if given (it must be an admin of the business), else the
/// business's first admin. `None` if the business has no such admin.
fn chosen_admin(world: &World, business_id: &str, user_id: Option<&str>) -> Option<String> {
    let business = world.business(business_id)?;
    match user_id {
        Some(id) => business
            .admins
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.id.clone()),
        None => business.admins.first().map(|a| a.id.clone()),
    }
}

/// `GET /{version}/dialog/oauth`: asks which business to connect (a BISU configuration) or
/// which admin of which business logs in (a user-token configuration), then Allow or Cancel.
pub async fn consent_page(
    State(shared): State<Shared>,
    Path(_version): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let world = shared.lock().await;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (client_id, config_id, redirect_uri) =
        (get("client_id"), get("config_id"), get("redirect_uri"));
    if world.config(&client_id, &config_id).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>Invalid app or configuration</h1>".to_owned()),
        )
            .into_response();
    }
    if get("response_type") != "code" || url::Url::parse(&redirect_uri).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            Html(
                "<h1>response_type=code and an absolute redirect_uri are required</h1>".to_owned(),
            ),
        )
            .into_response();
    }
    let owner = world.app(&client_id).and_then(|a| a.business_id.clone());
    let options: String = world
        .businesses
        .iter()
        .filter(|b| Some(&b.id) != owner.as_ref())
        .map(|b| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                escape(&b.id),
                escape(&b.name),
                escape(&b.id)
            )
        })
        .collect();
    let (title, chooser) = if is_user_config(&world, &client_id, &config_id) {
        let admins: String = admin_choices(&world, &client_id)
            .iter()
            .map(|(b, b_name, u, u_name)| {
                format!(
                    "<option value=\"{}:{}\">{}, admin of {} ({})</option>",
                    escape(b),
                    escape(u),
                    escape(u_name),
                    escape(b_name),
                    escape(b)
                )
            })
            .collect();
        (
            "Log in to Demo Partner Platform as an admin of your business",
            format!("<label>Log in as <select name=\"admin\">{admins}</select></label>"),
        )
    } else {
        (
            "Demo Partner Platform wants to connect to your business",
            format!("<label>Business <select name=\"business_id\">{options}</select></label>"),
        )
    };
    let hidden: String = ["client_id", "config_id", "redirect_uri", "state"]
        .iter()
        .map(|k| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(&get(k))
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connect a business (Graph emulator)</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto\">\
         <h1>{title}</h1>\
         <form method=\"post\" action=\"/_emulator/dialog/decide\">{hidden}\
         {chooser}\
         <p><button name=\"decision\" value=\"allow\" id=\"allow\">Allow</button> \
         <button name=\"decision\" value=\"cancel\" id=\"cancel\">Cancel</button></p></form>\
         <p><small>This page is the local Graph emulator, standing in for Facebook.</small></p></body></html>"
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct Decision {
    client_id: String,
    config_id: String,
    redirect_uri: String,
    #[serde(default)]
    state: String,
    /// The business connected (BISU), or whose admin logs in (user-token configuration).
    #[serde(default)]
    business_id: Option<String>,
    /// A user-token configuration: the admin who logs in (default the business's first).
    #[serde(default)]
    user_id: Option<String>,
    /// The consent page's choice for a user-token configuration: `{business_id}:{user_id}`.
    #[serde(default)]
    admin: Option<String>,
    decision: String,
}

/// The consent form's target: redirects back with a code, or with `error=access_denied`.
pub async fn decide(State(shared): State<Shared>, Form(d): Form<Decision>) -> Response {
    let mut world = shared.lock().await;
    let Ok(mut target) = url::Url::parse(&d.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    if d.decision == "allow" {
        let (business_id, user_id) = match d.admin.as_deref().and_then(|a| a.split_once(':')) {
            Some((b, u)) => (Some(b.to_owned()), Some(u.to_owned())),
            None => (d.business_id.clone(), d.user_id.clone()),
        };
        let business_id = business_id.unwrap_or_default();
        if world.config(&d.client_id, &d.config_id).is_none()
            || world.business(&business_id).is_none()
        {
            return (
                StatusCode::BAD_REQUEST,
                "unknown app, configuration or business",
            )
                .into_response();
        }
        let user = if is_user_config(&world, &d.client_id, &d.config_id) {
            match chosen_admin(&world, &business_id, user_id.as_deref()) {
                Some(user) => Some(user),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "the user is not an admin of that business",
                    )
                        .into_response();
                }
            }
        } else {
            None
        };
        let code = world.issue_code(
            &d.client_id,
            &d.config_id,
            &business_id,
            Some(d.redirect_uri.clone()),
            user,
        );
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &d.state);
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_description", "Permissions error")
            .append_pair("error_reason", "user_denied")
            .append_pair("state", &d.state);
    }
    Redirect::to(target.as_str()).into_response()
}

#[derive(Deserialize)]
pub struct SdkLogin {
    app_id: String,
    config_id: String,
    #[serde(default)]
    business_id: Option<String>,
    /// A user-token configuration: the admin who logs in.
    #[serde(default)]
    user_id: Option<String>,
    /// Answer the configuration's kind (and, for a user-token one, the admins to choose
    /// from) instead of a code.
    #[serde(default)]
    choices: bool,
}

fn sdk_refusal(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

/// What `FB.login` asks for: a code issued for the JavaScript SDK (no redirect URI). For a
/// user-token configuration the code stands for an admin's login (`user_id`, default the
/// business's first admin). With `choices: true` no code: `{"kind": "bisu"|"user", "choices":
/// [{business_id, business_name, user_id, user_name}]}` (empty for BISU), for the SDK to ask.
pub async fn sdk_login(
    State(shared): State<Shared>,
    axum::Json(req): axum::Json<SdkLogin>,
) -> Response {
    let mut world = shared.lock().await;
    let user_config = is_user_config(&world, &req.app_id, &req.config_id);
    if req.choices {
        if world.config(&req.app_id, &req.config_id).is_none() {
            return with_cors(sdk_refusal("unknown app or configuration"));
        }
        let choices: Vec<serde_json::Value> = if user_config {
            admin_choices(&world, &req.app_id)
                .into_iter()
                .map(|(b, b_name, u, u_name)| {
                    json!({"business_id": b, "business_name": b_name, "user_id": u, "user_name": u_name})
                })
                .collect()
        } else {
            vec![]
        };
        let kind = if user_config { "user" } else { "bisu" };
        return with_cors(axum::Json(json!({"kind": kind, "choices": choices})).into_response());
    }
    let owner = world.app(&req.app_id).and_then(|a| a.business_id.clone());
    let business = req
        .business_id
        .or_else(|| {
            world
                .businesses
                .iter()
                .find(|b| Some(&b.id) != owner.as_ref())
                .map(|b| b.id.clone())
        })
        .unwrap_or_default();
    let response = if world.config(&req.app_id, &req.config_id).is_none()
        || world.business(&business).is_none()
    {
        sdk_refusal("unknown app, configuration or business")
    } else if user_config {
        match chosen_admin(&world, &business, req.user_id.as_deref()) {
            Some(user) => {
                let code = world.issue_code(
                    &req.app_id,
                    &req.config_id,
                    &business,
                    None,
                    Some(user.clone()),
                );
                axum::Json(json!({"code": code, "business_id": business, "user_id": user}))
                    .into_response()
            }
            None => sdk_refusal("the user is not an admin of that business"),
        }
    } else {
        let code = world.issue_code(&req.app_id, &req.config_id, &business, None, None);
        axum::Json(json!({"code": code, "business_id": business})).into_response()
    };
    with_cors(response)
}

pub async fn sdk_login_preflight() -> Response {
    with_cors(StatusCode::NO_CONTENT.into_response())
}

fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    response
}

/// `GET /sdk.js`: `FB.init` and `FB.login` as the onboarding page uses them. With a user-token
/// configuration (On-Behalf-Of), `FB.login` asks which admin of which business logs in.
pub async fn sdk_js() -> Response {
    let script = r#"(function () {
  var here = document.currentScript ? new URL(document.currentScript.src).origin : '';
  var settings = {};
  var failed = function (callback) { callback({status: 'unknown', authResponse: null}); };
  var post = function (body) {
    return fetch(here + '/_emulator/sdk/login', {method: 'POST', headers: {'content-type': 'application/json'},
      body: JSON.stringify(body)}).then(function (r) { return r.json(); });
  };
  var answer = function (callback) {
    return function (b) { callback(b.code ? {status: 'connected', authResponse: {code: b.code}} : {status: 'unknown', authResponse: null}); };
  };
  window.FB = {
    init: function (options) { settings = options || {}; },
    login: function (callback, options) {
      options = options || {};
      var base = {app_id: String(settings.appId), config_id: String(options.config_id)};
      post(Object.assign({choices: true}, base)).then(function (c) {
        if (c.kind === 'user') {
          var list = c.choices.map(function (x, i) { return (i + 1) + ') ' + x.user_name + ', admin of ' + x.business_name; }).join('
');
          var pick = window.prompt('Graph emulator: log in to app ' + settings.appId + ' as
' + list, '1');
          var chosen = pick === null ? null : c.choices[parseInt(pick, 10) - 1];
          if (!chosen) { failed(callback); return; }
          return post(Object.assign({business_id: chosen.business_id, user_id: chosen.user_id}, base)).then(answer(callback));
        }
        if (!window.confirm('Graph emulator: connect the demo business to app ' + settings.appId + '?')) {
          failed(callback);
          return;
        }
        return post(base).then(answer(callback));
      }).catch(function () { failed(callback); });
    }
  };
  if (typeof window.fbAsyncInit === 'function') { window.fbAsyncInit(); }
})();
"#;
    // The page loads it with crossorigin="anonymous", as Meta's snippet does: CORS is required.
    with_cors(([(header::CONTENT_TYPE, "application/javascript")], script).into_response())
}
