//! A secret whose writer never recorded it (it died between the secret and the record):
//! adopted when what it was meant for still stands, deleted otherwise.

use super::Outcome;
use crate::error::Result;
use crate::model::{ClientStatus, MintedToken, PendingPurpose, PendingSecret, SecretRef};
use crate::ports::Ports;
use crate::tokens;

pub async fn adopt_or_delete(ports: &Ports, marker: &PendingSecret) -> Result<Outcome> {
    let name = &marker.secret_name;
    let Some(version) = ports.vault.current_version(name).await? else {
        // The writer died before the secret existed: nothing to keep.
        ports.store.delete_pending(marker).await?;
        return Ok(Outcome::Nothing);
    };
    let client = ports.store.client(&marker.owner).await?;
    let active = client
        .as_ref()
        .is_some_and(|c| c.status == ClientStatus::Active);
    let adopted = match (&marker.purpose, &client) {
        (PendingPurpose::Client, Some(client)) if active && client.secret.name == *name => {
            let expires_at = ports
                .vault
                .token(name, Some(&version))
                .await?
                .and_then(|s| s.expires_at);
            tokens::point_at(ports, &marker.owner, name, &version, expires_at, marker).await?
        }
        (
            PendingPurpose::Minted {
                token_id,
                scopes,
                assets,
                expires_at,
            },
            Some(_),
        ) if active => {
            let now = ports.clock.now();
            let item = MintedToken {
                token_id: token_id.clone(),
                scopes: scopes.clone(),
                assets: assets.clone(),
                expires_at: *expires_at,
                secret: SecretRef {
                    name: name.clone(),
                    version,
                },
                created_at: marker.created_at,
            };
            let event = tokens::minted_event(&marker.owner, &item, now);
            ports
                .store
                .put_minted_token(&marker.owner, &item, &event, marker)
                .await?
                .is_ok()
        }
        _ => false,
    };
    if adopted {
        tracing::info!(client_business_id = %marker.owner, "a secret its writer did not record was adopted");
        return Ok(Outcome::Adopted);
    }
    tracing::info!(client_business_id = %marker.owner, "a secret its writer did not record was deleted");
    ports.vault.force_delete(name).await?;
    ports.store.delete_pending(marker).await?;
    Ok(Outcome::Deleted)
}
