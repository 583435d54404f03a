//! On-Behalf-Of through the real functions: the client's admin logs in once, the partner gets
//! a system user in the client's Business Manager with the assets assigned and its page tokens
//! kept, the admin's own token is kept nowhere, and offboarding ends the relationship.

use e2e::Stack;
use e2e::stack::{OBO_CONFIG_ID, PARTNER_BUSINESS_ID};
use serde_json::{Value, json};

fn managed(state: &Value, business: &str) -> bool {
    state["managed_businesses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| {
            m["client_business_id"] == business && m["partner_business_id"] == PARTNER_BUSINESS_ID
        })
}

pub async fn a_full_obo_onboarding_with_two_pages_and_a_catalog(stack: &Stack) {
    let business = stack
        .emulator_json(
            "/_emulator/businesses",
            &json!({"pages": 2, "catalogs": 1, "owned_pixels": 1}),
        )
        .await;
    let id = business["id"].as_str().unwrap().to_owned();
    let page = |n: usize| business["pages"][n]["id"].as_str().unwrap().to_owned();
    let catalog = business["catalogs"][0]["id"].as_str().unwrap().to_owned();
    let request = json!({"partner_ref": "acct-obo-e2e", "mode": "obo", "client_business_id": id,
        "assets": [{"id": page(0), "type": "page"},
                   {"id": page(1), "type": "page", "tasks": ["MANAGE", "ANALYZE"]},
                   {"id": catalog, "type": "catalog"}]});
    let mut session = stack.new_session_with(&request).await.unwrap();
    stack.states.lock().unwrap().push(session.state.clone());
    let start = stack.follow(&session.login_url).await;
    assert_eq!(start.status, 302, "{}", start.body);
    assert!(
        start
            .location()
            .contains(&format!("config_id={OBO_CONFIG_ID}")),
        "{}",
        start.location()
    );
    // The admin logs in on Meta's dialog and comes back to the callback.
    session.login_url = start.location().parse().unwrap();
    let admin_of = e2e::client::Business {
        id: id.clone(),
        system_user_id: String::new(),
    };
    let back = stack.consent(&session, &admin_of, true).await;
    let (answer, _) = stack.follow_redirects(&back).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("is now connected"), "{}", answer.body);

    let client = stack.item(&format!("CLIENT#{id}"), "CLIENT").await.unwrap();
    assert_eq!(client["mode"], "obo");
    assert_eq!(client["status"], "active");
    assert_eq!(client["obo"]["last_step"], "done");
    let secrets = stack
        .client_secrets(&e2e::client::Business {
            id: id.clone(),
            system_user_id: String::new(),
        })
        .await;
    for expected in [
        "obo".to_owned(),
        format!("pages/{}", page(0)),
        format!("pages/{}", page(1)),
    ] {
        assert!(
            secrets.iter().any(|s| s.ends_with(&expected)),
            "{expected} in {secrets:?}"
        );
    }
    let state = stack.emulator_json_get("/_emulator/state").await;
    assert!(managed(&state, &id), "the relationship exists");
    // Each asset carries the client system user's role with the tasks asked for.
    let system_user = client["system_user_id"].as_str().unwrap();
    let held = state["businesses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .unwrap()
        .clone();
    let role = |kind: &str, asset: &str| -> Value {
        held[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == asset)
            .and_then(|a| {
                a["roles"]
                    .as_array()?
                    .iter()
                    .find(|r| r["user"] == system_user)
                    .cloned()
            })
            .map(|r| r["tasks"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(role("pages", &page(0)), json!(["MANAGE"]));
    assert_eq!(role("pages", &page(1)), json!(["MANAGE", "ANALYZE"]));
    assert_eq!(role("catalogs", &catalog), json!(["MANAGE"]));

    // The admin's own (user) token is nowhere: not in the table nor in any secret.
    let items = serde_json::to_string(&stack.items_under(&format!("CLIENT#{id}")).await).unwrap();
    let mut stored = Vec::new();
    for name in &secrets {
        stored.push(stack.aws.secret_value(name).await.unwrap());
    }
    for token in stack.issued_secrets().await {
        let view = stack
            .emulator_json("/_emulator/tokens/inspect", &json!({"access_token": token}))
            .await;
        if view["kind"] == "user" && view["business_id"] == id.as_str() {
            assert!(
                !items.contains(&token),
                "the admin's token sits in the table"
            );
            assert!(
                stored.iter().all(|s| !s.contains(&token)),
                "the admin's token sits in a secret"
            );
        }
    }

    let token = stack
        .invoke("token-fetch", &json!({"client_business_id": id}))
        .await
        .unwrap();
    assert_eq!(token["kind"], "obo");
    let calls = stack.graph_calls(&format!("/{}", page(0))).await;
    let kept = stack
        .invoke(
            "token-fetch",
            &json!({"client_business_id": id, "page_id": page(0)}),
        )
        .await
        .unwrap();
    assert_eq!(kept["kind"], "page");
    assert_eq!(
        stack.graph_calls(&format!("/{}", page(0))).await,
        calls,
        "the page token kept at onboarding is served without a Graph call"
    );
    let datasets = stack.get(&format!("/clients/{id}/datasets")).await;
    assert_eq!(datasets.status, 200, "{}", datasets.body);
    assert_eq!(datasets.json()["count"], 1);

    let report = stack
        .invoke(
            "offboarding",
            &json!({"client_business_id": id, "reason": "contract ended"}),
        )
        .await
        .unwrap();
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "removed the On-Behalf-Of relationship"),
        "{report}"
    );
    let state = stack.emulator_json_get("/_emulator/state").await;
    assert!(!managed(&state, &id), "the relationship is gone");
    assert!(
        stack
            .client_secrets(&e2e::client::Business {
                id: id.clone(),
                system_user_id: String::new(),
            })
            .await
            .is_empty()
    );
}
