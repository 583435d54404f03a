//! A single-use onboarding session: created by the partner's backend, bound to the first
//! browser that opens it, consumed by one login.

use serde::{Deserialize, Serialize};

use super::client::ClientStatus;
use super::ids::{ClientBusinessId, Mode, PartnerRef, SystemUserId};
use super::obo::Asset;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Pending,
    Claimed,
    Completed,
}

/// What an onboarding produced; kept on the session so a replay gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingResult {
    pub client_business_id: ClientBusinessId,
    pub system_user_id: SystemUserId,
    pub partner_ref: PartnerRef,
    pub scopes: Vec<String>,
    pub status: ClientStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub partner_ref: PartnerRef,
    pub mode: Mode,
    pub status: SessionStatus,
    pub created_at: i64,
    /// Also the TTL; checked on read, as TTL deletion lags.
    pub expires_at: i64,
    /// A claim whose worker died is taken again after this time.
    #[serde(default)]
    pub claimed_until: Option<i64>,
    /// SHA-256 (hex) of the cookie of the browser the session is bound to.
    #[serde(default)]
    pub browser: Option<String>,
    pub result: Option<OnboardingResult>,
    /// On-Behalf-Of: the client's Business Manager, the assets to assign, and the scopes for
    /// its system user (empty: `OBO_SCOPES`).
    #[serde(default)]
    pub client_business_id: Option<ClientBusinessId>,
    #[serde(default)]
    pub assets: Vec<Asset>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl Session {
    pub fn is_expired(&self, now: i64) -> bool {
        self.status == SessionStatus::Pending && self.expires_at <= now
    }
}
