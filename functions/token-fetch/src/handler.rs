//! Maps the direct invocations of DESIGN section 3 to `shared::tokens`.

use lambda_http::lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::Value;
use shared::ids::ClientBusinessId;
use shared::secret_cache::SecretCache;
use shared::tokens::{self, MintRequest};
use shared::{Deps, Error, Result, invoke};

pub struct App {
    deps: Deps,
    cache: SecretCache,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    client_business_id: Option<String>,
    #[serde(default)]
    scope: Option<Vec<String>>,
    #[serde(default)]
    assets: Option<Vec<String>>,
    #[serde(default)]
    expires_in_60_days: bool,
    #[serde(default)]
    force_refresh: bool,
    #[serde(default)]
    page_id: Option<String>,
}

impl App {
    pub fn new(deps: Deps) -> Self {
        Self {
            deps,
            cache: SecretCache::default(),
        }
    }

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
        invoke::run(&event.context, self.dispatch(event.payload)).await
    }

    async fn dispatch(&self, payload: Value) -> Result<Value> {
        let request: TokenRequest = invoke::parse(payload)?;
        if let Some(action) = &request.action {
            return self.action(action, &request).await;
        }
        let raw_id = request
            .client_business_id
            .as_deref()
            .ok_or_else(|| Error::InvalidRequest("client_business_id is required".into()))?;
        let id = ClientBusinessId::parse(raw_id)?;
        tracing::Span::current().record("client_business_id", id.as_str());
        if request.page_id.is_some() {
            return Err(Error::InvalidRequest(
                "page tokens are not available yet".into(),
            ));
        }
        let answer = match (request.scope, request.assets) {
            (None, None) => {
                tokens::bisu(&self.deps, &self.cache, &id, request.force_refresh).await?
            }
            (None, Some(_)) => {
                return Err(Error::InvalidRequest("assets need a scope list".into()));
            }
            (Some(scope), assets) => {
                let mint = MintRequest::new(
                    scope,
                    assets.unwrap_or_default(),
                    request.expires_in_60_days,
                    request.force_refresh,
                )?;
                tokens::granular(&self.deps, &self.cache, &id, mint).await?
            }
        };
        tracing::info!(kind = answer.kind, "token handed out");
        Ok(serde_json::to_value(answer).expect("answers serialize"))
    }

    async fn action(&self, action: &str, request: &TokenRequest) -> Result<Value> {
        let alone = request.client_business_id.is_none()
            && request.scope.is_none()
            && request.assets.is_none()
            && request.page_id.is_none()
            && !request.expires_in_60_days
            && !request.force_refresh;
        match action {
            "sweep" if alone => {
                let report = tokens::sweep(&self.deps, &self.cache).await?;
                Ok(serde_json::to_value(report).expect("reports serialize"))
            }
            "sweep" => Err(Error::InvalidRequest(
                "the sweep takes no other fields".into(),
            )),
            _ => Err(Error::InvalidRequest("the only action is sweep".into())),
        }
    }
}
