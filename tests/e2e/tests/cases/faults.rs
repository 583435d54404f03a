//! Meta's code errors, Graph failing or unreachable, and AWS unreachable.

use e2e::Stack;
use serde_json::json;

use super::onboarding::onboard_with_sdk;

/// The code lifetime the emulator starts with.
const NORMAL_CODE_LIFETIME_MS: u64 = 600_000;

pub async fn expired_code_is_refused_and_session_stays_usable(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-36007").await;
    let before = stack.counts().await;
    stack.set_code_lifetime_ms(0).await;
    let code = stack.issue_code(&business, None).await;
    let answer = stack.post_code(&code, &session.state).await;
    stack.set_code_lifetime_ms(NORMAL_CODE_LIFETIME_MS).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.json()["error"]["message"],
        "the authorization code has expired: connect again"
    );
    assert_eq!(stack.counts().await, before);
    let code = stack.issue_code(&business, None).await;
    let retry = stack.post_code(&code, &session.state).await;
    assert_eq!(
        retry.status, 200,
        "a failed exchange leaves the session usable: {}",
        retry.body
    );
}

pub async fn redirect_uri_mismatch_is_refused(stack: &Stack) {
    let business = stack.new_business().await;
    let callback = format!("{}/oauth/callback", stack.invoke_url);
    // A dialog code arriving as an FB.login code: no redirect_uri is sent, Graph says 36008.
    let session = stack.create_session("acct-36008").await;
    let before = stack.counts().await;
    let code = stack.issue_code(&business, Some(&callback)).await;
    let answer = stack.post_code(&code, &session.state).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.json()["error"]["message"],
        "the authorization code was issued for a different redirect URI"
    );
    // An FB.login code arriving at the dialog callback: redirect_uri is sent, also 36008.
    let code = stack.issue_code(&business, None).await;
    let page = stack
        .get(&format!(
            "/oauth/callback?code={code}&state={}",
            session.state
        ))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("answer could not be used"),
        "{}",
        page.body
    );
    assert_eq!(stack.counts().await, before);
}

pub async fn used_code_is_refused(stack: &Stack) {
    let business = stack.new_business().await;
    let first = stack.create_session("acct-36009").await;
    let code = stack.issue_code(&business, None).await;
    let ok = stack.post_code(&code, &first.state).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let second = stack.create_session("acct-36009").await;
    let before = stack.counts().await;
    let answer = stack.post_code(&code, &second.state).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.json()["error"]["message"],
        "the authorization code has already been used: connect again"
    );
    assert_eq!(stack.counts().await, before);
}

pub async fn graph_5xx_on_me_is_retried(stack: &Stack) {
    let business = stack.new_business().await;
    let me_calls = stack.graph_calls("/me").await;
    stack
        .inject_fault(json!({"path": "/me", "count": 1, "status": 503}))
        .await;
    let (_, answer) = onboard_with_sdk(stack, &business, "acct-retry").await;
    assert_eq!(answer["client_business_id"], business.id.as_str());
    let me: Vec<u64> = stack
        .graph_requests()
        .await
        .iter()
        .filter(|r| r["path"] == "/me")
        .skip(me_calls)
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(me, vec![503, 200], "one failure, one successful retry");
}

pub async fn graph_unreachable_answers_503_and_stores_nothing(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-graph-down").await;
    let before = stack.counts().await;
    let code = stack.issue_code(&business, None).await;
    stack.graph_proxy.set_up(false);
    let answer = stack.post_code(&code, &session.state).await;
    stack.graph_proxy.set_up(true);
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.json()["error"]["type"], "UpstreamUnavailable");
    assert!(answer.headers.contains_key("retry-after"));
    assert_eq!(stack.counts().await, before);
    let code = stack.issue_code(&business, None).await;
    let retry = stack.post_code(&code, &session.state).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
}

pub async fn aws_unreachable_answers_503_then_a_new_session_succeeds(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-aws-down").await;
    let code = stack.issue_code(&business, None).await;
    let exchanges = stack.graph_calls("/oauth/access_token").await;
    stack.aws_proxy.set_up(false);
    let refused_session = stack
        .post_json(
            "/onboarding/sessions",
            &json!({"partner_ref": "acct-aws-down"}),
        )
        .await;
    let refused_code = stack.post_code(&code, &session.state).await;
    stack.aws_proxy.set_up(true);
    for answer in [&refused_session, &refused_code] {
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(answer.json()["error"]["type"], "UpstreamUnavailable");
    }
    assert_eq!(
        stack.graph_calls("/oauth/access_token").await,
        exchanges,
        "nothing was exchanged"
    );
    let (_, answer) = onboard_with_sdk(stack, &business, "acct-aws-down").await;
    assert_eq!(answer["client_business_id"], business.id.as_str());
}
