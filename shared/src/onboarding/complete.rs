//! Completing an onboarding: consume the state once, exchange the code, learn the business,
//! then write the secret before the items that point at it.

use secrecy::SecretString;
use std::collections::BTreeMap;

use crate::clock::Now;
use crate::config::OnboardingConfig;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::graph::DebugToken;
use crate::ids::{ClientBusinessId, SessionState, SystemUserId};
use crate::store::{
    Also, CLIENT_SK, ClientItem, ClientStatus, Conflict, EventItem, OnboardingResult,
    PartnerRefItem, SessionItem, SessionStatus, client_pk,
};
use crate::vault::TokenSecret;

/// Where the authorization code came from; it decides whether `redirect_uri` is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSource {
    LoginDialog,
    JsSdk,
}

pub struct Completed {
    pub result: OnboardingResult,
    /// True when the state had been consumed before and this is the stored answer.
    pub replayed: bool,
}

/// Times a lost optimistic-lock race on the client item is retried.
const WRITE_ATTEMPTS: usize = 3;

pub async fn complete(
    deps: &Deps,
    onboarding: &OnboardingConfig,
    state: &SessionState,
    code: SecretString,
    source: CodeSource,
) -> Result<Completed> {
    let session = deps
        .store
        .get_session(state.expose())
        .await?
        .ok_or(Error::SessionNotFound)?;
    if let Some(done) = settled(&session)? {
        return Ok(done);
    }
    if !deps
        .store
        .claim_session(state.expose(), Now::get().epoch())
        .await?
    {
        // Another request moved it first: answer from what it left.
        let session = deps
            .store
            .get_session(state.expose())
            .await?
            .ok_or(Error::SessionNotFound)?;
        return settled(&session)?.ok_or(Error::SessionExpired);
    }
    match onboard(deps, onboarding, state, &session, code, source).await {
        Ok(result) => Ok(Completed {
            result,
            replayed: false,
        }),
        Err(err) => {
            // Nothing points at what may have been written: the session can be used again.
            if let Err(release) = deps.store.release_session(state.expose()).await {
                tracing::warn!(error = %release, "could not release the onboarding session");
            }
            Err(err)
        }
    }
}

/// The answer for a session that cannot be claimed, or `None` when it is pending and fresh.
fn settled(session: &SessionItem) -> Result<Option<Completed>> {
    match session.status {
        SessionStatus::Completed => {
            let result = session
                .result
                .clone()
                .ok_or_else(|| Error::Internal("completed session without result".into()))?;
            Ok(Some(Completed {
                result,
                replayed: true,
            }))
        }
        SessionStatus::Claimed => Err(Error::SessionInProgress),
        SessionStatus::Pending if session.expires_at_epoch <= Now::get().epoch() => {
            Err(Error::SessionExpired)
        }
        SessionStatus::Pending => Ok(None),
    }
}

async fn onboard(
    deps: &Deps,
    onboarding: &OnboardingConfig,
    state: &SessionState,
    session: &SessionItem,
    code: SecretString,
    source: CodeSource,
) -> Result<OnboardingResult> {
    let redirect_uri = (source == CodeSource::LoginDialog).then_some(&onboarding.redirect_uri);
    let exchanged = deps
        .graph
        .exchange_code(&code, redirect_uri)
        .await
        .map_err(crate::graph::exchange_error)?;
    let lifetime = exchanged.lifetime_secs();
    let token = exchanged.access_token;
    let (me, debug) = tokio::try_join!(
        deps.graph.me_client_business(&token),
        deps.graph.debug_token(&token)
    )?;

    check_token(deps, &debug)?;
    let client_id = me
        .client_business_id
        .as_deref()
        .ok_or_else(|| {
            Error::LoginRejected(
                "Meta returned no client business: LOGIN_CONFIG_ID must be a Login for Business \
                 configuration that issues business integration system user tokens"
                    .into(),
            )
        })
        .and_then(ClientBusinessId::parse)?;
    let system_user_id = SystemUserId::parse(&me.id)?;
    tracing::Span::current().record("client_business_id", client_id.as_str());

    let now = Now::get();
    let expires_at = debug
        .expiry_epoch()
        .or_else(|| lifetime.map(|secs| now.epoch() + secs as i64));
    let secret = TokenSecret {
        access_token: token,
        system_user_id: system_user_id.clone(),
        client_business_id: client_id.clone(),
        scopes: debug.scopes.clone(),
        expires_at,
        obtained_at: now.epoch(),
        assets: None,
    };
    let stored = deps
        .vault
        .put_token(&deps.names.bisu(&client_id), &secret)
        .await?;

    let result = OnboardingResult {
        client_business_id: client_id.clone(),
        system_user_id: system_user_id.clone(),
        partner_ref: session.partner_ref.clone(),
        scopes: debug.scopes.clone(),
        status: ClientStatus::Active,
    };
    let partner_ref = PartnerRefItem::new(&session.partner_ref, &client_id, &now.rfc3339());
    let event = EventItem::new(
        &client_id,
        "onboarded",
        &now.rfc3339(),
        BTreeMap::from([
            ("partner_ref".into(), session.partner_ref.as_str().into()),
            ("mode".into(), session.mode.as_str().into()),
            ("system_user_id".into(), system_user_id.to_string()),
            ("scopes".into(), debug.scopes.join(",")),
        ]),
    );
    for _ in 0..WRITE_ATTEMPTS {
        let existing = deps.store.get_client(&client_id).await?;
        let client = ClientItem {
            pk: client_pk(&client_id),
            sk: CLIENT_SK.into(),
            client_business_id: client_id.clone(),
            status: ClientStatus::Active,
            mode: session.mode,
            partner_ref: session.partner_ref.clone(),
            system_user_id: system_user_id.clone(),
            scopes: debug.scopes.clone(),
            granted_assets: debug.granted_assets(),
            token_expires_at: expires_at,
            bisu_secret_name: stored.name.clone(),
            bisu_secret_version: stored.version_id.clone(),
            onboarded_at: now.rfc3339(),
            updated_at: now.rfc3339(),
            offboarded_at: None,
            offboard_reason: None,
            datasets_fetched_at: None,
            version: existing.as_ref().map_or(1, |c| c.version + 1),
        };
        let also = [
            Also::PartnerRef(&partner_ref),
            Also::Event(&event),
            Also::CompleteSession {
                state: state.expose(),
                result: &result,
            },
        ];
        let expected = existing.map(|c| c.version);
        match deps.store.save_client(&client, expected, &also).await? {
            Ok(()) => {
                tracing::info!(client_business_id = %client_id, "client onboarded");
                return Ok(result);
            }
            Err(Conflict::Stale) => continue,
        }
    }
    Err(Error::Internal(
        "the client record kept changing during onboarding".into(),
    ))
}

/// The token must be valid and issued to this app.
fn check_token(deps: &Deps, debug: &DebugToken) -> Result<()> {
    if debug.app_id.as_deref() != Some(deps.config.app_id.as_str()) {
        return Err(Error::LoginRejected(
            "the token was issued to a different app".into(),
        ));
    }
    if !debug.is_valid {
        return Err(Error::LoginRejected(
            "Meta reports the new token as invalid".into(),
        ));
    }
    Ok(())
}
