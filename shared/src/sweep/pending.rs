//! A secret whose writer never recorded it (it died between the secret and the record):
//! adopted when what it was meant for still stands, deleted otherwise.

use super::Outcome;
use crate::custody;
use crate::error::Result;
use crate::model::{
    ClientStatus, MintedToken, Owner, PageToken, PendingPurpose, PendingSecret, SecretRef,
};
use crate::ports::Ports;
use crate::tokens;

pub async fn adopt_or_delete(ports: &Ports, marker: &PendingSecret) -> Result<Outcome> {
    let name = &marker.secret_name;
    let Some(version) = ports.vault.current_version(name).await? else {
        // The writer died before the secret existed: nothing to keep.
        ports.store.delete_pending(marker).await?;
        return Ok(Outcome::Nothing);
    };
    let secret = SecretRef {
        name: name.clone(),
        version,
    };
    if adopt(ports, marker, secret.clone()).await? {
        tracing::info!(owner = %marker.owner, "a secret its writer did not record was adopted");
        return Ok(Outcome::Adopted);
    }
    if marker.purpose == PendingPurpose::Partner {
        // The partner's token is never deleted: only the marker goes.
        ports.store.delete_pending(marker).await?;
        return Ok(Outcome::Nothing);
    }
    tracing::info!(owner = %marker.owner, "a secret its writer did not record was deleted");
    // Only a granular token is revoked, so only its secret is read.
    let minted = match marker.purpose {
        PendingPurpose::Minted { .. } => ports.vault.token(name, Some(&secret.version)).await?,
        _ => None,
    };
    let token = minted.as_ref().map(|held| &held.access_token);
    custody::discard(ports, marker, token).await?;
    Ok(Outcome::Deleted)
}

/// Records what the secret was meant for, if its owner still takes it; `false` otherwise.
async fn adopt(ports: &Ports, marker: &PendingSecret, secret: SecretRef) -> Result<bool> {
    let client = match &marker.owner {
        Owner::Client(id) => match ports.store.client(id).await? {
            Some(client) if client.status == ClientStatus::Active => Some(client),
            _ => return Ok(false),
        },
        Owner::Partner => None,
    };
    match (&marker.purpose, client) {
        (PendingPurpose::Client, Some(client)) if client.secret.name == secret.name => {
            let expires_at = ports
                .vault
                .token(&secret.name, Some(&secret.version))
                .await?
                .and_then(|s| s.expires_at);
            let id = &client.client_business_id;
            tokens::point_at(ports, id, &secret.name, &secret.version, expires_at, marker).await
        }
        (
            PendingPurpose::Minted {
                token_id,
                scopes,
                assets,
                expires_at,
                ..
            },
            Some(client),
        ) => {
            let id = &client.client_business_id;
            let recorded = ports.store.minted_token(id, token_id).await?;
            if recorded.is_some_and(|item| item.secret == secret) {
                // Its mint recorded it, or never wrote a new one: only the replaced token may
                // be left to revoke.
                tokens::finish_replacing(ports, marker, &secret.version).await?;
                return Ok(true);
            }
            let item = MintedToken {
                token_id: token_id.clone(),
                scopes: scopes.clone(),
                assets: assets.clone(),
                expires_at: *expires_at,
                secret,
                created_at: marker.created_at,
            };
            tokens::record_minted(ports, id, &item, marker).await
        }
        (PendingPurpose::Partner, _) => {
            // The partner secret is never deleted: its newest version is what the item names.
            let Some(stored) = ports
                .vault
                .token(&secret.name, Some(&secret.version))
                .await?
            else {
                return Ok(false);
            };
            let stored_at = crate::ports::StoredSecret {
                name: secret.name,
                version: secret.version,
            };
            crate::partner::record(ports, &stored, stored_at, None, Some(marker)).await?;
            Ok(true)
        }
        (
            PendingPurpose::Page {
                page_id,
                name,
                tasks,
            },
            _,
        ) => {
            let page = PageToken {
                page_id: page_id.clone(),
                name: name.clone(),
                tasks: tasks.clone(),
                secret,
                obtained_at: marker.created_at,
            };
            Ok(ports
                .store
                .put_page(&marker.owner, &page, marker)
                .await?
                .is_ok())
        }
        _ => Ok(false),
    }
}
