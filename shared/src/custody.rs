//! The order of writes for a token obtained from Meta, so it is never lost and never outlives
//! its client: a pending marker, then the secret, then one transaction that records it, clears
//! the marker and checks the client. A writer that loses to an offboarding revokes a granular
//! token and deletes its secret.

use std::future::Future;

use secrecy::SecretString;

use crate::error::Result;
use crate::model::{GraphErrorClass, Owner, PendingPurpose, PendingSecret, TokenSecret, Whose};
use crate::ports::{Ports, StoredSecret};

/// The sweep adopts or deletes a secret its writer did not record within this time.
pub const PENDING_GRACE_SECS: i64 = 15 * 60;

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
    let now = ports.clock.now();
    let pending = PendingSecret {
        owner: owner.clone(),
        secret_name: name.to_owned(),
        purpose,
        created_at: now,
        due_at: now + PENDING_GRACE_SECS,
    };
    ports.store.put_pending(&pending).await?;
    let stored = ports.vault.put_token(name, secret).await?;
    if record(stored.clone(), pending.clone()).await? {
        return Ok(Some(stored));
    }
    tracing::info!(owner = %owner, "the client left while a token was stored: deleting it");
    discard(ports, &pending, Some(&secret.access_token)).await?;
    Ok(None)
}

/// Discards a secret no item will point at: a granular token (`token`, when its secret could
/// be read) is revoked at Meta first, as offboarding does (one Meta already refuses counts as
/// revoked), then the secret goes, then its marker. A revocation that fails leaves both, for
/// the sweep to try again.
pub async fn discard(
    ports: &Ports,
    pending: &PendingSecret,
    token: Option<&SecretString>,
) -> Result<()> {
    if let (PendingPurpose::Minted { token_id, .. }, Some(token)) = (&pending.purpose, token) {
        match ports.graph.revoke(token).await {
            Ok(()) => {}
            Err(err) if err.class() == GraphErrorClass::InvalidToken => {}
            Err(err) => {
                tracing::warn!(%token_id, graph_code = err.code, "Meta did not revoke a granular token no one holds: kept for the sweep");
                return Err(err.into_error(Whose::Client));
            }
        }
    }
    ports.vault.force_delete(&pending.secret_name).await?;
    ports.store.delete_pending(pending).await
}
