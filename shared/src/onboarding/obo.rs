//! On-Behalf-Of onboarding: the client's admin logs in once; with that user token (used for
//! this request only, never stored) the partner becomes a partner of the client's Business
//! Manager, gets a system user there whose token is kept like every token, assigns it the
//! client's assets and keeps its page tokens. Every step is safe to repeat: a new session for
//! the business resumes where a failure stopped, and the failed step is recorded on the client.

use secrecy::SecretString;

use super::complete::{CodeSource, completed_with, exchange};
use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, ClientStatus, Event, EventType, Mode, OboState, OnboardingResult,
    Owner, PendingPurpose, PendingSecret, SecretRef, Session, SessionState, SystemUserId,
    TokenSecret, Whose,
};
use crate::optimistic::Races;
use crate::partner;
use crate::ports::{Also, Ports, StoredSecret};
use crate::tokens;

const RELATIONSHIP: &str = "partner relationship";
const SYSTEM_USER: &str = "client system user";
const ASSETS: &str = "asset assignment";
const PAGES: &str = "page tokens";
const DONE: &str = "done";

fn stopped(step: &'static str, cause: Error) -> Error {
    Error::OnboardingStopped {
        step,
        cause: Box::new(cause),
    }
}

pub(super) async fn onboard(
    ports: &Ports,
    state: &SessionState,
    session: &Session,
    code: SecretString,
    source: CodeSource,
) -> Result<OnboardingResult> {
    let id = session
        .client_business_id
        .clone()
        .ok_or_else(|| Error::Internal("an On-Behalf-Of session without its business".into()))?;
    let partner_bm = ports.settings.partner_business_id.clone().ok_or_else(|| {
        Error::Internal("configuration: On-Behalf-Of needs PARTNER_BUSINESS_ID".into())
    })?;
    tracing::Span::current().record("client_business_id", id.as_str());
    if ports
        .store
        .client(&id)
        .await?
        .is_some_and(|c| c.status == ClientStatus::Offboarding)
    {
        return Err(Error::OffboardingInProgress);
    }
    // The admin's own token: for this request only.
    let admin = exchange(ports, &code, source).await?.access_token;

    if let Err(err) = ports
        .graph
        .add_managed_business(&partner_bm, &id, &admin)
        .await
    {
        return Err(stopped(RELATIONSHIP, err.into_error(Whose::Client)));
    }

    let (secret, system_user_id) = match system_user(ports, session, &id).await {
        Ok(kept) => kept,
        Err(err) => return Err(stopped(SYSTEM_USER, err)),
    };

    for asset in &session.assets {
        if let Err(err) = ports
            .graph
            .assign_asset(asset, &system_user_id, &admin)
            .await
        {
            let cause = err.into_error(Whose::Client);
            return Err(record_failure(ports, &id, ASSETS, cause).await);
        }
    }
    advance(ports, &id, ASSETS).await?;

    if let Err(err) = keep_pages(ports, &id, &secret).await {
        return Err(record_failure(ports, &id, PAGES, err).await);
    }

    complete(ports, state, session, &id, &system_user_id, &secret).await
}

/// The client system user's token (with the partner's own system user token), its id, and the
/// client recorded `incomplete` pointing at it: marker, secret, then the record.
async fn system_user(
    ports: &Ports,
    session: &Session,
    id: &ClientBusinessId,
) -> Result<(TokenSecret, SystemUserId)> {
    let partner_token = partner::system_user_token(ports).await?;
    let token = match ports
        .graph
        .client_system_user_token(id, &partner_token, &session.scopes)
        .await
    {
        Ok(token) => token,
        Err(err) => return Err(clients::graph_failure(ports, None, err, Whose::Partner).await),
    };
    // Meta gives the same system user again on a retry: its id comes before anything is kept.
    let me = ports
        .graph
        .me_id(&token)
        .await
        .map_err(|e| e.into_error(Whose::Client))?;
    let system_user_id = SystemUserId::parse(&me)?;
    let secret = TokenSecret {
        access_token: token,
        system_user_id: system_user_id.clone(),
        client_business_id: Some(id.clone()),
        scopes: session.scopes.clone(),
        expires_at: None,
        obtained_at: ports.clock.now(),
        assets: None,
    };
    let name = ports.settings.names.obo(id);
    let (secret_ref, su) = (&secret, &system_user_id);
    let recorded = custody::keep(
        ports,
        &Owner::Client(id.clone()),
        &name,
        PendingPurpose::Client,
        &secret,
        |stored, pending| async move {
            record_system_user(ports, session, id, su, secret_ref, stored, &pending).await
        },
    )
    .await?;
    if recorded.is_none() {
        return Err(Error::OffboardingInProgress);
    }
    Ok((secret, system_user_id))
}

