//! The core's guarantees against the real adapters: the fence under DynamoDB's conditions, a
//! webhook batch of 50 changes, and the session bound to the browser that opened it.

use e2e::Stack;
use e2e::stack::{APP_ID, TABLE};
use serde_json::json;
use shared::adapters::dynamo::DynamoStore;
use shared::model::{ClientBusinessId, Dataset, Ownership};
use shared::ports::DatasetStore;

pub async fn the_fence_holds_under_dynamodb_conditions(stack: &Stack) {
    let business = stack.new_business().await;
    stack.onboard(&business, "fence").await;
    let aws = local_stack::aws::sdk_config(&stack.moto_url).await;
    let store = DynamoStore::new(
        shared::lazy::Lazy::ready(aws_sdk_dynamodb::Client::new(&aws)),
        TABLE.to_owned(),
    );
    let id = ClientBusinessId::parse(&business.id).unwrap();
    let dataset = Dataset {
        id: "424242".into(),
        name: None,
        ownership: Ownership::Owned,
        permitted_tasks: vec![],
        creation_time: None,
        last_fired_time: None,
        is_unavailable: None,
        owner_business_id: None,
        owner_business_name: None,
        data_use_setting: None,
    };
    // An offboarding has begun: every write that adds to the client is refused by DynamoDB.
    stack.set_client_status(&business, "offboarding").await;
    let written = store
        .write_datasets(&id, std::slice::from_ref(&dataset), &[])
        .await
        .unwrap();
    assert!(
        written.is_err(),
        "the ConditionCheck refuses a leaving client"
    );
    assert!(
        stack
            .item(&format!("CLIENT#{}", business.id), "DATASET#424242")
            .await
            .is_none()
    );
    let minted = stack
        .invoke(
            "token-fetch",
            &json!({"client_business_id": business.id, "scope": ["ads_management"]}),
        )
        .await;
    assert_eq!(minted.unwrap_err(), "ClientOffboarded");
    let items = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    assert!(items.iter().all(|i| {
        let sk = i["sk"].as_str().unwrap();
        !sk.starts_with("TOKEN#") && !sk.starts_with("PENDING#")
    }));
    stack.set_client_status(&business, "active").await;
    let written = store.write_datasets(&id, &[dataset], &[]).await.unwrap();
    assert!(written.is_ok(), "an active client takes the write");
    assert!(
        stack
            .item(&format!("CLIENT#{}", business.id), "DATASET#424242")
            .await
            .is_some()
    );
}

pub async fn a_webhook_batch_of_50_changes_with_an_unknown_business(stack: &Stack) {
    let mut known = Vec::new();
    for _ in 0..5 {
        let business = stack.new_business().await;
        stack.onboard(&business, "batch").await;
        known.push(business);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Each known client is uninstalled; 44 install notices (each at its own time, so each is
    // its own change) ride along; one uninstall names a business that is no client.
    let mut changes: Vec<_> = known
        .iter()
        .map(|b| json!({"field": "business_integration_uninstall", "business_id": b.id, "time": now}))
        .collect();
    changes.extend((0..44u64).map(|n| {
        json!({"field": "business_integration_install", "business_id": known[(n % 5) as usize].id,
            "time": now - 100 - n})
    }));
    changes.push(json!({"field": "business_integration_uninstall", "business_id": "999999999999001", "time": now}));
    assert_eq!(changes.len(), 50);
    let url = format!("{}/webhooks/meta", stack.invoke_url);
    let sent = stack
        .emulator_json(
            "/_emulator/webhooks",
            &json!({"changes": changes, "url": url, "app_id": APP_ID}),
        )
        .await;
    assert_eq!(sent["statuses"], json!([200]), "{sent}");
    // What the inline budget left is applied by the sweep.
    for _ in 0..3 {
        stack
            .invoke("token-fetch", &json!({"action": "sweep"}))
            .await
            .unwrap();
    }
    for business in &known {
        let client = stack
            .item(&format!("CLIENT#{}", business.id), "CLIENT")
            .await
            .unwrap();
        assert_eq!(client["status"], "offboarded", "{}", business.id);
        assert!(stack.client_secrets(business).await.is_empty());
    }
}

pub async fn a_session_completes_only_in_the_browser_that_opened_it(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("cookie").await;
    let code = stack.issue_code(&business, None).await;
    let before = stack.counts().await;
    // The state leaked to another browser, which has no cookie of this one.
    let stranger = reqwest::Client::new()
        .post(format!("{}/oauth/code", stack.invoke_url))
        .json(&json!({"code": code, "state": session.state}))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 403);
    let body: serde_json::Value = stranger.json().await.unwrap();
    assert_eq!(body["error"]["type"], "InvalidRequest");
    assert_eq!(stack.counts().await, before, "nothing was stored");
    let page = reqwest::Client::new()
        .get(format!(
            "{}/onboarding?session={}",
            stack.invoke_url, session.state
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        403,
        "another browser cannot open the bound session"
    );
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let answer = stack.post_code(&code, &session.state).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
