//! Completing an onboarding: consume the state once, from the browser it is bound to,
//! exchange the code, learn the business, then keep the token (marker, secret, record).

use rand::Rng;
use secrecy::SecretString;

use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, ClientStatus, DebugToken, Event, EventType, GraphErrorClass, Mode,
    OnboardingOutcome, OnboardingResult, Owner, PendingPurpose, SecretRef, Session, SessionState,
    SessionStatus, Signal, SystemUserId, TokenSecret, Whose,
};
use crate::optimistic::Races;
use crate::ports::{Also, Ports};

/// Where the authorization code came from; it decides whether `redirect_uri` is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSource {
    LoginDialog,
    JsSdk,
}

#[derive(Debug)]
pub struct Completed {
    pub result: OnboardingResult,
    /// True when the state had been consumed before and this is the stored answer.
    pub replayed: bool,
}

/// How long a claim holds before another request may take the session over.
const CLAIM_LEASE_SECS: i64 = 60;

pub async fn complete(
    ports: &Ports,
    state: &SessionState,
    browser: Option<&str>,
    code: SecretString,
    source: CodeSource,
) -> Result<Completed> {
    let session = ports
        .store
        .session(state)
        .await?
        .ok_or(Error::SessionNotFound)?;
    let now = ports.clock.now();
    if session.is_expired(now) {
        return Err(Error::SessionExpired);
    }
    // The state alone is not enough: the browser that opened the session must send it.
    let hash = browser.map(super::browser_hash);
    if session.browser.is_none() || session.browser != hash {
        return Err(Error::SessionOtherBrowser);
    }
    if let Some(done) = settled(&session, now)? {
        return Ok(done);
    }
    if !ports
        .store
        .claim_session(state, now, now + CLAIM_LEASE_SECS)
        .await?
    {
        // Another request moved it first: answer from what it left.
        let session = ports
            .store
            .session(state)
            .await?
            .ok_or(Error::SessionNotFound)?;
        return settled(&session, now)?.ok_or(Error::SessionExpired);
    }
    let onboarded = match session.mode {
        Mode::Bisu => onboard(ports, state, &session, code, source).await,
        Mode::Obo => super::obo::onboard(ports, state, &session, code, source).await,
    };
    let outcome = match onboarded {
        Ok(_) => OnboardingOutcome::Completed,
        Err(_) => OnboardingOutcome::Failed,
    };
    ports.signals.emit(Signal::Onboarding(outcome));
    match onboarded {
        Ok(result) => Ok(Completed {
            result,
            replayed: false,
        }),
        Err(err) => {
            // Nothing points at what may have been written: the session can be used again.
            if let Err(release) = ports.store.release_session(state).await {
                tracing::warn!(error = %release, "could not release the onboarding session");
            }
            Err(err)
        }
    }
}

/// The answer for a session that cannot be claimed, or `None` when it can be.
fn settled(session: &Session, now: i64) -> Result<Option<Completed>> {
    match session.status {
        SessionStatus::Completed => {
            let result = session
                .result
                .clone()
                .ok_or_else(|| Error::Internal("a completed session without result".into()))?;
            Ok(Some(Completed {
                result,
                replayed: true,
            }))
        }
        SessionStatus::Claimed if session.claimed_until.is_some_and(|t| t >= now) => {
            Err(Error::SessionInProgress)
        }
        _ if session.is_expired(now) => Err(Error::SessionExpired),
        _ => Ok(None),
    }
}

/// Exchanges a code; `redirect_uri` goes only with a code from the login dialog.
pub(super) async fn exchange(
    ports: &Ports,
    code: &SecretString,
    source: CodeSource,
) -> Result<crate::model::ExchangedToken> {
    let redirect_uri = match source {
        CodeSource::LoginDialog => Some(
            ports
                .settings
                .redirect_uri
                .as_ref()
                .ok_or_else(|| Error::Internal("REDIRECT_URI is not configured".into()))?,
        ),
        CodeSource::JsSdk => None,
    };
    match ports.graph.exchange_code(code, redirect_uri).await {
        Ok(exchanged) => Ok(exchanged),
        // The app secret is wrong: the operator must act, and hears of it.
        Err(err) if err.class() == GraphErrorClass::AppCredentials => {
            Err(clients::graph_failure(ports, None, err, Whose::App).await)
        }
        Err(err) => Err(err.into_exchange_error()),
    }
}

