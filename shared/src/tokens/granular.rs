//! Granular tokens: a subset of the client's scopes and assets, minted from its BISU token.

use sha2::{Digest, Sha256};

use super::{Recovery, SIXTY_DAYS, current};
use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    ClientBusinessId, Event, EventType, MintParams, MintedToken, Owner, PendingPurpose, SecretRef,
    TokenAnswer, TokenSecret, Whose, is_digits,
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

    /// The same request always names the same stored token.
    fn token_id(&self) -> String {
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
    let now = ports.clock.now();
    if !request.force_refresh
        && let Some(item) = ports.store.minted_token(id, &token_id).await?
        && item.expires_at.is_none_or(|at| at - now > RENEW_BEFORE)
        && let Some(secret) = ports
            .vault
            .token(&item.secret.name, Some(&item.secret.version))
            .await?
    {
        return Ok(TokenAnswer::new("granular", id, secret));
    }

    let bisu = current(ports, &client, Recovery::Allowed).await?;
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
    let secret = TokenSecret {
        access_token: token,
        system_user_id: client.system_user_id.clone(),
        client_business_id: Some(id.clone()),
        scopes: request.scopes.clone(),
        expires_at: request.expires_in_60_days.then_some(now + SIXTY_DAYS),
        obtained_at: now,
        assets: Some(request.assets.clone()),
    };
    let name = ports.settings.names.minted(id, &token_id);
    let purpose = PendingPurpose::Minted {
        token_id: token_id.clone(),
        scopes: request.scopes.clone(),
        assets: request.assets.clone(),
        expires_at: secret.expires_at,
    };
    let owner = Owner::Client(id.clone());
    let recorded = custody::keep(ports, &owner, &name, purpose, &secret, |stored, pending| {
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
        let event = minted_event(id, &item, now);
        async move {
            Ok(ports
                .store
                .put_minted_token(id, &item, &event, &pending)
                .await?
                .is_ok())
        }
    })
    .await?;
    if recorded.is_none() {
        return Err(Error::ClientOffboarded);
    }
    tracing::info!(client_business_id = %id, token_id = %token_id, "granular token minted");
    Ok(TokenAnswer::new("granular", id, secret))
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
