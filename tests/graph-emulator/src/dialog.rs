//! The login dialog (consent page), and a stand-in for the JavaScript SDK's `FB.init`/`FB.login`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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

/// The consent form's target: redirects back with a code, or with `error=access_denied`. For
/// the SDK's pop-up (redirect URI `/_emulator/sdk/done` on this emulator) the code is issued
/// without a redirect URI, as Facebook's SDK issues it.
pub async fn decide(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(d): Form<Decision>,
) -> Response {
    let mut world = shared.lock().await;
    let Ok(mut target) = url::Url::parse(&d.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    let code_redirect_uri = (!is_sdk_done(&target, &headers)).then(|| d.redirect_uri.clone());
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
            code_redirect_uri,
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

/// Where `FB.login`'s pop-up ends: the stand-in SDK's own redirect URI on this emulator. A code
/// issued for it carries no redirect URI, as a code from Facebook's SDK, so the service
/// exchanges it without one.
pub const SDK_DONE_PATH: &str = "/_emulator/sdk/done";
/// What the pop-up's messages to the page that opened it carry as `source`.
const SDK_MESSAGE_SOURCE: &str = "graph-emulator-login";
/// The path a fault names to make `GET /sdk.js` fail (an ad blocker, a privacy setting).
const SDK_PATH: &str = "/sdk.js";

/// Whether `target` is this emulator's own `/_emulator/sdk/done` (same host and port as the
/// request that carries it).
fn is_sdk_done(target: &url::Url, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    target.path() == SDK_DONE_PATH
        && target.query().is_none()
        && host.is_some_and(|h| &target[url::Position::BeforeHost..url::Position::AfterPort] == h)
}

/// `GET /sdk.js`: `FB.init` and `FB.login` as the onboarding page uses them. `FB.login` opens
/// the consent page (`/{version}/dialog/oauth`, `display=popup`) in a pop-up whose redirect URI
/// is `/_emulator/sdk/done`; that page posts the code (or the error) back with the state the SDK
/// chose. A pop-up that is blocked, or closed without an answer, calls back without an
/// `authResponse`, as Facebook's SDK does. A pending fault on `/sdk.js` makes it fail to load.
pub async fn sdk_js(State(shared): State<Shared>) -> Response {
    let fault = shared
        .lock()
        .await
        .faults
        .pending()
        .iter()
        .find(|f| {
            f.path == SDK_PATH
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case("GET"))
        })
        .cloned();
    if let Some(fault) = fault {
        if let Some(ms) = fault.delay_ms {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let blocked = crate::faults::response(&fault, SDK_PATH);
        match blocked {
            Some(response) => return with_cors(response),
            None if fault.delay_ms.is_none() => {
                return with_cors((StatusCode::NOT_FOUND, "blocked").into_response());
            }
            // A delay alone: a slow SDK, served after it.
            None => {}
        }
    }
    let script = SDK_JS
        .replace("{done_path}", SDK_DONE_PATH)
        .replace("{source}", SDK_MESSAGE_SOURCE);
    // The page loads it with crossorigin="anonymous", as Meta's snippet does: CORS is required.
    with_cors(([(header::CONTENT_TYPE, "application/javascript")], script).into_response())
}

const SDK_JS: &str = r#"(function () {
  'use strict';
  var here = document.currentScript ? new URL(document.currentScript.src).origin : '';
  var settings = {};
  var unknown = function () { return {status: 'unknown', authResponse: null}; };
  var newState = function () {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  };
  window.FB = {
    init: function (options) { settings = options || {}; },
    login: function (callback, options) {
      options = options || {};
      var state = newState();
      var query = new URLSearchParams({
        client_id: String(settings.appId),
        config_id: String(options.config_id || ''),
        response_type: options.response_type || 'code',
        redirect_uri: here + '{done_path}',
        state: state,
        display: 'popup'
      });
      var url = here + '/' + (settings.version || 'v25.0') + '/dialog/oauth?' + query.toString();
      var popup = window.open(url, '{source}', 'popup=yes,width=560,height=640');
      if (!popup) { callback(unknown()); return; }
      var finished = false;
      var poll = null;
      var onMessage = function (event) {
        var data = event.data;
        if (event.origin !== here || !data || data.source !== '{source}' || data.state !== state) { return; }
        finish(data.code ? {status: 'connected', authResponse: {code: String(data.code)}} : unknown());
      };
      var finish = function (response) {
        if (finished) { return; }
        finished = true;
        window.removeEventListener('message', onMessage);
        window.clearInterval(poll);
        callback(response);
      };
      window.addEventListener('message', onMessage);
      // Closed without an answer: a message the pop-up sent as it closed still comes first.
      poll = window.setInterval(function () {
        if (!popup.closed) { return; }
        window.clearInterval(poll);
        window.setTimeout(function () { finish(unknown()); }, 500);
      }, 200);
    }
  };
  if (typeof window.fbAsyncInit === 'function') { window.fbAsyncInit(); }
})();
"#;

