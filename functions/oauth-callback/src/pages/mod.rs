//! The pages a client's admin sees: the onboarding page, the result, and failures, in the one
//! shell of `shared`. They name the provider, say what is asked for in plain words, and never
//! hold a token, a code or a secret.

mod words;

use lambda_http::{Body, Response};
use serde_json::json;
use shared::Error;
use shared::config::Config;
use shared::lambda::html::{Scripts, escape, nonce, page};
use shared::model::{Dataset, Mode, OnboardingResult, Session, SessionState};
use url::Url;

pub use words::failure;

/// The page script: the SDK login, the code sent to the service, the page's states.
const CONNECT_JS: &str = include_str!("connect.js");
/// Less time than this left on the session: ask for a new link rather than open Facebook.
const MIN_SECONDS_TO_LOGIN: i64 = 60;
/// How long the page waits for the SDK before offering the manual dialog.
const SDK_TIMEOUT_MS: u64 = 10_000;

/// A JSON document safe to place inside a `<script>` element.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn list(id: &str, items: impl IntoIterator<Item = String>) -> String {
    let items: String = items
        .into_iter()
        .map(|item| format!("<li>{}</li>", escape(&item)))
        .collect();
    format!("<ul id=\"{id}\">{items}</ul>")
}

/// What the onboarding page needs to know.
pub struct ConnectPage<'a> {
    pub config: &'a Config,
    pub provider: &'a str,
    pub config_id: &'a str,
    pub state: &'a SessionState,
    pub session: &'a Session,
    pub seconds_left: i64,
    /// The manual dialog, through `/onboarding/start`.
    pub login_url: &'a Url,
    /// Where the page goes once connected.
    pub connected_url: &'a Url,
    /// The OBO scopes, when the session names none.
    pub obo_scopes: &'a [String],
}

pub fn connect(p: &ConnectPage<'_>) -> Response<Body> {
    let provider = escape(p.provider);
    let scopes: Vec<&str> = match p.session.mode {
        Mode::Bisu => words::BISU_SCOPES.to_vec(),
        Mode::Obo if p.session.scopes.is_empty() => {
            p.obo_scopes.iter().map(String::as_str).collect()
        }
        Mode::Obo => p.session.scopes.iter().map(String::as_str).collect(),
    };
    let assets = match (&p.session.client_business_id, p.session.assets.is_empty()) {
        (Some(business), false) => format!(
            "<p>These assets of business {} will be shared with {provider}:</p>{}",
            escape(business.as_str()),
            list("assets", p.session.assets.iter().map(words::asset))
        ),
        _ => String::new(),
    };
    let minutes = match (p.seconds_left.max(0) + 59) / 60 {
        1 => "1 more minute".to_owned(),
        n => format!("{n} more minutes"),
    };
    let settings = json!({
        "appId": p.config.app_id.as_str(),
        "version": p.config.graph_version,
        "configId": p.config_id,
        "state": p.state.expose(),
        "sdkUrl": p.config.js_sdk_url.as_str(),
        "codeUrl": "oauth/code",
        "connectedUrl": p.connected_url.as_str(),
        "secondsLeft": p.seconds_left,
        "minSecondsToLogin": MIN_SECONDS_TO_LOGIN,
        "sdkTimeoutMs": SDK_TIMEOUT_MS,
        "words": {
            "connect": "Connect with Facebook",
            "tryAgain": "Try again",
            "failed": failure(&Error::Internal(String::new()), p.provider).text,
            "unreachable": failure(&Error::UpstreamUnavailable(String::new()), p.provider).text,
        },
    });
    let nonce = nonce();
    let body = format!(
        r#"<p>{provider} asks for this access to your Meta business:</p>
{permissions}
<p class="muted">Facebook shows the exact list next, and you choose the business.</p>
{assets}
<p id="time-left">This link works for {minutes}.</p>
<div id="status" role="status" aria-live="polite">
<p id="state-loading" hidden>Loading Facebook's sign-in&#8230;</p>
<p id="state-ready" hidden>Select Connect, then choose your business in Facebook's window.</p>
<p id="state-working" hidden>Finish in Facebook's window; this page updates by itself.</p>
<p id="state-cancelled" hidden>You cancelled, so nothing was shared with {provider}. You can try again.</p>
<p id="state-failed" hidden><span id="failed-text"></span></p>
<p id="state-expired" hidden>This link has expired. Ask {provider} for a new link.</p>
<p id="state-sdk-failed" hidden>Facebook's sign-in could not load here: an ad blocker or a privacy setting may be stopping it. Use the link below to continue on Facebook's own page.</p>
</div>
<p><button id="connect" type="button" hidden disabled>Connect with Facebook</button></p>
<p id="manual" class="muted">Pop-ups blocked, or the button does not work? <a id="dialog" href="{login_url}">Continue on Facebook's page instead</a>.</p>
<noscript><p>JavaScript is off in this browser: use the link above to connect on Facebook's page.</p></noscript>
<script type="application/json" id="onboarding-config">{settings}</script>
<script nonce="{nonce}">{script}</script>"#,
        permissions = list("permissions", scopes.iter().map(|s| words::permission(s))),
        login_url = escape(p.login_url.as_str()),
        settings = script_json(&settings),
        script = CONNECT_JS,
    );
    let sdk_origin = p.config.js_sdk_url.origin().ascii_serialization();
    page(
        200,
        &format!("Connect your business to {}", p.provider),
        &body,
        Scripts::Nonce {
            nonce: &nonce,
            sdk_origin: &sdk_origin,
        },
    )
}

