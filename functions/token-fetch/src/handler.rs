//! Maps the direct invocations of DESIGN section 3 to `shared::tokens` and `shared::sweep`.

use lambda_http::lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use shared::lambda::invoke::{self, Payload};
use shared::lambda::shapes::TokenFields;
use shared::model::{ClientBusinessId, Owner, Signal, SystemUserId};
use shared::tokens::{self, MintRequest};
use shared::{Error, Ports, Result, partner, sweep};

pub struct App {
    pub ports: Ports,
}

/// One variant per shape of DESIGN section 3 that is built.
#[derive(Debug, PartialEq)]
enum Invocation {
    ClientToken {
        id: ClientBusinessId,
        force_refresh: bool,
    },
    Granular {
        id: ClientBusinessId,
        request: MintRequest,
    },
    Sweep {
        max_items: usize,
    },
    Page {
        owner: Owner,
        page_id: String,
    },
    Pages {
        owner: Owner,
    },
    PartnerToken,
    PartnerProvision {
        system_user_id: SystemUserId,
        scopes: Vec<String>,
        expires_in_60_days: bool,
    },
    PartnerRotate,
}

/// `{"action": "partner.provision", "system_user_id", "scope", "expires_in_60_days"?}`.
fn provision(f: TokenFields) -> Result<Invocation> {
    let alone = f.client_business_id.is_none()
        && f.owner.is_none()
        && f.page_id.is_none()
        && f.assets.is_none()
        && f.force_refresh.is_none()
        && f.max_items.is_none();
    if !alone {
        return Err(Error::InvalidRequest(
            "partner.provision takes system_user_id, scope and expires_in_60_days".into(),
        ));
    }
    let raw = f
        .system_user_id
        .ok_or_else(|| Error::InvalidRequest("system_user_id is required".into()))?;
    let scope = f
        .scope
        .ok_or_else(|| Error::InvalidRequest("scope is required".into()))?;
    // The same checks as a granular request's scopes.
    MintRequest::new(scope.clone(), vec![], false, false)?;
    Ok(Invocation::PartnerProvision {
        system_user_id: SystemUserId::parse(&raw)?,
        scopes: scope,
        expires_in_60_days: f.expires_in_60_days.unwrap_or(false),
    })
}

impl TryFrom<TokenFields> for Invocation {
    type Error = Error;

