//! The control routes for runs at scale: bulk logins and throttled businesses.

use serde_json::{Value, json};

use crate::tests::{answer, control, debug_token, emulator, graph_get};

const APP: &str = "1000000000000001";
const SECRET: &str = "demo-app-secret-not-a-real-secret";

fn app_token() -> String {
    format!("{APP}|{SECRET}")
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap()
}

#[tokio::test]
async fn bulk_logins_give_tokens_debug_token_knows() {
    let base = emulator().await;
    let made = control(&base, "/_emulator/logins", json!({"count": 3})).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let logins = made.body["logins"].as_array().unwrap();
    assert_eq!(logins.len(), 3);
    let first = &logins[0];
    assert_eq!(first["expires_at"], Value::Null, "BISU tokens never expire");
    let seen = debug_token(&base, &app_token(), field(first, "access_token")).await;
    assert_eq!(seen.body["data"]["is_valid"], true);
    assert_eq!(seen.body["data"]["user_id"], first["system_user_id"]);
    let me = graph_get(
        &base,
        "/me",
        field(first, "access_token"),
        &[("fields", "client_business_id")],
    )
    .await;
    assert_eq!(me.body["client_business_id"], first["business_id"]);
    let ids: std::collections::HashSet<&str> =
        logins.iter().map(|l| field(l, "business_id")).collect();
    assert_eq!(ids.len(), 3, "each login is its own business");

    let expiring = control(
        &base,
        "/_emulator/logins",
        json!({"count": 1, "expires_in_secs": 3600}),
    )
    .await;
    let login = &expiring.body["logins"][0];
    let seen = debug_token(&base, &app_token(), field(login, "access_token")).await;
    assert_eq!(seen.body["data"]["expires_at"], login["expires_at"]);
    assert!(login["expires_at"].as_u64().unwrap() > crate::world::now_epoch());

    for refused in [
        json!({"count": 0}),
        json!({"count": 1, "app_id": "404"}),
        json!({"count": 1, "config_id": "2000000000000003"}),
    ] {
        assert_eq!(
            control(&base, "/_emulator/logins", refused).await.status,
            400
        );
    }
    assert_eq!(
        control(&base, "/_emulator/logins", json!({"cuont": 1}))
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn a_throttled_business_is_refused_until_lifted_and_others_are_not() {
    let base = emulator().await;
    let made = control(&base, "/_emulator/logins", json!({"count": 2})).await;
    let (throttled, free) = (&made.body["logins"][0], &made.body["logins"][1]);
    let business = field(throttled, "business_id");
    let set = control(
        &base,
        "/_emulator/throttles",
        json!({"business_ids": [business], "minutes": 30}),
    )
    .await;
    assert_eq!(set.status, 204);

    // debug_token is about the business of the token it inspects.
    let refused = debug_token(&base, &app_token(), field(throttled, "access_token")).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["code"], 80004);
    let usage: Value = serde_json::from_str(
        refused.headers["x-business-use-case-usage"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(usage[business][0]["estimated_time_to_regain_access"], 30);
    assert_eq!(usage[business][0]["type"], "ads_management");
    assert!(refused.headers.contains_key("x-app-usage"));
    // So is a call made with its token, and one whose path names it.
    let me = graph_get(&base, "/me", field(throttled, "access_token"), &[]).await;
    assert_eq!(me.body["error"]["code"], 80004);
    let pixels = graph_get(
        &base,
        &format!("/{business}/owned_pixels"),
        field(free, "access_token"),
        &[],
    )
    .await;
    assert_eq!(pixels.body["error"]["code"], 80004);
    let other = debug_token(&base, &app_token(), field(free, "access_token")).await;
    assert_eq!(other.body["data"]["is_valid"], true);

    let listed = answer(reqwest::Client::new().get(format!("{base}/_emulator/throttles"))).await;
    assert_eq!(
        listed.body["throttles"],
        json!([{"business_id": business, "code": 80004, "minutes": 30, "refused": 3}])
    );
    let lifted = answer(
        reqwest::Client::new()
            .delete(format!("{base}/_emulator/throttles"))
            .json(&json!({"business_ids": [business]})),
    )
    .await;
    assert_eq!(lifted.body, json!({"lifted": 1}));
    let back = debug_token(&base, &app_token(), field(throttled, "access_token")).await;
    assert_eq!(back.body["data"]["is_valid"], true);

    let bad = control(
        &base,
        "/_emulator/throttles",
        json!({"business_ids": [business], "code": 4}),
    )
    .await;
    assert_eq!(bad.status, 400);
    control(
        &base,
        "/_emulator/throttles",
        json!({"business_ids": [business, field(free, "business_id")], "code": 80000}),
    )
    .await;
    let all = answer(reqwest::Client::new().delete(format!("{base}/_emulator/throttles"))).await;
    assert_eq!(all.body, json!({"lifted": 2}));
}