/// The business is connected: what it is, and the datasets the provider can now use (`None`:
/// they could not be listed just now). `again`: the link was used before.
pub fn connected(
    result: &OnboardingResult,
    datasets: Option<&[Dataset]>,
    provider: &str,
    again: bool,
) -> Response<Body> {
    let (title, lead) = if again {
        ("Already connected", "is already connected to")
    } else {
        ("Connected", "is now connected to")
    };
    let provider_html = escape(provider);
    let datasets = match datasets {
        Some([]) => format!(
            "<p id=\"datasets-none\">No datasets (pixels) were found in this business. \
             Datasets you create or share later reach {provider_html} without connecting again.</p>"
        ),
        Some(datasets) => list(
            "datasets",
            datasets.iter().map(|d| match &d.name {
                Some(name) => format!("{name} ({})", d.id),
                None => format!("Dataset {}", d.id),
            }),
        ),
        None => format!(
            "<p id=\"datasets-unknown\">Your datasets could not be listed just now; \
             {provider_html} will see them shortly.</p>"
        ),
    };
    let body = format!(
        "<p id=\"connected\">Your business <strong>{id}</strong> {lead} {provider_html}.</p>\
         <h2>Datasets {provider_html} can use</h2>{datasets}\
         <p class=\"muted\">You can close this page.</p>",
        id = escape(result.client_business_id.as_str()),
    );
    page(200, title, &body, Scripts::None)
}

/// A failure in plain words, with Try again (back to the session's page) when it can help.
pub fn error(err: &Error, provider: &str, retry: Option<&Url>) -> Response<Body> {
    let failure = failure(err, provider);
    let retry = match retry.filter(|_| failure.retry) {
        Some(url) => format!(
            "<p><a class=\"button\" id=\"retry\" href=\"{}\">Try again</a></p>",
            escape(url.as_str())
        ),
        None => String::new(),
    };
    let body = format!(
        "<p id=\"error\" data-error-type=\"{}\">{}</p>{retry}",
        err.error_type(),
        escape(&failure.text)
    );
    let mut response = page(err.http_status(), failure.headline, &body, Scripts::None);
    shared::lambda::http::add_retry_after(&mut response, err);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::{Asset, ClientBusinessId, PartnerRef, SessionStatus};

    fn config() -> Config {
        let env = [
            ("META_APP_ID", "1234567890"),
            ("APP_SECRET_ID", "meta-login/dev/app"),
            ("TABLE_NAME", "meta-login"),
            ("SECRET_PREFIX", "meta-login/dev"),
        ];
        Config::from_lookup(|name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    fn session(mode: Mode, assets: Vec<Asset>) -> Session {
        Session {
            partner_ref: PartnerRef::parse("acct-1").unwrap(),
            mode,
            status: SessionStatus::Pending,
            created_at: 0,
            expires_at: 900,
            claimed_until: None,
            browser: None,
            result: None,
            client_business_id: (mode == Mode::Obo).then(|| ClientBusinessId::parse("77").unwrap()),
            assets,
            scopes: vec![],
        }
    }

    fn text(response: &Response<Body>) -> String {
        match response.body() {
            Body::Text(text) => text.clone(),
            _ => panic!("a text body"),
        }
    }

    fn render(session: &Session, provider: &str) -> String {
        let config = config();
        let state = SessionState::generate();
        let url = Url::parse("https://svc.example/onboarding?session=x").unwrap();
        text(&connect(&ConnectPage {
            config: &config,
            provider,
            config_id: "555",
            state: &state,
            session,
            seconds_left: 600,
            login_url: &url,
            connected_url: &url,
            obo_scopes: &["ads_management".to_owned(), "catalog_management".to_owned()],
        }))
    }

    #[test]
    fn the_page_names_the_provider_and_the_access_in_words() {
        let html = render(&session(Mode::Bisu, vec![]), "Acme <Ads>");
        assert!(html.contains("Connect your business to Acme &lt;Ads&gt;"));
        assert!(html.contains("Manage your ad accounts"));
        assert!(html.contains("This link works for 10 more minutes."));
        assert!(
            html.contains("id=\"dialog\""),
            "the manual dialog is always offered"
        );
        assert!(!html.contains("id=\"assets\""));
        assert!(!html.contains("<Ads>"), "the name is escaped everywhere");
    }

    #[test]
    fn an_obo_page_lists_the_assets_and_scopes() {
        let assets = vec![
            Asset::new("61", "page", None).unwrap(),
            Asset::new("91", "catalog", Some(vec!["ADVERTISE".into()])).unwrap(),
        ];
        let html = render(&session(Mode::Obo, assets), "Acme");
        assert!(html.contains("These assets of business 77 will be shared with Acme"));
        assert!(html.contains("<li>Page 61: manage it</li>"));
        assert!(html.contains("<li>Catalog 91: run ads</li>"));
        assert!(
            html.contains("Manage your product catalogs"),
            "OBO_SCOPES in words"
        );
    }

    #[test]
    fn the_script_settings_cannot_end_the_script_element() {
        let settings = json!({"x": "</script><script>alert(1)</script>"});
        assert!(!script_json(&settings).contains("</script>"));
    }

    #[test]
    fn a_failure_offers_try_again_only_when_it_can_help() {
        let url = Url::parse("https://svc.example/onboarding?session=x").unwrap();
        let cancelled = Error::ConsentDenied {
            reason: "user_denied".into(),
        };
        let html = text(&error(&cancelled, "Acme", Some(&url)));
        assert!(html.contains("Nothing was shared") && html.contains("id=\"retry\""));
        let html = text(&error(&Error::SessionExpired, "Acme", Some(&url)));
        assert!(html.contains("Ask Acme for a new link") && !html.contains("id=\"retry\""));
    }
}
