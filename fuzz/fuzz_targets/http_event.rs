//! API Gateway HTTP API (payload 2.0) events as a whole: the bytes Lambda hands a function, read
//! as `invoke::Payload`, sent through `shared::lambda::event::handle` (its `classify` and
//! `request_of` turn an event into a request, or refuse it) to a door that reads what the
//! routes read (query, cookie, body), and answered. Also checks that the request `classify`
//! builds is the one the event describes.
#![no_main]

use base64::Engine;
use fuzz_support::block_on;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::{Body, Request, RequestExt, Response};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use shared::lambda::event::{Incoming, Routes, classify, handle};
use shared::lambda::http::{cookie, json, json_body, query, raw_body};
use shared::lambda::invoke::Payload;
use shared::model::SessionState;
use shared::onboarding::BROWSER_COOKIE;

/// A function whose routes read a request as the real ones do, and whose direct door echoes.
struct Door;

#[async_trait::async_trait]
impl Routes for Door {
    async fn route(&self, req: &Request) -> shared::Result<Response<Body>> {
        let query = query(req)?;
        let session = query.single("session", SessionState::LEN)?.is_some();
        let has_cookie = cookie(req, BROWSER_COOKIE).is_some();
        let json_sent = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = if req.method() == "POST" && json_sent {
            json_body::<Value>(req, 8 * 1024)?
        } else {
            json!(raw_body(req, 256 * 1024)?.len())
        };
        Ok(json(
            200,
            &json!({"path": req.raw_http_path(), "session": session, "cookie": has_cookie, "body": body}),
        ))
    }

    async fn direct(&self, payload: Value) -> shared::Result<Value> {
        Ok(payload)
    }
}

fuzz_target!(|data: &[u8]| {
    let payload: Payload =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(data))
            .expect("any payload reaches the handler");
    let value = match &payload {
        Payload::Json(value) => Some(value.clone()),
        _ => None,
    };
    let answer = block_on(handle(&Door, LambdaEvent::new(payload, Context::default())));
    let Some(value) = value else {
        let err = answer.expect_err("a payload that is not JSON is refused");
        assert_eq!(err.error_type, "InvalidRequest");
        return;
    };
    let event = value
        .get("requestContext")
        .map(|_| serde_json::from_value::<ApiGatewayV2httpRequest>(value.clone()));
    let status = match (&event, answer) {
        // A direct invocation reaches the direct door unchanged.
        (None, answer) => {
            assert_eq!(answer.expect("the door echoes"), value);
            return;
        }
        // An HTTP event is answered in HTTP's shape, whatever it holds.
        (Some(Ok(_)), Ok(response)) => {
            let status = response["statusCode"].as_i64().expect("a status code");
            assert!((200..600).contains(&status), "{response}");
            status
        }
        (Some(Ok(_)), Err(err)) => panic!("an HTTP event answered as a Lambda error: {err:?}"),
        (Some(Err(_)), answer) => {
            let err = answer.expect_err("an event that is not API Gateway's is refused");
            assert_eq!(err.error_type, "InvalidRequest");
            return;
        }
    };
    let Some(Ok(event)) = event else {
        return;
    };
    // The request classify builds is the one the event describes.
    let incoming = classify(value, Context::default()).expect("the event deserialised above");
    match incoming {
        Incoming::Http(req) => {
            assert_eq!(req.method(), &event.request_context.http.method);
            assert_eq!(req.raw_http_path(), event.raw_path.as_deref().unwrap_or(""));
            let body = event.body.as_deref().unwrap_or("");
            let expected = if event.is_base64_encoded {
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("classify refuses a body that is not base64")
            } else {
                body.as_bytes().to_vec()
            };
            assert_eq!(req.body().as_ref(), expected.as_slice());
            let sent = event.raw_query_string.as_deref().unwrap_or("");
            assert_eq!(req.uri().query().unwrap_or(""), sent);
        }
        Incoming::Malformed(_) => assert_eq!(status, 400, "a malformed event answered {status}"),
        Incoming::Direct(_) => panic!("an event with requestContext taken for a direct call"),
    }
});
