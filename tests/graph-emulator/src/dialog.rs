//! The login dialog (consent page), and a stand-in for the JavaScript SDK's `FB.init`/`FB.login`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

use crate::Shared;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /{version}/dialog/oauth`: asks which business to connect, then Allow or Cancel.
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
    let options: String = world
        .businesses
        .iter()
        .map(|b| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                escape(&b.id),
                escape(&b.name),
                escape(&b.id)
            )
        })
        .collect();
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
         <h1>Demo Partner Platform wants to connect to your business</h1>\
         <form method=\"post\" action=\"/_emulator/dialog/decide\">{hidden}\
         <label>Business <select name=\"business_id\">{options}</select></label>\
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
    business_id: String,
    decision: String,
}

/// The consent form's target: redirects back with a code, or with `error=access_denied`.
pub async fn decide(State(shared): State<Shared>, Form(d): Form<Decision>) -> Response {
    let mut world = shared.lock().await;
    let Ok(mut target) = url::Url::parse(&d.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    if d.decision == "allow" {
        if world.config(&d.client_id, &d.config_id).is_none()
            || world.business(&d.business_id).is_none()
        {
            return (
                StatusCode::BAD_REQUEST,
                "unknown app, configuration or business",
            )
                .into_response();
        }
        let code = world.issue_code(
            &d.client_id,
            &d.config_id,
            &d.business_id,
            Some(d.redirect_uri.clone()),
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
}

/// What `FB.login` asks for: a code issued for the JavaScript SDK (no redirect URI).
pub async fn sdk_login(
    State(shared): State<Shared>,
    axum::Json(req): axum::Json<SdkLogin>,
) -> Response {
    let mut world = shared.lock().await;
    let business = req
        .business_id
        .or_else(|| world.businesses.first().map(|b| b.id.clone()))
        .unwrap_or_default();
    let response = if world.config(&req.app_id, &req.config_id).is_none()
        || world.business(&business).is_none()
    {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unknown app, configuration or business"})),
        )
            .into_response()
    } else {
        let code = world.issue_code(&req.app_id, &req.config_id, &business, None);
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

/// `GET /sdk.js`: `FB.init` and `FB.login` as the onboarding page uses them.
pub async fn sdk_js() -> Response {
    let script = r#"(function () {
  var here = document.currentScript ? new URL(document.currentScript.src).origin : '';
  var settings = {};
  window.FB = {
    init: function (options) { settings = options || {}; },
    login: function (callback, options) {
      options = options || {};
      if (!window.confirm('Graph emulator: connect the demo business to app ' + settings.appId + '?')) {
        callback({status: 'unknown', authResponse: null});
        return;
      }
      fetch(here + '/_emulator/sdk/login', {method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({app_id: String(settings.appId), config_id: String(options.config_id)})})
        .then(function (r) { return r.json(); })
        .then(function (b) { callback(b.code ? {status: 'connected', authResponse: {code: b.code}} : {status: 'unknown', authResponse: null}); })
        .catch(function () { callback({status: 'unknown', authResponse: null}); });
    }
  };
  if (typeof window.fbAsyncInit === 'function') { window.fbAsyncInit(); }
})();
"#;
    // The page loads it with crossorigin="anonymous", as Meta's snippet does: CORS is required.
    with_cors(([(header::CONTENT_TYPE, "application/javascript")], script).into_response())
}
