//! The Graph client against a scripted local server: paging, retries, headers.

use super::*;
use axum::Router;
use axum::http::{HeaderMap, Uri};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Status, body and headers of one scripted answer.
type Answer = (u16, String, Vec<(&'static str, String)>);

#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<(Uri, HeaderMap, String)>>>,
}

async fn serve(script: Script) -> Url {
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: String| {
        let script = script.clone();
        async move {
            script.seen.lock().unwrap().push((uri, headers, body));
            let (status, body, headers) = script
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("a scripted answer");
            let mut response = axum::response::Response::new(axum::body::Body::from(body));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn client(base: Url) -> GraphClient {
    client_with(base, Arc::default())
}

fn client_with(base: Url, signals: Arc<crate::fakes::MemorySignals>) -> GraphClient {
    let app = crate::lazy::Lazy::ready(crate::app_secrets::AppSecrets {
        app_secret: SecretString::from("app-secret"),
        webhook_verify_token: SecretString::from("unused-verify-token"),
    });
    client_over(base, signals, app)
}

fn client_over(
    base: Url,
    signals: Arc<crate::fakes::MemorySignals>,
    app: crate::lazy::Lazy<crate::app_secrets::AppSecrets>,
) -> GraphClient {
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    GraphClient::new(
        base,
        "v25.0".into(),
        AppId::parse("111").unwrap(),
        Arc::new(app),
        retry,
        Arc::new(crate::clock::SystemClock),
        signals,
    )
}

fn script(answers: Vec<(u16, &str)>) -> Script {
    let script = Script::default();
    script
        .answers
        .lock()
        .unwrap()
        .extend(answers.into_iter().map(|(s, b)| (s, b.to_owned(), vec![])));
    script
}

#[tokio::test]
async fn follows_next_through_empty_pages_with_fresh_credentials() {
    let script = Script::default();
    let base = serve(script.clone()).await;
    let next = |after: &str| {
        format!(
            "{base}v25.0/42/owned_pixels?after={after}&limit=2&access_token=TOKEN-IN-URL&appsecret_proof=stale"
        )
    };
    script.answers.lock().unwrap().extend([
        (
            200,
            format!(
                r#"{{"data":[{{"id":"1"}},{{"id":"2"}}],"paging":{{"next":"{}"}}}}"#,
                next("a")
            ),
            vec![],
        ),
        (
            200,
            format!(r#"{{"data":[],"paging":{{"next":"{}"}}}}"#, next("b")),
            vec![],
        ),
        (
            200,
            r#"{"data":[{"id":"3"}],"paging":{"cursors":{"before":"x"}}}"#.to_owned(),
            vec![],
        ),
    ]);
    let token = SecretString::from("user-token");
    let items: Vec<serde_json::Value> = client(base)
        .get_all_pages(
            "42/owned_pixels",
            &[("fields", "id".into())],
            Auth::Token(&token),
        )
        .await
        .unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let proof = appsecret_proof(&SecretString::from("app-secret"), &token);
    for (uri, headers, _) in seen.iter() {
        let query = uri.query().unwrap_or_default();
        assert!(
            !query.contains("TOKEN-IN-URL") && !query.contains("stale"),
            "{uri}"
        );
        assert!(query.contains(&format!("appsecret_proof={proof}")), "{uri}");
        assert_eq!(headers["authorization"], "Bearer user-token");
    }
    assert!(seen[2].0.query().unwrap().contains("after=b"));
}

#[tokio::test]
async fn without_the_app_secret_no_call_is_made_and_the_operator_is_told() {
    use crate::error::Error;
    let script = Script::default();
    let base = serve(script.clone()).await;
    let missing = crate::lazy::Lazy::new(|| async {
        Err(Error::PartnerCredentials(
            "the app secret does not exist".into(),
        ))
    });
    let graph = client_over(base.clone(), Arc::default(), missing);
    let token = SecretString::from("t");
    let err = graph.me(&token).await.unwrap_err();
    assert_eq!(err.class(), crate::model::GraphErrorClass::AppCredentials);
    assert!(matches!(
        err.into_error(crate::model::Whose::Client),
        Error::PartnerCredentials(_)
    ));
    let unreachable = crate::lazy::Lazy::new(|| async {
        Err(Error::StorageUnavailable("reading the app secret".into()))
    });
    let graph = client_over(base, Arc::default(), unreachable);
    let err = graph.me(&token).await.unwrap_err();
    assert_eq!(err.class(), crate::model::GraphErrorClass::Transient);
    assert!(script.seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn refuses_a_next_page_on_another_host() {
    let base = serve(script(vec![(
        200,
        r#"{"data":[],"paging":{"next":"http://evil.example/v25.0/x"}}"#,
    )]))
    .await;
    let token = SecretString::from("t");
    let result: Result<Vec<serde_json::Value>, _> = client(base)
        .get_all_pages("x", &[], Auth::Token(&token))
        .await;
    assert!(result.is_err());
}

/// Two failures, then an answer: the read succeeds on its third attempt.
async fn succeeds_after(failures: [(u16, &str); 2]) {
    let script = script(vec![
        failures[0],
        failures[1],
        (200, r#"{"id":"9","client_business_id":"77"}"#),
    ]);
    let base = serve(script.clone()).await;
    let me = client(base).me(&SecretString::from("t")).await.unwrap();
    assert_eq!(me.client_business_id.as_deref(), Some("77"));
    assert_eq!(script.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn retries_transient_failures_then_succeeds() {
    succeeds_after([
        (503, "unavailable"),
        (
            500,
            r#"{"error":{"message":"x","type":"OAuthException","code":2,"is_transient":true}}"#,
        ),
    ])
    .await;
}

#[tokio::test]
async fn gives_up_after_the_last_attempt() {
    let script = script(vec![(502, ""), (502, ""), (502, ""), (200, "{}")]);
    let base = serve(script.clone()).await;
    let err = client(base).me(&SecretString::from("t")).await.unwrap_err();
    assert_eq!(err.class(), GraphErrorClass::Transient);
    assert_eq!(script.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn never_retries_the_code_exchange_and_keeps_credentials_out_of_the_url() {
    let script = script(vec![(500, ""), (200, r#"{"access_token":"x"}"#)]);
    let base = serve(script.clone()).await;
    let err = client(base)
        .exchange_code(&SecretString::from("the-code"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.class(), GraphErrorClass::Transient);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one attempt only");
    let (uri, _, body) = &seen[0];
    assert_eq!(uri.query(), None);
    assert!(
        body.contains("code=the-code")
            && body.contains("client_secret=app-secret")
            && !body.contains("redirect_uri")
    );
}

#[tokio::test]
async fn does_not_retry_invalid_tokens_or_throttling() {
    let script = Script::default();
    script.answers.lock().unwrap().extend([
        (
            400,
            r#"{"error":{"code":190,"error_subcode":460,"type":"OAuthException"}}"#.to_owned(),
            vec![],
        ),
        (
            400,
            r#"{"error":{"code":80004,"type":"OAuthException"}}"#.to_owned(),
            vec![(
                "x-business-use-case-usage",
                r#"{"42":[{"type":"ads_management","estimated_time_to_regain_access":2}]}"#
                    .to_owned(),
            )],
        ),
    ]);
    let base = serve(script.clone()).await;
    let graph = client(base);
    let err = graph.me(&SecretString::from("t")).await.unwrap_err();
    assert_eq!(err.class(), GraphErrorClass::InvalidToken);
    let err = graph.me(&SecretString::from("t")).await.unwrap_err();
    assert_eq!(err.class(), GraphErrorClass::Throttled);
    assert_eq!(err.retry_after_secs, Some(120));
    assert_eq!(script.seen.lock().unwrap().len(), 2);
    // Until access returns, no call about that business goes out.
    let token = SecretString::from("t");
    let business = ClientBusinessId::parse("42").unwrap();
    let err = graph
        .pixels(&business, Ownership::Owned, &token)
        .await
        .unwrap_err();
    assert_eq!(err.class(), GraphErrorClass::Throttled);
    assert!(err.retry_after_secs.is_some_and(|s| s > 0 && s <= 120));
    assert_eq!(
        script.seen.lock().unwrap().len(),
        2,
        "no call for that business while throttled"
    );
}

#[tokio::test]
async fn usage_headers_set_the_pace_and_a_throttled_answer_is_signalled() {
    let script = Script::default();
    let usage = |percent: u32| {
        vec![(
            "x-app-usage",
            format!(r#"{{"call_count":{percent},"total_time":1,"total_cputime":1}}"#),
        )]
    };
    script.answers.lock().unwrap().extend([
        (200, r#"{"id":"1"}"#.to_owned(), usage(80)),
        (200, r#"{"id":"1"}"#.to_owned(), usage(95)),
        (
            400,
            r#"{"error":{"code":4,"type":"OAuthException"}}"#.to_owned(),
            usage(100),
        ),
    ]);
    let signals = Arc::new(crate::fakes::MemorySignals::default());
    let graph = client_with(serve(script).await, signals.clone());
    let now = crate::clock::SystemClock.now();
    assert_eq!(graph.pace(None, now), Pace::Go, "nothing heard yet");
    let token = SecretString::from("t");
    graph.me_id(&token).await.unwrap();
    assert_eq!(graph.pace(None, now), Pace::Slow);
    graph.me_id(&token).await.unwrap();
    assert!(matches!(graph.pace(None, now), Pace::Stop { .. }));
    assert_eq!(signals.seen(), [], "high usage is not yet throttling");
    graph.me_id(&token).await.unwrap_err();
    assert_eq!(signals.seen(), [Signal::GraphThrottled]);
}

#[tokio::test]
async fn never_follows_a_redirect() {
    let script = Script::default();
    script.answers.lock().unwrap().push_back((
        302,
        String::new(),
        vec![("location", "http://127.0.0.1:9/steal".to_owned())],
    ));
    let base = serve(script.clone()).await;
    let err = client(base)
        .exchange_code(&SecretString::from("the-code"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.http_status, Some(302));
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn code_1_from_the_oauth_endpoint_means_bad_app_credentials() {
    let body = r#"{"error":{"message":"Error validating client secret.","type":"OAuthException","code":1}}"#;
    let base = serve(script(vec![(400, body), (400, body)])).await;
    let graph = client(base);
    let err = graph
        .exchange_code(&SecretString::from("c"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.class(), GraphErrorClass::AppCredentials);
    assert_eq!(err.into_exchange_error().error_type(), "PartnerCredentials");
}

#[tokio::test]
async fn code_1_elsewhere_is_retried() {
    let transient =
        r#"{"error":{"message":"An unknown error occurred","type":"OAuthException","code":1}}"#;
    succeeds_after([(400, transient), (500, transient)]).await;
}

#[tokio::test]
async fn debug_token_sends_the_inspected_token_in_the_body() {
    let script = script(vec![(
        200,
        r#"{"data":{"app_id":"111","is_valid":true,"scopes":["a"],"expires_at":0}}"#,
    )]);
    let base = serve(script.clone()).await;
    let data = client(base)
        .debug_token(&SecretString::from("inspected"))
        .await
        .unwrap();
    assert!(data.is_valid);
    let seen = script.seen.lock().unwrap();
    let (uri, headers, body) = &seen[0];
    assert_eq!(uri.query(), None);
    assert!(body.contains("input_token=inspected") && body.contains("method=get"));
    assert_eq!(headers["authorization"], "Bearer 111|app-secret");
}

#[tokio::test]
async fn unreachable_graph_is_transient_and_names_no_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base: Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let err = client(base)
        .exchange_code(&SecretString::from("c0de"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.class(), GraphErrorClass::Transient);
    let text = format!("{err:?}");
    assert!(
        !text.contains("127.0.0.1") && !text.contains("c0de"),
        "{text}"
    );
}

/// Found by `fuzz/fuzz_targets/throttle_headers.rs`: `Retry-After: 18446744073709551615` became a
/// wait of -1 s (no pause at all); Meta's waits are read as at most a day.
#[test]
fn a_huge_retry_after_is_read_as_a_day() {
    let mut headers = reqwest::header::HeaderMap::new();
    let raw: &[u8] = b"18446744073709551615";
    headers.insert(RETRY_AFTER, HeaderValue::from_bytes(raw).unwrap());
    assert_eq!(retry_after_secs(&headers), Some(MAX_WAIT_SECS));
    headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
    assert_eq!(retry_after_secs(&headers), Some(120));
}
