//! Tokens: the secret's content, the minted-token record, the pending marker written before a
//! secret exists, and the answer token-fetch hands out.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::client::SecretRef;
use super::ids::{ClientBusinessId, SystemUserId};
use super::owner::Owner;

/// A token secret's JSON (DESIGN section 3); minted tokens add `assets`.
#[derive(Clone, Deserialize)]
pub struct TokenSecret {
    pub access_token: SecretString,
    pub system_user_id: SystemUserId,
    #[serde(default)]
    pub client_business_id: Option<ClientBusinessId>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Unix time; `None` when the token never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub obtained_at: i64,
    #[serde(default)]
    pub assets: Option<Vec<String>>,
}

impl TokenSecret {
    /// The JSON stored in the vault: the one place the token is exposed for writing.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            access_token: &'a str,
            system_user_id: &'a SystemUserId,
            #[serde(skip_serializing_if = "Option::is_none")]
            client_business_id: Option<&'a ClientBusinessId>,
            scopes: &'a [String],
            expires_at: Option<i64>,
            obtained_at: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            assets: Option<&'a [String]>,
        }
        serde_json::to_string(&Json {
            access_token: self.access_token.expose_secret(),
            system_user_id: &self.system_user_id,
            client_business_id: self.client_business_id.as_ref(),
            scopes: &self.scopes,
            expires_at: self.expires_at,
            obtained_at: self.obtained_at,
            assets: self.assets.as_deref(),
        })
        .expect("plain data serializes")
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSecret")
            .field("system_user_id", &self.system_user_id)
            .field("client_business_id", &self.client_business_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A granular token minted for a client; its value is in its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MintedToken {
    pub token_id: String,
    pub scopes: Vec<String>,
    pub assets: Vec<String>,
    pub expires_at: Option<i64>,
    pub secret: SecretRef,
    pub created_at: i64,
}

/// A stable page token kept for a client or the partner; its value is in its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageToken {
    pub page_id: String,
    pub name: Option<String>,
    pub tasks: Vec<String>,
    pub secret: SecretRef,
    pub obtained_at: i64,
}

/// What a secret written before its item was meant to become, so the sweep can adopt it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case")]
pub enum PendingPurpose {
    /// The client's own token (onboarding, recovery, refresh): adopted when the client item
    /// exists and is active.
    Client,
    /// A granular token: adopted by recording this item. Only one mint of a token runs at a
    /// time (its marker is its claim).
    Minted {
        token_id: String,
        scopes: Vec<String>,
        assets: Vec<String>,
        expires_at: Option<i64>,
        /// The version of the secret whose token this mint replaces: revoked once the new one
        /// is recorded, and the marker deleted only then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
        /// The claiming call's own random id, so it knows its claim when the answer to its
        /// write was lost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claim: Option<String>,
    },
    /// The partner's own token (provisioned or rotated): adopted when the partner item points
    /// at this secret with an older version.
    Partner,
    /// A page token: adopted by recording this page.
    Page {
        page_id: String,
        name: Option<String>,
        tasks: Vec<String>,
    },
}

/// Written before a secret is created, deleted in the transaction that records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingSecret {
    pub owner: Owner,
    pub secret_name: String,
    #[serde(flatten)]
    pub purpose: PendingPurpose,
    pub created_at: i64,
    /// When the sweep adopts or deletes the secret if nothing recorded it.
    pub due_at: i64,
}

impl PendingSecret {
    /// The version of the secret whose token a mint replaces, unless it is `recorded` (the
    /// mint ended before writing a new one): the token to revoke.
    pub fn replaced(&self, recorded: &str) -> Option<&str> {
        match &self.purpose {
            PendingPurpose::Minted {
                replaces: Some(version),
                ..
            } if version != recorded => Some(version),
            _ => None,
        }
    }
}

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

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("kind", &self.kind)
            .field("client_business_id", &self.client_business_id)
            .finish_non_exhaustive()
    }
}

fn expose<S: serde::Serializer>(token: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(token.expose_secret())
}

impl TokenAnswer {
    pub fn new(kind: &'static str, id: &ClientBusinessId, secret: TokenSecret) -> Self {
        Self {
            access_token: secret.access_token,
            kind,
            client_business_id: id.clone(),
            system_user_id: secret.system_user_id,
            scopes: secret.scopes,
            expires_at: secret.expires_at,
        }
    }
}
