//! The two onboarding flows end to end, what they store, replays, denial and bad states.

use e2e::Stack;
use e2e::client::{Business, Session};
use e2e::stack::{APP_ID, LOGIN_CONFIG_ID, SECRET_PREFIX};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SEED_SCOPES: [&str; 4] = [
    "business_management",
    "ads_management",
    "ads_read",
    "pages_show_list",
];

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Onboards `business` through the JavaScript SDK flow and returns the JSON answer.
pub async fn onboard_with_sdk(
    stack: &Stack,
    business: &Business,
    partner_ref: &str,
) -> (Session, Value) {
    stack.onboard(business, partner_ref).await
}

/// The stored BISU secret of a business, checked to be exactly DESIGN's JSON.
async fn bisu_secret(stack: &Stack, business: &Business) -> Value {
    let name = format!("{SECRET_PREFIX}/clients/{}/bisu", business.id);
    let raw = stack
        .aws
        .secret_value(&name)
        .await
        .unwrap_or_else(|| panic!("no secret {name}"));
    let secret: Value = serde_json::from_str(&raw).expect("the secret is JSON");
    let keys: BTreeSet<&str> = secret
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "access_token",
        "system_user_id",
        "client_business_id",
        "scopes",
        "expires_at",
        "obtained_at",
    ]
    .into();
    assert_eq!(keys, expected);
    secret
}

pub async fn dialog_flow_stores_client_and_secret(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-dialog").await;

    let login: std::collections::HashMap<String, String> =
        session.login_url.query_pairs().into_owned().collect();
    assert!(
        session.login_url.path().ends_with("/v25.0/dialog/oauth"),
        "{}",
        session.login_url
    );
    assert_eq!(login["client_id"], APP_ID);
    assert_eq!(login["config_id"], LOGIN_CONFIG_ID);
    assert_eq!(
        login["redirect_uri"],
        format!("{}/oauth/callback", stack.invoke_url)
    );
    assert_eq!(login["state"], session.state);
    assert_eq!(login["response_type"], "code");
    assert_eq!(login["override_default_response_type"], "true");
    assert!(
        !login.contains_key("scope"),
        "scope is never sent with config_id"
    );

    let back = stack.consent(&session, &business, true).await;
    assert_eq!(back.path(), "/oauth/callback");
    let (page, hops) = stack.follow_redirects(&back).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&business.id), "{}", page.body);
    assert!(page.body.contains("is now connected"), "{}", page.body);
    assert_eq!(page.headers["cache-control"], "no-store");
    // The result page's address carries no code: one redirect, to the session's own page.
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert_eq!(hops[0].path(), "/onboarding");
    let keys: BTreeSet<String> = hops[0].query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["connected".to_owned(), "session".to_owned()].into());

    let secret = bisu_secret(stack, &business).await;
    assert_eq!(secret["client_business_id"], business.id.as_str());
    assert_eq!(secret["system_user_id"], business.system_user_id.as_str());
    assert_eq!(secret["scopes"], json!(SEED_SCOPES));
    assert_eq!(
        secret["expires_at"],
        Value::Null,
        "BISU tokens from the seed never expire"
    );
    assert!((secret["obtained_at"].as_i64().unwrap() - now_epoch()).abs() < 300);
    let token = secret["access_token"].as_str().unwrap().to_owned();
    assert!(
        stack.issued_secrets().await.contains(&token),
        "the stored token is the one Graph issued"
    );
    let code: String = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("the dialog's code");
    assert!(
        !page.body.contains(&token) && !page.body.contains(&code),
        "the result page holds neither the token nor the code"
    );

    let client = stack
        .item(&format!("CLIENT#{}", business.id), "CLIENT")
        .await
        .expect("client item");
    assert_eq!(client["status"], "active");
    assert_eq!(client["mode"], "bisu");
    assert_eq!(client["partner_ref"], "acct-dialog");
    assert_eq!(client["client_business_id"], business.id.as_str());
    assert_eq!(client["system_user_id"], business.system_user_id.as_str());
    assert_eq!(client["scopes"], json!(SEED_SCOPES));
    assert!(
        client["granted_assets"].get("ads_management").is_some(),
        "{client}"
    );
    assert!(
        client["granted_assets"]
            .get("business_management")
            .is_none(),
        "{client}"
    );
    assert_eq!(client["token_expires_at"], Value::Null);
    assert_eq!(
        client["secret"]["name"],
        format!("{SECRET_PREFIX}/clients/{}/bisu", business.id)
    );
    assert!(!client["secret"]["version"].as_str().unwrap().is_empty());
    // Written at onboarding, then once more when the result page listed the datasets.
    assert_eq!(client["version"], 2);
    assert!(client["datasets_fetched_at"].as_i64().is_some(), "{client}");
    assert!(client["onboarded_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(
        !client.to_string().contains(&token),
        "the client item never holds the token"
    );

    let reference = stack
        .item("REF#acct-dialog", &format!("CLIENT#{}", business.id))
        .await;
    assert!(reference.is_some(), "partner ref index item");
    let under_client = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    let events: Vec<&Value> = under_client
        .iter()
        .filter(|i| i["sk"].as_str().unwrap().starts_with("EVENT#"))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "client.onboarded");
    assert!(!events[0].to_string().contains(&token));
    let stored_session = stack
        .item(&format!("SESSION#{}", session.state), "SESSION")
        .await
        .unwrap();
    assert_eq!(stored_session["status"], "completed");
    assert_eq!(
        stored_session["result"]["client_business_id"],
        business.id.as_str()
    );
}

