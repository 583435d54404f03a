//! The emulator over HTTP, as the service and the end-to-end tests see it.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::Mutex;

use crate::world::{Seed, World};
use crate::{DEFAULT_SEED, routes};

const APP: &str = "1000000000000001";
const SECRET: &str = "demo-app-secret-not-a-real-secret";
const CONFIG: &str = "2000000000000001";
const OTHER_APP: &str = "1000000000000002";
const OTHER_SECRET: &str = "other-demo-app-secret-not-a-real-secret";
const BUSINESS: &str = "3000000000000001";
const SYSTEM_USER: &str = "4000000000000001";
const PAGE: &str = "6000000000000001";

pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// A fresh emulator with the default seed; its base URL.
pub(crate) async fn emulator() -> String {
    let seed: Seed = serde_json::from_str(DEFAULT_SEED).unwrap();
    serve(routes::router(Arc::new(Mutex::new(World::new(seed))))).await
}

pub(crate) fn proof(secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

pub(crate) async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) async fn control(base: &str, path: &str, body: Value) -> Answer {
    answer(
        reqwest::Client::new()
            .post(format!("{base}{path}"))
            .json(&body),
    )
    .await
}

/// A Graph GET with a (system) user token and its proof.
pub(crate) async fn graph_get(
    base: &str,
    path: &str,
    token: &str,
    query: &[(&str, &str)],
) -> Answer {
    let request = reqwest::Client::new()
        .get(format!("{base}/v25.0{path}"))
        .bearer_auth(token)
        .query(query)
        .query(&[("appsecret_proof", proof(SECRET, token))]);
    answer(request).await
}

pub(crate) async fn debug_token(base: &str, app_token: &str, input: &str) -> Answer {
    let request = reqwest::Client::new()
        .get(format!("{base}/v25.0/debug_token"))
        .bearer_auth(app_token)
        .query(&[("input_token", input)]);
    answer(request).await
}

/// The BISU token of a Login for Business login of the seeded business.
pub(crate) async fn bisu(base: &str) -> String {
    let code = control(
        base,
        "/_emulator/codes",
        json!({"app_id": APP, "config_id": CONFIG, "business_id": BUSINESS}),
    )
    .await
    .body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let exchanged = answer(
        reqwest::Client::new()
            .get(format!("{base}/v25.0/oauth/access_token"))
            .query(&[
                ("client_id", APP),
                ("client_secret", SECRET),
                ("code", &code),
            ]),
    )
    .await;
    exchanged.body["access_token"].as_str().unwrap().to_owned()
}

async fn granular(base: &str, bisu: &str) -> String {
    let minted = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0/{BUSINESS}/system_user_access_tokens"))
            .bearer_auth(bisu)
            .form(&[
                ("system_user_id", SYSTEM_USER),
                ("scope", "ads_read"),
                ("appsecret_proof", &proof(SECRET, bisu)),
            ]),
    )
    .await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    minted.body["access_token"].as_str().unwrap().to_owned()
}

