//! The Graph API adapter: one per process, its HTTP client built at the first call, token in
//! the header, `appsecret_proof` on every token call, no redirects, typed errors, jittered
//! retries for transient failures only, a process-wide pause while Meta throttles, full paging.

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use crate::app_secrets::AppSecrets;
use crate::lazy::Lazy;
use crate::model::graph_error::{MAX_WAIT_SECS, regain_access_secs};
use crate::model::{
    AppId, Asset, ClientBusinessId, DebugToken, ExchangedToken, GraphError, GraphErrorClass,
    MeBusiness, MintParams, Ownership, PageInfo, Pixel, Signal, SystemUserId,
};
use crate::ports::{Clock, Graph, Pace, Signals};
use crate::signatures::appsecret_proof;

mod throttle;

use throttle::{Throttle, business_of};

/// One page of a Graph list: `{"data": [...], "paging": {"next"?}}`.
#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct DebugTokenEnvelope {
    data: DebugToken,
}

/// Datasets asked for per page. Meta does not document the maximum; 100 is accepted widely.
const PIXEL_PAGE: &str = "100";
const OWNED_FIELDS: &str =
    "id,name,creation_time,last_fired_time,is_unavailable,owner_business{id,name},data_use_setting";
const SHARED_FIELDS: &str = "id,name,creation_time,last_fired_time,is_unavailable,owner_business{id,name},data_use_setting,permitted_tasks";

/// How transient failures are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait up to the capped exponential delay of this attempt.
    fn delay(&self, attempt: u32) -> Duration {
        crate::backoff::full_jitter(self.base_delay, self.max_delay, attempt)
    }
}

/// Who a call is made as.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// No token (the code exchange carries the client secret instead).
    None,
    /// A user or system user token: sent with `appsecret_proof`.
    Token(&'a SecretString),
    /// The app token `APP_ID|APP_SECRET` (debug_token); no proof applies.
    App,
}

/// Where the parameters of a call go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Carry {
    Query,
    /// A form body, so credentials never sit in a URL.
    Form,
}

pub struct GraphClient {
    base: Url,
    version: String,
    app_id: AppId,
    /// Read on the first call that signs or sends it.
    app: Arc<Lazy<AppSecrets>>,
    retry: RetryPolicy,
    /// Where Meta throttles, and until when: no call is made there before it.
    throttle: Throttle,
    clock: Arc<dyn Clock>,
    signals: Arc<dyn Signals>,
}

/// The longest one Graph call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages followed at most, so a `next` that never ends cannot loop forever.
const MAX_PAGES: usize = 10_000;

impl GraphClient {
    pub fn new(
        base: Url,
        version: String,
        app_id: AppId,
        app: Arc<Lazy<AppSecrets>>,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
        signals: Arc<dyn Signals>,
    ) -> Self {
        Self {
            base,
            version,
            app_id,
            app,
            retry,
            throttle: Throttle::default(),
            clock,
            signals,
        }
    }

    /// The app secret; when it cannot be read, no call is made (the cause is logged).
    async fn app_secret(&self) -> Result<&SecretString, GraphError> {
        match self.app.get().await {
            Ok(app) => Ok(&app.app_secret),
            Err(err) => {
                tracing::error!(error = %err, "the app secret could not be read");
                Err(GraphError::app_secret_unread(&err))
            }
        }
    }

    /// A call whose answer (`true`, `{"success": true}`) only says that it worked.
    async fn act(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        auth: Auth<'_>,
        carry: Carry,
    ) -> Result<(), GraphError> {
        let _: serde_json::Value = self
            .send(method, self.endpoint(path), params, auth, carry)
            .await?;
        Ok(())
    }

