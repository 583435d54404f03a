//! The few HTML pages a person sees during onboarding, in the one shell of `shared`.

use lambda_http::{Body, Response};
use shared::Error;
use shared::config::Config;
use shared::lambda::html::{Scripts, escape, nonce, page};
use shared::model::{OnboardingResult, SessionState};
use url::Url;

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
    config_id: &str,
    state: &SessionState,
    login_url: &Url,
) -> Response<Body> {
    let nonce = nonce();
    let body = format!(
        r#"<p>Connect your Meta business so we can send conversion events on its behalf.</p>
<p><button id="connect" type="button" disabled>Connect with Facebook</button></p>
<p class="muted">Or <a id="dialog" href="{login_url}">continue on Facebook's page</a>.</p>
<p id="result" role="status"></p>
<script nonce="{nonce}">
var onboarding = {{appId: {app_id}, version: {version}, configId: {config_id}, state: {state}}};
window.fbAsyncInit = function () {{
  FB.init({{appId: onboarding.appId, version: onboarding.version, xfbml: false, cookie: false}});
  document.getElementById('connect').disabled = false;
}};
function show(text) {{ document.getElementById('result').textContent = text; }}
document.getElementById('connect').addEventListener('click', function () {{
  FB.login(function (response) {{
    if (!response.authResponse || !response.authResponse.code) {{ show('Connection cancelled: nothing was stored.'); return; }}
    fetch('oauth/code', {{method: 'POST', credentials: 'same-origin', headers: {{'content-type': 'application/json'}},
      body: JSON.stringify({{code: response.authResponse.code, state: onboarding.state}})}})
      .then(function (r) {{ return r.json(); }})
      .then(function (b) {{ show(b.error ? b.error.message : 'Connected business ' + b.client_business_id + '.'); }})
      .catch(function () {{ show('The connection could not be completed: try again.'); }});
  }}, {{config_id: onboarding.configId, response_type: 'code', override_default_response_type: true}});
}});
</script>
<script nonce="{nonce}" async defer crossorigin="anonymous" src="{sdk}"></script>"#,
        login_url = escape(login_url.as_str()),
        app_id = script_value(config.app_id.as_str()),
        version = script_value(&config.graph_version),
        config_id = script_value(config_id),
        state = script_value(state.expose()),
        sdk = escape(config.js_sdk_url.as_str()),
    );
    let sdk_origin = config.js_sdk_url.origin().ascii_serialization();
    page(
        200,
        "Connect your business",
        &body,
        Scripts::Nonce {
            nonce: &nonce,
            sdk_origin: &sdk_origin,
        },
    )
}

pub fn connected(result: &OnboardingResult) -> Response<Body> {
    let body = format!(
        "<p id=\"connected\">Business <strong>{}</strong> is connected.</p>\
         <p class=\"muted\">You can close this page.</p>",
        escape(result.client_business_id.as_str())
    );
    page(200, "Connected", &body, Scripts::None)
}

pub fn error(err: &Error) -> Response<Body> {
    let body = format!(
        "<p id=\"error\" data-error-type=\"{}\">{}</p>",
        err.error_type(),
        escape(&err.to_string())
    );
    let mut response = page(
        err.http_status(),
        "Onboarding could not be completed",
        &body,
        Scripts::None,
    );
    shared::lambda::http::add_retry_after(&mut response, err);
    response
}