/// Records the client `incomplete` with its system user's secret; `false` when it is leaving.
async fn record_system_user(
    ports: &Ports,
    session: &Session,
    id: &ClientBusinessId,
    system_user_id: &SystemUserId,
    secret: &TokenSecret,
    stored: StoredSecret,
    pending: &PendingSecret,
) -> Result<bool> {
    let now = ports.clock.now();
    let mut races = Races::new("client");
    loop {
        races.attempt().await?;
        let existing = ports.store.client(id).await?;
        if existing.as_ref().is_some_and(Client::is_leaving) {
            return Ok(false);
        }
        let client = Client {
            client_business_id: id.clone(),
            status: ClientStatus::Incomplete,
            mode: Mode::Obo,
            partner_ref: session.partner_ref.clone(),
            system_user_id: system_user_id.clone(),
            scopes: secret.scopes.clone(),
            granted_assets: Default::default(),
            token_expires_at: None,
            secret: SecretRef {
                name: stored.name.clone(),
                version: stored.version.clone(),
            },
            onboarded_at: existing.as_ref().map_or(now, |c| c.onboarded_at),
            updated_at: now,
            offboarded_at: None,
            offboard_reason: None,
            datasets_fetched_at: None,
            next_check_at: None,
            obo: Some(OboState {
                assets: session.assets.clone(),
                last_step: SYSTEM_USER.into(),
                failed: None,
            }),
            version: existing.as_ref().map_or(1, |c| c.version + 1),
        };
        let expected = existing.as_ref().map(|c| c.version);
        if ports
            .store
            .save_client(&client, expected, &[Also::ClearPending(pending)])
            .await?
            .is_ok()
        {
            return Ok(true);
        }
    }
}

/// Every page the client system user has a role on, its token kept (stable page tokens).
async fn keep_pages(ports: &Ports, id: &ClientBusinessId, secret: &TokenSecret) -> Result<()> {
    let listed = match ports.graph.pages(&secret.access_token).await {
        Ok(listed) => listed,
        Err(err) => return Err(err.into_error(Whose::Client)),
    };
    let owner = Owner::Client(id.clone());
    for page in listed {
        tokens::derive_page(ports, &owner, &page.id, secret, Whose::Client).await?;
    }
    Ok(())
}

/// Records the last completed step.
async fn advance(ports: &Ports, id: &ClientBusinessId, step: &str) -> Result<()> {
    clients::update(ports, id, |current| {
        let mut next = current.clone();
        let obo = next.obo.as_mut()?;
        obo.last_step = step.to_owned();
        obo.failed = None;
        Some((next, None))
    })
    .await
    .map(drop)
}

/// Records the step that failed on the client, for the caller and the operator; answers the
/// error to return.
async fn record_failure(
    ports: &Ports,
    id: &ClientBusinessId,
    step: &'static str,
    cause: Error,
) -> Error {
    let failed = format!("{step}: {cause}");
    let recorded = clients::update(ports, id, |current| {
        let mut next = current.clone();
        next.status = ClientStatus::Incomplete;
        next.obo.as_mut()?.failed = Some(failed.clone());
        Some((next, None))
    })
    .await;
    if let Err(err) = recorded {
        tracing::warn!(error = %err, "could not record the failed step");
    }
    tracing::info!(client_business_id = %id, step, "On-Behalf-Of onboarding stopped");
    stopped(step, cause)
}

/// The last write: the client active, its ref and user index, the event, the session consumed.
async fn complete(
    ports: &Ports,
    state: &SessionState,
    session: &Session,
    id: &ClientBusinessId,
    system_user_id: &SystemUserId,
    secret: &TokenSecret,
) -> Result<OnboardingResult> {
    let now = ports.clock.now();
    let result = OnboardingResult {
        client_business_id: id.clone(),
        system_user_id: system_user_id.clone(),
        partner_ref: session.partner_ref.clone(),
        scopes: secret.scopes.clone(),
        status: ClientStatus::Active,
    };
    let mut races = Races::new("client");
    loop {
        races.attempt().await?;
        let current = clients::load(ports, id).await?;
        if current.is_leaving() {
            return Err(Error::OffboardingInProgress);
        }
        let mut next = current.clone();
        next.status = ClientStatus::Active;
        next.partner_ref = session.partner_ref.clone();
        next.updated_at = now;
        next.onboarded_at = now;
        next.next_check_at = Some(now + ports.settings.health_check_interval_secs);
        next.version = current.version + 1;
        if let Some(obo) = next.obo.as_mut() {
            obo.last_step = DONE.into();
            obo.failed = None;
        }
        let assets: Vec<String> = session.assets.iter().map(|a| a.id.clone()).collect();
        let event = Event::client(
            id,
            EventType::ClientOnboarded,
            now,
            [
                ("partner_ref", session.partner_ref.as_str().to_owned()),
                ("mode", Mode::Obo.as_str().to_owned()),
                ("system_user_id", system_user_id.to_string()),
                ("scopes", secret.scopes.join(",")),
                ("assets", assets.join(",")),
                ("status", ClientStatus::Active.as_str().to_owned()),
            ],
        );
        let also = [
            Also::PartnerRef {
                partner_ref: &session.partner_ref,
                previous: Some(&current.partner_ref),
            },
            Also::UserIndex(system_user_id),
            Also::Event(&event),
            Also::CompleteSession {
                state,
                result: &result,
            },
        ];
        if ports
            .store
            .save_client(&next, Some(current.version), &also)
            .await?
            .is_ok()
            || completed_with(ports, state, &result).await?
        {
            tracing::info!(client_business_id = %id, "client onboarded On-Behalf-Of");
            return Ok(result);
        }
    }
}
