//! A client business: its status, what it granted, and where its token is kept.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ids::{ClientBusinessId, Mode, PartnerRef, SystemUserId};
use super::obo::OboState;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    /// An On-Behalf-Of onboarding stopped part-way.
    Incomplete,
    Active,
    NeedsReconnect,
    /// Offboarding has begun: nothing may be added to the client any more.
    Offboarding,
    Offboarded,
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::Active => "active",
            Self::NeedsReconnect => "needs_reconnect",
            Self::Offboarding => "offboarding",
            Self::Offboarded => "offboarded",
        }
    }
}

/// A secret and the version an item points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub client_business_id: ClientBusinessId,
    pub status: ClientStatus,
    pub mode: Mode,
    pub partner_ref: PartnerRef,
    pub system_user_id: SystemUserId,
    pub scopes: Vec<String>,
    /// Scope -> asset ids, for the scopes Meta limited to some assets; other scopes apply to all.
    pub granted_assets: BTreeMap<String, Vec<String>>,
    /// Unix time; `None` means the token never expires.
    pub token_expires_at: Option<i64>,
    pub secret: SecretRef,
    pub onboarded_at: i64,
    pub updated_at: i64,
    pub offboarded_at: Option<i64>,
    pub offboard_reason: Option<String>,
    /// When the datasets were last read from Graph; `None` until the first read.
    pub datasets_fetched_at: Option<i64>,
    /// When the sweep next looks at the client (health check, or the second cleanup);
    /// `None`: nothing is pending.
    pub next_check_at: Option<i64>,
    /// On-Behalf-Of: the assets assigned and how far the onboarding got.
    #[serde(default)]
    pub obo: Option<OboState>,
    /// Optimistic lock: every write expects the version it read.
    pub version: u64,
}

impl Client {
    /// The check every token or dataset read makes first: only an active client is served.
    pub fn ensure_usable(&self) -> Result<()> {
        match self.status {
            ClientStatus::Active => Ok(()),
            ClientStatus::NeedsReconnect => Err(Error::NeedsReconnect(
                "the client's token is no longer valid: the client must connect again".into(),
            )),
            ClientStatus::Incomplete => Err(Error::NeedsReconnect(format!(
                "the client's onboarding did not complete ({}): a new session for the business \
                 resumes it",
                self.obo
                    .as_ref()
                    .and_then(|o| o.failed.as_deref())
                    .unwrap_or("interrupted")
            ))),
            ClientStatus::Offboarding | ClientStatus::Offboarded => Err(Error::ClientOffboarded),
        }
    }

    /// Whether offboarding has begun or ended.
    pub fn is_leaving(&self) -> bool {
        matches!(
            self.status,
            ClientStatus::Offboarding | ClientStatus::Offboarded
        )
    }

    /// Refuses scopes or assets the client did not grant, before any call to Meta.
    /// A scope without target ids applies to every asset.
    pub fn check_grants(&self, scopes: &[String], assets: &[String]) -> Result<()> {
        if let Some(scope) = scopes.iter().find(|s| !self.scopes.contains(s)) {
            return Err(Error::InvalidRequest(format!(
                "the client did not grant the scope {scope}"
            )));
        }
        let covered = |asset: &String| {
            scopes.iter().any(|s| {
                self.granted_assets
                    .get(s)
                    .is_none_or(|ids| ids.contains(asset))
            })
        };
        if let Some(asset) = assets.iter().find(|a| !covered(a)) {
            return Err(Error::InvalidRequest(format!(
                "the asset {asset} is not among those the client granted for the requested scopes"
            )));
        }
        Ok(())
    }
}
