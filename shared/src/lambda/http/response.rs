//! Building responses: JSON, HTML and redirects, with the one mapping from [`Error`].

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::Error;

fn builder(status: u16) -> lambda_http::http::response::Builder {
    // Every answer may concern a credential: nothing is cached anywhere.
    Response::builder()
        .status(status)
        .header(CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
}

pub fn json(status: u16, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(value).expect("response bodies are plain data");
    builder(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static headers are valid")
}

/// `{"error": {"type", "message"}}` with the error's status and `Retry-After` when known.
pub fn error_json(err: &Error) -> Response<Body> {
    error_json_with(err, serde_json::Map::new())
}

/// [`error_json`] with more members in `error` (what a page's script shows a person).
pub fn error_json_with(
    err: &Error,
    mut more: serde_json::Map<String, serde_json::Value>,
) -> Response<Body> {
    more.insert("type".into(), err.error_type().into());
    more.insert("message".into(), err.to_string().into());
    let mut response = json(err.http_status(), &serde_json::json!({ "error": more }));
    add_retry_after(&mut response, err);
    response
}

/// Plain text that a browser must not read as anything else (it may echo input).
pub fn text(status: u16, body: String) -> Response<Body> {
    builder(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::Text(body))
        .expect("static headers are valid")
}

/// An HTML page with DESIGN's headers: scripts only from `script_origins` (and inline
/// scripts carrying `nonce`), no framing, no referrer.
pub fn html(status: u16, page: String, script_src: &str) -> Response<Body> {
    let policy = format!(
        "default-src 'none'; script-src {script_src}; style-src 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; form-action 'self' https:; \
         frame-src https:; base-uri 'none'; frame-ancestors 'none'"
    );
    builder(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", policy)
        .header("referrer-policy", "no-referrer")
        .body(Body::Text(page))
        .expect("static headers are valid")
}

/// Adds a `Set-Cookie` header: `HttpOnly`, `SameSite=Lax`, `Secure` unless on loopback.
pub fn set_cookie(
    response: &mut Response<Body>,
    name: &str,
    value: &str,
    max_age_secs: i64,
    secure: bool,
) {
    let secure = if secure { "; Secure" } else { "" };
    let header =
        format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}");
    response.headers_mut().append(
        SET_COOKIE,
        header.parse().expect("a cookie of safe characters"),
    );
}

pub fn redirect(location: &str) -> Response<Body> {
    builder(302)
        .header(LOCATION, location)
        .body(Body::Empty)
        .expect("a URL is a valid header value")
}

pub fn add_retry_after(response: &mut Response<Body>, err: &Error) {
    if let Some(secs) = err.retry_after_secs() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, secs.to_string().parse().expect("digits"));
    }
}

/// Logs how a request ended (refusals at info, failures at error) and answers the error.
pub fn answer_error(err: &Error, render: impl FnOnce(&Error) -> Response<Body>) -> Response<Body> {
    match err.http_status() {
        500.. => tracing::error!(error = %err, error_type = err.error_type(), "request failed"),
        _ => tracing::info!(error = %err, error_type = err.error_type(), "request refused"),
    }
    render(err)
}

/// Handles a request in its span, answers an error with `render`, and logs the status.
pub async fn respond(
    req: &lambda_http::Request,
    work: impl std::future::Future<Output = crate::Result<Response<Body>>>,
    render: impl FnOnce(&Error) -> Response<Body>,
) -> Response<Body> {
    use tracing::Instrument;
    let span = request_span(req);
    let result = work.instrument(span.clone()).await;
    let _entered = span.enter();
    let response = result.unwrap_or_else(|err| answer_error(&err, render));
    tracing::info!(status = response.status().as_u16(), "answered");
    response
}

/// The span every request is handled in: request id, method and route, and later the client.
pub fn request_span(req: &lambda_http::Request) -> tracing::Span {
    use lambda_http::RequestExt;
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        route = %req.raw_http_path(),
        client_business_id = tracing::field::Empty
    )
}
