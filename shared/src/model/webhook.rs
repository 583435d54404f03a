//! One change of a webhook delivery, recorded on its own so each is applied exactly once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::ClientBusinessId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    Received,
    Applied,
    /// An uninstall older than the client's latest onboarding: recorded, not applied.
    Stale,
    /// Gave up after the attempts.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookChange {
    /// SHA-256 of app id, entry time, field and value: the same change in two deliveries is one.
    pub hash: String,
    pub field: String,
    pub entry_time: i64,
    /// The business the change is about; `None` for a change without values.
    pub business: Option<ClientBusinessId>,
    pub status: ChangeStatus,
    pub attempts: u32,
    pub received_at: i64,
    /// When the sweep tries it (again); `None` once it is settled.
    pub next_attempt_at: Option<i64>,
    /// The TTL: 7 days after it was received.
    pub expires_at: i64,
}

impl WebhookChange {
    pub fn hash_of(app_id: &str, entry_time: i64, field: &str, value: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [app_id, &entry_time.to_string(), field, value] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        hex::encode(hasher.finalize())
    }
}
