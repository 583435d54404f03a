//! The order of writes for a token obtained from Meta, so it is never lost and never outlives
//! its client: a pending marker, then the secret, then one transaction that records it, clears
//! the marker and checks the client. A writer that loses to an offboarding revokes a granular
//! token and deletes its secret.

use std::future::Future;

use secrecy::SecretString;

use crate::error::Result;
use crate::model::{
    GraphError, GraphErrorClass, Owner, PendingPurpose, PendingSecret, TokenSecret, Whose,
};
use crate::ports::{Ports, StoredSecret};

/// The sweep adopts or deletes a secret its writer did not record within this time.
pub const PENDING_GRACE_SECS: i64 = 15 * 60;

/// The marker written before a secret, due for the sweep after the grace.
pub fn marker(owner: &Owner, name: &str, purpose: PendingPurpose, now: i64) -> PendingSecret {
    PendingSecret {
        owner: owner.clone(),
        secret_name: name.to_owned(),
        purpose,
        created_at: now,
        due_at: now + PENDING_GRACE_SECS,
    }
}

/// Keeps `secret` under `name`; `record` writes what points at it (clearing `pending` in the
/// same transaction) and answers `false` when the client is no longer active. Returns `None`
/// when the record was refused: then the secret is already deleted again.
pub async fn keep<F, Fut>(
    ports: &Ports,
    owner: &Owner,
    name: &str,
    purpose: PendingPurpose,
    secret: &TokenSecret,
    record: F,
) -> Result<Option<StoredSecret>>
where
    F: FnOnce(StoredSecret, PendingSecret) -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let pending = marker(owner, name, purpose, ports.clock.now());
    ports.store.put_pending(&pending).await?;
    keep_marked(ports, &pending, secret, record).await
}

/// [`keep`] once the marker is written (a mint writes it as its claim, before calling Meta).
pub async fn keep_marked<F, Fut>(
    ports: &Ports,
    pending: &PendingSecret,
    secret: &TokenSecret,
    record: F,
) -> Result<Option<StoredSecret>>
where
    F: FnOnce(StoredSecret, PendingSecret) -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let stored = ports.vault.put_token(&pending.secret_name, secret).await?;
    if record(stored.clone(), pending.clone()).await? {
        return Ok(Some(stored));
    }
    tracing::info!(owner = %pending.owner, "the client left while a token was stored: deleting it");
    discard(ports, pending, Some(&secret.access_token)).await?;
    Ok(None)
}

/// Discards a secret no item will point at: a granular token (`token`, when its secret could
/// be read), and the one its mint was replacing, are revoked at Meta first, as offboarding
/// does; then the secret goes, then its marker. A revocation that fails leaves both, for the
/// sweep to try again.
pub async fn discard(
    ports: &Ports,
    pending: &PendingSecret,
    token: Option<&SecretString>,
) -> Result<()> {
    if let PendingPurpose::Minted {
        token_id, replaces, ..
    } = &pending.purpose
    {
        let replaced = match replaces {
            Some(version) => {
                ports
                    .vault
                    .token(&pending.secret_name, Some(version))
                    .await?
            }
            None => None,
        };
        for held in token
            .into_iter()
            .chain(replaced.as_ref().map(|old| &old.access_token))
        {
            if let Err(err) = revoke(ports, held).await {
                tracing::warn!(%token_id, graph_code = err.code, "Meta did not revoke a granular token no one holds: kept for the sweep");
                return Err(err.into_error(Whose::Client));
            }
        }
    }
    ports.vault.force_delete(&pending.secret_name).await?;
    ports.store.delete_pending(pending).await
}

/// Revokes a granular token at Meta; one Meta already refuses counts as revoked.
pub async fn revoke(ports: &Ports, token: &SecretString) -> std::result::Result<(), GraphError> {
    match ports.graph.revoke(token).await {
        Err(err) if err.class() == GraphErrorClass::InvalidToken => Ok(()),
        other => other,
    }
}
