//! The paths beside Login for Business that are built: stable page tokens, the partner's own
//! system user, and revocation at offboarding, through the real functions and the emulator.

use e2e::Stack;
use e2e::client::Business;
use serde_json::{Value, json};

async fn fetch(stack: &Stack, payload: Value) -> Result<Value, String> {
    stack.invoke("token-fetch", &payload).await
}

/// Whether the emulator still takes a token.
async fn valid(stack: &Stack, token: &str) -> bool {
    stack
        .emulator_json("/_emulator/tokens/inspect", &json!({"access_token": token}))
        .await["valid"]
        == true
}

pub async fn a_page_token_is_stored_then_served_without_graph(stack: &Stack) {
    // A seeded business with three pages its system user has a role on.
    let business = Business {
        id: "3000000000000003".into(),
        system_user_id: String::new(),
    };
    stack.onboard(&business, "acct-pages").await;
    let request = json!({"client_business_id": business.id, "page_id": "6000000000000003"});
    let first = fetch(stack, request.clone()).await.unwrap();
    assert_eq!(first["kind"], "page");
    assert_eq!(first["page_id"], "6000000000000003");
    let calls = stack.graph_calls("/6000000000000003").await;
    let again = fetch(stack, request).await.unwrap();
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(
        stack.graph_calls("/6000000000000003").await,
        calls,
        "served from the vault"
    );
    assert!(
        stack
            .item(&format!("CLIENT#{}", business.id), "PAGE#6000000000000003")
            .await
            .is_some()
    );
    let listed = fetch(
        stack,
        json!({"action": "pages", "client_business_id": business.id}),
    )
    .await
    .unwrap();
    let pages = listed["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3, "{listed}");
    assert_eq!(
        pages.iter().filter(|p| p["stored"] == true).count(),
        1,
        "{listed}"
    );
    assert!(!listed.to_string().contains("access_token"));
    // Another business's page: no role.
    let refused = fetch(
        stack,
        json!({"client_business_id": business.id, "page_id": "6000000000000001"}),
    )
    .await;
    assert_eq!(refused.unwrap_err(), "PermissionDenied");
    assert!(
        stack
            .item(&format!("CLIENT#{}", business.id), "PAGE#6000000000000001")
            .await
            .is_none()
    );
}

pub async fn partner_offboarding_revokes_its_granular_tokens_and_one_dataset_can_go(stack: &Stack) {
    let business = stack.new_business_with_pixels(2, 0, false).await;
    stack.onboard(&business, "acct-revoke").await;
    let datasets = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await
        .json();
    let pixel = |n: usize| datasets["datasets"][n]["id"].as_str().unwrap().to_owned();
    let (kept, dropped) = (pixel(0), pixel(1));
    let mint = |asset: String| json!({"client_business_id": business.id, "scope": ["ads_management"], "assets": [asset]});
    let for_kept = fetch(stack, mint(kept.clone())).await.unwrap();
    let for_dropped = fetch(stack, mint(dropped.clone())).await.unwrap();

    let one = stack
        .invoke(
            "offboarding",
            &json!({"client_business_id": business.id, "reason": "pixel retired", "dataset_id": dropped}),
        )
        .await
        .unwrap();
    assert_eq!(one["status"], "active", "{one}");
    assert!(!valid(stack, for_dropped["access_token"].as_str().unwrap()).await);
    assert!(valid(stack, for_kept["access_token"].as_str().unwrap()).await);
    let pk = format!("CLIENT#{}", business.id);
    assert!(
        stack
            .item(&pk, &format!("DATASET#{dropped}"))
            .await
            .is_none()
    );
    assert!(stack.item(&pk, &format!("DATASET#{kept}")).await.is_some());

    let all = stack
        .invoke(
            "offboarding",
            &json!({"client_business_id": business.id, "reason": "contract ended"}),
        )
        .await
        .unwrap();
    assert!(
        all["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "revoked 1 of 1 granular token(s) at Meta"),
        "{all}"
    );
    assert!(!valid(stack, for_kept["access_token"].as_str().unwrap()).await);
    assert!(stack.client_secrets(&business).await.is_empty());
}

pub async fn the_partner_system_user_is_provisioned_and_rotated(stack: &Stack) {
    let scopes = [
        "business_management",
        "ads_management",
        "catalog_management",
        "pages_show_list",
        "pages_read_engagement",
    ];
    let provisioned = fetch(
        stack,
        json!({"action": "partner.provision", "system_user_id": "7100000000000001", "scope": scopes}),
    )
    .await
    .unwrap();
    assert_eq!(provisioned["system_user_id"], "7100000000000001");
    assert!(!provisioned.to_string().contains("access_token"));
    let first = fetch(stack, json!({"owner": "partner"})).await.unwrap();
    assert_eq!(first["kind"], "partner");
    let token = first["access_token"].as_str().unwrap().to_owned();
    assert!(valid(stack, &token).await);

    let rotated = fetch(stack, json!({"action": "partner.rotate"}))
        .await
        .unwrap();
    assert_eq!(rotated["system_user_id"], "7100000000000001");
    let second = fetch(stack, json!({"owner": "partner"})).await.unwrap();
    let new_token = second["access_token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert!(valid(stack, new_token).await);
    assert!(
        !valid(stack, &token).await,
        "the old token is revoked at Meta"
    );

    // The partner's own page, from its system user.
    let page = fetch(
        stack,
        json!({"owner": "partner", "page_id": "6700000000000001"}),
    )
    .await
    .unwrap();
    assert_eq!(page["kind"], "page");
    assert_eq!(page["client_business_id"], Value::Null);
    assert!(
        stack
            .item("PARTNER", "PAGE#6700000000000001")
            .await
            .is_some()
    );
    let item = stack.item("PARTNER", "SYSTEM_USER").await.unwrap();
    assert!(item.get("access_token").is_none());
}
