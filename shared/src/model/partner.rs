//! The partner's own system user: which one holds the partner token, and its rotation.

use serde::{Deserialize, Serialize};

use super::client::SecretRef;
use super::ids::SystemUserId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartnerSystemUser {
    pub system_user_id: SystemUserId,
    pub scopes: Vec<String>,
    /// Unix time; `None`: the token never expires.
    pub expires_at: Option<i64>,
    pub expires_in_60_days: bool,
    pub rotated_at: i64,
    /// `active`, or `invalid` once Meta refused the token.
    pub status: String,
    pub secret: SecretRef,
    /// Replaced tokens whose revocation Meta has not accepted yet: retried by the sweep.
    #[serde(default)]
    pub revoke_pending: Vec<SecretRef>,
    /// When the sweep next rotates the token (or retries a revocation).
    pub next_check_at: Option<i64>,
    pub version: u64,
}
