//! Granular tokens: a subset of the client's scopes and assets, minted from its BISU token.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use super::{SIXTY_DAYS, TokenAnswer, current_bisu};
use crate::clients;
use crate::clock::Now;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::ids::ClientBusinessId;
use crate::secret_cache::SecretCache;
use crate::store::{ClientItem, EventItem, TokenItem, client_pk, token_sk};
use crate::vault::TokenSecret;

/// A stored minted token is replaced this long before it expires.
const RENEW_BEFORE: i64 = 24 * 3600;
const MAX_SCOPES: usize = 20;
const MAX_ASSETS: usize = 50;

/// A request for a granular token, checked at the edge.
#[derive(Clone, Debug)]
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
        for asset in &assets {
            ClientBusinessId::parse(asset)
                .map_err(|_| Error::InvalidRequest("assets must be numeric Graph ids".into()))?;
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

/// Refuses what the client did not grant, before any call to Meta.
fn check_grants(client: &ClientItem, request: &MintRequest) -> Result<()> {
    if let Some(scope) = request.scopes.iter().find(|s| !client.scopes.contains(s)) {
        return Err(Error::InvalidRequest(format!(
            "the client did not grant the scope {scope}"
        )));
    }
    // A scope without target ids applies to every asset; otherwise the asset must be listed.
    let covered = |asset: &String| {
        request.scopes.iter().any(|s| {
            client
                .granted_assets
                .get(s)
                .is_none_or(|ids| ids.contains(asset))
        })
    };
    if let Some(asset) = request.assets.iter().find(|a| !covered(a)) {
        return Err(Error::InvalidRequest(format!(
            "the asset {asset} is not among those the client granted for the requested scopes"
        )));
    }
    Ok(())
}

pub async fn granular(
    deps: &Deps,
    cache: &SecretCache,
    id: &ClientBusinessId,
    request: MintRequest,
) -> Result<TokenAnswer> {
    let client = clients::load_usable(deps, id).await?;
    check_grants(&client, &request)?;
    let token_id = request.token_id();
    let now = Now::get();
    if !request.force_refresh
        && let Some(item) = deps.store.get_token(id, &token_id).await?
        && item
            .expires_at
            .is_none_or(|at| at - now.epoch() > RENEW_BEFORE)
        && let Some(secret) = cache
            .get(deps.vault.as_ref(), &item.secret_name, &item.secret_version)
            .await?
    {
        return Ok(TokenAnswer::new("granular", secret));
    }

    let bisu = current_bisu(deps, cache, &client).await?;
    let mut params = vec![
        ("system_user_id", client.system_user_id.to_string()),
        ("scope", request.scopes.join(",")),
    ];
    if !request.assets.is_empty() {
        params.push(("asset", request.assets.join(",")));
    }
    if request.expires_in_60_days {
        params.push(("set_token_expires_in_60_days", "true".to_owned()));
    }
    let token = match deps
        .graph
        .system_user_access_token(id, &bisu.access_token, &params)
        .await
    {
        Ok(token) => token,
        Err(err) => return Err(clients::graph_failure(deps, id, err).await),
    };
    let secret = TokenSecret {
        access_token: token,
        system_user_id: client.system_user_id.clone(),
        client_business_id: id.clone(),
        scopes: request.scopes.clone(),
        expires_at: request.expires_in_60_days.then(|| now.epoch() + SIXTY_DAYS),
        obtained_at: now.epoch(),
        assets: Some(request.assets.clone()),
    };
    let stored = deps
        .vault
        .put_token(&deps.names.minted(id, &token_id), &secret)
        .await?;
    let item = TokenItem {
        pk: client_pk(id),
        sk: token_sk(&token_id),
        token_id: token_id.clone(),
        scopes: request.scopes.clone(),
        assets: request.assets.clone(),
        expires_at: secret.expires_at,
        secret_name: stored.name.clone(),
        secret_version: stored.version_id.clone(),
        created_at: now.rfc3339(),
    };
    let detail = BTreeMap::from([
        ("token_id".to_owned(), token_id),
        ("scopes".to_owned(), request.scopes.join(",")),
        ("assets".to_owned(), request.assets.join(",")),
    ]);
    deps.store
        .put_token(
            &item,
            &EventItem::new(id, "token_minted", &now.rfc3339(), detail),
        )
        .await?;
    cache.insert(&stored.name, &stored.version_id, secret.clone());
    tracing::info!(client_business_id = %id, token_id = %item.token_id, "granular token minted");
    Ok(TokenAnswer::new("granular", secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OnboardingMode, PartnerRef, SystemUserId};
    use crate::store::{CLIENT_SK, ClientStatus};

    fn client() -> ClientItem {
        ClientItem {
            pk: "CLIENT#1".into(),
            sk: CLIENT_SK.into(),
            client_business_id: ClientBusinessId::parse("1").unwrap(),
            status: ClientStatus::Active,
            mode: OnboardingMode::Bisu,
            partner_ref: PartnerRef::parse("p").unwrap(),
            system_user_id: SystemUserId::parse("2").unwrap(),
            scopes: vec!["ads_management".into(), "business_management".into()],
            granted_assets: BTreeMap::from([(
                "ads_management".into(),
                vec!["10".into(), "11".into()],
            )]),
            token_expires_at: None,
            bisu_secret_name: "s".into(),
            bisu_secret_version: "v".into(),
            onboarded_at: String::new(),
            updated_at: String::new(),
            offboarded_at: None,
            offboard_reason: None,
            datasets_fetched_at: None,
            version: 1,
        }
    }

    fn request(scopes: &[&str], assets: &[&str]) -> MintRequest {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        MintRequest::new(owned(scopes), owned(assets), false, false).unwrap()
    }

    #[test]
    fn grants_limit_what_can_be_minted() {
        assert!(check_grants(&client(), &request(&["ads_management"], &["10"])).is_ok());
        assert!(
            check_grants(&client(), &request(&["ads_management"], &["12"])).is_err(),
            "asset not granted"
        );
        assert!(
            check_grants(&client(), &request(&["pages_manage_posts"], &[])).is_err(),
            "scope not granted"
        );
        // business_management has no target ids: it applies to every asset.
        assert!(check_grants(&client(), &request(&["business_management"], &["12"])).is_ok());
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
