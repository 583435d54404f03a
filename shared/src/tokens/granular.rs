//! Granular tokens: a subset of the client's scopes and assets, minted from its BISU token.

use secrecy::SecretString;
use sha2::{Digest, Sha256};

use super::claim::{self, Claim};
use super::{Recovery, SIXTY_DAYS, current};
use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, Event, EventType, MintParams, MintedToken, Owner, PendingPurpose,
    PendingSecret, SecretRef, TokenAnswer, TokenSecret, Whose, is_digits,
};
use crate::ports::Ports;

/// A stored minted token is replaced this long before it expires.
const RENEW_BEFORE: i64 = 24 * 3600;
const MAX_SCOPES: usize = 20;
const MAX_ASSETS: usize = 50;

/// A request for a granular token, checked at the edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintRequest {
    scopes: Vec<String>,
    assets: Vec<String>,
    expires_in_60_days: bool,
    force_refresh: bool,
}

impl MintRequest {
    pub fn new(
        scopes: Vec<String>,
        assets: Vec<String>,
        expires_in_60_days: bool,
        force_refresh: bool,
    ) -> Result<Self> {
        if scopes.is_empty() || scopes.len() > MAX_SCOPES {
            return Err(Error::InvalidRequest(format!(
                "scope must list 1 to {MAX_SCOPES} permissions"
            )));
        }
        if scopes.iter().any(|s| {
            s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        }) {
            return Err(Error::InvalidRequest(
                "scope entries are permission names such as ads_management".into(),
            ));
        }
        if assets.len() > MAX_ASSETS {
            return Err(Error::InvalidRequest(format!(
                "assets may list at most {MAX_ASSETS} ids"
            )));
        }
        if assets.iter().any(|a| !is_digits(a, 32)) {
            return Err(Error::InvalidRequest(
                "assets must be numeric Graph ids".into(),
            ));
        }
        let (mut scopes, mut assets) = (scopes, assets);
        scopes.sort();
        scopes.dedup();
        assets.sort();
        assets.dedup();
        Ok(Self {
            scopes,
            assets,
            expires_in_60_days,
            force_refresh,
        })
    }

    /// When a token minted at `now` for this request expires (`None`: never).
    fn expires_at(&self, now: i64) -> Option<i64> {
        self.expires_in_60_days.then_some(now + SIXTY_DAYS)
    }

    /// The same request always names the same stored token.
    pub(super) fn token_id(&self) -> String {
        let key = format!(
            "{}|{}|{}",
            self.scopes.join(","),
            self.assets.join(","),
            self.expires_in_60_days
        );
        hex::encode(&Sha256::digest(key.as_bytes())[..12])
    }
}

pub async fn granular(
    ports: &Ports,
    id: &ClientBusinessId,
    request: MintRequest,
) -> Result<TokenAnswer> {
    let client = clients::load_usable(ports, id).await?;
    client.check_grants(&request.scopes, &request.assets)?;
    let token_id = request.token_id();
    let asked_at = ports.clock.now();
    let seen = ports.store.minted_token(id, &token_id).await?;
    if !request.force_refresh
        && let Some(item) = &seen
        && servable(item, &request, asked_at, None)
        && let Some(answer) = stored(ports, id, item).await?
    {
        return Ok(answer);
    }
    let seen = seen.map(|item| item.secret.version);

    let bisu = current(ports, &client, Recovery::Allowed).await?;
    let name = ports.settings.names.minted(id, &token_id);
    let purpose = PendingPurpose::Minted {
        token_id: token_id.clone(),
        scopes: request.scopes.clone(),
        assets: request.assets.clone(),
        expires_at: request.expires_at(asked_at),
        replaces: None,
        claim: Some(claim::new_id()),
    };
    let marker = custody::marker(&Owner::Client(id.clone()), &name, purpose, asked_at);
    let marker = match claim::take(ports, id, &request, marker, seen.as_deref()).await? {
        Claim::Mint(marker) => marker,
        Claim::Served(answer) => return Ok(answer),
    };
    let mut obtained = None;
    match mint_claimed(ports, &client, &bisu, &request, &marker, &mut obtained).await {
        Ok(answer) => Ok(answer),
        Err(err) => {
            claim::release(ports, &marker, obtained.as_ref()).await;
            Err(err)
        }
    }
}