/// `GET /_emulator/sdk/done?code=…&state=…` (or `error=…`): the end of `FB.login`'s pop-up.
/// Its script hands the answer to the page that opened it, then closes the pop-up.
pub async fn sdk_done() -> Response {
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Login finished (Graph emulator)</title></head>
<body><main><h1>Login finished</h1><p>You can close this window.</p></main>
<script>(function () {{
  var query = new URLSearchParams(window.location.search);
  var message = {{source: '{SDK_MESSAGE_SOURCE}', state: query.get('state') || ''}};
  if (query.get('code')) {{ message.code = query.get('code'); }} else {{ message.error = query.get('error') || 'unknown_error'; }}
  if (window.opener) {{ window.opener.postMessage(message, '*'); }}
  window.close();
}})();</script></body></html>"#
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::tests::{answer, control, emulator};

    const APP: &str = "1000000000000001";
    const SECRET: &str = "demo-app-secret-not-a-real-secret";
    const CONFIG: &str = "2000000000000001";
    const BUSINESS: &str = "3000000000000001";

    fn no_redirects() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    async fn decide(base: &str, redirect_uri: &str, decision: &str) -> url::Url {
        let decided = no_redirects()
            .post(format!("{base}/_emulator/dialog/decide"))
            .form(&[
                ("client_id", APP),
                ("config_id", CONFIG),
                ("redirect_uri", redirect_uri),
                ("state", "s1"),
                ("business_id", BUSINESS),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status().as_u16(), 303);
        url::Url::parse(decided.headers()["location"].to_str().unwrap()).unwrap()
    }

    fn param(url: &url::Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    async fn exchange(base: &str, code: &str, redirect_uri: Option<&str>) -> u16 {
        let mut query = vec![
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", code),
        ];
        query.extend(redirect_uri.map(|r| ("redirect_uri", r)));
        let request = reqwest::Client::new()
            .get(format!("{base}/v25.0/oauth/access_token"))
            .query(&query);
        answer(request).await.status
    }

    #[tokio::test]
    async fn the_sdk_pop_up_ends_on_its_own_page_with_a_code_for_no_redirect_uri() {
        let base = emulator().await;
        let script = answer(reqwest::Client::new().get(format!("{base}/sdk.js"))).await;
        assert_eq!(script.status, 200);
        assert_eq!(script.headers["access-control-allow-origin"], "*");
        let script = script.body.as_str().unwrap().to_owned();
        for expected in [
            "window.open(",
            "/dialog/oauth?",
            "'/_emulator/sdk/done'",
            "display: 'popup'",
            "'graph-emulator-login'",
            "popup.closed",
        ] {
            assert!(script.contains(expected), "{expected} in the SDK");
        }

        let done = format!("{base}/_emulator/sdk/done");
        let consent = answer(
            no_redirects()
                .get(format!("{base}/v25.0/dialog/oauth"))
                .query(&[
                    ("client_id", APP),
                    ("config_id", CONFIG),
                    ("response_type", "code"),
                    ("redirect_uri", &done),
                    ("state", "s1"),
                    ("display", "popup"),
                ]),
        )
        .await;
        assert_eq!(consent.status, 200);
        assert!(consent.body.as_str().unwrap().contains("id=\"allow\""));

        let back = decide(&base, &done, "allow").await;
        assert_eq!(back.as_str().split('?').next(), Some(done.as_str()));
        assert_eq!(param(&back, "state").as_deref(), Some("s1"));
        let code = param(&back, "code").unwrap();
        // Issued as the SDK's codes are: exchanged without a redirect URI, not with one.
        assert_eq!(exchange(&base, &code, Some(&done)).await, 400);
        assert_eq!(exchange(&base, &code, None).await, 200);

        let page = answer(no_redirects().get(back.as_str())).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.headers["cache-control"], "no-store");
        let html = page.body.as_str().unwrap();
        assert!(html.contains("window.opener.postMessage(message, '*')"));
        assert!(html.contains("source: 'graph-emulator-login'"));
        assert!(html.contains("window.close()"));

        let cancelled = decide(&base, &done, "cancel").await;
        assert_eq!(param(&cancelled, "error").as_deref(), Some("access_denied"));
        assert_eq!(param(&cancelled, "state").as_deref(), Some("s1"));
        assert!(param(&cancelled, "code").is_none());
    }

    #[tokio::test]
    async fn another_hosts_done_page_is_an_ordinary_redirect_uri() {
        let base = emulator().await;
        let elsewhere = "http://127.0.0.1:9/_emulator/sdk/done";
        let back = decide(&base, elsewhere, "allow").await;
        let code = param(&back, "code").unwrap();
        assert_eq!(exchange(&base, &code, None).await, 400);
        assert_eq!(exchange(&base, &code, Some(elsewhere)).await, 200);
    }

    #[tokio::test]
    async fn a_fault_on_the_sdk_blocks_it_until_the_faults_are_cleared() {
        let base = emulator().await;
        let get = || answer(reqwest::Client::new().get(format!("{base}/sdk.js")));
        let fault = control(&base, "/_emulator/faults", json!({"path": "/sdk.js"})).await;
        assert_eq!(fault.status, 204);
        // Not used up: every load fails until the faults are cleared.
        for _ in 0..3 {
            let blocked = get().await;
            assert_eq!(blocked.status, 404);
            assert_eq!(blocked.headers["access-control-allow-origin"], "*");
        }
        let cleared =
            answer(reqwest::Client::new().delete(format!("{base}/_emulator/faults"))).await;
        assert_eq!(cleared.status, 204);
        assert_eq!(get().await.status, 200);
        // A Graph-wide fault leaves the SDK alone.
        control(
            &base,
            "/_emulator/faults",
            json!({"path": "*", "status": 500}),
        )
        .await;
        assert_eq!(get().await.status, 200);
    }
}
