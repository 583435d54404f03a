//! The onboarding page in headless Chromium, as a client's admin meets it: the SDK's pop-up
//! (Allow, Cancel, the admin chooser of On-Behalf-Of), the manual dialog, a used link, the
//! keyboard alone, no JavaScript, axe-core in every state, and the headers of every HTML answer.
//! Each test keeps its pictures in `target/browser-tests/<test>/`.

use e2e::Stack;
use e2e::browser::{Browser, JavaScript};
use e2e::client::{Answer, Business};
use fantoccini::key::Key;
use rand::Rng;
use serde_json::{Value, json};

fn page_url(stack: &Stack, state: &str) -> String {
    format!("{}/onboarding?session={state}", stack.invoke_url)
}

/// A new session as the partner's backend makes it, not yet opened by any browser (so the
/// test's Chromium is the browser it binds to).
async fn unopened_session(stack: &Stack, request: &Value) -> String {
    let session = stack
        .new_session_with(request)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    stack.states.lock().unwrap().push(session.state.clone());
    session.state
}

async fn bisu_session(stack: &Stack, partner_ref: &str) -> String {
    unopened_session(stack, &json!({"partner_ref": partner_ref})).await
}

async fn clear_faults(stack: &Stack) {
    let cleared = stack
        .http
        .delete(format!("{}/_emulator/faults", stack.emulator_url))
        .send()
        .await
        .expect("the emulator answers");
    assert_eq!(cleared.status(), 204);
}

fn has_param(url: &url::Url, name: &str) -> bool {
    url.query_pairs().any(|(k, _)| k == name)
}

fn is_result_page(url: &url::Url) -> bool {
    url.path() == "/onboarding" && url.query_pairs().any(|(k, v)| k == "connected" && v == "1")
}

/// Opens the page and waits until Connect is offered.
async fn open_ready(browser: &Browser, stack: &Stack, state: &str) {
    browser.goto(&page_url(stack, state)).await;
    browser.wait_for_state("ready").await;
}

/// What to pick on the emulator's consent page.
enum Choice<'a> {
    Business(&'a str),
    Admin { business: &'a str, user: &'a str },
}

/// On the consent page: picks the business (or the admin) and presses `button`.
async fn consent(browser: &Browser, choice: &Choice<'_>, button: &str, step: &str) {
    browser.wait_for_shown(button).await;
    match choice {
        Choice::Business(id) => browser.select("select[name=business_id]", id).await,
        Choice::Admin { business, user } => {
            let value = format!("{business}:{user}");
            browser.select("select[name=admin]", &value).await;
        }
    }
    browser.screenshot(step).await;
}

/// From a ready page: Connect, then `button` (`#allow` or `#cancel`) in the pop-up, back on the
/// page once the pop-up has closed.
async fn through_the_pop_up(browser: &Browser, choice: &Choice<'_>, button: &str) {
    let page = browser.window().await;
    browser.click("#connect").await;
    let popup = browser
        .switch_to_new_window(std::slice::from_ref(&page))
        .await;
    let dialog = browser.url().await;
    assert!(dialog.path().ends_with("/dialog/oauth"), "{dialog}");
    assert!(
        dialog
            .query_pairs()
            .any(|(k, v)| k == "display" && v == "popup")
    );
    consent(browser, choice, button, "pop-up").await;
    browser.click_closing(button).await;
    browser.switch_to(page).await;
    browser.wait_for_window_to_close(&popup).await;
}

/// From the page: the manual dialog link, `#allow` on the emulator's page, the result page.
async fn through_the_dialog_link(browser: &Browser, business: &Business) -> url::Url {
    browser.click("#dialog").await;
    let dialog = browser
        .wait_for_url("the login dialog", |u| u.path().ends_with("/dialog/oauth"))
        .await;
    assert!(!has_param(&dialog, "display"), "{dialog}");
    consent(browser, &Choice::Business(&business.id), "#allow", "dialog").await;
    browser.click("#allow").await;
    browser
        .wait_for_url("the result page", is_result_page)
        .await
}

