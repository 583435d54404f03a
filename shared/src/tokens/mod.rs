//! Tokens for the provider's services: the client's own token, granular tokens minted from
//! it, and recovery of a lost BISU. Every record is fenced by the client's status.

mod claim;
mod granular;
mod pages;

pub use granular::{MintRequest, granular};
pub(crate) use granular::{finish_replacing, record as record_minted};
pub(crate) use pages::derive as derive_page;
pub use pages::{PageAnswer, PageListing, check_pages, page_token, pages, parse_page_id};

use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, MintParams, Mode, Owner, PendingPurpose, SecretRef, TokenAnswer,
    TokenSecret, Whose,
};
use crate::partner;
use crate::ports::{Also, Ports};

/// The lifetime Meta gives tokens minted or refreshed with `set_token_expires_in_60_days`.
pub const SIXTY_DAYS: i64 = 60 * 24 * 3600;

/// Whether a flow may recover a lost BISU (only the functions that can read the partner
/// secret may).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    Allowed,
    NotHere,
}

/// The client's token. The client item is read on every call, so a client offboarded or
/// marked for reconnection is refused at once; the secret comes from memory when its
/// version is cached.
pub async fn client_token(
    ports: &Ports,
    id: &ClientBusinessId,
    force_refresh: bool,
) -> Result<TokenAnswer> {
    let client = clients::load_usable(ports, id).await?;
    // A forced refresh reads the current version instead of the cached one.
    let secret = if force_refresh {
        ports.vault.token(&client.secret.name, None).await?
    } else {
        None
    };
    let secret = match secret {
        Some(s) => s,
        None => current(ports, &client, Recovery::Allowed).await?,
    };
    Ok(TokenAnswer::new(client.mode.as_str(), id, secret))
}

/// The secret the client item points at, recovered from Meta when it is gone (where allowed).
pub async fn current(ports: &Ports, client: &Client, recovery: Recovery) -> Result<TokenSecret> {
    let stored = ports
        .vault
        .token(&client.secret.name, Some(&client.secret.version))
        .await?;
    match (stored, recovery) {
        (Some(secret), _) => Ok(secret),
        (None, Recovery::Allowed) => recover(ports, client).await,
        (None, Recovery::NotHere) => Err(Error::UpstreamUnavailable(
            "the client's token secret is missing: a token fetch recovers it; retry after one"
                .into(),
        )),
    }
}

/// Asks Meta again with the partner's system user token, stores the token again and points
/// the client item at it: the existing BISU (`fetch_only`), or an On-Behalf-Of client system
/// user's token.
async fn recover(ports: &Ports, client: &Client) -> Result<TokenSecret> {
    let id = &client.client_business_id;
    tracing::warn!(client_business_id = %id, "the client's token secret is missing: recovering it");
    let partner = partner::system_user_token(ports).await?;
    let asked = match client.mode {
        Mode::Bisu => {
            let params = MintParams {
                system_user_id: client.system_user_id.to_string(),
                fetch_only: true,
                ..MintParams::default()
            };
            ports
                .graph
                .system_user_access_token(id, &partner, &params)
                .await
        }
        Mode::Obo => {
            ports
                .graph
                .client_system_user_token(id, &partner, &client.scopes)
                .await
        }
    };
    let token = match asked {
        Ok(token) => token,
        Err(err) => return Err(clients::graph_failure(ports, Some(id), err, Whose::Partner).await),
    };
    let secret = TokenSecret {
        access_token: token,
        system_user_id: client.system_user_id.clone(),
        client_business_id: Some(id.clone()),
        scopes: client.scopes.clone(),
        expires_at: client.token_expires_at,
        obtained_at: ports.clock.now(),
        assets: None,
    };
    replace_client_secret(ports, client, &secret).await?;
    Ok(secret)
}

/// Stores a new version of the client's own token and points the client item at it, fenced:
/// a client that left meanwhile loses the secret instead.
pub async fn replace_client_secret(
    ports: &Ports,
    client: &Client,
    secret: &TokenSecret,
) -> Result<()> {
    let id = &client.client_business_id;
    let recorded = custody::keep(
        ports,
        &Owner::Client(id.clone()),
        &client.secret.name,
        PendingPurpose::Client,
        secret,
        |stored, pending| async move {
            point_at(
                ports,
                id,
                &stored.name,
                &stored.version,
                secret.expires_at,
                &pending,
            )
            .await
        },
    )
    .await?;
    recorded.map(drop).ok_or(Error::ClientOffboarded)
}

/// Points an active client at a version of its secret, clearing the pending marker;
/// `false` when the client is not active.
pub(crate) async fn point_at(
    ports: &Ports,
    id: &ClientBusinessId,
    name: &str,
    version: &str,
    expires_at: Option<i64>,
    pending: &crate::model::PendingSecret,
) -> Result<bool> {
    let changed = clients::update_with(ports, id, &[Also::ClearPending(pending)], |current| {
        current.ensure_usable().ok()?;
        let mut next = current.clone();
        next.secret = SecretRef {
            name: name.to_owned(),
            version: version.to_owned(),
        };
        next.token_expires_at = expires_at;
        Some((next, None))
    })
    .await?;
    Ok(changed.is_some())
}

#[cfg(test)]
mod tests;
