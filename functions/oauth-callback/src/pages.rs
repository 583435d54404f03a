//! The few HTML pages a person sees during onboarding.

use lambda_http::{Body, Response};
use shared::Error;
use shared::config::{Config, OnboardingConfig};
use shared::http::{escape_html, html};
use shared::ids::SessionState;
use shared::store::OnboardingResult;
use url::Url;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;\
         margin:4rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.6rem 1.2rem;\
         background:#1877f2;color:#fff;border:0;border-radius:6px;cursor:pointer}}\
         .muted{{color:#555}}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title)
    )
}

/// A JSON literal safe to place inside a `<script>` element.
fn script_value(value: &str) -> String {
    serde_json::to_string(value)
        .expect("strings serialize")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub fn onboarding(
    config: &Config,
    onboarding: &OnboardingConfig,
    state: &SessionState,
    login_url: &Url,
) -> Response<Body> {
    let body = format!(
        r#"<p>Connect your Meta business so we can send conversion events on its behalf.</p>
<p><button id="connect" type="button" disabled>Connect with Facebook</button></p>
<p class="muted">Or <a id="dialog" href="{login_url}">continue on Facebook's page</a>.</p>
<p id="result" role="status"></p>
<script>
var onboarding = {{appId: {app_id}, version: {version}, configId: {config_id}, state: {state}}};
window.fbAsyncInit = function () {{
  FB.init({{appId: onboarding.appId, version: onboarding.version, xfbml: false, cookie: false}});
  document.getElementById('connect').disabled = false;
}};
function show(text) {{ document.getElementById('result').textContent = text; }}
document.getElementById('connect').addEventListener('click', function () {{
  FB.login(function (response) {{
    if (!response.authResponse || !response.authResponse.code) {{ show('Connection cancelled: nothing was stored.'); return; }}
    fetch('oauth/code', {{method: 'POST', headers: {{'content-type': 'application/json'}},
      body: JSON.stringify({{code: response.authResponse.code, state: onboarding.state}})}})
      .then(function (r) {{ return r.json(); }})
      .then(function (b) {{ show(b.error ? b.error.message : 'Connected business ' + b.client_business_id + '.'); }})
      .catch(function () {{ show('The connection could not be completed: try again.'); }});
  }}, {{config_id: onboarding.configId, response_type: 'code', override_default_response_type: true}});
}});
</script>
<script async defer crossorigin="anonymous" src="{sdk}"></script>"#,
        login_url = escape_html(login_url.as_str()),
        app_id = script_value(config.app_id.as_str()),
        version = script_value(&config.graph_version),
        config_id = script_value(&onboarding.login_config_id),
        state = script_value(state.expose()),
        sdk = escape_html(config.js_sdk_url.as_str()),
    );
    html(200, page("Connect your business", &body))
}

pub fn connected(result: &OnboardingResult) -> Response<Body> {
    let body = format!(
        "<p id=\"connected\">Business <strong>{}</strong> is connected.</p>\
         <p class=\"muted\">You can close this page.</p>",
        escape_html(result.client_business_id.as_str())
    );
    html(200, page("Connected", &body))
}

pub fn error(err: &Error) -> Response<Body> {
    let body = format!(
        "<p id=\"error\" data-error-type=\"{}\">{}</p>",
        err.error_type(),
        escape_html(&err.to_string())
    );
    let mut response = html(
        err.http_status(),
        page("Onboarding could not be completed", &body),
    );
    shared::http::add_retry_after(&mut response, err);
    response
}
