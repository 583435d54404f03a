//! Debug of every type that holds a token, a code, the app secret, a state, a cookie or a
//! `signed_request` shows a redaction, never the value.

use secrecy::SecretString;

use crate::app_secrets::AppSecrets;
use crate::lambda::http::query;
use crate::lambda::shapes::CodeRequest;
use crate::model::graph_types::ExchangedToken;
use crate::model::{Session, SessionState, TokenAnswer, TokenSecret, parse_auth_code};
use crate::onboarding::BoundSession;

const TOKEN: &str = "EAAfaketokenvalue0123456789";

fn assert_redacted(debug: String, secrets: &[&str]) {
    for secret in secrets {
        assert!(!debug.contains(secret), "{secret} shows in {debug}");
    }
}

#[test]
fn token_holders() {
    let secret: TokenSecret = serde_json::from_value(serde_json::json!({
        "access_token": TOKEN, "system_user_id": "100000000000001",
        "client_business_id": "200000000000002", "scopes": ["ads_management"]
    }))
    .unwrap();
    assert_redacted(format!("{secret:?}"), &[TOKEN]);
    let client = secret.client_business_id.clone().unwrap();
    let answer = TokenAnswer::new("bisu", &client, secret);
    assert_redacted(format!("{answer:?}"), &[TOKEN]);
    let exchanged: ExchangedToken = serde_json::from_str(&format!(
        r#"{{"access_token":"{TOKEN}","expires_in":5183944}}"#
    ))
    .unwrap();
    assert_redacted(format!("{exchanged:?}"), &[TOKEN]);
    assert_redacted(format!("{:?}", SecretString::from(TOKEN)), &[TOKEN]);
}

#[test]
fn app_secrets_codes_and_states() {
    let app: AppSecrets = serde_json::from_str(
        r#"{"app_secret":"fake-app-secret-value","webhook_verify_token":"fake-verify-value"}"#,
    )
    .unwrap();
    assert_redacted(
        format!("{app:?}"),
        &["fake-app-secret-value", "fake-verify-value"],
    );
    let code = parse_auth_code("AQfakeauthorizationcode").unwrap();
    assert_redacted(format!("{code:?}"), &["AQfakeauthorizationcode"]);
    let state = SessionState::generate();
    assert_redacted(format!("{state:?}"), &[state.expose()]);
    let posted: CodeRequest = serde_json::from_value(
        serde_json::json!({"code": "AQfakeauthorizationcode", "state": state.expose()}),
    )
    .unwrap();
    assert_redacted(
        format!("{posted:?}"),
        &["AQfakeauthorizationcode", state.expose()],
    );
}

#[test]
fn query_strings_show_names_only() {
    let request = http::Request::builder()
        .uri("/oauth/callback?code=AQfakecode&state=fakestatevalue&signed_request=fake.sr")
        .body(lambda_http::Body::Empty)
        .unwrap();
    let parsed = query(&request).unwrap();
    let debug = format!("{parsed:?}");
    assert_redacted(debug.clone(), &["AQfakecode", "fakestatevalue", "fake.sr"]);
    assert!(debug.contains("signed_request"), "{debug}");
}

#[test]
fn a_bound_session_hides_its_cookie() {
    let session: Session = serde_json::from_value(serde_json::json!({
        "partner_ref": "acct-1", "mode": "bisu", "status": "pending",
        "created_at": 0, "expires_at": 600, "result": null
    }))
    .unwrap();
    let bound = BoundSession {
        session,
        new_cookie: Some("fakecookievalue0123456789".into()),
    };
    assert_redacted(format!("{bound:?}"), &["fakecookievalue0123456789"]);
}