async fn onboard(
    ports: &Ports,
    state: &SessionState,
    session: &Session,
    code: SecretString,
    source: CodeSource,
) -> Result<OnboardingResult> {
    let exchanged = exchange(ports, &code, source).await?;
    let lifetime = exchanged.lifetime_secs();
    let token = exchanged.access_token;
    let (me, debug) = tokio::join!(ports.graph.me(&token), ports.graph.debug_token(&token));
    let me = me.map_err(|e| e.into_error(Whose::Client))?;
    let debug = match debug {
        Ok(debug) => debug,
        // Meta's answer to debug_token of a token issued to another app.
        Err(err) if err.code == Some(100) => {
            return Err(Error::LoginRejected(
                "the token was issued to a different app".into(),
            ));
        }
        Err(err) => return Err(clients::graph_failure(ports, None, err, Whose::App).await),
    };
    check_token(ports, &debug)?;
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

    let now = ports.clock.now();
    let expires_at = debug
        .expiry_epoch()
        .or_else(|| lifetime.map(|secs| now + secs as i64));
    let secret = TokenSecret {
        access_token: token,
        system_user_id: system_user_id.clone(),
        client_business_id: Some(client_id.clone()),
        scopes: debug.scopes.clone(),
        expires_at,
        obtained_at: now,
        assets: None,
    };
    if ports
        .store
        .client(&client_id)
        .await?
        .is_some_and(|c| c.status == ClientStatus::Offboarding)
    {
        return Err(Error::OffboardingInProgress);
    }
    let result = OnboardingResult {
        client_business_id: client_id.clone(),
        system_user_id: system_user_id.clone(),
        partner_ref: session.partner_ref.clone(),
        scopes: debug.scopes.clone(),
        status: ClientStatus::Active,
    };
    let name = ports.settings.names.bisu(&client_id);
    let (id, answer, debug) = (&client_id, &result, &debug);
    let recorded = custody::keep(
        ports,
        &Owner::Client(client_id.clone()),
        &name,
        PendingPurpose::Client,
        &secret,
        |stored, pending| async move {
            let client_id = id;
            let secret = SecretRef {
                name: stored.name,
                version: stored.version,
            };
            let mut races = Races::new("client");
            loop {
                races.attempt().await?;
                let existing = ports.store.client(client_id).await?;
                if existing
                    .as_ref()
                    .is_some_and(|c| c.status == ClientStatus::Offboarding)
                {
                    return Ok(false);
                }
                let reconnected = existing
                    .as_ref()
                    .is_some_and(|c| c.status == ClientStatus::NeedsReconnect);
                let interval = ports.settings.health_check_interval_secs.max(1);
                let client = Client {
                    client_business_id: client_id.clone(),
                    status: ClientStatus::Active,
                    mode: session.mode,
                    partner_ref: session.partner_ref.clone(),
                    system_user_id: system_user_id.clone(),
                    scopes: debug.scopes.clone(),
                    granted_assets: debug.granted_assets(),
                    token_expires_at: expires_at,
                    secret: secret.clone(),
                    onboarded_at: now,
                    updated_at: now,
                    offboarded_at: None,
                    offboard_reason: None,
                    datasets_fetched_at: None,
                    // Health checks spread over the interval, not in bursts.
                    next_check_at: Some(now + rand::rng().random_range(1..=interval)),
                    obo: None,
                    version: existing.as_ref().map_or(1, |c| c.version + 1),
                };
                let kind = if reconnected {
                    EventType::Reconnected
                } else {
                    EventType::ClientOnboarded
                };
                let previous = existing.as_ref().map(|c| &c.partner_ref);
                let mut event = Event::client(
                    client_id,
                    kind,
                    now,
                    [
                        ("partner_ref", session.partner_ref.as_str().to_owned()),
                        ("mode", session.mode.as_str().to_owned()),
                        ("system_user_id", system_user_id.to_string()),
                        ("scopes", debug.scopes.join(",")),
                        ("status", ClientStatus::Active.as_str().to_owned()),
                    ],
                );
                // A client that moves to another partner-side account says so.
                if let Some(moved_from) = previous.filter(|p| **p != session.partner_ref) {
                    event
                        .detail
                        .insert("previous_partner_ref".into(), moved_from.as_str().into());
                }
                let also = [
                    Also::PartnerRef {
                        partner_ref: &session.partner_ref,
                        previous,
                    },
                    Also::UserIndex(&system_user_id),
                    Also::Event(&event),
                    Also::CompleteSession {
                        state,
                        result: answer,
                    },
                    Also::ClearPending(&pending),
                ];
                let expected = existing.as_ref().map(|c| c.version);
                if ports
                    .store
                    .save_client(&client, expected, &also)
                    .await?
                    .is_ok()
                {
                    return Ok(true);
                }
                if completed_with(ports, state, answer).await? {
                    return Ok(true);
                }
            }
        },
    )
    .await?;
    if recorded.is_none() {
        return Err(Error::OffboardingInProgress);
    }
    tracing::info!(client_business_id = %client_id, "client onboarded");
    Ok(result)
}

/// Whether the session is completed with `result`: a write whose answer was lost, and whose
/// retry met its own result.
pub(super) async fn completed_with(
    ports: &Ports,
    state: &SessionState,
    result: &OnboardingResult,
) -> Result<bool> {
    Ok(ports
        .store
        .session(state)
        .await?
        .is_some_and(|s| s.status == SessionStatus::Completed && s.result.as_ref() == Some(result)))
}

/// The token must be valid and issued to this app.
fn check_token(ports: &Ports, debug: &DebugToken) -> Result<()> {
    if debug.app_id.as_deref() != Some(ports.settings.app_id.as_str()) {
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
