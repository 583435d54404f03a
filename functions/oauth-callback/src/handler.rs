//! Maps the four onboarding routes to `shared::onboarding` and the results back to HTTP.

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use shared::clock::rfc3339;
use shared::config::{Config, OnboardingConfig};
use shared::lambda::http::{
    Query, cookie, error_json, error_json_with, json, json_body, query, redirect, respond,
    set_cookie,
};
use shared::lambda::shapes::{CodeRequest, NewSessionRequest};
use shared::model::{ClientBusinessId, Mode, OnboardingResult, SessionState, parse_auth_code};
use shared::onboarding::{self, BROWSER_COOKIE, CodeSource};
use shared::tokens::Recovery;
use shared::{Error, Ports, Result, datasets};

use crate::pages;

/// The largest JSON body the routes accept.
const MAX_BODY: usize = 8 * 1024;
const MAX_ERROR_TEXT: usize = 1024;
/// The browser cookie outlives any one session: a day.
const COOKIE_MAX_AGE: i64 = 24 * 3600;

pub struct App {
    pub config: Config,
    pub onboarding: OnboardingConfig,
    pub ports: Ports,
}

#[derive(Serialize)]
struct NewSessionResponse<'a> {
    state: &'a str,
    login_url: &'a str,
    onboarding_url: &'a str,
    expires_at: &'a str,
}

