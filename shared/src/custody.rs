//! The order of writes for a token obtained from Meta, so it is never lost and never outlives
//! its client: a pending marker, then the secret, then one transaction that records it, clears
//! the marker and checks the client. A writer that loses to an offboarding deletes its secret.

use std::future::Future;

use crate::error::Result;
use crate::model::{Owner, PendingPurpose, PendingSecret, TokenSecret};
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
    ports.vault.force_delete(name).await?;
    ports.store.delete_pending(&pending).await?;
    Ok(None)
}
