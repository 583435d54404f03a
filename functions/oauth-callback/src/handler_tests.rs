//! The session's page over the fakes: where each path ends once the business is connected.

use lambda_http::RequestExt;
use shared::fakes::Fakes;
use shared::fakes::scenario::{BROWSER, complete, session_and_code};
use shared::onboarding::BROWSER_COOKIE;

use super::*;

fn app(fakes: &Fakes, success_redirect: Option<&str>) -> App {
    let mut env = vec![
        ("META_APP_ID", "1000000000000001"),
        ("APP_SECRET_ID", "meta-login/test/app"),
        ("TABLE_NAME", "meta-login-test"),
        ("SECRET_PREFIX", "meta-login/test"),
        ("LOGIN_CONFIG_ID", "555"),
        ("REDIRECT_URI", "https://example.test/oauth/callback"),
        ("PROVIDER_NAME", "Acme Ads"),
    ];
    if let Some(url) = success_redirect {
        env.push(("SUCCESS_REDIRECT_URL", url));
    }
    let config = Config::from_lookup(|name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    App {
        onboarding: config.onboarding().unwrap(),
        config,
        ports: fakes.ports(),
    }
}

async fn page(app: &App, query: &str) -> Response<Body> {
    let req = lambda_http::http::Request::builder()
        .uri(format!("https://example.test/onboarding?{query}"))
        .header("cookie", format!("{BROWSER_COOKIE}={BROWSER}"))
        .body(Body::Empty)
        .unwrap()
        .with_raw_http_path("/onboarding");
    app.handle(req).await.unwrap()
}

fn text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        _ => "",
    }
}

/// A session of business 100 completed in `BROWSER`, as either path leaves it.
async fn connected(fakes: &Fakes, app: &App) -> SessionState {
    let (state, code) = session_and_code(fakes, &app.ports, "100").await;
    complete(&app.ports, &state, Some(BROWSER), &code)
        .await
        .unwrap();
    state
}

#[tokio::test]
async fn right_after_connecting_the_page_goes_on_to_the_success_url() {
    let fakes = Fakes::new();
    let app = app(&fakes, Some("https://app.example/done?tab=meta"));
    let state = connected(&fakes, &app).await;
    let after = page(&app, &format!("session={}&connected=1", state.expose())).await;
    assert_eq!(after.status(), 302);
    assert_eq!(
        after.headers()["location"],
        "https://app.example/done?tab=meta&client_business_id=100&partner_ref=acct-1&status=connected"
    );
    // Opened again later, the link shows the result, without sending the browser on.
    let later = page(&app, &format!("session={}", state.expose())).await;
    assert_eq!(later.status(), 200);
    assert!(
        text(&later).contains("Already connected"),
        "{}",
        text(&later)
    );
}

#[tokio::test]
async fn without_a_success_url_the_result_page_lists_the_datasets() {
    let fakes = Fakes::new();
    let app = app(&fakes, None);
    let state = connected(&fakes, &app).await;
    let after = page(&app, &format!("session={}&connected=1", state.expose())).await;
    assert_eq!(after.status(), 200);
    let html = text(&after);
    assert!(html.contains("<h1>Connected</h1>"), "{html}");
    assert!(
        html.contains("<strong>100</strong> is now connected to Acme Ads"),
        "{html}"
    );
    assert!(html.contains("id=\"datasets"), "{html}");
    assert!(
        !html.contains("id=\"connect\""),
        "no Connect button once connected"
    );
}
