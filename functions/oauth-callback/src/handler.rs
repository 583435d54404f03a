//! Maps the four onboarding routes to `shared::onboarding` and the results back to HTTP.

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};
use shared::config::OnboardingConfig;
use shared::http::{Query, error_json, json, json_body, query, redirect, respond};
use shared::ids::{OnboardingMode, PartnerRef, SessionState, parse_auth_code};
use shared::onboarding::{self, CodeSource, Completed};
use shared::{Deps, Error, Result};

use crate::pages;

/// The largest JSON body the routes accept.
const MAX_BODY: usize = 8 * 1024;
const MAX_ERROR_TEXT: usize = 1024;

pub struct App {
    pub deps: Deps,
    pub onboarding: OnboardingConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSessionRequest {
    partner_ref: PartnerRef,
    #[serde(default)]
    mode: Option<OnboardingMode>,
}

#[derive(Serialize)]
struct NewSessionResponse<'a> {
    state: &'a str,
    login_url: &'a str,
    expires_at: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    code: String,
    state: String,
}

#[derive(Serialize)]
struct CompletedResponse<'a> {
    #[serde(flatten)]
    result: &'a shared::store::OnboardingResult,
    replayed: bool,
}

/// Whether a route answers people (HTML) or programs (JSON).
#[derive(Clone, Copy)]
enum Audience {
    Browser,
    Program,
}

impl App {
    pub async fn handle(&self, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        let route = req.raw_http_path().to_owned();
        let audience = match route.as_str() {
            "/onboarding" | "/oauth/callback" => Audience::Browser,
            _ => Audience::Program,
        };
        Ok(
            respond(&req, self.route(&route, &req), |err| match audience {
                Audience::Browser => pages::error(err),
                Audience::Program => error_json(err),
            })
            .await,
        )
    }

    async fn route(&self, route: &str, req: &Request) -> Result<Response<Body>> {
        match (route, req.method().clone()) {
            ("/onboarding/sessions", Method::POST) => self.new_session(req).await,
            ("/oauth/code", Method::POST) => self.code_from_sdk(req).await,
            ("/onboarding", Method::GET) => self.onboarding_page(req).await,
            ("/oauth/callback", Method::GET) => self.callback(req).await,
            ("/onboarding/sessions" | "/oauth/code" | "/onboarding" | "/oauth/callback", _) => {
                Err(Error::MethodNotAllowed)
            }
            _ => Err(Error::RouteNotFound),
        }
    }

    async fn new_session(&self, req: &Request) -> Result<Response<Body>> {
        let body: NewSessionRequest = json_body(req, MAX_BODY)?;
        let mode = body.mode.unwrap_or(OnboardingMode::Bisu);
        let session =
            onboarding::create_session(&self.deps, &self.onboarding, body.partner_ref, mode)
                .await?;
        Ok(json(
            201,
            &NewSessionResponse {
                state: session.state.expose(),
                login_url: session.login_url.as_str(),
                expires_at: &session.expires_at,
            },
        ))
    }

    async fn onboarding_page(&self, req: &Request) -> Result<Response<Body>> {
        let query = query(req)?;
        let state = SessionState::parse(query.required("session", SessionState::LEN)?)?;
        let session = onboarding::pending_session(&self.deps, &state).await?;
        if let Some(result) = &session.result {
            return Ok(pages::connected(result));
        }
        let login_url = onboarding::login_url(&self.deps.config, &self.onboarding, &state);
        Ok(pages::onboarding(
            &self.deps.config,
            &self.onboarding,
            &state,
            &login_url,
        ))
    }

    async fn callback(&self, req: &Request) -> Result<Response<Body>> {
        let query = query(req)?;
        if query.single("error", MAX_ERROR_TEXT)?.is_some() {
            return Err(onboarding::consent_denied(
                query.single("error_reason", MAX_ERROR_TEXT)?,
            ));
        }
        let (state, code) = state_and_code(&query)?;
        let done = onboarding::complete(
            &self.deps,
            &self.onboarding,
            &state,
            code,
            CodeSource::LoginDialog,
        )
        .await?;
        Ok(match &self.deps.config.success_redirect_url {
            Some(target) => redirect(success_url(target, &done).as_str()),
            None => pages::connected(&done.result),
        })
    }

    async fn code_from_sdk(&self, req: &Request) -> Result<Response<Body>> {
        let body: CodeRequest = json_body(req, MAX_BODY)?;
        let state = SessionState::parse(&body.state)?;
        let code = parse_auth_code(&body.code)?;
        let done = onboarding::complete(
            &self.deps,
            &self.onboarding,
            &state,
            code,
            CodeSource::JsSdk,
        )
        .await?;
        Ok(json(
            200,
            &CompletedResponse {
                result: &done.result,
                replayed: done.replayed,
            },
        ))
    }
}

fn state_and_code(query: &Query) -> Result<(SessionState, secrecy::SecretString)> {
    let state = SessionState::parse(query.required("state", SessionState::LEN)?)?;
    let code = parse_auth_code(query.required("code", shared::ids::MAX_AUTH_CODE_LEN)?)?;
    Ok((state, code))
}

fn success_url(target: &url::Url, done: &Completed) -> url::Url {
    let mut url = target.clone();
    url.query_pairs_mut()
        .append_pair(
            "client_business_id",
            done.result.client_business_id.as_str(),
        )
        .append_pair("partner_ref", done.result.partner_ref.as_str())
        .append_pair("status", "connected");
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ids::{ClientBusinessId, SystemUserId};
    use shared::store::{ClientStatus, OnboardingResult};

    #[test]
    fn success_redirect_keeps_the_target_query_and_adds_the_result() {
        let done = Completed {
            result: OnboardingResult {
                client_business_id: ClientBusinessId::parse("123").unwrap(),
                system_user_id: SystemUserId::parse("456").unwrap(),
                partner_ref: PartnerRef::parse("acct:7").unwrap(),
                scopes: vec!["ads_management".into()],
                status: ClientStatus::Active,
            },
            replayed: false,
        };
        let target = url::Url::parse("https://app.example/connected?tab=meta").unwrap();
        assert_eq!(
            success_url(&target, &done).as_str(),
            "https://app.example/connected?tab=meta&client_business_id=123&partner_ref=acct%3A7&status=connected"
        );
    }

    #[test]
    fn callback_needs_a_well_formed_state_and_code() {
        let parse = |raw: &str| {
            let req = lambda_http::http::Request::builder()
                .uri(format!("/oauth/callback?{raw}"))
                .body(Body::Empty)
                .unwrap();
            query(&req).and_then(|q| state_and_code(&q)).map(drop)
        };
        let state = SessionState::generate();
        assert!(parse(&format!("code=AQabc&state={}", state.expose())).is_ok());
        assert!(parse(&format!("code=&state={}", state.expose())).is_err());
        assert!(parse("code=AQabc&state=short").is_err());
    }
}