pub async fn js_sdk_flow_stores_client_without_redirect_uri(stack: &Stack) {
    let business = stack.new_business().await;
    let page_session = stack.create_session("acct-sdk-page").await;
    let page = stack
        .get(&format!("/onboarding?session={}", page_session.state))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("FB.login")
            && page
                .body
                .contains(&format!("{}/sdk.js", stack.emulator_url))
    );

    // The page loads the SDK with crossorigin="anonymous": without CORS a browser refuses it.
    let sdk = stack
        .http
        .get(format!("{}/sdk.js", stack.emulator_url))
        .send()
        .await
        .unwrap();
    assert_eq!(sdk.headers()["access-control-allow-origin"], "*");
    assert!(page.body.contains("sdk.crossOrigin = 'anonymous'"));

    let (_, answer) = onboard_with_sdk(stack, &business, "acct-sdk").await;
    assert_eq!(answer["client_business_id"], business.id.as_str());
    assert_eq!(answer["system_user_id"], business.system_user_id.as_str());
    assert_eq!(answer["partner_ref"], "acct-sdk");
    assert_eq!(answer["status"], "active");
    assert_eq!(answer["replayed"], false);
    assert!(answer.get("access_token").is_none());

    let exchange = stack
        .graph_requests()
        .await
        .into_iter()
        .rev()
        .find(|r| r["path"] == "/oauth/access_token")
        .unwrap();
    let body_keys: Vec<&str> = exchange["body_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        !body_keys.contains(&"redirect_uri"),
        "no redirect_uri for an FB.login code: {body_keys:?}"
    );
    assert!(body_keys.contains(&"code") && body_keys.contains(&"client_secret"));
    assert_eq!(exchange["status"], 200);
    bisu_secret(stack, &business).await;
    assert_eq!(
        stack
            .item(&format!("CLIENT#{}", business.id), "CLIENT")
            .await
            .unwrap()["partner_ref"],
        "acct-sdk"
    );
}

