//! Maps the webhook and callback routes and `{"client_business_id", "reason"}` to
//! `shared::offboarding`.

use lambda_http::http::Method;
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use shared::lambda::event::Routes;
use shared::lambda::http::{json, query, raw_body, text};
use shared::lambda::invoke;
use shared::lambda::shapes::OffboardRequest;
use shared::model::{ClientBusinessId, is_digits};
use shared::offboarding::{self, Initiator};
use shared::signatures::MAX_SIGNED_REQUEST_LEN;
use shared::tokens::Recovery;
use shared::{Error, Ports, Result};

use crate::pages;

/// Meta's deliveries are small; anything larger is not one of them.
const MAX_WEBHOOK_BODY: usize = 256 * 1024;
const MAX_FORM_BODY: usize = 8 * 1024;
const MAX_CHALLENGE: usize = 256;

pub struct App {
    pub ports: Ports,
}

impl App {
    /// Meta's verification handshake: echo `hub.challenge` as plain text.
    async fn subscription(&self, req: &Request) -> Result<Response<Body>> {
        let query = query(req)?;
        let challenge = offboarding::verify_subscription(
            &self.ports,
            query.single("hub.mode", 32)?,
            query.single("hub.verify_token", 256)?,
            query.single("hub.challenge", MAX_CHALLENGE)?,
        )
        .await?;
        Ok(text(200, challenge))
    }

    async fn delivery(&self, req: &Request) -> Result<Response<Body>> {
        let body = raw_body(req, MAX_WEBHOOK_BODY)?;
        let signature = req
            .headers()
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok());
        // A lost BISU is recovered by token-fetch (this role writes no client secret): such a
        // change waits for the sweep.
        let outcome =
            offboarding::handle_delivery(&self.ports, body, signature, Recovery::NotHere).await?;
        Ok(json(
            200,
            &json!({"status": "received", "changes": outcome}),
        ))
    }
}

#[async_trait::async_trait]
impl Routes for App {
    async fn direct(&self, payload: Value) -> Result<Value> {
        let request: OffboardRequest = invoke::parse(payload)?;
        let id = ClientBusinessId::parse(&request.client_business_id)?;
        tracing::Span::current().record("client_business_id", id.as_str());
        let reason = offboarding::parse_reason(&request.reason)?;
        let report = match request.dataset_id.as_deref() {
            Some(dataset) if is_digits(dataset, 32) => {
                offboarding::offboard_dataset(&self.ports, &id, dataset, &reason).await?
            }
            Some(_) => {
                return Err(Error::InvalidRequest(
                    "dataset_id must be a numeric Graph id".into(),
                ));
            }
            None => offboarding::offboard(&self.ports, &id, &reason, Initiator::Partner).await?,
        };
        Ok(serde_json::to_value(report).expect("reports serialize"))
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>> {
        let path = req.raw_http_path();
        let method = req.method().clone();
        match (path, method) {
            ("/webhooks/meta", Method::GET) => self.subscription(req).await,
            ("/webhooks/meta", Method::POST) => self.delivery(req).await,
            ("/meta/deauthorize", Method::POST) => {
                let offboarded =
                    offboarding::deauthorize(&self.ports, &signed_request(req)?).await?;
                Ok(json(
                    200,
                    &json!({"status": "ok", "offboarded": offboarded}),
                ))
            }
            ("/meta/data-deletion", Method::POST) => {
                let answer = offboarding::data_deletion(&self.ports, &signed_request(req)?).await?;
                Ok(json(200, &answer))
            }
            (p, Method::GET) if p.starts_with("/meta/data-deletion/") => {
                let code = &p["/meta/data-deletion/".len()..];
                Ok(pages::deletion_status(
                    &offboarding::deletion_status(&self.ports, code).await?,
                ))
            }
            ("/webhooks/meta" | "/meta/deauthorize" | "/meta/data-deletion", _) => {
                Err(Error::MethodNotAllowed)
            }
            (p, _) if p.starts_with("/meta/data-deletion/") => Err(Error::MethodNotAllowed),
            _ => Err(Error::RouteNotFound),
        }
    }
}

/// The one `signed_request` field of a form-encoded callback.
fn signed_request(req: &Request) -> Result<String> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The media type itself, before any parameter: a longer name is another type.
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(Error::UnsupportedMediaType(
            "send the callback as application/x-www-form-urlencoded".into(),
        ));
    }
    let body = raw_body(req, MAX_FORM_BODY)?;
    let mut values = url::form_urlencoded::parse(body)
        .filter(|(k, _)| k == "signed_request")
        .map(|(_, v)| v);
    let value = values
        .next()
        .ok_or_else(|| Error::InvalidRequest("signed_request is required".into()))?;
    if values.next().is_some() {
        return Err(Error::InvalidRequest("signed_request is repeated".into()));
    }
    if value.len() > MAX_SIGNED_REQUEST_LEN {
        return Err(Error::Unauthorized("signed_request is malformed".into()));
    }
    Ok(value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(content_type: &str) -> Request {
        lambda_http::http::Request::builder()
            .method("POST")
            .uri("/meta/deauthorize")
            .header(CONTENT_TYPE, content_type)
            .body(Body::Text("signed_request=a.b".into()))
            .unwrap()
    }

    #[test]
    fn callbacks_take_only_form_encoded_bodies() {
        for ok in [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded",
        ] {
            assert_eq!(signed_request(&form(ok)).unwrap(), "a.b", "{ok}");
        }
        for wrong in [
            "application/x-www-form-urlencodedx",
            "application/x-www-form-urlencoded-json",
            "application/json",
            "text/plain",
            "",
        ] {
            let err = signed_request(&form(wrong)).unwrap_err();
            assert!(matches!(err, Error::UnsupportedMediaType(_)), "{wrong}");
        }
    }
}
