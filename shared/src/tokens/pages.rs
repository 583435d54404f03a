//! Stable page tokens: derived once from a system user's token (the client's, or the
//! partner's own), kept under the same custody and fence as every token, served from the
//! vault afterwards without a Graph call.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::{Recovery, current};
use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{
    ClientBusinessId, Owner, PageToken, PendingPurpose, SecretRef, SystemUserId, TokenSecret,
    Whose, is_digits,
};
use crate::partner;
use crate::ports::Ports;

/// What token-fetch answers for a page. It carries the token.
#[derive(Serialize)]
pub struct PageAnswer {
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    pub kind: &'static str,
    pub page_id: String,
    pub client_business_id: Option<ClientBusinessId>,
    pub system_user_id: SystemUserId,
    pub expires_at: Option<i64>,
}

fn expose<S: serde::Serializer>(token: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(token.expose_secret())
}

impl std::fmt::Debug for PageAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageAnswer")
            .field("page_id", &self.page_id)
            .finish_non_exhaustive()
    }
}

/// A page as `{"action": "pages"}` lists it: never a token.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PageListing {
    pub id: String,
    pub name: Option<String>,
    pub tasks: Vec<String>,
    pub stored: bool,
}

pub fn parse_page_id(raw: &str) -> Result<String> {
    is_digits(raw, 32)
        .then(|| raw.to_owned())
        .ok_or_else(|| Error::InvalidRequest("page_id must be a numeric Graph id".into()))
}

/// The token a page token is derived from, and whose it is.
async fn base_token(ports: &Ports, owner: &Owner) -> Result<(TokenSecret, Whose)> {
    match owner {
        Owner::Client(id) => {
            let client = clients::load_usable(ports, id).await?;
            Ok((
                current(ports, &client, Recovery::Allowed).await?,
                Whose::Client,
            ))
        }
        Owner::Partner => Ok((partner::system_user_secret(ports).await?, Whose::Partner)),
    }
}

fn client_of(owner: &Owner) -> Option<ClientBusinessId> {
    match owner {
        Owner::Client(id) => Some(id.clone()),
        Owner::Partner => None,
    }
}

/// The stored page token, else one derived now and stored. A page the system user has no
/// role on answers `PermissionDenied` with Meta's message and stores nothing.
pub async fn page_token(ports: &Ports, owner: &Owner, page_id: &str) -> Result<PageAnswer> {
    let (base, whose) = base_token(ports, owner).await?;
    let answer = |token: SecretString| PageAnswer {
        access_token: token,
        kind: "page",
        page_id: page_id.to_owned(),
        client_business_id: client_of(owner),
        system_user_id: base.system_user_id.clone(),
        expires_at: None,
    };
    if let Some(page) = ports.store.page(owner, page_id).await?
        && let Some(secret) = ports
            .vault
            .token(&page.secret.name, Some(&page.secret.version))
            .await?
    {
        return Ok(answer(secret.access_token));
    }
    let token = derive(ports, owner, page_id, &base, whose).await?;
    Ok(answer(token))
}

/// Derives a page token from `base` and keeps it; returns it.
pub(crate) async fn derive(
    ports: &Ports,
    owner: &Owner,
    page_id: &str,
    base: &TokenSecret,
    whose: Whose,
) -> Result<SecretString> {
    let token = match ports.graph.page_token(page_id, &base.access_token).await {
        Ok(token) => token,
        Err(err) => {
            let id = client_of(owner);
            return Err(clients::graph_failure(ports, id.as_ref(), err, whose).await);
        }
    };
    let now = ports.clock.now();
    let secret = TokenSecret {
        access_token: token,
        system_user_id: base.system_user_id.clone(),
        client_business_id: client_of(owner),
        scopes: vec![],
        // A page token derived from a system user token does not expire.
        expires_at: None,
        obtained_at: now,
        assets: None,
    };
    let name = ports.settings.names.page(owner, page_id);
    let purpose = PendingPurpose::Page {
        page_id: page_id.to_owned(),
        name: None,
        tasks: vec![],
    };
    let recorded = custody::keep(ports, owner, &name, purpose, &secret, |stored, pending| {
        let page = PageToken {
            page_id: page_id.to_owned(),
            name: None,
            tasks: vec![],
            secret: SecretRef {
                name: stored.name,
                version: stored.version,
            },
            obtained_at: now,
        };
        async move { Ok(ports.store.put_page(owner, &page, &pending).await?.is_ok()) }
    })
    .await?;
    if recorded.is_none() {
        return Err(Error::ClientOffboarded);
    }
    tracing::info!(owner = %owner, page_id, "page token stored");
    Ok(secret.access_token)
}

/// The pages the owner's system user has a role on, and whether each token is stored.
pub async fn pages(ports: &Ports, owner: &Owner) -> Result<Vec<PageListing>> {
    let (base, whose) = base_token(ports, owner).await?;
    let listed = match ports.graph.pages(&base.access_token).await {
        Ok(listed) => listed,
        Err(err) => {
            let id = client_of(owner);
            return Err(clients::graph_failure(ports, id.as_ref(), err, whose).await);
        }
    };
    let stored: Vec<String> = ports
        .store
        .pages(owner)
        .await?
        .into_iter()
        .map(|p| p.page_id)
        .collect();
    Ok(listed
        .into_iter()
        .map(|p| PageListing {
            stored: stored.contains(&p.id),
            id: p.id,
            name: p.name,
            tasks: p.tasks,
        })
        .collect())
}

/// Checks the owner's stored page tokens; a dead one (its role removed) is forgotten and its
/// secret deleted. Returns how many were dropped.
pub async fn check_pages(ports: &Ports, owner: &Owner) -> Result<usize> {
    let mut dropped = 0;
    for page in ports.store.pages(owner).await? {
        let secret = ports
            .vault
            .token(&page.secret.name, Some(&page.secret.version))
            .await?;
        let alive = match &secret {
            Some(secret) => match ports.graph.debug_token(&secret.access_token).await {
                Ok(debug) => debug.is_valid,
                Err(err) => {
                    let id = client_of(owner);
                    return Err(clients::graph_failure(ports, id.as_ref(), err, Whose::App).await);
                }
            },
            None => false,
        };
        if !alive {
            tracing::info!(owner = %owner, page_id = %page.page_id, "a stored page token died: forgotten");
            ports.vault.force_delete(&page.secret.name).await?;
            ports.store.delete_page(owner, &page.page_id).await?;
            dropped += 1;
        }
    }
    Ok(dropped)
}