/// The result page: the business connected, its datasets as the service lists them.
async fn assert_connected(browser: &Browser, stack: &Stack, business_id: &str, heading: &str) {
    let connected = browser.wait_for_shown("#connected").await;
    assert!(connected.contains(business_id), "{connected}");
    assert_eq!(browser.shown_text("h1").await.unwrap(), heading);
    assert_eq!(browser.client().title().await.unwrap(), heading);
    let listed = stack.get(&format!("/clients/{business_id}/datasets")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let shown = browser.texts("#datasets li").await;
    let ids: Vec<String> = listed.json()["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .map(|d| d["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(shown.len(), ids.len(), "{shown:?} against {ids:?}");
    for id in &ids {
        assert!(
            shown.iter().any(|s| s.contains(id.as_str())),
            "{id} in {shown:?}"
        );
    }
}

async fn client_item(stack: &Stack, business_id: &str) -> Option<Value> {
    stack.item(&format!("CLIENT#{business_id}"), "CLIENT").await
}

pub async fn browser_connects_through_the_pop_up(stack: &Stack) {
    let business = stack.new_business_with_pixels(2, 0, false).await;
    let state = bisu_session(stack, "acct-browser-popup").await;
    let browser = Browser::start("browser_connects_through_the_pop_up", JavaScript::On).await;
    browser
        .check(async {
            open_ready(&browser, stack, &state).await;
            assert_eq!(
                browser.shown_text("#connect").await.unwrap(),
                "Connect with Facebook"
            );
            assert!(!browser.texts("#permissions li").await.is_empty());
            assert!(
                browser
                    .shown_text("#time-left")
                    .await
                    .unwrap()
                    .contains("15")
            );
            browser.screenshot("ready").await;
            through_the_pop_up(&browser, &Choice::Business(&business.id), "#allow").await;
            let url = browser
                .wait_for_url("the result page", is_result_page)
                .await;
            assert!(!has_param(&url, "code"), "{url}");
            assert_connected(&browser, stack, &business.id, "Connected").await;
            assert_eq!(browser.texts("#datasets li").await.len(), 2);
            browser.screenshot("connected").await;
        })
        .await;
    browser.close().await;
    let client = client_item(stack, &business.id).await.expect("the client");
    assert_eq!(client["status"], "active");
    assert_eq!(client["partner_ref"], "acct-browser-popup");
    assert_eq!(stack.client_secrets(&business).await.len(), 1);
}

pub async fn browser_cancel_in_the_pop_up_stores_nothing(stack: &Stack) {
    let business = stack.new_business().await;
    let state = bisu_session(stack, "acct-browser-cancel").await;
    let browser = Browser::start(
        "browser_cancel_in_the_pop_up_stores_nothing",
        JavaScript::On,
    )
    .await;
    browser
        .check(async {
            open_ready(&browser, stack, &state).await;
            // Opening the page bound the session to this browser; nothing else may change.
            let before = stack.counts().await;
            through_the_pop_up(&browser, &Choice::Business(&business.id), "#cancel").await;
            browser.wait_for_state("cancelled").await;
            assert_eq!(browser.shown_text("#connect").await.unwrap(), "Try again");
            browser.wait_for_shown("#state-cancelled").await;
            browser.screenshot("cancelled").await;
            assert_eq!(stack.counts().await, before, "nothing was stored");
            assert!(client_item(stack, &business.id).await.is_none());
            assert!(stack.client_secrets(&business).await.is_empty());
            let session = stack.item(&format!("SESSION#{state}"), "SESSION").await;
            assert_eq!(session.expect("the session")["status"], "pending");

            // Try again opens the pop-up anew; closed without an answer, the page says cancelled.
            let page = browser.window().await;
            browser.click("#connect").await;
            assert_eq!(browser.page_state().await.as_deref(), Some("working"));
            browser.screenshot("working").await;
            browser
                .switch_to_new_window(std::slice::from_ref(&page))
                .await;
            browser.close_window().await;
            browser.switch_to(page).await;
            browser.wait_for_state("cancelled").await;
            assert_eq!(stack.counts().await, before);
        })
        .await;
    browser.close().await;
}

pub async fn browser_manual_dialog_link_ends_on_the_result_page(stack: &Stack) {
    let business = stack.new_business_with_pixels(1, 0, false).await;
    let state = bisu_session(stack, "acct-browser-dialog").await;
    let browser = Browser::start(
        "browser_manual_dialog_link_ends_on_the_result_page",
        JavaScript::On,
    )
    .await;
    browser
        .check(async {
            open_ready(&browser, stack, &state).await;
            browser.screenshot("ready").await;
            let url = through_the_dialog_link(&browser, &business).await;
            assert!(
                !has_param(&url, "code") && !has_param(&url, "state"),
                "{url}"
            );
            assert_connected(&browser, stack, &business.id, "Connected").await;
            browser.screenshot("connected").await;
        })
        .await;
    browser.close().await;
    assert_eq!(
        client_item(stack, &business.id).await.expect("the client")["status"],
        "active"
    );
}

pub async fn browser_a_used_link_shows_already_connected(stack: &Stack) {
    let business = stack.new_business_with_pixels(0, 0, false).await;
    let state = bisu_session(stack, "acct-browser-again").await;
    let browser = Browser::start(
        "browser_a_used_link_shows_already_connected",
        JavaScript::On,
    )
    .await;
    browser
        .check(async {
            browser.goto(&page_url(stack, &state)).await;
            through_the_dialog_link(&browser, &business).await;
            browser.wait_for_shown("#connected").await;
            browser.goto(&page_url(stack, &state)).await;
            assert_connected(&browser, stack, &business.id, "Already connected").await;
            browser.wait_for_shown("#datasets-none").await;
            assert!(!browser.is_shown("#connect").await);
            browser.screenshot("already-connected").await;
        })
        .await;
    browser.close().await;
}

pub async fn browser_the_obo_page_lists_its_assets_and_connects(stack: &Stack) {
    let business = stack
        .emulator_json(
            "/_emulator/businesses",
            &json!({"name": "Browser Test Studio", "pages": 2, "catalogs": 1, "owned_pixels": 1}),
        )
        .await;
    let id = business["id"].as_str().unwrap().to_owned();
    let admin = business["admins"][0]["id"].as_str().unwrap().to_owned();
    let page = |n: usize| business["pages"][n]["id"].as_str().unwrap().to_owned();
    let catalog = business["catalogs"][0]["id"].as_str().unwrap().to_owned();
    let state = unopened_session(
        stack,
        &json!({"partner_ref": "acct-browser-obo", "mode": "obo", "client_business_id": id,
            "assets": [{"id": page(0), "type": "page"},
                       {"id": page(1), "type": "page", "tasks": ["MANAGE", "ANALYZE"]},
                       {"id": catalog, "type": "catalog"}]}),
    )
    .await;
    let browser = Browser::start(
        "browser_the_obo_page_lists_its_assets_and_connects",
        JavaScript::On,
    )
    .await;
    browser
        .check(async {
            open_ready(&browser, stack, &state).await;
            let assets = browser.texts("#assets li").await;
            assert_eq!(assets.len(), 3, "{assets:?}");
            for asset in [page(0), page(1), catalog.clone()] {
                assert!(
                    assets.iter().any(|a| a.contains(&asset)),
                    "{asset} in {assets:?}"
                );
            }
            assert!(assets.iter().any(|a| a.contains("manage it, see insights")));
            assert!(!browser.texts("#permissions li").await.is_empty());
            browser.screenshot("ready").await;
            let admin_of = Choice::Admin {
                business: &id,
                user: &admin,
            };
            through_the_pop_up(&browser, &admin_of, "#allow").await;
            browser
                .wait_for_url("the result page", is_result_page)
                .await;
            assert_connected(&browser, stack, &id, "Connected").await;
            browser.screenshot("connected").await;
        })
        .await;
    browser.close().await;
    let client = client_item(stack, &id).await.expect("the client");
    assert_eq!(client["mode"], "obo");
    assert_eq!(client["status"], "active");
}

pub async fn browser_keyboard_alone_opens_the_pop_up(stack: &Stack) {
    let state = bisu_session(stack, "acct-browser-keyboard").await;
    let browser = Browser::start("browser_keyboard_alone_opens_the_pop_up", JavaScript::On).await;
    browser
        .check(async {
            open_ready(&browser, stack, &state).await;
            let mut presses = 0;
            while browser.focused_id().await != "connect" {
                assert!(presses < 10, "Tab never reached #connect");
                browser.press(Key::Tab).await;
                presses += 1;
            }
            browser.screenshot("connect-focused").await;
            let page = browser.window().await;
            browser.press(Key::Enter).await;
            browser
                .switch_to_new_window(std::slice::from_ref(&page))
                .await;
            browser.wait_for_shown("#allow").await;
            browser.screenshot("pop-up").await;
            browser.close_window().await;
            browser.switch_to(page).await;
            browser.wait_for_state("cancelled").await;
        })
        .await;
    browser.close().await;
}

pub async fn browser_without_javascript_the_dialog_link_still_works(stack: &Stack) {
    let business = stack.new_business().await;
    let state = bisu_session(stack, "acct-browser-nojs").await;
    let browser = Browser::start(
        "browser_without_javascript_the_dialog_link_still_works",
        JavaScript::Off,
    )
    .await;
    browser
        .check(async {
            browser.goto(&page_url(stack, &state)).await;
            browser.wait_for_shown("#dialog").await;
            assert!(
                !browser.is_shown("#connect").await,
                "Connect needs JavaScript"
            );
            let noscript = browser.wait_for_shown("noscript p").await;
            assert!(noscript.contains("JavaScript is off"), "{noscript}");
            assert_eq!(browser.page_state().await, None, "no script ran");
            browser.screenshot("no-javascript").await;
            through_the_dialog_link(&browser, &business).await;
            let connected = browser.wait_for_shown("#connected").await;
            assert!(connected.contains(&business.id));
            browser.screenshot("connected").await;
        })
        .await;
    browser.close().await;
}

/// Violations found in one state of the page, for the report at the end.
async fn axe_state(browser: &Browser, state: &str, found: &mut Vec<(String, Vec<Value>)>) {
    browser.screenshot(state).await;
    let violations = browser.axe().await;
    if !violations.is_empty() {
        found.push((state.to_owned(), violations));
    }
}

/// A well-formed state (43 base64url characters whose last carries no spare bits).
fn random_state() -> String {
    let body: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(42)
        .map(char::from)
        .collect();
    format!("{body}A")
}

pub async fn browser_every_state_passes_axe_at_a_and_aa(stack: &Stack) {
    let business = stack.new_business_with_pixels(1, 0, false).await;
    let browser =
        Browser::start("browser_every_state_passes_axe_at_a_and_aa", JavaScript::On).await;
    let mut found = Vec::new();
    let outcome = browser
        .run(async {
            // axe-core finds what is there: a page with no language and an image with no text.
            browser
                .goto("data:text/html,<!doctype html><title>t</title><img src=x>")
                .await;
            let ids: Vec<Value> = browser.axe().await.iter().map(|v| v["id"].clone()).collect();
            assert!(
                ids.contains(&json!("html-has-lang")) && ids.contains(&json!("image-alt")),
                "{ids:?}"
            );

            let state = bisu_session(stack, "acct-browser-axe").await;
            open_ready(&browser, stack, &state).await;
            axe_state(&browser, "ready", &mut found).await;

            let choice = Choice::Business(&business.id);
            through_the_pop_up(&browser, &choice, "#cancel").await;
            browser.wait_for_state("cancelled").await;
            axe_state(&browser, "cancelled", &mut found).await;

            // Facebook refuses the code: the page says so and offers Try again.
            stack
                .inject_fault(json!({"path": "/oauth/access_token",
                    "error": {"code": 100, "subcode": 36009, "message": "This authorization code has been used."}}))
                .await;
            through_the_pop_up(&browser, &choice, "#allow").await;
            browser.wait_for_state("failed").await;
            assert!(!browser.shown_text("#failed-text").await.unwrap().is_empty());
            assert_eq!(browser.shown_text("#connect").await.unwrap(), "Try again");
            axe_state(&browser, "failed", &mut found).await;

            through_the_pop_up(&browser, &choice, "#allow").await;
            browser
                .wait_for_url("the result page", is_result_page)
                .await;
            browser.wait_for_shown("#connected").await;
            axe_state(&browser, "connected", &mut found).await;
            browser.goto(&page_url(stack, &state)).await;
            browser.wait_for_shown("#connected").await;
            assert_eq!(browser.shown_text("h1").await.unwrap(), "Already connected");
            axe_state(&browser, "already-connected", &mut found).await;

            // Cancel on the manual dialog: the error page, with Try again.
            let state = bisu_session(stack, "acct-browser-axe-error").await;
            open_ready(&browser, stack, &state).await;
            browser.click("#dialog").await;
            consent(&browser, &choice, "#cancel", "dialog").await;
            browser.click("#cancel").await;
            browser.wait_for_shown("#error").await;
            assert_eq!(browser.shown_text("#retry").await.unwrap(), "Try again");
            axe_state(&browser, "error-page", &mut found).await;
            browser.click("#retry").await;
            browser.wait_for_state("ready").await;

            // Less than a minute left, too little for a login: the page says the link has
            // expired and offers neither Connect nor the dialog.
            let state = random_state();
            let now = chrono::Utc::now().timestamp();
            stack.put_session_item(&state, now + 45).await;
            browser.goto(&page_url(stack, &state)).await;
            browser.wait_for_state("expired").await;
            browser.wait_for_shown("#state-expired").await;
            assert!(!browser.is_shown("#connect").await);
            assert!(!browser.is_shown("#manual").await);
            assert_eq!(
                browser.shown_text("#time-left").await.unwrap(),
                "This link has expired."
            );
            axe_state(&browser, "expired", &mut found).await;

            // The SDK cannot load (a blocker): the page offers the manual dialog.
            stack
                .inject_fault(json!({"path": "/sdk.js", "status": 404}))
                .await;
            let state = bisu_session(stack, "acct-browser-axe-blocked").await;
            browser.goto(&page_url(stack, &state)).await;
            browser.wait_for_state("sdk-failed").await;
            browser.wait_for_shown("#dialog").await;
            assert!(!browser.is_shown("#connect").await);
            axe_state(&browser, "sdk-failed", &mut found).await;
        })
        .await;
    clear_faults(stack).await;
    browser.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    let report: Vec<Value> = found
        .iter()
        .map(|(state, violations)| json!({"state": state, "violations": violations}))
        .collect();
    assert!(
        report.is_empty(),
        "axe-core finds violations:\n{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}

fn assert_html_headers(what: &str, answer: &Answer) {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-type").starts_with("text/html"),
        "{what}: {}",
        header("content-type")
    );
    let policy = header("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: {policy}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
}

pub async fn browser_html_answers_carry_the_security_headers(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-browser-headers").await;
    let page = stack
        .get(&format!("/onboarding?session={}", session.state))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_html_headers("the onboarding page", &page);
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains(&stack.emulator_url),
        "the SDK's origin: {policy}"
    );

    let back = stack.consent(&session, &business, true).await;
    let (result, _) = stack.follow_redirects(&back).await;
    assert_eq!(result.status, 200, "{}", result.body);
    assert_html_headers("the result page", &result);
    let again = stack
        .get(&format!("/onboarding?session={}", session.state))
        .await;
    assert!(again.body.contains("Already connected"));
    assert_html_headers("the already-connected page", &again);

    let cancelled = stack.create_session("acct-browser-headers-cancel").await;
    let back = stack.consent(&cancelled, &business, false).await;
    let error = stack.follow(&back).await;
    assert_eq!(error.status / 100, 4, "{}", error.body);
    assert!(error.body.contains("id=\"retry\""), "{}", error.body);
    assert_html_headers("the cancelled error page", &error);

    let unknown = stack
        .get(&format!("/onboarding?session={}", random_state()))
        .await;
    assert_eq!(unknown.status / 100, 4);
    assert_html_headers("the unknown-link page", &unknown);
    let elsewhere = reqwest::Client::new()
        .get(page_url(stack, &cancelled.state))
        .send()
        .await
        .unwrap();
    let elsewhere = Answer {
        status: elsewhere.status().as_u16(),
        headers: elsewhere.headers().clone(),
        body: String::new(),
    };
    assert_eq!(elsewhere.status, 403);
    assert_html_headers("the other-browser page", &elsewhere);
}