async fn page_token(base: &str, token: &str) -> String {
    let page = graph_get(
        base,
        &format!("/{PAGE}"),
        token,
        &[("fields", "access_token")],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["id"], PAGE);
    page.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_uninstall_kills_the_bisu_and_every_token_derived_from_it() {
    let base = emulator().await;
    let bisu = bisu(&base).await;
    let granular = granular(&base, &bisu).await;
    let page = page_token(&base, &bisu).await;
    let page_of_granular = page_token(&base, &granular).await;
    let listed = graph_get(&base, "/me/accounts", &bisu, &[]).await;
    assert_eq!(
        listed.body["data"][0]["access_token"],
        page.as_str(),
        "a stable page token"
    );
    let other = control(&base, "/_emulator/tokens", json!({"business_id": BUSINESS})).await;
    let other = other.body["access_token"].as_str().unwrap().to_owned();
    let derived = [&bisu, &granular, &page, &page_of_granular];
    for token in derived {
        assert_eq!(graph_get(&base, "/me", token, &[]).await.status, 200);
    }

    let removed = control(
        &base,
        &format!("/_emulator/businesses/{BUSINESS}/remove-app"),
        json!({}),
    )
    .await;
    assert_eq!(removed.body["invalidated"], 4, "{}", removed.body);

    let app_token = format!("{APP}|{SECRET}");
    for token in derived {
        let call = graph_get(&base, "/me", token, &[]).await;
        assert_eq!(call.status, 400);
        assert_eq!(call.body["error"]["code"], 190);
        assert_eq!(call.body["error"]["error_subcode"], 458);
        let debug = debug_token(&base, &app_token, token).await;
        assert_eq!(debug.body["data"]["is_valid"], false, "{}", debug.body);
        assert_eq!(debug.body["data"]["error"]["code"], 190);
    }
    let recovered = answer(
        reqwest::Client::new()
            .post(format!("{base}/v25.0/{BUSINESS}/system_user_access_tokens"))
            .bearer_auth(&granular)
            .form(&[("system_user_id", SYSTEM_USER), ("fetch_only", "true")]),
    )
    .await;
    assert_eq!(recovered.body["error"]["code"], 190);
    // Another app's integration in the same business is untouched.
    let other_debug = debug_token(&base, &format!("{OTHER_APP}|{OTHER_SECRET}"), &other).await;
    assert_eq!(
        other_debug.body["data"]["is_valid"], true,
        "{}",
        other_debug.body
    );
}

#[tokio::test]
async fn debug_token_refuses_another_apps_token() {
    let base = emulator().await;
    let issued = control(&base, "/_emulator/tokens", json!({})).await;
    assert_eq!(issued.body["app_id"], OTHER_APP);
    let token = issued.body["access_token"].as_str().unwrap();
    let refused = debug_token(&base, &format!("{APP}|{SECRET}"), token).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["code"], 100);
    assert_eq!(refused.body["error"]["type"], "OAuthException");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#100)")
    );
    assert!(refused.body["error"]["fbtrace_id"].is_string());
    // Its own app sees it; an unknown token stays a 200 with is_valid false.
    let own = debug_token(&base, &format!("{OTHER_APP}|{OTHER_SECRET}"), token).await;
    assert_eq!(own.body["data"]["application"], "Other Demo App");
    let unknown = debug_token(&base, &format!("{APP}|{SECRET}"), "EAAnot-a-token").await;
    assert_eq!(
        (unknown.status, &unknown.body["data"]["is_valid"]),
        (200, &json!(false))
    );
    // An app id the emulator does not know yet is created on demand.
    let made = control(
        &base,
        "/_emulator/tokens",
        json!({"app_id": "1000000000000099"}),
    )
    .await;
    assert_eq!(made.body["app_id"], "1000000000000099");
    let made_token = made.body["access_token"].as_str().unwrap();
    let refused = debug_token(&base, &format!("{APP}|{SECRET}"), made_token).await;
    assert_eq!(refused.body["error"]["code"], 100);
}

