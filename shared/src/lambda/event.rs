//! One function, two doors: API Gateway HTTP API events and direct JSON invocations.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::lambda::http::{answer_error, error_json, respond};
use crate::lambda::invoke::{self, Payload};

/// A function with both doors: HTTP routes and a direct invocation.
#[async_trait::async_trait]
pub trait Routes: Send + Sync {
    async fn route(&self, req: &Request) -> Result<Response<Body>>;
    async fn direct(&self, payload: Value) -> Result<Value>;
}

/// Sends an event to the right door and answers it in that door's shape.
pub async fn handle(
    app: &impl Routes,
    event: lambda_http::lambda_runtime::LambdaEvent<Payload>,
) -> Result<Value, lambda_http::lambda_runtime::Diagnostic> {
    let context = event.context;
    let payload = match event.payload.into_json() {
        Ok(payload) => payload,
        Err(err) => return invoke::finish(Err(err)),
    };
    match classify(payload, context.clone()) {
        Ok(Incoming::Http(req)) => Ok(to_event(respond(&req, app.route(&req), error_json).await)),
        Ok(Incoming::Malformed(err)) => Ok(to_event(answer_error(&err, error_json))),
        Ok(Incoming::Direct(payload)) => invoke::run(&context, app.direct(payload)).await,
        Err(err) => invoke::finish(Err(err)),
    }
}

pub enum Incoming {
    Http(Box<Request>),
    /// An HTTP event whose parts make no request: answered 400 without reaching a route.
    Malformed(Error),
    Direct(Value),
}

/// API Gateway events carry `requestContext`; anything else is a direct invocation.
pub fn classify(payload: Value, context: Context) -> Result<Incoming> {
    if payload.get("requestContext").is_none() {
        return Ok(Incoming::Direct(payload));
    }
    let event: ApiGatewayV2httpRequest = serde_json::from_value(payload).map_err(|_| {
        Error::InvalidRequest("not an API Gateway HTTP API (payload 2.0) event".into())
    })?;
    Ok(match request_of(event) {
        Ok(request) => Incoming::Http(Box::new(request.with_lambda_context(context))),
        Err(err) => Incoming::Malformed(err),
    })
}

/// The request an event describes. lambda_http builds it with `expect`s (1.x,
/// `into_api_gateway_v2_request`): a body marked base64 that is not, or a path, host, scheme
/// or query that make no URI, would panic. They are built here the same way first, and such
/// an event is refused instead.
fn request_of(event: ApiGatewayV2httpRequest) -> Result<Request> {
    use base64::Engine;
    let malformed =
        |part: &str| Error::InvalidRequest(format!("the request's {part} is malformed"));
    let body = event.body.as_deref().unwrap_or_default();
    if event.is_base64_encoded
        && base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_err()
    {
        return Err(malformed("body"));
    }
    let raw_path = event.raw_path.as_deref().unwrap_or_default();
    let path = match event.request_context.stage.as_deref() {
        _ if std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok() => raw_path.to_owned(),
        None | Some("$default") => raw_path.to_owned(),
        Some(stage) if raw_path.starts_with(&format!("/{stage}/")) => raw_path.to_owned(),
        Some(stage) => format!("/{stage}{raw_path}"),
    };
    let host = event
        .headers
        .get(lambda_http::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let base = match host {
        None => url::Url::parse(&format!("http://localhost{path}")).map(|u| u.path().to_owned()),
        Some(host) => {
            let scheme = event
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}")).map(|u| u.to_string())
        }
    };
    let mut uri = base.map_err(|_| malformed("path or host"))?;
    let sent_query = event.raw_query_string.as_deref().unwrap_or_default();
    if !sent_query.is_empty() {
        uri.push('?');
        uri.push_str(sent_query);
    }
    let uri = lambda_http::http::Uri::try_from(uri).map_err(|_| malformed("address"))?;
    // A `#` (or a `?` in the path) would cut the query short or move it: the routes would
    // read another query than the one sent.
    if uri.query().unwrap_or_default() != sent_query {
        return Err(malformed("query"));
    }
    Ok(LambdaRequest::ApiGatewayV2(event).into())
}

