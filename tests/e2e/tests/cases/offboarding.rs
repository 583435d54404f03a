//! offboarding end to end: each way a client leaves, idempotence, forged signals refused.

use e2e::Stack;
use e2e::client::Business;
use e2e::stack::{PARTNER_BUSINESS_ID, WEBHOOK_VERIFY_TOKEN};
use serde_json::{Value, json};

use super::onboarding::onboard_with_sdk;

/// A client with datasets read and a granular token minted, so there is something to remove.
async fn rich_client(stack: &Stack, partner_ref: &str) -> Business {
    let business = stack.new_business_with_pixels(2, 1, false).await;
    onboard_with_sdk(stack, &business, partner_ref).await;
    let answer = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let datasets = answer.json();
    let pixel = datasets["datasets"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a dataset id in {datasets}"))
        .to_owned();
    let request =
        json!({"client_business_id": business.id, "scope": ["ads_management"], "assets": [pixel]});
    stack
        .invoke("token-fetch", &request)
        .await
        .expect("a granular token");
    assert_eq!(
        stack.client_secrets(&business).await.len(),
        2,
        "BISU and minted secrets exist"
    );
    business
}

/// Everything a finished offboarding must leave, whatever started it.
async fn assert_offboarded(stack: &Stack, business: &Business, reason: &str) -> Vec<Value> {
    assert!(
        stack.client_secrets(business).await.is_empty(),
        "no secret under the client's prefix"
    );
    let items = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    let client = items
        .iter()
        .find(|i| i["sk"] == "CLIENT")
        .expect("the client item stays");
    assert_eq!(client["status"], "offboarded");
    assert_eq!(client["offboard_reason"], reason);
    assert!(client["offboarded_at"].is_number());
    assert!(
        !items
            .iter()
            .any(|i| i["sk"].as_str().unwrap().starts_with("DATASET#")
                || i["sk"].as_str().unwrap().starts_with("TOKEN#"))
    );
    assert_eq!(
        items
            .iter()
            .filter(|i| i["type"] == "client.offboarded")
            .count(),
        1,
        "one offboarding event"
    );
    let token = stack
        .invoke("token-fetch", &json!({"client_business_id": business.id}))
        .await;
    assert_eq!(token, Err("ClientOffboarded".into()));
    let datasets = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await;
    assert_eq!(datasets.status, 410);
    items
}

async fn offboard(stack: &Stack, business: &Business, reason: &str) -> Value {
    stack
        .invoke(
            "offboarding",
            &json!({"client_business_id": business.id, "reason": reason}),
        )
        .await
        .expect("offboarding answers")
}

fn webhook_url(stack: &Stack) -> String {
    format!("{}/webhooks/meta", stack.invoke_url)
}

pub async fn partner_offboarding_removes_everything_and_is_idempotent(stack: &Stack) {
    let business = rich_client(stack, "acct-partner-off").await;
    let report = offboard(stack, &business, "contract_ended").await;
    assert_eq!(report["status"], "offboarded");
    assert_eq!(report["client_business_id"], business.id.as_str());
    assert_eq!(
        report["remove_app_url"],
        format!(
            "https://business.facebook.com/latest/settings/connected_apps/?business_id={}",
            business.id
        )
    );
    let steps = report["steps"].to_string();
    assert!(
        steps.contains("marked the client offboarded")
            && steps.contains("deleted 2 token secret(s)"),
        "{steps}"
    );
    let first = assert_offboarded(stack, &business, "contract_ended").await;

    let again = offboard(stack, &business, "contract_ended").await;
    assert!(
        again["steps"].to_string().contains("already offboarded"),
        "{again}"
    );
    let second = assert_offboarded(stack, &business, "contract_ended").await;
    assert_eq!(first, second, "a second run leaves the same state");
    let unknown = stack
        .invoke(
            "offboarding",
            &json!({"client_business_id": "123456789012345", "reason": "cleanup"}),
        )
        .await;
    assert!(
        unknown.unwrap()["steps"]
            .to_string()
            .contains("no client record")
    );
}

pub async fn the_uninstall_webhook_offboards_the_client(stack: &Stack) {
    let business = rich_client(stack, "acct-uninstall").await;
    let handshake = stack
        .get(&format!("/webhooks/meta?hub.mode=subscribe&hub.verify_token={WEBHOOK_VERIFY_TOKEN}&hub.challenge=1158201444"))
        .await;
    assert_eq!(
        (handshake.status, handshake.body.as_str()),
        (200, "1158201444")
    );
    let removed = stack
        .emulator_json(
            &format!("/_emulator/businesses/{}/remove-app", business.id),
            &json!({"webhook_url": webhook_url(stack)}),
        )
        .await;
    assert_eq!(removed["webhook_statuses"], json!([200]), "{removed}");
    let first = assert_offboarded(stack, &business, "client_uninstalled").await;
    // Meta redelivers: acknowledged, no second work.
    let signed = stack
        .emulator_json(
            "/_emulator/webhooks",
            &json!({"field": "business_integration_uninstall", "business_id": business.id}),
        )
        .await;
    let redelivery = stack
        .post_with_headers(
            "/webhooks/meta",
            signed["body"].as_str().unwrap(),
            &[("x-hub-signature-256", signed["signature"].as_str().unwrap())],
        )
        .await;
    assert_eq!(redelivery.status, 200, "{}", redelivery.body);
    assert_eq!(
        assert_offboarded(stack, &business, "client_uninstalled").await,
        first
    );
}

pub async fn the_update_webhook_refreshes_granted_assets_and_datasets(stack: &Stack) {
    let business = rich_client(stack, "acct-update").await;
    let before = stack
        .item(&format!("CLIENT#{}", business.id), "CLIENT")
        .await
        .unwrap();
    let granted = before["granted_assets"]["ads_management"]
        .as_array()
        .unwrap()
        .clone();
    let kept = granted[0].as_str().unwrap().to_owned();
    stack
        .emulator_json(
            &format!("/_emulator/businesses/{}/grants", business.id),
            &json!({"targets": [kept]}),
        )
        .await;
    let delivered = stack
        .emulator_json("/_emulator/webhooks", &json!({"field": "business_integration_update", "business_id": business.id, "url": webhook_url(stack)}))
        .await;
    assert_eq!(delivered["statuses"], json!([200]));
    let after = stack
        .item(&format!("CLIENT#{}", business.id), "CLIENT")
        .await
        .unwrap();
    assert_eq!(
        after["granted_assets"]["ads_management"],
        json!([kept]),
        "grants re-read from debug_token"
    );
    assert_eq!(after["status"], "active");
    assert!(after["version"].as_u64() > before["version"].as_u64());
    let events = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    assert!(events.iter().any(|e| e["type"] == "client.assets_changed"));
    assert!(after["datasets_fetched_at"].as_i64() >= before["updated_at"].as_i64());
    // A token beyond the new grants is refused locally now.
    let other = granted
        .iter()
        .find(|g| g.as_str() != Some(kept.as_str()))
        .unwrap();
    let refused = stack.invoke("token-fetch", &json!({"client_business_id": business.id, "scope": ["ads_management"], "assets": [other]})).await;
    assert_eq!(refused, Err("InvalidRequest".into()));
}

pub async fn deauthorize_offboards_the_users_clients(stack: &Stack) {
    let business = rich_client(stack, "acct-deauth").await;
    let sent = stack
        .emulator_json("/_emulator/signed-request", &json!({"user_id": business.system_user_id, "url": format!("{}/meta/deauthorize", stack.invoke_url)}))
        .await;
    assert_eq!(sent["status"], 200, "{sent}");
    assert!(sent["body"].as_str().unwrap().contains(&business.id));
    let first = assert_offboarded(stack, &business, "deauthorized").await;
    let spec = json!({"user_id": business.system_user_id, "url": format!("{}/meta/deauthorize", stack.invoke_url)});
    assert_eq!(
        stack
            .emulator_json("/_emulator/signed-request", &spec)
            .await["status"],
        200
    );
    let second = assert_offboarded(stack, &business, "deauthorized").await;
    assert_eq!(second, first, "a second callback changes nothing");
}

pub async fn data_deletion_answers_a_working_status_url(stack: &Stack) {
    let business = rich_client(stack, "acct-deletion").await;
    let sent = stack
        .emulator_json("/_emulator/signed-request", &json!({"user_id": business.system_user_id, "url": format!("{}/meta/data-deletion", stack.invoke_url)}))
        .await;
    assert_eq!(sent["status"], 200, "{sent}");
    let answer: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    let code = answer["confirmation_code"].as_str().unwrap();
    assert_eq!(
        answer["url"],
        format!("{}/meta/data-deletion/{code}", stack.invoke_url)
    );
    assert_offboarded(stack, &business, "data_deletion_requested").await;
    let status = stack
        .follow(&answer["url"].as_str().unwrap().parse().unwrap())
        .await;
    assert_eq!(status.status, 200);
    assert!(
        status.body.contains("data-status=\"completed\"") && status.body.contains(code),
        "{}",
        status.body
    );
    let unknown = stack
        .get(&format!("/meta/data-deletion/{}", "0".repeat(32)))
        .await;
    assert_eq!(unknown.status, 404);
    let first = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    let spec = json!({"user_id": business.system_user_id, "url": format!("{}/meta/data-deletion", stack.invoke_url)});
    let again = stack
        .emulator_json("/_emulator/signed-request", &spec)
        .await;
    assert_eq!(
        again["status"], 200,
        "a second request gets its own confirmation"
    );
    let second = assert_offboarded(stack, &business, "data_deletion_requested").await;
    assert_eq!(second, first, "and changes nothing about the client");
}

pub async fn forged_and_stale_signals_are_refused_and_change_nothing(stack: &Stack) {
    let business = rich_client(stack, "acct-forged").await;
    let signed = stack
        .emulator_json(
            "/_emulator/webhooks",
            &json!({"field": "business_integration_uninstall", "business_id": business.id}),
        )
        .await;
    let body = signed["body"].as_str().unwrap();
    let signature = signed["signature"].as_str().unwrap();
    let tampered_body = body.replace(
        "business_integration_uninstall",
        "business_integration_uninstalX",
    );
    let request = |user: &str, extra: Value| {
        let mut spec = json!({"user_id": user});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    };
    let user = business.system_user_id.as_str();
    let stale = stack
        .emulator_json(
            "/_emulator/signed-request",
            &request(user, json!({"issued_at": 1_600_000_000})),
        )
        .await;
    let future = stack
        .emulator_json(
            "/_emulator/signed-request",
            &request(user, json!({"issued_at": 4_000_000_000u64})),
        )
        .await;
    let sha1 = stack
        .emulator_json(
            "/_emulator/signed-request",
            &request(user, json!({"algorithm": "HMAC-SHA1"})),
        )
        .await;
    let good = stack
        .emulator_json("/_emulator/signed-request", &request(user, json!({})))
        .await["signed_request"]
        .as_str()
        .unwrap()
        .to_owned();
    let (good_sig, good_payload) = good.split_once('.').unwrap();
    let forged = format!(
        "{}.{good_payload}",
        good_sig.chars().rev().collect::<String>()
    );
    let form = |value: &str| {
        format!(
            "signed_request={}",
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        )
    };
    let before = stack.counts().await;
    let mut answers = vec![
        ("no signature", stack.post_with_headers("/webhooks/meta", body, &[]).await),
        ("forged signature", stack.post_with_headers("/webhooks/meta", body, &[("x-hub-signature-256", "sha256=00ff")]).await),
        ("signature of another body", stack.post_with_headers("/webhooks/meta", &tampered_body, &[("x-hub-signature-256", signature)]).await),
        ("sha1 signature", stack.post_with_headers("/webhooks/meta", body, &[("x-hub-signature-256", &signature.replace("sha256=", "sha1="))]).await),
        ("wrong verify token", stack.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1").await),
        ("wrong hub mode", stack.get(&format!("/webhooks/meta?hub.mode=unsubscribe&hub.verify_token={WEBHOOK_VERIFY_TOKEN}&hub.challenge=1")).await),
    ];
    for (name, raw) in [
        (
            "stale issued_at",
            stale["signed_request"].as_str().unwrap().to_owned(),
        ),
        (
            "issued_at in the future",
            future["signed_request"].as_str().unwrap().to_owned(),
        ),
        (
            "bad algorithm",
            sha1["signed_request"].as_str().unwrap().to_owned(),
        ),
        ("forged signature", forged),
        ("truncated", good[..good.len() - 10].to_owned()),
        ("not base64", "%%%.***".to_owned()),
        ("no dot", good_sig.to_owned()),
        ("empty", String::new()),
    ] {
        for route in ["/meta/deauthorize", "/meta/data-deletion"] {
            answers.push((
                name,
                stack
                    .post(route, "application/x-www-form-urlencoded", form(&raw))
                    .await,
            ));
        }
    }
    answers.push((
        "deauthorize as JSON",
        stack
            .post(
                "/meta/deauthorize",
                "application/json",
                format!("{{\"signed_request\":\"{good}\"}}"),
            )
            .await,
    ));
    answers.push((
        "repeated field",
        stack
            .post(
                "/meta/deauthorize",
                "application/x-www-form-urlencoded",
                format!("{}&{}", form(&good), form(&good)),
            )
            .await,
    ));
    let failures: Vec<String> = answers
        .iter()
        .filter(|(_, a)| !(400..500).contains(&a.status) || !a.body.contains("\"message\""))
        .map(|(name, a)| format!("{name}: {} {}", a.status, a.body))
        .collect();
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));
    assert_eq!(
        stack.counts().await,
        before,
        "refused signals changed the table or the secrets"
    );
    assert_eq!(
        stack
            .item(&format!("CLIENT#{}", business.id), "CLIENT")
            .await
            .unwrap()["status"],
        "active"
    );
}