    /// A read with retries for transient failures.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
        auth: Auth<'_>,
    ) -> Result<T, GraphError> {
        self.send(Method::GET, self.endpoint(path), params, auth, Carry::Query)
            .await
    }

    /// Reads every page of a list, following `paging.next` until it is absent;
    /// an empty page can still have a `next`.
    async fn get_all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
        auth: Auth<'_>,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut page: Page<T> = self.get(path, params, auth).await?;
        for _ in 0..MAX_PAGES {
            items.append(&mut page.data);
            let Some(next) = page.paging.and_then(|p| p.next) else {
                return Ok(items);
            };
            let url = self.follow(&next)?;
            page = self.send(Method::GET, url, &[], auth, Carry::Query).await?;
        }
        Err(GraphError::network(format!(
            "paging did not end after {MAX_PAGES} pages"
        )))
    }

    /// The `next` URL, checked to point at our Graph host, with any token and proof Graph
    /// put in it removed: ours go in the header and a fresh proof.
    fn follow(&self, next: &str) -> Result<Url, GraphError> {
        let url =
            Url::parse(next).map_err(|_| GraphError::network("unparsable paging.next".into()))?;
        if url.origin() != self.base.origin() {
            return Err(GraphError::network(
                "paging.next points at another host".into(),
            ));
        }
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "access_token" && k != "appsecret_proof")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut clean = url.clone();
        clean.set_query(None);
        if !kept.is_empty() {
            clean.query_pairs_mut().extend_pairs(&kept);
        }
        Ok(clean)
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http URLs have paths")
            .pop_if_empty()
            .push(&self.version)
            .extend(path.split('/'));
        url
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        params: &[(&str, String)],
        auth: Auth<'_>,
        carry: Carry,
    ) -> Result<T, GraphError> {
        // Read once, before any attempt: a secret that cannot be read is not a Graph failure
        // to retry (Secrets Manager's own client has retried it already).
        if !matches!(auth, Auth::None) {
            self.app_secret().await?;
        }
        let mut attempt = 0;
        loop {
            match self
                .send_once(method.clone(), url.clone(), params, auth, carry)
                .await
            {
                Err(err)
                    if err.class() == GraphErrorClass::Transient
                        && attempt + 1 < self.retry.max_attempts =>
                {
                    tracing::info!(
                        attempt,
                        graph_code = err.code,
                        http_status = err.http_status,
                        path = url.path(),
                        "transient Graph failure, retrying"
                    );
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        params: &[(&str, String)],
        auth: Auth<'_>,
        carry: Carry,
    ) -> Result<T, GraphError> {
        let now = self.clock.now();
        let business = business_of(url.path()).map(str::to_owned);
        if let Some(wait) = self.throttle.wait(business.as_deref(), now) {
            return Err(GraphError {
                code: Some(4),
                retry_after_secs: Some(wait),
                ..GraphError::default()
            });
        }
        let oauth_endpoint = url.path().ends_with("/oauth/access_token");
        // The path names ids only; the query and form, which may hold a code, stay out.
        let path = url.path().to_owned();
        let mut params: Vec<(&str, String)> = params.to_vec();
        let mut request = super::http::client()
            .request(method, url)
            .timeout(CALL_TIMEOUT);
        let bearer = match auth {
            Auth::None => None,
            Auth::Token(token) => {
                params.push((
                    "appsecret_proof",
                    appsecret_proof(self.app_secret().await?, token),
                ));
                Some(format!("Bearer {}", token.expose_secret()))
            }
            Auth::App => Some(format!(
                "Bearer {}|{}",
                self.app_id,
                self.app_secret().await?.expose_secret()
            )),
        };
        if let Some(value) = bearer {
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| GraphError::network("token is not a valid header value".into()))?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        request = match carry {
            Carry::Query => request.query(&params),
            Carry::Form => request.form(&params),
        };
        let response = request.send().await.map_err(network_error)?;
        let status = response.status();
        tracing::debug!(path, http_status = status.as_u16(), "Graph answered");
        let retry_after = retry_after_secs(response.headers());
        let header = |name: &str| {
            let value = response.headers().get(name)?.to_str().ok()?;
            Some(value.to_owned())
        };
        let (app_usage, business_usage) =
            (header("x-app-usage"), header("x-business-use-case-usage"));
        self.throttle
            .observe(app_usage.as_deref(), business_usage.as_deref(), now);
        let body = response.bytes().await.map_err(network_error)?;
        if !status.is_success() {
            let mut err = GraphError::from_response(status.as_u16(), &body, retry_after);
            err.oauth_endpoint = oauth_endpoint;
            if err.class() == GraphErrorClass::Throttled {
                self.signals.emit(Signal::GraphThrottled);
                self.throttle
                    .record(&err, business_usage.as_deref(), business.as_deref(), now);
            }
            return Err(err);
        }
        serde_json::from_slice(&body).map_err(|_| GraphError {
            http_status: Some(status.as_u16()),
            ..GraphError::default()
        })
    }
}

#[async_trait]
impl Graph for GraphClient {
    async fn exchange_code(
        &self,
        code: &SecretString,
        redirect_uri: Option<&Url>,
    ) -> Result<ExchangedToken, GraphError> {
        let mut params = vec![
            ("client_id", self.app_id.as_str().to_owned()),
            (
                "client_secret",
                self.app_secret().await?.expose_secret().to_owned(),
            ),
            ("code", code.expose_secret().to_owned()),
        ];
        if let Some(uri) = redirect_uri {
            params.push(("redirect_uri", uri.as_str().to_owned()));
        }
        // The OAuth token endpoint takes POST: the secret and code stay out of the URL.
        // Codes are single-use: never retried.
        let url = self.endpoint("oauth/access_token");
        self.send_once(Method::POST, url, &params, Auth::None, Carry::Form)
            .await
    }

    async fn me(&self, token: &SecretString) -> Result<MeBusiness, GraphError> {
        self.get(
            "me",
            &[("fields", "client_business_id".into())],
            Auth::Token(token),
        )
        .await
    }

    async fn me_id(&self, token: &SecretString) -> Result<String, GraphError> {
        #[derive(Deserialize)]
        struct Me {
            #[serde(deserialize_with = "crate::model::graph_types::graph_id")]
            id: String,
        }
        let me: Me = self
            .get("me", &[("fields", "id".into())], Auth::Token(token))
            .await?;
        Ok(me.id)
    }

    /// Sent as POST with Graph's `method=get` override so the inspected token travels in the
    /// body, not in a URL.
    async fn debug_token(&self, token: &SecretString) -> Result<DebugToken, GraphError> {
        let params = [
            ("input_token", token.expose_secret().to_owned()),
            ("method", "get".to_owned()),
        ];
        let url = self.endpoint("debug_token");
        let envelope: DebugTokenEnvelope = self
            .send(Method::POST, url, &params, Auth::App, Carry::Form)
            .await?;
        Ok(envelope.data)
    }

    async fn pixels(
        &self,
        business: &ClientBusinessId,
        ownership: Ownership,
        token: &SecretString,
    ) -> Result<Vec<Pixel>, GraphError> {
        let (edge, fields) = match ownership {
            Ownership::Owned => ("owned_pixels", OWNED_FIELDS),
            Ownership::Shared => ("client_pixels", SHARED_FIELDS),
        };
        let params = [
            ("fields", fields.to_owned()),
            ("limit", PIXEL_PAGE.to_owned()),
        ];
        self.get_all_pages(&format!("{business}/{edge}"), &params, Auth::Token(token))
            .await
    }

    async fn system_user_access_token(
        &self,
        business: &ClientBusinessId,
        token: &SecretString,
        mint: &MintParams,
    ) -> Result<SecretString, GraphError> {
        #[derive(Deserialize)]
        struct Minted {
            access_token: SecretString,
        }
        let mut params = vec![("system_user_id", mint.system_user_id.clone())];
        if mint.fetch_only {
            params.push(("fetch_only", "true".to_owned()));
        }
        if !mint.scopes.is_empty() {
            params.push(("scope", mint.scopes.join(",")));
        }
        if !mint.assets.is_empty() {
            params.push(("asset", mint.assets.join(",")));
        }
        if mint.expires_in_60_days {
            params.push(("set_token_expires_in_60_days", "true".to_owned()));
        }
        let url = self.endpoint(&format!("{business}/system_user_access_tokens"));
        let minted: Minted = self
            .send_once(Method::POST, url, &params, Auth::Token(token), Carry::Form)
            .await?;
        Ok(minted.access_token)
    }

    async fn refresh_token(&self, token: &SecretString) -> Result<ExchangedToken, GraphError> {
        let params = [
            ("grant_type", "fb_exchange_token".to_owned()),
            ("client_id", self.app_id.as_str().to_owned()),
            (
                "client_secret",
                self.app_secret().await?.expose_secret().to_owned(),
            ),
            ("set_token_expires_in_60_days", "true".to_owned()),
            ("fb_exchange_token", token.expose_secret().to_owned()),
        ];
        let url = self.endpoint("oauth/access_token");
        self.send(Method::POST, url, &params, Auth::None, Carry::Form)
            .await
    }

    async fn page_token(
        &self,
        page_id: &str,
        token: &SecretString,
    ) -> Result<SecretString, GraphError> {
        #[derive(Deserialize)]
        struct PageAccess {
            access_token: SecretString,
        }
        let page: PageAccess = self
            .get(
                page_id,
                &[("fields", "access_token".into())],
                Auth::Token(token),
            )
            .await?;
        Ok(page.access_token)
    }

    async fn pages(&self, token: &SecretString) -> Result<Vec<PageInfo>, GraphError> {
        let params = [
            ("fields", "id,name,tasks".to_owned()),
            ("limit", "100".to_owned()),
        ];
        self.get_all_pages("me/accounts", &params, Auth::Token(token))
            .await
    }

    async fn install_app(
        &self,
        system_user_id: &SystemUserId,
        token: &SecretString,
    ) -> Result<(), GraphError> {
        let params = [("business_app", self.app_id.as_str().to_owned())];
        self.act(
            Method::POST,
            &format!("{system_user_id}/applications"),
            &params,
            Auth::Token(token),
            Carry::Form,
        )
        .await
    }

    async fn mint_system_user_token(
        &self,
        system_user_id: &SystemUserId,
        token: &SecretString,
        scopes: &[String],
        expires_in_60_days: bool,
    ) -> Result<SecretString, GraphError> {
        #[derive(Deserialize)]
        struct Minted {
            access_token: SecretString,
        }
        let mut params = vec![
            ("business_app", self.app_id.as_str().to_owned()),
            ("scope", scopes.join(",")),
        ];
        if expires_in_60_days {
            params.push(("set_token_expires_in_60_days", "true".to_owned()));
        }
        let url = self.endpoint(&format!("{system_user_id}/access_tokens"));
        // Not retried: every call mints a token.
        let minted: Minted = self
            .send_once(Method::POST, url, &params, Auth::Token(token), Carry::Form)
            .await?;
        Ok(minted.access_token)
    }

    async fn revoke(&self, token: &SecretString) -> Result<(), GraphError> {
        // Documented as a GET with the token to revoke in the query: the one place a token
        // travels in a URL, which is never logged (only its path is). The token revokes itself,
        // sent as every token is (header and proof).
        let params = [
            ("client_id", self.app_id.as_str().to_owned()),
            (
                "client_secret",
                self.app_secret().await?.expose_secret().to_owned(),
            ),
            ("revoke_token", token.expose_secret().to_owned()),
        ];
        self.act(
            Method::GET,
            "oauth/revoke",
            &params,
            Auth::Token(token),
            Carry::Query,
        )
        .await
    }

    async fn add_managed_business(
        &self,
        partner_business_id: &str,
        client: &ClientBusinessId,
        user_token: &SecretString,
    ) -> Result<(), GraphError> {
        let params = [("existing_client_business_id", client.to_string())];
        self.act(
            Method::POST,
            &format!("{partner_business_id}/managed_businesses"),
            &params,
            Auth::Token(user_token),
            Carry::Form,
        )
        .await
    }

    async fn client_system_user_token(
        &self,
        client: &ClientBusinessId,
        partner_token: &SecretString,
        scopes: &[String],
    ) -> Result<SecretString, GraphError> {
        #[derive(Deserialize)]
        struct Issued {
            access_token: SecretString,
        }
        let params = [
            ("scope", scopes.join(",")),
            ("app_id", self.app_id.as_str().to_owned()),
        ];
        let url = self.endpoint(&format!("{client}/access_token"));
        let issued: Issued = self
            .send_once(
                Method::POST,
                url,
                &params,
                Auth::Token(partner_token),
                Carry::Form,
            )
            .await?;
        Ok(issued.access_token)
    }

    async fn assign_asset(
        &self,
        asset: &Asset,
        system_user_id: &SystemUserId,
        user_token: &SecretString,
    ) -> Result<(), GraphError> {
        let params = [
            ("user", system_user_id.to_string()),
            (
                "tasks",
                serde_json::to_string(&asset.tasks).expect("strings serialize"),
            ),
        ];
        self.act(
            Method::POST,
            &format!("{}/assigned_users", asset.id),
            &params,
            Auth::Token(user_token),
            Carry::Form,
        )
        .await
    }

    async fn remove_managed_business(
        &self,
        partner_business_id: &str,
        client: &ClientBusinessId,
        token: &SecretString,
    ) -> Result<(), GraphError> {
        let params = [("existing_client_business_id", client.to_string())];
        self.act(
            Method::DELETE,
            &format!("{partner_business_id}/managed_businesses"),
            &params,
            Auth::Token(token),
            Carry::Query,
        )
        .await
    }

    fn pace(&self, business: Option<&ClientBusinessId>, now: i64) -> Pace {
        self.throttle
            .pace(business.map(ClientBusinessId::as_str), now)
    }
}

fn network_error(err: reqwest::Error) -> GraphError {
    // `without_url` keeps query strings (and anything in them) out of errors and logs.
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    GraphError::network(format!("{kind}: {}", err.without_url()))
}

fn retry_after_secs(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(regain_access_secs)
        .or_else(|| {
            let secs: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.parse().ok()?;
            Some(secs.min(MAX_WAIT_SECS))
        })
}

#[cfg(test)]
mod tests;