/// The HTTP API (payload 2.0) answer for a response.
pub fn to_event(response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.body = match body {
        Body::Empty => None,
        other => Some(other),
    };
    serde_json::to_value(answer).expect("responses serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(edit: impl FnOnce(&mut Value)) -> ApiGatewayV2httpRequest {
        let mut event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/clients/1",
            "rawQueryString": "refresh=true", "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "GET", "path": "/clients/1"},
                "stage": "$default", "requestId": "r", "timeEpoch": 0},
            "body": "e30=", "isBase64Encoded": true,
        });
        edit(&mut event);
        serde_json::from_value(event).unwrap()
    }

    #[test]
    fn an_event_that_makes_no_request_is_refused_not_a_panic() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let hostile: Vec<(&str, Edit)> = vec![
            ("body not base64", Box::new(|e| e["body"] = json!("!!!"))),
            ("path a port", Box::new(|e| e["rawPath"] = json!(":99999"))),
            ("path a bad host", Box::new(|e| e["rawPath"] = json!("@["))),
            (
                "quote in query",
                Box::new(|e| e["rawQueryString"] = json!("a=\"b\"")),
            ),
            (
                "space in query",
                Box::new(|e| e["rawQueryString"] = json!("a=b c")),
            ),
            (
                "64 KiB query",
                Box::new(|e| e["rawQueryString"] = json!("a".repeat(65536))),
            ),
            (
                "host with a space",
                Box::new(|e| e["headers"]["host"] = json!("a b")),
            ),
            (
                "host with a bad port",
                Box::new(|e| e["headers"]["host"] = json!("a:99999")),
            ),
            (
                "scheme with a space",
                Box::new(|e| {
                    e["headers"]["host"] = json!("example.com");
                    e["headers"]["x-forwarded-proto"] = json!("a b");
                }),
            ),
            (
                "domain with a space",
                Box::new(|e| e["requestContext"]["domainName"] = json!("a b")),
            ),
        ];
        for (what, edit) in hostile {
            let err = request_of(event(edit)).unwrap_err();
            assert_eq!(err.http_status(), 400, "{what}");
        }
    }

    /// Found by `fuzz/fuzz_targets/http_event.rs`: the URI took `#Hh8` as a fragment, so the
    /// routes read the query `cAQD`, not the one sent.
    #[test]
    fn a_query_the_address_would_cut_short_is_refused() {
        let raw: &[u8] = br#"{"ah": "/","rawQueryString": "cAQD#Hh8", "s": {"host": "123ex/"}, "requestContext": {"dix": "23", "http": {"method":"GET"}}, "es": ["se"]}"#;
        let sent: ApiGatewayV2httpRequest = serde_json::from_slice(raw).unwrap();
        assert_eq!(request_of(sent).unwrap_err().http_status(), 400);
        let moved = event(|e| {
            e["headers"]["host"] = json!("api.example.com");
            e["rawPath"] = json!("/oauth/callback?state=x");
            e["rawQueryString"] = json!("code=y");
        });
        assert_eq!(request_of(moved).unwrap_err().http_status(), 400);
    }

    #[test]
    fn a_well_formed_event_is_the_request_it_describes() {
        let request = request_of(event(|e| {
            e["headers"]["host"] = json!("api.example.com");
            e["requestContext"]["stage"] = json!("prod");
        }))
        .unwrap();
        assert_eq!(request.raw_http_path(), "/clients/1");
        assert_eq!(request.uri().query(), Some("refresh=true"));
        assert_eq!(request.body().as_ref(), b"{}");
        assert_eq!(request_of(event(|_| {})).unwrap().method(), "GET");
    }
}
