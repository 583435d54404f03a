//! Tokens for the provider's services: the client's BISU token, granular tokens minted from it,
//! recovery of a lost BISU, and the sweep that keeps them healthy.

mod granular;
mod sweep;

pub use granular::{MintRequest, granular};
pub use sweep::{SweepReport, sweep};

use secrecy::SecretString;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::clients;
use crate::clock::Now;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::ids::{ClientBusinessId, SystemUserId};
use crate::secret_cache::SecretCache;
use crate::store::ClientItem;
use crate::vault::TokenSecret;

/// The lifetime Meta gives tokens minted or refreshed with `set_token_expires_in_60_days`.
const SIXTY_DAYS: i64 = 60 * 24 * 3600;

/// What token-fetch answers. It carries the token: it is the one place that hands it out.
#[derive(Serialize)]
pub struct TokenAnswer {
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    pub kind: &'static str,
    pub client_business_id: ClientBusinessId,
    pub system_user_id: SystemUserId,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
}

fn expose<S: serde::Serializer>(token: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(token.expose_secret())
}

impl TokenAnswer {
    fn new(kind: &'static str, secret: TokenSecret) -> Self {
        Self {
            access_token: secret.access_token,
            kind,
            client_business_id: secret.client_business_id,
            system_user_id: secret.system_user_id,
            scopes: secret.scopes,
            expires_at: secret.expires_at,
        }
    }
}

/// The client's BISU token. The client item is read on every call, so a client offboarded or
/// marked for reconnection is refused at once; the secret comes from memory when its version is.
pub async fn bisu(
    deps: &Deps,
    cache: &SecretCache,
    id: &ClientBusinessId,
    force_refresh: bool,
) -> Result<TokenAnswer> {
    let client = clients::load_usable(deps, id).await?;
    if force_refresh {
        cache.forget(&client.bisu_secret_name);
    }
    Ok(TokenAnswer::new(
        "bisu",
        current_bisu(deps, cache, &client).await?,
    ))
}

/// The BISU secret the client item points at, recovered from Meta when it is gone.
pub async fn current_bisu(
    deps: &Deps,
    cache: &SecretCache,
    client: &ClientItem,
) -> Result<TokenSecret> {
    let stored = cache
        .get(
            deps.vault.as_ref(),
            &client.bisu_secret_name,
            &client.bisu_secret_version,
        )
        .await?;
    match stored {
        Some(secret) => Ok(secret),
        None => recover(deps, cache, client).await,
    }
}

/// Asks Meta for the client's existing BISU (`fetch_only`) with the partner's system user
/// token, stores it again and points the client item at it.
async fn recover(deps: &Deps, cache: &SecretCache, client: &ClientItem) -> Result<TokenSecret> {
    let id = &client.client_business_id;
    tracing::warn!(client_business_id = %id, "BISU secret missing: recovering it with fetch_only");
    let Some(partner) = deps.app_secrets.partner_system_user_token.as_ref() else {
        clients::mark_needs_reconnect(
            deps,
            id,
            "BISU secret missing and no partner system user token",
        )
        .await?;
        return Err(Error::NeedsReconnect);
    };
    let params = [
        ("system_user_id", client.system_user_id.to_string()),
        ("fetch_only", "true".to_owned()),
    ];
    let token = match deps
        .graph
        .system_user_access_token(id, partner, &params)
        .await
    {
        Ok(token) => token,
        Err(err) => {
            tracing::warn!(client_business_id = %id, graph_code = err.code, "fetch_only recovery failed");
            clients::mark_needs_reconnect(deps, id, "BISU secret missing and fetch_only failed")
                .await?;
            return Err(Error::NeedsReconnect);
        }
    };
    let secret = TokenSecret {
        access_token: token,
        system_user_id: client.system_user_id.clone(),
        client_business_id: id.clone(),
        scopes: client.scopes.clone(),
        expires_at: client.token_expires_at,
        obtained_at: Now::get().epoch(),
        assets: None,
    };
    let stored = deps
        .vault
        .put_token(&client.bisu_secret_name, &secret)
        .await?;
    point_client_at(
        deps,
        id,
        &stored.version_id,
        secret.expires_at,
        "token_recovered",
    )
    .await?;
    cache.insert(&stored.name, &stored.version_id, secret.clone());
    Ok(secret)
}

/// Moves the client item to a new version of its BISU secret.
async fn point_client_at(
    deps: &Deps,
    id: &ClientBusinessId,
    version: &str,
    expires_at: Option<i64>,
    kind: &str,
) -> Result<()> {
    clients::update(deps, id, kind, |current| {
        let mut next = current.clone();
        next.bisu_secret_version = version.to_owned();
        next.token_expires_at = expires_at;
        let detail = BTreeMap::from([(
            "token_expires_at".to_owned(),
            expires_at.map_or("never".to_owned(), Now::epoch_rfc3339),
        )]);
        Some((next, detail))
    })
    .await
    .map(drop)
}