#[derive(Serialize)]
struct CompletedResponse<'a> {
    #[serde(flatten)]
    result: &'a OnboardingResult,
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
            "/onboarding" | "/onboarding/start" | "/oauth/callback" => Audience::Browser,
            _ => Audience::Program,
        };
        let provider = self.onboarding.provider_name.as_str();
        Ok(
            respond(&req, self.route(&route, &req), |err| match audience {
                Audience::Browser => pages::error(err, provider, self.retry_url(&req).as_ref()),
                // The onboarding page's own call: its script shows the words to the person.
                Audience::Program if route == "/oauth/code" => {
                    let failure = pages::failure(err, provider);
                    let mut more = serde_json::Map::new();
                    more.insert("for_people".into(), failure.text.into());
                    more.insert("retry".into(), failure.retry.into());
                    error_json_with(err, more)
                }
                Audience::Program => error_json(err),
            })
            .await,
        )
    }

    /// The session's page, for Try again: from the `session` or `state` parameter, when it
    /// is one.
    fn retry_url(&self, req: &Request) -> Option<url::Url> {
        let query = query(req).ok()?;
        let raw = query
            .single("session", SessionState::LEN)
            .ok()
            .flatten()
            .or_else(|| query.single("state", SessionState::LEN).ok().flatten())?;
        let state = SessionState::parse(raw).ok()?;
        Some(onboarding::page_url(&self.onboarding, &state, false))
    }

    async fn route(&self, route: &str, req: &Request) -> Result<Response<Body>> {
        match (route, req.method().clone()) {
            ("/onboarding/sessions", Method::POST) => self.new_session(req).await,
            ("/oauth/code", Method::POST) => self.code_from_sdk(req).await,
            ("/onboarding", Method::GET) => self.onboarding_page(req).await,
            ("/onboarding/start", Method::GET) => self.start(req).await,
            ("/oauth/callback", Method::GET) => self.callback(req).await,
            (
                "/onboarding/sessions"
                | "/oauth/code"
                | "/onboarding"
                | "/onboarding/start"
                | "/oauth/callback",
                _,
            ) => Err(Error::MethodNotAllowed),
            _ => Err(Error::RouteNotFound),
        }
    }

    async fn new_session(&self, req: &Request) -> Result<Response<Body>> {
        let body: NewSessionRequest = json_body(req, MAX_BODY)?;
        let mode = body.mode.unwrap_or(Mode::Bisu);
        let partner_ref = body.partner_ref.clone();
        let new = onboarding::create_session(&self.ports, partner_ref, mode, body.obo()?).await?;
        let login_url = onboarding::start_url(&self.onboarding, &new.state);
        let onboarding_url = onboarding::page_url(&self.onboarding, &new.state, false);
        Ok(json(
            201,
            &NewSessionResponse {
                state: new.state.expose(),
                login_url: login_url.as_str(),
                onboarding_url: onboarding_url.as_str(),
                expires_at: &rfc3339(new.session.expires_at),
            },
        ))
    }

    /// The session of `?session=`, bound to this browser; the cookie to set, if new.
    async fn bound(&self, req: &Request) -> Result<(SessionState, onboarding::BoundSession)> {
        let query = query(req)?;
        let state = SessionState::parse(query.required("session", SessionState::LEN)?)?;
        let bound =
            onboarding::bind_browser(&self.ports, &state, cookie(req, BROWSER_COOKIE)).await?;
        Ok((state, bound))
    }

    fn with_cookie(
        &self,
        mut response: Response<Body>,
        new_cookie: Option<String>,
    ) -> Response<Body> {
        if let Some(value) = new_cookie {
            let secure = !shared::config::is_loopback(&self.onboarding.redirect_uri);
            set_cookie(
                &mut response,
                BROWSER_COOKIE,
                &value,
                COOKIE_MAX_AGE,
                secure,
            );
        }
        response
    }

    /// The session's page: Connect while it is pending, the result once it completed (or the
    /// provider's `SUCCESS_REDIRECT_URL` right after connecting).
    async fn onboarding_page(&self, req: &Request) -> Result<Response<Body>> {
        let just_connected = query(req)?.single("connected", 1)? == Some("1");
        let (state, bound) = self.bound(req).await?;
        let provider = self.onboarding.provider_name.as_str();
        let page = match &bound.session.result {
            Some(result) => match &self.config.success_redirect_url {
                Some(target) if just_connected => redirect(success_url(target, result).as_str()),
                _ => {
                    let datasets = self.datasets(&result.client_business_id).await;
                    pages::connected(result, datasets.as_deref(), provider, !just_connected)
                }
            },
            None => pages::connect(&pages::ConnectPage {
                config: &self.config,
                provider,
                config_id: self.onboarding.config_id(bound.session.mode)?,
                state: &state,
                session: &bound.session,
                seconds_left: bound.session.expires_at - self.ports.clock.now(),
                login_url: &onboarding::start_url(&self.onboarding, &state),
                connected_url: &onboarding::page_url(&self.onboarding, &state, true),
                obo_scopes: &self.config.obo_scopes,
            }),
        };
        Ok(self.with_cookie(page, bound.new_cookie))
    }

    /// The new client's datasets, read as dataset-lookup reads them; `None` when they cannot
    /// be listed now (the page says so, and the connection stands).
    async fn datasets(&self, id: &ClientBusinessId) -> Option<Vec<shared::model::Dataset>> {
        match datasets::lookup(&self.ports, id, false, Recovery::NotHere).await {
            Ok(view) => Some(view.datasets),
            Err(err) => {
                tracing::info!(error = %err, error_type = err.error_type(), "datasets not listed on the result page");
                None
            }
        }
    }

    /// `login_url`: binds this browser, then goes to Meta's dialog.
    async fn start(&self, req: &Request) -> Result<Response<Body>> {
        let (state, bound) = self.bound(req).await?;
        let dialog =
            onboarding::dialog_url(&self.config, &self.onboarding, &state, bound.session.mode)?;
        Ok(self.with_cookie(redirect(dialog.as_str()), bound.new_cookie))
    }

    async fn callback(&self, req: &Request) -> Result<Response<Body>> {
        let query = query(req)?;
        if query.single("error", MAX_ERROR_TEXT)?.is_some() {
            return Err(onboarding::consent_denied(
                query.single("error_reason", MAX_ERROR_TEXT)?,
            ));
        }
        let (state, code) = state_and_code(&query)?;
        onboarding::complete(
            &self.ports,
            &state,
            cookie(req, BROWSER_COOKIE),
            code,
            CodeSource::LoginDialog,
        )
        .await?;
        // The result page, at an address without the code; it goes on to
        // SUCCESS_REDIRECT_URL when there is one, as after the SDK's login.
        Ok(redirect(
            onboarding::page_url(&self.onboarding, &state, true).as_str(),
        ))
    }

    async fn code_from_sdk(&self, req: &Request) -> Result<Response<Body>> {
        let body: CodeRequest = json_body(req, MAX_BODY)?;
        let state = SessionState::parse(&body.state)?;
        let code = parse_auth_code(&body.code)?;
        let done = onboarding::complete(
            &self.ports,
            &state,
            cookie(req, BROWSER_COOKIE),
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
    let code = parse_auth_code(query.required("code", shared::model::MAX_AUTH_CODE_LEN)?)?;
    Ok((state, code))
}

fn success_url(target: &url::Url, result: &OnboardingResult) -> url::Url {
    let mut url = target.clone();
    url.query_pairs_mut()
        .append_pair("client_business_id", result.client_business_id.as_str())
        .append_pair("partner_ref", result.partner_ref.as_str())
        .append_pair("status", "connected");
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::{ClientBusinessId, ClientStatus, PartnerRef, SystemUserId};

    #[test]
    fn success_redirect_keeps_the_target_query_and_adds_the_result() {
        let result = OnboardingResult {
            client_business_id: ClientBusinessId::parse("123").unwrap(),
            system_user_id: SystemUserId::parse("456").unwrap(),
            partner_ref: PartnerRef::parse("acct:7").unwrap(),
            scopes: vec!["ads_management".into()],
            status: ClientStatus::Active,
        };
        let target = url::Url::parse("https://app.example/connected?tab=meta").unwrap();
        assert_eq!(
            success_url(&target, &result).as_str(),
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

#[cfg(test)]
#[path = "handler_tests.rs"]
mod flow_tests;