fn app_usage(answer: &Answer) -> Value {
    serde_json::from_str(answer.headers["x-app-usage"].to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn every_graph_answer_reports_app_usage() {
    let base = emulator().await;
    let token = bisu(&base).await;
    let ok = graph_get(&base, "/me", &token, &[]).await;
    assert_eq!(
        app_usage(&ok),
        json!({"call_count": 3, "total_time": 2, "total_cputime": 1})
    );
    let error = graph_get(&base, "/me", "EAAnot-a-token", &[]).await;
    assert_eq!(error.status, 400);
    assert!(error.headers.contains_key("x-app-usage"));
    let bad_version = answer(reqwest::Client::new().get(format!("{base}/nonsense/me"))).await;
    assert!(bad_version.headers.contains_key("x-app-usage"));
    let health = answer(reqwest::Client::new().get(format!("{base}/_emulator/health"))).await;
    assert!(!health.headers.contains_key("x-app-usage"));

    let set = control(
        &base,
        "/_emulator/settings",
        json!({"app_usage": {"call_count": 95}}),
    )
    .await;
    assert_eq!(set.status, 204);
    let busy = graph_get(&base, "/me", &token, &[]).await;
    assert_eq!(
        app_usage(&busy),
        json!({"call_count": 95, "total_time": 2, "total_cputime": 1})
    );
    let typo = control(&base, "/_emulator/settings", json!({"app_usge": {}})).await;
    assert_eq!(typo.status, 422);
    let lifetime = control(&base, "/_emulator/settings", json!({"code_lifetime_ms": 5})).await;
    assert_eq!(lifetime.status, 204);
}

#[tokio::test]
async fn faults_answer_any_envelope_on_any_matching_call() {
    let base = emulator().await;
    let token = bisu(&base).await;
    let add = |fault: Value| {
        let base = base.clone();
        async move { control(&base, "/_emulator/faults", fault).await.status }
    };
    assert_eq!(
        add(
            json!({"path": "*", "method": "GET", "count": 2, "status": 500,
            "error": {"code": 1, "is_transient": true}})
        )
        .await,
        204
    );
    for _ in 0..2 {
        let transient = graph_get(&base, "/me", &token, &[]).await;
        assert_eq!(transient.status, 500);
        let error = &transient.body["error"];
        assert_eq!(
            (
                &error["message"],
                &error["type"],
                &error["code"],
                &error["is_transient"]
            ),
            (
                &json!("An unknown error occurred"),
                &json!("OAuthException"),
                &json!(1),
                &json!(true)
            )
        );
        assert!(transient.headers.contains_key("x-app-usage"));
    }
    assert_eq!(graph_get(&base, "/me", &token, &[]).await.status, 200);

    add(json!({"path": "/*/owned_pixels", "error": {"code": 190, "subcode": 460}})).await;
    let dead = graph_get(&base, &format!("/{BUSINESS}/owned_pixels"), &token, &[]).await;
    assert_eq!(
        (dead.status, &dead.body["error"]["code"]),
        (400, &json!(190))
    );
    assert_eq!(dead.body["error"]["error_subcode"], 460);

    let envelope =
        json!({"error": {"message": "Anything at all", "code": 2, "type": "FacebookApiException"}});
    add(json!({"path": "/me", "status": 503, "body": envelope})).await;
    let verbatim = graph_get(&base, "/me", &token, &[]).await;
    assert_eq!((verbatim.status, &verbatim.body), (503, &envelope));

    add(json!({"path": "/*/owned_pixels", "error": {"code": 80004}})).await;
    let throttled = graph_get(&base, &format!("/{BUSINESS}/owned_pixels"), &token, &[]).await;
    let usage: Value = serde_json::from_str(
        throttled.headers["x-business-use-case-usage"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(usage[BUSINESS][0]["estimated_time_to_regain_access"], 1);

    assert_eq!(add(json!({"path": "/me", "count": 0})).await, 400);
    assert_eq!(add(json!({"path": "/me", "stauts": 500})).await, 422);
    let pending = answer(reqwest::Client::new().get(format!("{base}/_emulator/faults"))).await;
    assert_eq!(pending.body, json!({"faults": []}));
}

/// A webhook receiver that records what it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = seen.clone();
    let router = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                let signature = headers["x-hub-signature-256"].to_str().unwrap().to_owned();
                let body = String::from_utf8(body.to_vec()).unwrap();
                record.lock().await.push((body, signature));
                "ok"
            }
        }),
    );
    (format!("{}/hook", serve(router).await), seen)
}

#[tokio::test]
async fn one_signed_delivery_carries_many_changes() {
    let base = emulator().await;
    let (url, seen) = receiver().await;
    let changes: Vec<Value> = (0..50)
        .map(|n| json!({"field": "business_integration_update", "business_id": format!("300000000000000{}", n % 3)}))
        .collect();
    let sent = control(
        &base,
        "/_emulator/webhooks",
        json!({"changes": changes, "time": 1_600_000_000u64, "changes_per_entry": 20, "url": url}),
    )
    .await;
    assert_eq!(sent.body, json!({"statuses": [200]}));
    let (body, signature) = seen.lock().await[0].clone();
    assert_eq!(
        signature,
        crate::webhooks::signature(SECRET, body.as_bytes())
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e["time"] == 1_600_000_000u64 && e["id"] == APP)
    );
}

#[tokio::test]
async fn webhooks_keep_the_old_shape_and_can_drop_values() {
    let base = emulator().await;
    let old = control(
        &base,
        "/_emulator/webhooks",
        json!({"field": "business_integration_uninstall", "business_id": BUSINESS}),
    )
    .await;
    let body: Value = serde_json::from_str(old.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["entry"][0]["changes"][0],
        json!({"field": "business_integration_uninstall", "value": {"business_manager_id": BUSINESS}})
    );
    assert!(
        old.body["signature"]
            .as_str()
            .unwrap()
            .starts_with("sha256=")
    );

    let bare = control(
        &base,
        "/_emulator/webhooks",
        json!({"field": "business_integration_update", "business_id": BUSINESS, "include_values": false}),
    )
    .await;
    let body: Value = serde_json::from_str(bare.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["entry"][0]["changed_fields"],
        json!(["business_integration_update"])
    );
    assert!(body["entry"][0].get("changes").is_none());

    let (url, seen) = receiver().await;
    let copies = control(
        &base,
        "/_emulator/webhooks",
        json!({"field": "business_integration_uninstall", "business_id": BUSINESS, "url": url, "copies": 3}),
    )
    .await;
    assert_eq!(copies.body, json!({"statuses": [200, 200, 200]}));
    assert_eq!(seen.lock().await.len(), 3);
    let empty = control(&base, "/_emulator/webhooks", json!({})).await;
    assert_eq!(empty.status, 400);
}