pub async fn replayed_state_answers_the_same_without_second_exchange(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-replay").await;
    let back = stack.consent(&session, &business, true).await;
    let exchanges = stack.graph_calls("/oauth/access_token").await;
    let first = stack.follow(&back).await;
    let second = stack.follow(&back).await;
    assert_eq!(first.status, 302, "{}", first.body);
    assert_eq!(
        (second.status, second.location()),
        (302, first.location()),
        "a replay answers the same"
    );
    assert_eq!(
        stack.graph_calls("/oauth/access_token").await,
        exchanges + 1,
        "one exchange only"
    );

    // The consumed state with a fresh code: the stored answer, and the new code is not spent.
    let code = stack.issue_code(&business, None).await;
    let replay = stack.post_code(&code, &session.state).await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.json()["replayed"], true);
    assert_eq!(replay.json()["client_business_id"], business.id.as_str());
    assert_eq!(
        stack.graph_calls("/oauth/access_token").await,
        exchanges + 1
    );
}

pub async fn denied_consent_stores_nothing(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-denied").await;
    let before = stack.counts().await;
    let back = stack.consent(&session, &business, false).await;
    let query: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(query["error"], "access_denied");
    let page = stack.follow(&back).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Nothing was shared"), "{}", page.body);
    assert!(!page.body.contains("user_denied"), "{}", page.body);
    // Try again leads back to the session's page.
    let again = format!("/onboarding?session={}", session.state);
    assert!(page.body.contains(&again), "{}", page.body);
    assert_eq!(stack.counts().await, before);
    assert!(
        stack
            .item(&format!("CLIENT#{}", business.id), "CLIENT")
            .await
            .is_none()
    );
    // The session is still usable: the person can change their mind.
    let back = stack.consent(&session, &business, true).await;
    assert_eq!(stack.follow_redirects(&back).await.0.status, 200);
}

pub async fn unknown_and_expired_states_are_refused(stack: &Stack) {
    let business = stack.new_business().await;
    let exchanges = stack.graph_calls("/oauth/access_token").await;
    let before = stack.counts().await;
    let unknown = "A".repeat(43);
    let code = stack.issue_code(&business, None).await;
    let answer = stack.post_code(&code, &unknown).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.json()["error"]["type"], "InvalidRequest");
    let page = stack
        .get(&format!("/oauth/callback?code={code}&state={unknown}"))
        .await;
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("This link does not work"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("id=\"retry\""),
        "no Try again for a link that cannot work"
    );
    assert_eq!(
        stack
            .get(&format!("/onboarding?session={unknown}"))
            .await
            .status,
        404
    );

    // A well-formed state (43 base64url characters whose last carries no spare bits).
    let expired = format!("{}A", "B".repeat(42));
    stack.put_session_item(&expired, now_epoch() - 5).await;
    let before_expired = stack.counts().await;
    let answer = stack.post_code(&code, &expired).await;
    assert_eq!(answer.status, 410, "{}", answer.body);
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(
        stack
            .get(&format!("/onboarding?session={expired}"))
            .await
            .status,
        410
    );
    assert_eq!(stack.counts().await, before_expired);
    assert_eq!(
        before.items + 1,
        before_expired.items,
        "only the test's own session item was added"
    );
    assert_eq!(
        stack.graph_calls("/oauth/access_token").await,
        exchanges,
        "no code was exchanged"
    );
}

pub async fn reonboarding_the_same_business_updates_the_client(stack: &Stack) {
    let business = stack.new_business().await;
    onboard_with_sdk(stack, &business, "acct-again").await;
    let first = bisu_secret(stack, &business).await;
    let (_, answer) = onboard_with_sdk(stack, &business, "acct-again").await;
    assert_eq!(answer["replayed"], false);
    let second = bisu_secret(stack, &business).await;
    assert_ne!(
        first["access_token"], second["access_token"],
        "the new token replaced the old"
    );
    let client = stack
        .item(&format!("CLIENT#{}", business.id), "CLIENT")
        .await
        .unwrap();
    assert_eq!(client["version"], 2);
    let events = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    assert_eq!(
        events
            .iter()
            .filter(|i| i["type"] == "client.onboarded")
            .count(),
        2
    );
}
