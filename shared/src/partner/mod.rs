//! The partner's own system user token: kept in its own secret, read only by the flows that
//! need it (recovery of a lost BISU, On-Behalf-Of, the partner's pages), provisioned from a
//! bootstrap token the operator puts there once, and rotated on a schedule (the old token
//! revoked, retried by the sweep when Meta refuses).

use secrecy::SecretString;
use serde::Serialize;

use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    Event, EventType, Owner, PartnerSystemUser, PendingPurpose, SecretRef, Subject, SystemUserId,
    TokenSecret, Whose,
};
use crate::optimistic::Races;
use crate::ports::{Ports, StoredSecret};
use crate::tokens::SIXTY_DAYS;

/// A replaced token whose revocation failed is tried again this much later.
const REVOKE_RETRY_SECS: i64 = 3600;
/// A 60-day token is rotated at the latest this long before it expires.
const ROTATE_BEFORE_EXPIRY: i64 = 7 * 86400;

pub async fn system_user_token(ports: &Ports) -> Result<SecretString> {
    Ok(system_user_secret(ports).await?.access_token)
}

/// The partner secret as stored: the token and its system user.
pub async fn system_user_secret(ports: &Ports) -> Result<TokenSecret> {
    let name = ports.settings.names.partner_system_user();
    ports.vault.token(&name, None).await?.ok_or_else(|| {
        Error::PartnerCredentials(format!(
            "the partner system user secret {name} holds no token: the operator must put it"
        ))
    })
}

/// What provisioning and rotation answer: never a token.
#[derive(Debug, Serialize, PartialEq)]
pub struct PartnerStatus {
    pub system_user_id: SystemUserId,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
}

impl From<&PartnerSystemUser> for PartnerStatus {
    fn from(item: &PartnerSystemUser) -> Self {
        Self {
            system_user_id: item.system_user_id.clone(),
            scopes: item.scopes.clone(),
            expires_at: item.expires_at,
        }
    }
}

/// Installs the app for `system_user_id` and mints its token with the token now in the
/// partner secret (the operator's bootstrap token, which is not revoked: it may be a
/// person's), and stores the new token in its place.
pub async fn provision(
    ports: &Ports,
    system_user_id: &SystemUserId,
    scopes: &[String],
    expires_in_60_days: bool,
) -> Result<PartnerStatus> {
    let bootstrap = system_user_secret(ports).await?;
    let refused = |err| clients::graph_failure(ports, None, err, Whose::Partner);
    if let Err(err) = ports
        .graph
        .install_app(system_user_id, &bootstrap.access_token)
        .await
    {
        return Err(refused(err).await);
    }
    let token = match ports
        .graph
        .mint_system_user_token(
            system_user_id,
            &bootstrap.access_token,
            scopes,
            expires_in_60_days,
        )
        .await
    {
        Ok(token) => token,
        Err(err) => return Err(refused(err).await),
    };
    let item = keep(
        ports,
        system_user_id,
        scopes,
        expires_in_60_days,
        token,
        None,
    )
    .await?;
    tracing::info!(system_user_id = %system_user_id, "partner system user provisioned");
    Ok(PartnerStatus::from(&item))
}

/// Mints a new partner token with the current one, stores it, then revokes the old one.
pub async fn rotate(ports: &Ports) -> Result<PartnerStatus> {
    let item = ports.store.partner_system_user().await?.ok_or_else(|| {
        Error::InvalidRequest(
            "the partner system user is not provisioned: provision it first".into(),
        )
    })?;
    let current = system_user_secret(ports).await?;
    let token = match ports
        .graph
        .mint_system_user_token(
            &item.system_user_id,
            &current.access_token,
            &item.scopes,
            item.expires_in_60_days,
        )
        .await
    {
        Ok(token) => token,
        Err(err) => return Err(clients::graph_failure(ports, None, err, Whose::Partner).await),
    };
    let replaced = Some(item.secret.clone());
    let item = keep(
        ports,
        &item.system_user_id,
        &item.scopes,
        item.expires_in_60_days,
        token,
        replaced,
    )
    .await?;
    let item = revoke_replaced(ports, item).await?;
    tracing::info!("partner token rotated");
    Ok(PartnerStatus::from(&item))
}

/// When the partner item is next due: its rotation, sooner for a 60-day token near expiry.
fn next_rotation(ports: &Ports, rotated_at: i64, expires_at: Option<i64>) -> i64 {
    let scheduled = rotated_at + ports.settings.partner_token_rotate_secs;
    expires_at.map_or(scheduled, |at| scheduled.min(at - ROTATE_BEFORE_EXPIRY))
}

