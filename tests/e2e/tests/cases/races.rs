//! Concurrency against the real functions (several instances each under `cargo lambda watch`)
//! and DynamoDB's conditions: one code exchange for many callbacks of one state, offboarding
//! racing everything that stores or serves a token, and concurrent sweeps.

use e2e::Stack;
use e2e::client::Business;
use futures_util::future::join_all;
use serde_json::{Value, json};

use super::custody::{assert_custody, sweep_with_pending_due};

pub async fn fifty_concurrent_callbacks_for_one_state_exchange_the_code_once(stack: &Stack) {
    let business = stack.new_business().await;
    let session = stack.create_session("acct-fifty").await;
    let code = stack.issue_code(&business, None).await;
    let exchanges = stack.graph_calls("/oauth/access_token").await;
    let answers = join_all((0..50).map(|_| stack.post_code(&code, &session.state))).await;
    assert_eq!(
        stack.graph_calls("/oauth/access_token").await - exchanges,
        1,
        "one code exchange"
    );
    let mut completed = 0;
    for answer in &answers {
        match answer.status {
            200 => {
                completed += 1;
                assert_eq!(answer.json()["client_business_id"], business.id.as_str());
            }
            // Still being completed by the first: try again shortly.
            409 => assert_eq!(
                answer.json()["error"]["type"],
                "InvalidRequest",
                "{}",
                answer.body
            ),
            status => panic!("a concurrent callback answered {status}: {}", answer.body),
        }
    }
    assert!(completed >= 1, "the callbacks completed the onboarding");
    let replay = stack.post_code(&code, &session.state).await;
    assert_eq!(
        replay.status, 200,
        "afterwards every replay answers the result"
    );
    assert_custody(stack, "fifty callbacks", &business).await;
}

/// What a caller can ask for a client: its token, a granular token, a page token, datasets.
async fn ask(stack: &Stack, business: &Business, pixel: &str, page: &str, n: usize) -> Asked {
    let id = &business.id;
    match n % 4 {
        0 => Asked::Token(
            stack
                .invoke("token-fetch", &json!({"client_business_id": id}))
                .await,
        ),
        1 => Asked::Token(
            stack
                .invoke(
                    "token-fetch",
                    &json!({"client_business_id": id,
                    "scope": ["ads_management"], "assets": [pixel], "force_refresh": n % 8 == 1}),
                )
                .await,
        ),
        2 => Asked::Token(
            stack
                .invoke(
                    "token-fetch",
                    &json!({"client_business_id": id, "page_id": page}),
                )
                .await,
        ),
        _ => Asked::Datasets(
            stack
                .get(&format!("/clients/{id}/datasets?refresh=true"))
                .await
                .status,
        ),
    }
}

enum Asked {
    Token(Result<Value, String>),
    Datasets(u16),
}

impl Asked {
    /// Whether it was served; panics on an answer that is neither served nor a typed refusal.
    fn served(&self) -> bool {
        match self {
            Asked::Token(Ok(_)) | Asked::Datasets(200) => true,
            Asked::Token(Err(kind)) => {
                assert!(
                    ["ClientOffboarded", "ClientNotFound"].contains(&kind.as_str()),
                    "a racing token request answered {kind}"
                );
                false
            }
            Asked::Datasets(status) => {
                assert!(
                    [404, 409, 410].contains(status),
                    "datasets answered {status}"
                );
                false
            }
        }
    }
}

pub async fn offboarding_racing_fetch_mint_pages_and_refresh_leaves_nothing(stack: &Stack) {
    let created = stack
        .emulator_json(
            "/_emulator/businesses",
            &json!({"pages": 1, "owned_pixels": 1}),
        )
        .await;
    let business = Business {
        id: created["id"].as_str().unwrap().to_owned(),
        system_user_id: String::new(),
    };
    let page = created["pages"][0]["id"].as_str().unwrap().to_owned();
    stack.onboard(&business, "acct-race").await;
    let datasets = stack
        .get(&format!("/clients/{}/datasets", business.id))
        .await
        .json();
    let pixel = datasets["datasets"][0]["id"].as_str().unwrap().to_owned();

    let offboarding = async {
        stack
            .invoke(
                "offboarding",
                &json!({"client_business_id": business.id, "reason": "contract_ended"}),
            )
            .await
    };
    let racing = join_all((0..24).map(|n| ask(stack, &business, &pixel, &page, n)));
    let (offboarded, raced) = tokio::join!(offboarding, racing);
    assert_eq!(
        offboarded.expect("offboarding answers")["status"],
        "offboarded"
    );
    let served = raced.iter().filter(|a| a.served()).count();

    // Once the offboarding has answered, nothing is served any more.
    let after = join_all((0..8).map(|n| ask(stack, &business, &pixel, &page, n))).await;
    for (n, asked) in after.iter().enumerate() {
        assert!(
            !asked.served(),
            "request {n} (kind {}) was served after the offboarding answered",
            n % 4
        );
    }
    sweep_with_pending_due(stack, &business).await;
    assert_custody(stack, "offboarding race", &business).await;
    let items = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    let left: Vec<&str> = items
        .iter()
        .filter_map(|i| i["sk"].as_str())
        .filter(|sk| {
            ["TOKEN#", "PAGE#", "DATASET#"]
                .iter()
                .any(|p| sk.starts_with(p))
        })
        .collect();
    assert!(left.is_empty(), "items outlived the offboarding: {left:?}");
    let state = stack.emulator_json_get("/_emulator/state").await;
    let live_minted: Vec<&Value> = state["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["business_id"] == business.id.as_str())
        .filter(|t| t["parent_id"].is_string() && t["page_id"].is_null())
        .filter(|t| t["valid"] == true)
        .collect();
    assert!(
        live_minted.is_empty(),
        "granular tokens outlived the offboarding at Meta: {live_minted:?}"
    );
    println!("offboarding race: {served} of 24 racing requests served before it took effect");
}

pub async fn twenty_concurrent_sweeps_claim_each_due_client_once(stack: &Stack) {
    let mut clients = Vec::new();
    for _ in 0..10 {
        let business = stack.new_business().await;
        stack.onboard(&business, "acct-sweeps").await;
        clients.push(business);
    }
    // What earlier cases left due is taken first, so only these ten are due below.
    let request = json!({"action": "sweep"});
    let sweep = || stack.invoke("token-fetch", &request);
    while sweep().await.expect("a sweep")["left"] != 0 {}
    for business in &clients {
        stack.make_due(business).await;
    }
    let reports = join_all((0..20).map(|_| sweep())).await;
    let total = |field: &str| {
        reports
            .iter()
            .map(|r| r.as_ref().expect("a sweep")[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(total("claimed"), 10, "each due client claimed once");
    assert_eq!(total("healthy"), 10, "each checked once");
    assert_eq!(total("failed"), 0);
}