pub async fn concurrent_uninstall_deliveries_offboard_once(stack: &Stack) {
    let business = rich_client(stack, "acct-concurrent").await;
    let delivered = stack
        .emulator_json("/_emulator/webhooks", &json!({"field": "business_integration_uninstall", "business_id": business.id, "url": webhook_url(stack), "copies": 20}))
        .await;
    let statuses = delivered["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), 20);
    assert!(statuses.iter().all(|s| s == 200), "{delivered}");
    assert_offboarded(stack, &business, "client_uninstalled").await;
}

pub async fn an_offboarded_business_can_onboard_again(stack: &Stack) {
    let business = rich_client(stack, "acct-return").await;
    offboard(stack, &business, "paused").await;
    let (_, answer) = onboard_with_sdk(stack, &business, "acct-return").await;
    assert_eq!(answer["status"], "active");
    let token = stack
        .invoke("token-fetch", &json!({"client_business_id": business.id}))
        .await
        .unwrap();
    let raw = stack
        .aws
        .secret_value(&format!("meta-login/local/clients/{}/bisu", business.id))
        .await
        .unwrap();
    assert!(
        raw.contains(token["access_token"].as_str().unwrap()),
        "token-fetch serves the new token"
    );
    let datasets = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await;
    assert_eq!(
        (datasets.status, datasets.json()["source"].clone()),
        (200, json!("graph"))
    );
}

pub async fn offboarding_an_on_behalf_of_client_removes_the_relationship(stack: &Stack) {
    let business = stack.new_business().await;
    onboard_with_sdk(stack, &business, "acct-obo").await;
    stack.set_client_field(&business, "mode", "obo").await;
    let report = offboard(stack, &business, "obo_ended").await;
    assert!(
        report["steps"]
            .to_string()
            .contains("removed the On-Behalf-Of relationship"),
        "{report}"
    );
    let call = stack
        .graph_requests()
        .await
        .into_iter()
        .rev()
        .find(|r| r["path"].as_str().unwrap().ends_with("/managed_businesses"))
        .unwrap();
    assert_eq!(call["method"], "DELETE");
    assert_eq!(
        call["path"],
        format!("/{PARTNER_BUSINESS_ID}/managed_businesses")
    );
    assert!(
        call["url"]
            .as_str()
            .unwrap()
            .contains(&format!("existing_client_business_id={}", business.id))
    );
    assert_eq!(
        (call["status"].clone(), call["proof_valid"].clone()),
        (json!(200), json!(true))
    );
    assert_offboarded(stack, &business, "obo_ended").await;
}