    fn try_from(f: TokenFields) -> Result<Self> {
        match f.action.as_deref() {
            Some("partner.provision") => return provision(f),
            Some("partner.rotate") => {
                return if f.client_business_id.is_none()
                    && f.owner.is_none()
                    && f.page_id.is_none()
                    && f.scope.is_none()
                    && f.assets.is_none()
                    && f.system_user_id.is_none()
                    && f.expires_in_60_days.is_none()
                    && f.force_refresh.is_none()
                    && f.max_items.is_none()
                {
                    Ok(Self::PartnerRotate)
                } else {
                    Err(Error::InvalidRequest(
                        "partner.rotate takes no other field".into(),
                    ))
                };
            }
            _ => {}
        }
        if f.system_user_id.is_some() {
            return Err(Error::InvalidRequest(
                "system_user_id goes with partner.provision".into(),
            ));
        }
        let owner = match (f.owner.as_deref(), f.client_business_id.as_deref()) {
            (Some("partner"), None) => Some(Owner::Partner),
            (Some("partner"), Some(_)) => {
                return Err(Error::InvalidRequest(
                    "owner partner takes no client_business_id".into(),
                ));
            }
            (Some(_), _) => return Err(Error::InvalidRequest("owner must be partner".into())),
            (None, Some(raw)) => Some(Owner::Client(ClientBusinessId::parse(raw)?)),
            (None, None) => None,
        };
        let no_token_fields = f.scope.is_none()
            && f.assets.is_none()
            && f.expires_in_60_days.is_none()
            && f.force_refresh.is_none()
            && f.max_items.is_none();
        if let Some(raw) = &f.page_id {
            let owner = owner.ok_or_else(|| {
                Error::InvalidRequest("page_id needs client_business_id or owner".into())
            })?;
            if f.action.is_some() || !no_token_fields {
                return Err(Error::InvalidRequest(
                    "a page token request takes only page_id and its owner".into(),
                ));
            }
            return Ok(Self::Page {
                owner,
                page_id: tokens::parse_page_id(raw)?,
            });
        }
        if f.action.as_deref() == Some("pages") {
            let owner = owner.ok_or_else(|| {
                Error::InvalidRequest("pages needs client_business_id or owner".into())
            })?;
            if !no_token_fields {
                return Err(Error::InvalidRequest("pages takes only its owner".into()));
            }
            return Ok(Self::Pages { owner });
        }
        if owner == Some(Owner::Partner) {
            return if no_token_fields && f.action.is_none() {
                Ok(Self::PartnerToken)
            } else {
                Err(Error::InvalidRequest(
                    "owner partner takes only page_id".into(),
                ))
            };
        }
        if let Some(action) = f.action {
            let alone = f.client_business_id.is_none()
                && f.scope.is_none()
                && f.assets.is_none()
                && f.expires_in_60_days.is_none()
                && f.force_refresh.is_none();
            return match action.as_str() {
                "sweep" if alone => Ok(Self::Sweep {
                    max_items: f
                        .max_items
                        .unwrap_or(sweep::DEFAULT_MAX_ITEMS)
                        .clamp(1, 10_000),
                }),
                "sweep" => Err(Error::InvalidRequest(
                    "the sweep takes only max_items".into(),
                )),
                "pages" => Err(Error::InvalidRequest(
                    "pages needs client_business_id or owner".into(),
                )),
                _ => Err(Error::InvalidRequest(
                    "action must be sweep, pages, partner.provision or partner.rotate".into(),
                )),
            };
        }
        if f.max_items.is_some() {
            return Err(Error::InvalidRequest(
                "max_items goes with the sweep".into(),
            ));
        }
        let raw_id = f
            .client_business_id
            .ok_or_else(|| Error::InvalidRequest("client_business_id is required".into()))?;
        let id = ClientBusinessId::parse(&raw_id)?;
        let force_refresh = f.force_refresh.unwrap_or(false);
        match (f.scope, f.assets) {
            (None, None) if f.expires_in_60_days.is_none() => {
                Ok(Self::ClientToken { id, force_refresh })
            }
            (None, _) => Err(Error::InvalidRequest(
                "assets and expires_in_60_days need a scope list".into(),
            )),
            (Some(scope), assets) => Ok(Self::Granular {
                id,
                request: MintRequest::new(
                    scope,
                    assets.unwrap_or_default(),
                    f.expires_in_60_days.unwrap_or(false),
                    force_refresh,
                )?,
            }),
        }
    }
}

/// The client, if any, goes on the invocation's span.
fn record_owner(owner: &Owner) {
    if let Owner::Client(id) = owner {
        tracing::Span::current().record("client_business_id", id.as_str());
    }
}

impl App {
    pub async fn handle(&self, event: LambdaEvent<Payload>) -> Result<Value, Diagnostic> {
        let deadline_ms = event.context.deadline;
        invoke::run(&event.context, self.dispatch(event.payload, deadline_ms)).await
    }

