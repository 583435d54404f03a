//! One function, two doors: API Gateway HTTP API events and direct JSON invocations.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::lambda::http::{error_json, respond};
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
        Ok(Incoming::Direct(payload)) => invoke::run(&context, app.direct(payload)).await,
        Err(err) => invoke::finish(Err(err)),
    }
}

pub enum Incoming {
    Http(Box<Request>),
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
    let request: Request = LambdaRequest::ApiGatewayV2(event).into();
    Ok(Incoming::Http(Box::new(
        request.with_lambda_context(context),
    )))
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