/// Stores a new partner token (marker, secret, then the item pointing at it), with a
/// `partner.token_rotated` event. The partner secret is never deleted: a lost race re-reads
/// and points the item at the newest version.
async fn keep(
    ports: &Ports,
    system_user_id: &SystemUserId,
    scopes: &[String],
    expires_in_60_days: bool,
    token: SecretString,
    replaced: Option<SecretRef>,
) -> Result<PartnerSystemUser> {
    let now = ports.clock.now();
    let expires_at = expires_in_60_days.then_some(now + SIXTY_DAYS);
    let secret = TokenSecret {
        access_token: token,
        system_user_id: system_user_id.clone(),
        client_business_id: None,
        scopes: scopes.to_vec(),
        expires_at,
        obtained_at: now,
        assets: None,
    };
    let name = ports.settings.names.partner_system_user();
    let mut saved = None;
    let (saved_ref, secret_ref) = (&mut saved, &secret);
    custody::keep(
        ports,
        &Owner::Partner,
        &name,
        PendingPurpose::Partner,
        &secret,
        |stored, pending| async move {
            let item = record(ports, secret_ref, stored, replaced, Some(&pending)).await?;
            *saved_ref = Some(item);
            Ok(true)
        },
    )
    .await?;
    saved.ok_or_else(|| Error::Internal("the partner token was not recorded".into()))
}

/// Points the partner item at a stored partner secret, re-reading after a lost race.
pub(crate) async fn record(
    ports: &Ports,
    secret: &TokenSecret,
    stored: StoredSecret,
    replaced: Option<SecretRef>,
    pending: Option<&crate::model::PendingSecret>,
) -> Result<PartnerSystemUser> {
    let now = ports.clock.now();
    let mut races = Races::new("partner");
    loop {
        races.attempt().await?;
        let existing = ports.store.partner_system_user().await?;
        let item = PartnerSystemUser {
            system_user_id: secret.system_user_id.clone(),
            scopes: secret.scopes.clone(),
            expires_at: secret.expires_at,
            expires_in_60_days: secret.expires_at.is_some(),
            rotated_at: now,
            status: "active".into(),
            secret: SecretRef {
                name: stored.name.clone(),
                version: stored.version.clone(),
            },
            // A rotation adds to what is still to revoke; it never drops an older one.
            revoke_pending: existing
                .as_ref()
                .map(|e| e.revoke_pending.clone())
                .unwrap_or_default()
                .into_iter()
                .chain(replaced.clone())
                .collect(),
            next_check_at: Some(next_rotation(ports, now, secret.expires_at)),
            version: existing.as_ref().map_or(1, |e| e.version + 1),
        };
        let event = Event {
            subject: Subject::Partner,
            kind: EventType::PartnerTokenRotated,
            at: now,
            detail: [
                ("system_user_id".to_owned(), item.system_user_id.to_string()),
                ("scopes".to_owned(), item.scopes.join(",")),
            ]
            .into(),
        };
        let expected = existing.as_ref().map(|e| e.version);
        if ports
            .store
            .save_partner_system_user(&item, expected, Some(&event), pending)
            .await?
            .is_ok()
        {
            return Ok(item);
        }
    }
}

/// Revokes the tokens rotations replaced; what Meta refuses is tried again an hour later.
/// Also puts the item back at its own time in `due` (a sweep's claim moved it by a lease).
async fn revoke_replaced(ports: &Ports, item: PartnerSystemUser) -> Result<PartnerSystemUser> {
    let mut still = Vec::new();
    for old in &item.revoke_pending {
        // A version gone from the vault leaves nothing to revoke with.
        let Some(secret) = ports.vault.token(&old.name, Some(&old.version)).await? else {
            continue;
        };
        if let Err(err) = ports.graph.revoke(&secret.access_token).await {
            tracing::warn!(
                graph_code = err.code,
                "Meta did not revoke a replaced partner token: retried later"
            );
            still.push(old.clone());
        }
    }
    let now = ports.clock.now();
    let mut next = item.clone();
    next.version = item.version + 1;
    let rotation = next_rotation(ports, item.rotated_at, item.expires_at);
    next.next_check_at = Some(if still.is_empty() {
        rotation
    } else {
        rotation.min(now + REVOKE_RETRY_SECS)
    });
    next.revoke_pending = still;
    match ports
        .store
        .save_partner_system_user(&next, Some(item.version), None, None)
        .await?
    {
        Ok(()) => Ok(next),
        // Someone rotated meanwhile: their record stands, with this revocation still pending.
        Err(_) => Ok(item),
    }
}

/// The sweep's visit: a pending revocation first, then the rotation when it is due.
pub async fn scheduled(ports: &Ports) -> Result<bool> {
    let Some(item) = ports.store.partner_system_user().await? else {
        return Ok(false);
    };
    let now = ports.clock.now();
    let item = revoke_replaced(ports, item).await?;
    if next_rotation(ports, item.rotated_at, item.expires_at) <= now {
        rotate(ports).await?;
    }
    Ok(true)
}

/// The partner's own token, for the provider's services (IAM decides who may ask).
pub async fn token_answer(ports: &Ports) -> Result<serde_json::Value> {
    let secret = system_user_secret(ports).await?;
    use secrecy::ExposeSecret;
    Ok(serde_json::json!({
        "access_token": secret.access_token.expose_secret(),
        "kind": "partner",
        "system_user_id": secret.system_user_id,
        "scopes": secret.scopes,
        "expires_at": secret.expires_at,
    }))
}

#[cfg(test)]
mod tests;