    async fn dispatch(&self, payload: Payload, deadline_ms: u64) -> Result<Value> {
        let fields: TokenFields = invoke::parse(payload.into_json()?)?;
        let answer = match Invocation::try_from(fields)? {
            Invocation::Sweep { max_items } => {
                let limits = sweep::Limits {
                    max_items,
                    time: sweep::time_before(deadline_ms),
                };
                tracing::info!(
                    deadline_ms,
                    budget_ms = limits.time.as_millis() as u64,
                    "sweep started"
                );
                let report = sweep::sweep(&self.ports, limits).await?;
                return Ok(serde_json::to_value(report).expect("reports serialize"));
            }
            Invocation::ClientToken { id, force_refresh } => {
                tracing::Span::current().record("client_business_id", id.as_str());
                tokens::client_token(&self.ports, &id, force_refresh).await?
            }
            Invocation::Granular { id, request } => {
                tracing::Span::current().record("client_business_id", id.as_str());
                tokens::granular(&self.ports, &id, request).await?
            }
            Invocation::Page { owner, page_id } => {
                record_owner(&owner);
                let answer = tokens::page_token(&self.ports, &owner, &page_id).await?;
                self.handed_out(answer.kind);
                return Ok(serde_json::to_value(answer).expect("answers serialize"));
            }
            Invocation::PartnerToken => {
                let answer = partner::token_answer(&self.ports).await?;
                self.handed_out("partner");
                return Ok(answer);
            }
            Invocation::PartnerProvision {
                system_user_id,
                scopes,
                expires_in_60_days,
            } => {
                let status =
                    partner::provision(&self.ports, &system_user_id, &scopes, expires_in_60_days)
                        .await?;
                return Ok(serde_json::to_value(status).expect("statuses serialize"));
            }
            Invocation::PartnerRotate => {
                let status = partner::rotate(&self.ports).await?;
                return Ok(serde_json::to_value(status).expect("statuses serialize"));
            }
            Invocation::Pages { owner } => {
                record_owner(&owner);
                let pages = tokens::pages(&self.ports, &owner).await?;
                return Ok(serde_json::json!({ "pages": pages }));
            }
        };
        self.handed_out(answer.kind);
        Ok(serde_json::to_value(answer).expect("answers serialize"))
    }

    fn handed_out(&self, kind: &'static str) {
        self.ports.signals.emit(Signal::TokenServed(kind));
        tracing::info!(kind, "token handed out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Invocation> {
        let value: Value = serde_json::from_str(raw).unwrap();
        Invocation::try_from(invoke::parse::<TokenFields>(value)?)
    }

    #[test]
    fn each_shape_is_one_variant() {
        assert!(matches!(
            parse(r#"{"client_business_id":"1"}"#),
            Ok(Invocation::ClientToken {
                force_refresh: false,
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"client_business_id":"1","scope":["ads_management"],"assets":["2"]}"#),
            Ok(Invocation::Granular { .. })
        ));
        assert_eq!(
            parse(r#"{"action":"sweep","max_items":5}"#).unwrap(),
            Invocation::Sweep { max_items: 5 }
        );
        assert_eq!(
            parse(r#"{"owner":"partner","page_id":"7"}"#).unwrap(),
            Invocation::Page {
                owner: Owner::Partner,
                page_id: "7".into()
            }
        );
        assert!(matches!(
            parse(r#"{"action":"pages","client_business_id":"1"}"#),
            Ok(Invocation::Pages { .. })
        ));
        assert_eq!(
            parse(r#"{"owner":"partner"}"#).unwrap(),
            Invocation::PartnerToken
        );
        assert_eq!(
            parse(r#"{"action":"partner.rotate"}"#).unwrap(),
            Invocation::PartnerRotate
        );
        assert!(matches!(
            parse(
                r#"{"action":"partner.provision","system_user_id":"9","scope":["business_management"],"expires_in_60_days":true}"#
            ),
            Ok(Invocation::PartnerProvision {
                expires_in_60_days: true,
                ..
            })
        ));
        for bad in [
            r#"{}"#,
            r#"{"client_business_id":"1","typo":1}"#,
            r#"{"client_business_id":"x"}"#,
            r#"{"client_business_id":"1","assets":["2"]}"#,
            r#"{"action":"sweep","client_business_id":"1"}"#,
            r#"{"action":"explode"}"#,
            r#"{"client_business_id":"1","page_id":"x"}"#,
            r#"{"client_business_id":"1","page_id":"2","scope":["a"]}"#,
            r#"{"page_id":"2"}"#,
            r#"{"owner":"partner","scope":["a"]}"#,
            r#"{"action":"partner.provision","scope":["a"]}"#,
            r#"{"action":"partner.provision","system_user_id":"1"}"#,
            r#"{"action":"partner.rotate","owner":"partner"}"#,
            r#"{"system_user_id":"1"}"#,
            r#"{"owner":"someone","page_id":"2"}"#,
            r#"{"owner":"partner","client_business_id":"1","page_id":"2"}"#,
            r#"[]"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.error_type(), "InvalidRequest", "{bad}");
        }
    }
}
