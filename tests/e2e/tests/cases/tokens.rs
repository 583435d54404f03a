//! token-fetch end to end: the BISU token, granular minting, recovery and the sweep.

use e2e::Stack;
use e2e::client::Business;
use e2e::stack::SECRET_PREFIX;
use serde_json::{Value, json};

use super::onboarding::onboard_with_sdk;

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn stored_token(stack: &Stack, business: &Business) -> String {
    let raw = stack
        .aws
        .secret_value(&format!("{SECRET_PREFIX}/clients/{}/bisu", business.id))
        .await
        .expect("BISU secret");
    serde_json::from_str::<Value>(&raw).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn fetch(stack: &Stack, payload: Value) -> Result<Value, String> {
    stack.invoke("token-fetch", &payload).await
}

async fn mint_calls(stack: &Stack) -> Vec<Value> {
    let requests = stack.graph_requests().await;
    requests
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .ends_with("/system_user_access_tokens")
        })
        .collect()
}

pub async fn token_fetch_hands_out_the_onboarded_token_until_offboarded(stack: &Stack) {
    let business = stack.new_business_with_pixels(2, 0, false).await;
    onboard_with_sdk(stack, &business, "acct-tokens").await;
    let answer = fetch(stack, json!({"client_business_id": business.id}))
        .await
        .unwrap();
    assert_eq!(answer["access_token"], stored_token(stack, &business).await);
    assert_eq!(answer["kind"], "bisu");
    assert_eq!(answer["client_business_id"], business.id.as_str());
    assert_eq!(answer["system_user_id"], business.system_user_id.as_str());
    assert_eq!(answer["expires_at"], Value::Null);
    assert!(
        answer["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("ads_management"))
    );
    // Warm now; the next call still reads the client item and refuses at once.
    stack.set_client_status(&business, "offboarded").await;
    assert_eq!(
        fetch(stack, json!({"client_business_id": business.id})).await,
        Err("ClientOffboarded".into())
    );
    stack.set_client_status(&business, "needs_reconnect").await;
    assert_eq!(
        fetch(stack, json!({"client_business_id": business.id})).await,
        Err("NeedsReconnect".into())
    );
}

pub async fn granular_tokens_are_minted_with_the_right_parameters_and_reused(stack: &Stack) {
    let business = stack.new_business_with_pixels(2, 0, false).await;
    onboard_with_sdk(stack, &business, "acct-granular").await;
    let pixels = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await
        .json();
    let pixel = pixels["datasets"][0]["id"].as_str().unwrap().to_owned();
    let request = json!({"client_business_id": business.id, "scope": ["ads_management"], "assets": [pixel], "expires_in_60_days": true});
    let before = mint_calls(stack).await.len();
    let minted = fetch(stack, request.clone()).await.unwrap();
    assert_eq!(minted["kind"], "granular");
    assert_eq!(minted["scopes"], json!(["ads_management"]));
    assert!((minted["expires_at"].as_i64().unwrap() - now_epoch() - 60 * 24 * 3600).abs() < 300);
    assert_ne!(minted["access_token"], stored_token(stack, &business).await);

    let calls = mint_calls(stack).await;
    assert_eq!(calls.len(), before + 1);
    let call = calls.last().unwrap();
    assert_eq!(call["method"], "POST");
    assert_eq!(call["status"], 200);
    assert_eq!(call["proof_valid"], true);
    let keys: Vec<&str> = call["body_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for key in [
        "system_user_id",
        "scope",
        "asset",
        "set_token_expires_in_60_days",
        "appsecret_proof",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(!keys.contains(&"fetch_only"));

    let items = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    let token_item = items
        .iter()
        .find(|i| i["sk"].as_str().unwrap().starts_with("TOKEN#"))
        .expect("TOKEN# item");
    assert_eq!(token_item["assets"], json!([pixel]));
    let secret = stack
        .aws
        .secret_value(token_item["secret"]["name"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        token_item["secret"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{SECRET_PREFIX}/clients/{}/tokens/", business.id))
    );
    assert!(secret.contains(minted["access_token"].as_str().unwrap()));
    assert!(
        !token_item
            .to_string()
            .contains(minted["access_token"].as_str().unwrap())
    );

    let again = fetch(stack, request).await.unwrap();
    assert_eq!(
        again["access_token"], minted["access_token"],
        "an identical request gets the stored token"
    );
    assert_eq!(mint_calls(stack).await.len(), before + 1);
}

pub async fn requests_beyond_the_grants_are_refused_without_calling_graph(stack: &Stack) {
    let business = stack.new_business_with_pixels(1, 0, false).await;
    onboard_with_sdk(stack, &business, "acct-superset").await;
    let before = mint_calls(stack).await.len();
    let scope = fetch(stack, json!({"client_business_id": business.id, "scope": ["ads_management", "pages_manage_posts"]})).await;
    assert_eq!(scope, Err("InvalidRequest".into()));
    let asset = fetch(stack, json!({"client_business_id": business.id, "scope": ["ads_management"], "assets": ["123456789"]})).await;
    assert_eq!(asset, Err("InvalidRequest".into()));
    assert_eq!(
        mint_calls(stack).await.len(),
        before,
        "nothing reached Graph"
    );
}

pub async fn a_deleted_bisu_secret_is_recovered_with_fetch_only(stack: &Stack) {
    let business = stack.new_business().await;
    onboard_with_sdk(stack, &business, "acct-recover").await;
    let original = stored_token(stack, &business).await;
    fetch(stack, json!({"client_business_id": business.id}))
        .await
        .unwrap();
    let name = format!("{SECRET_PREFIX}/clients/{}/bisu", business.id);
    stack
        .aws
        .secrets
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();

    let answer = fetch(
        stack,
        json!({"client_business_id": business.id, "force_refresh": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer["access_token"],
        original.as_str(),
        "Meta hands back the existing BISU"
    );
    assert_eq!(
        stored_token(stack, &business).await,
        original,
        "stored again"
    );
    let recovery = mint_calls(stack).await.into_iter().last().unwrap();
    assert_eq!(recovery["token_kind"], "Partner");
    assert!(
        recovery["body_keys"]
            .as_array()
            .unwrap()
            .contains(&json!("fetch_only"))
    );
    let events = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    assert!(
        events
            .iter()
            .all(|e| !e["sk"].as_str().unwrap().starts_with("PENDING#")),
        "the recovered secret is recorded"
    );
    assert_eq!(
        fetch(stack, json!({"client_business_id": business.id}))
            .await
            .unwrap()["access_token"],
        original.as_str()
    );
}

pub async fn the_sweep_marks_dead_tokens_refreshes_expiring_ones_and_survives_failures(
    stack: &Stack,
) {
    let (healthy, dead, expiring) = (
        stack.new_business().await,
        stack.new_business().await,
        stack.new_business().await,
    );
    for business in [&healthy, &dead, &expiring] {
        onboard_with_sdk(stack, business, "acct-sweep").await;
    }
    let old_token = stored_token(stack, &expiring).await;
    stack.invalidate_tokens(&dead).await;
    stack.expire_tokens(&expiring, 24 * 3600).await;

    // One client's check fails for good (a rejection, not retried); the sweep goes on.
    stack
        .inject_fault(json!({"path": "/debug_token", "count": 1, "status": 400,
            "error": {"code": 100, "message": "Injected rejection"}}))
        .await;
    for business in [&healthy, &dead, &expiring] {
        stack.make_due(business).await;
    }
    let first = fetch(stack, json!({"action": "sweep"})).await.unwrap();
    assert_eq!(first["failed"], 1, "{first}");
    let checked = first["claimed"].as_u64().unwrap();
    let counted = ["healthy", "marked_needs_reconnect", "refreshed", "failed"]
        .iter()
        .map(|k| first[*k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(checked, counted, "{first}");
    assert!(checked >= 3);

    // Once its lease has passed, a second run finishes what the failure left.
    for business in [&healthy, &dead, &expiring] {
        stack.make_due(business).await;
    }
    let second = fetch(stack, json!({"action": "sweep"})).await.unwrap();
    assert_eq!(second["failed"], 0, "{second}");

    let status = |b: &Business| {
        let key = format!("CLIENT#{}", b.id);
        async move { stack.item(&key, "CLIENT").await.unwrap() }
    };
    assert_eq!(status(&dead).await["status"], "needs_reconnect");
    assert_eq!(status(&healthy).await["status"], "active");
    let refreshed = status(&expiring).await;
    assert_eq!(refreshed["status"], "active");
    let expires = refreshed["token_expires_at"]
        .as_i64()
        .expect("a refreshed token expires");
    assert!((expires - now_epoch() - 60 * 24 * 3600).abs() < 300);
    let new_token = stored_token(stack, &expiring).await;
    assert_ne!(new_token, old_token);
    let answer = fetch(stack, json!({"client_business_id": expiring.id}))
        .await
        .unwrap();
    assert_eq!(
        answer["access_token"],
        new_token.as_str(),
        "token-fetch serves the refreshed token"
    );
    let events = stack.items_under(&format!("CLIENT#{}", dead.id)).await;
    assert!(events.iter().any(|e| e["type"] == "client.needs_reconnect"));
}