/// Mints under the claim and keeps the token in the order of writes; `obtained` holds Meta's
/// token from the moment Meta answers, for [`claim::release`] when a later step fails.
async fn mint_claimed(
    ports: &Ports,
    client: &Client,
    bisu: &TokenSecret,
    request: &MintRequest,
    marker: &PendingSecret,
    obtained: &mut Option<SecretString>,
) -> Result<TokenAnswer> {
    let id = &client.client_business_id;
    let params = MintParams {
        system_user_id: client.system_user_id.to_string(),
        scopes: request.scopes.clone(),
        assets: request.assets.clone(),
        expires_in_60_days: request.expires_in_60_days,
        fetch_only: false,
    };
    let token = match ports
        .graph
        .system_user_access_token(id, &bisu.access_token, &params)
        .await
    {
        Ok(token) => token,
        Err(err) => return Err(clients::graph_failure(ports, Some(id), err, Whose::Client).await),
    };
    *obtained = Some(token.clone());
    let (now, token_id) = (marker.created_at, request.token_id());
    let secret = TokenSecret {
        access_token: token,
        system_user_id: client.system_user_id.clone(),
        client_business_id: Some(id.clone()),
        scopes: request.scopes.clone(),
        expires_at: request.expires_at(now),
        obtained_at: now,
        assets: Some(request.assets.clone()),
    };
    let recorded = custody::keep_marked(ports, marker, &secret, |stored, pending| {
        let item = MintedToken {
            token_id: token_id.clone(),
            scopes: request.scopes.clone(),
            assets: request.assets.clone(),
            expires_at: secret.expires_at,
            secret: SecretRef {
                name: stored.name,
                version: stored.version,
            },
            created_at: now,
        };
        async move { record(ports, id, &item, &pending).await }
    })
    .await?;
    let Some(recorded) = recorded else {
        return Err(Error::ClientOffboarded);
    };
    if marker.replaced(&recorded.version).is_some() {
        // The replaced token was revoked after the record: the client may have left since.
        clients::load_usable(ports, id).await?;
    }
    tracing::info!(client_business_id = %id, token_id = %token_id, "granular token minted");
    Ok(TokenAnswer::new("granular", id, secret))
}

/// Whether a stored token answers `request`: not about to expire, and, for a forced refresh,
/// minted since the call read `seen` (another call's refresh of the same token).
pub(super) fn servable(
    item: &MintedToken,
    request: &MintRequest,
    now: i64,
    seen: Option<&str>,
) -> bool {
    let fresh = item.expires_at.is_none_or(|at| at - now > RENEW_BEFORE);
    let new = seen.is_none_or(|version| version != item.secret.version);
    fresh && (!request.force_refresh || new)
}

/// The answer with a stored token's secret (`None`: the secret is gone).
pub(super) async fn stored(
    ports: &Ports,
    id: &ClientBusinessId,
    item: &MintedToken,
) -> Result<Option<TokenAnswer>> {
    let secret = ports
        .vault
        .token(&item.secret.name, Some(&item.secret.version))
        .await?;
    Ok(secret.map(|secret| TokenAnswer::new("granular", id, secret)))
}

/// Records a minted token under its claim. A mint that replaces one keeps its marker until
/// the replaced token is revoked, so a crash in between leaves the revocation to the sweep;
/// a revocation Meta refuses is left to the sweep too, and the new token still stands.
pub(crate) async fn record(
    ports: &Ports,
    id: &ClientBusinessId,
    item: &MintedToken,
    marker: &PendingSecret,
) -> Result<bool> {
    let event = minted_event(id, item, ports.clock.now());
    let replacing = marker.replaced(&item.secret.version).is_some();
    let clear = (!replacing).then_some(marker);
    if ports
        .store
        .put_minted_token(id, item, &event, clear)
        .await?
        .is_err()
    {
        return Ok(false);
    }
    if replacing && let Err(err) = finish_replacing(ports, marker, &item.secret.version).await {
        tracing::warn!(client_business_id = %id, error = %err, "the replaced granular token is left for the sweep to revoke");
    }
    Ok(true)
}

/// Revokes the token a recorded mint replaced (unless `recorded` is that one), then deletes
/// the mint's marker.
pub(crate) async fn finish_replacing(
    ports: &Ports,
    marker: &PendingSecret,
    recorded: &str,
) -> Result<()> {
    if let Some(version) = marker.replaced(recorded)
        && let Some(old) = ports
            .vault
            .token(&marker.secret_name, Some(version))
            .await?
    {
        custody::revoke(ports, &old.access_token)
            .await
            .map_err(|err| err.into_error(Whose::Client))?;
    }
    ports.store.delete_pending(marker).await
}

pub(crate) fn minted_event(id: &ClientBusinessId, item: &MintedToken, at: i64) -> Event {
    Event::client(
        id,
        EventType::TokenMinted,
        at,
        [
            ("token_id", item.token_id.clone()),
            ("scopes", item.scopes.join(",")),
            ("assets", item.assets.join(",")),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(scopes: &[&str], assets: &[&str]) -> MintRequest {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        MintRequest::new(owned(scopes), owned(assets), false, false).unwrap()
    }

    #[test]
    fn identical_requests_share_a_token_id() {
        let a = request(&["b_scope", "a_scope"], &["2", "1"]);
        let b = request(&["a_scope", "b_scope", "a_scope"], &["1", "2"]);
        assert_eq!(a.token_id(), b.token_id());
        assert_ne!(a.token_id(), request(&["a_scope"], &["1", "2"]).token_id());
    }

    #[test]
    fn malformed_requests_are_refused() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(MintRequest::new(s(&[]), s(&[]), false, false).is_err());
        assert!(MintRequest::new(s(&["Ads"]), s(&[]), false, false).is_err());
        assert!(MintRequest::new(s(&["a"]), s(&["x1"]), false, false).is_err());
        assert!(MintRequest::new(s(&["a"; 21]), s(&[]), false, false).is_err());
        assert!(MintRequest::new(s(&["a"]), vec!["1".to_string(); 51], false, false).is_err());
    }
}
