//! dataset-lookup end to end: full paging, the cache, refresh, reconnect and throttling.

use e2e::Stack;
use e2e::client::Business;
use serde_json::{Value, json};

use super::onboarding::onboard_with_sdk;

async fn onboarded(stack: &Stack, owned: usize, shared: usize, empty_page: bool) -> Business {
    let business = stack
        .new_business_with_pixels(owned, shared, empty_page)
        .await;
    onboard_with_sdk(stack, &business, "acct-datasets").await;
    business
}

async fn pixel_calls(stack: &Stack, business: &Business) -> Vec<Value> {
    let prefix = format!("/{}/", business.id);
    stack
        .graph_requests()
        .await
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&prefix) && p.ends_with("_pixels"))
        })
        .collect()
}

fn ownership_count(body: &Value, ownership: &str) -> usize {
    body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ownership"] == ownership)
        .count()
}

pub async fn all_pages_of_both_lists_are_read_once_then_served_from_the_table(stack: &Stack) {
    let business = onboarded(stack, 230, 140, true).await;
    let path = format!("/clients/{}/datasets", business.id);
    let lost = stack.lost_answers.load(std::sync::atomic::Ordering::SeqCst);
    let first = stack.get(&path).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let body = first.json();
    assert_eq!(body["count"], 370);
    // Sent again when watch lost the first answer: then the table served it (the Graph calls
    // below show the lists were still read once).
    let again = stack.lost_answers.load(std::sync::atomic::Ordering::SeqCst) > lost;
    assert_eq!(body["source"], if again { "cache" } else { "graph" });
    assert_eq!(
        (
            ownership_count(&body, "owned"),
            ownership_count(&body, "shared")
        ),
        (230, 140)
    );
    let shared = body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ownership"] == "shared")
        .unwrap();
    assert_eq!(
        shared["permitted_tasks"],
        json!(["ADVERTISE", "ANALYZE", "UPLOAD"])
    );
    assert!(shared["owner_business_id"].is_string() && shared["last_fired_time"].is_string());

    let calls = pixel_calls(stack, &business).await;
    let owned_calls = calls
        .iter()
        .filter(|c| c["path"].as_str().unwrap().ends_with("owned_pixels"))
        .count();
    // 230 at 100 a page is 3 pages, plus the empty page the emulator slips in after the first.
    assert_eq!(owned_calls, 4, "every page followed, the empty one too");
    for call in &calls {
        let url = call["url"].as_str().unwrap();
        assert!(
            url.contains("limit=100") && url.contains("owner_business"),
            "{url}"
        );
        assert_eq!(call["proof_valid"], true);
    }
    let items = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    assert_eq!(
        items
            .iter()
            .filter(|i| i["sk"].as_str().unwrap().starts_with("DATASET#"))
            .count(),
        370
    );

    let second = stack.get(&path).await;
    assert_eq!(
        second.json()["source"],
        "cache",
        "{}",
        &second.body[..second.body.len().min(300)]
    );
    assert_eq!(second.json()["count"], 370);
    assert_eq!(
        pixel_calls(stack, &business).await.len(),
        calls.len(),
        "the second read made no Graph call"
    );

    let direct = stack
        .invoke(
            "dataset-lookup",
            &json!({"client_business_id": business.id}),
        )
        .await
        .unwrap();
    assert_eq!(
        (direct["count"].clone(), direct["source"].clone()),
        (json!(370), json!("cache"))
    );
}

pub async fn refresh_rereads_graph_and_drops_a_removed_pixel(stack: &Stack) {
    let business = onboarded(stack, 3, 2, false).await;
    let path = format!("/clients/{}/datasets", business.id);
    let body = stack.get(&path).await.json();
    let gone = body["datasets"][0]["id"].as_str().unwrap().to_owned();
    stack.remove_pixel(&business, &gone).await;
    assert_eq!(
        stack.get(&path).await.json()["count"],
        5,
        "the cache still answers"
    );
    let refreshed = stack.get(&format!("{path}?refresh=true")).await.json();
    assert_eq!(refreshed["source"], "graph");
    assert_eq!(refreshed["count"], 4);
    assert!(!refreshed.to_string().contains(&gone));
    assert!(
        stack
            .item(
                &format!("CLIENT#{}", business.id),
                &format!("DATASET#{gone}")
            )
            .await
            .is_none()
    );
    let direct = stack
        .invoke(
            "dataset-lookup",
            &json!({"client_business_id": business.id, "refresh": true}),
        )
        .await
        .unwrap();
    assert_eq!(
        (direct["count"].clone(), direct["source"].clone()),
        (json!(4), json!("graph"))
    );
}

pub async fn an_invalidated_token_marks_the_client_for_reconnection(stack: &Stack) {
    let business = onboarded(stack, 1, 0, false).await;
    stack.invalidate_tokens(&business).await;
    let answer = stack
        .get(&format!("/clients/{}/datasets?refresh=true", business.id))
        .await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.json()["error"]["type"], "NeedsReconnect");
    let client = stack
        .item(&format!("CLIENT#{}", business.id), "CLIENT")
        .await
        .unwrap();
    assert_eq!(client["status"], "needs_reconnect");
    let events = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    assert!(events.iter().any(|e| e["type"] == "client.needs_reconnect"));
    let calls = pixel_calls(stack, &business).await.len();
    let again = stack
        .invoke(
            "dataset-lookup",
            &json!({"client_business_id": business.id}),
        )
        .await;
    assert_eq!(again, Err("NeedsReconnect".into()));
    assert_eq!(
        pixel_calls(stack, &business).await.len(),
        calls,
        "refused without calling Graph"
    );
}

pub async fn throttling_answers_429_with_retry_after(stack: &Stack) {
    let business = onboarded(stack, 1, 0, false).await;
    let usage = json!({business.id.clone(): [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 3}]});
    stack
        .inject_fault(json!({"path": format!("/{}/owned_pixels", business.id), "count": 1, "status": 400,
            "error": {"code": 80004, "message": "There have been too many calls to this ad-account."},
            "headers": {"x-business-use-case-usage": usage.to_string()}}))
        .await;
    let answer = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(answer.json()["error"]["type"], "Throttled");
    assert_eq!(answer.headers["retry-after"], "180");
    let client = stack
        .item(&format!("CLIENT#{}", business.id), "CLIENT")
        .await
        .unwrap();
    assert_eq!(
        client["status"], "active",
        "throttling is not a reason to reconnect"
    );
}

pub async fn unknown_and_offboarded_clients_are_refused(stack: &Stack) {
    let unknown = stack.get("/clients/999999999999/datasets").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.json()["error"]["type"], "ClientNotFound");
    let business = onboarded(stack, 1, 0, false).await;
    let record = stack.get(&format!("/clients/{}", business.id)).await;
    assert_eq!(record.status, 200);
    let record = record.json();
    assert_eq!(record["status"], "active");
    assert!(record.get("secret").is_none() && record.get("access_token").is_none());
    stack.set_client_status(&business, "offboarded").await;
    let gone = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await;
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert_eq!(gone.json()["error"]["type"], "ClientOffboarded");
    let direct = stack
        .invoke(
            "dataset-lookup",
            &json!({"client_business_id": business.id}),
        )
        .await;
    assert_eq!(direct, Err("ClientOffboarded".into()));
}
